"""The README tells the truth: its first example runs, and the schema it shows is the real one."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_set_up_has_exactly_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.*?)```", section, re.S)[0].strip().splitlines()
    assert commands == ['pip install -e ".[dev]"', "pytest"]


def test_first_example_runs_offline_and_answers(tmp_path: Path) -> None:
    example = _blocks("python")[0]
    script = tmp_path / "first_example.py"
    script.write_text(example, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "get_weather: 22°C and sunny in Paris, France" in done.stdout
    assert "offline model" in done.stdout
    assert len(example.strip().splitlines()) <= 20


def test_shown_schema_is_the_tool_definition() -> None:
    namespace: dict[str, object] = {}
    source = _blocks("python")[0].split("agent = Agent", 1)[0]
    exec(compile(source, "README.md", "exec"), namespace)
    shown = json.loads(_blocks("json")[0])
    assert shown == namespace["get_weather"].definition()  # type: ignore[attr-defined]
