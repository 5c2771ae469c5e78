"""The README tells the truth: its first example runs, and the schema it shows is the real one."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

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


def _module(source: str, path: Path, **extra: object) -> ModuleType:
    """Run a README block as the module file a user would write."""
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    module.__dict__.update(extra)
    sys.modules[path.stem] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[path.stem]
    return module


def test_the_other_python_examples_run(tmp_path: Path) -> None:
    """The tool-writing example defines a valid tool; the testing example passes."""
    blocks = _blocks("python")
    first = _module(blocks[0].split("agent = Agent", 1)[0], tmp_path / "readme_first.py")
    writing = next(b for b in blocks if "def place_order" in b)
    order = _module(writing, tmp_path / "readme_tools.py").place_order
    assert order.requires_approval
    assert list(order.parameters["properties"]) == ["items", "deliver_on", "speed"]
    testing = next(b for b in blocks if "ScriptedModel([" in b)
    _module(testing, tmp_path / "readme_testing.py", get_weather=first.get_weather)
