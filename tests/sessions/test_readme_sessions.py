"""The README's sessions example runs as shown, and its CLI lines are real commands."""

from __future__ import annotations

import re
from pathlib import Path

import anyio
from click.testing import CliRunner

from agentkit.cli import main
from agentkit.sessions import SQLiteSession, conversation_problems

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = README.read_text(encoding="utf-8").split("## Conversations that persist", 1)[1]
SECTION = SECTION.split("\n## ", 1)[0]


def test_the_python_example_stores_and_continues(sessions_db: str) -> None:
    (block,) = re.findall(r"```python\n(.*?)```", SECTION, re.S)
    first = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)[0]
    namespace: dict[str, object] = {}
    exec(compile(first + "\n" + block, "README.md", "exec"), namespace)
    stored = anyio.run(SQLiteSession("trip", sessions_db).load)  # AGENTKIT_SESSIONS moved it
    asked = [m.content for m in stored if m.role == "user"]
    assert asked == ['What is the weather in "Paris, France"?', "And in Lyon?"]
    assert conversation_problems(stored) == []


def test_every_cli_line_names_real_commands_and_options() -> None:
    (block,) = re.findall(r"```bash\n(.*?)```", SECTION, re.S)
    for line in block.splitlines():
        words = line.split("#")[0].split()
        assert words[0] == "agentkit"
        command = [w for w in words[1:3] if not w.startswith(("-", "examples/", '"'))]
        result = CliRunner().invoke(main, [*command, "--help"])
        assert result.exit_code == 0, line
        for option in (w for w in words if w.startswith("-") and w != "-c"):
            assert option in result.output, (line, option)
