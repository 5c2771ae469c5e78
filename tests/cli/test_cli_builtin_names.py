"""`--tools files` and `--tools clock` are the built-ins, whatever the working folder holds.

Issue 11, item 12: a folder named `files` or a file named `clock` in the working folder made
`--tools files` / `--tools clock` fail. A name is a path only when it ends in `.py` or holds
a separator.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from agentkit.cli import main
from agentkit.cli._load import ENDPOINT_VARIABLES


@pytest.fixture
def shadowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with a `files` folder, a `clock` file, and a `calculator.py`-less name."""
    for name in (*ENDPOINT_VARIABLES, "AGENTKIT_MODEL"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "notes.txt").write_text("not a tool\n")
    (tmp_path / "clock").write_text("not python at all (\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AGENTKIT_FILES_ROOT", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize(("name", "tool"), [("files", "read_file"), ("clock", "current_time")])
def test_tools_command_shows_the_builtin(shadowed: Path, name: str, tool: str) -> None:
    result = CliRunner().invoke(main, ["tools", name], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    names = [entry["function"]["name"] for entry in json.loads(result.stdout)]
    assert tool in names


def test_run_with_both_shadowed_builtins(shadowed: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["run", "--offline", "--tools", "files", "--tools", "clock", "what time is it in UTC?"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "- current_time: " in result.stdout, result.output
    assert "UTC)" in result.stdout


def test_a_path_is_still_a_path(shadowed: Path) -> None:
    (shadowed / "mine.py").write_text(
        "def shout(text: str) -> str:\n"
        '    """Shout.\n\n    Args:\n        text: What.\n    """\n'
        "    return text.upper()\n"
    )
    result = CliRunner().invoke(main, ["tools", "./mine.py"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["function"]["name"] == "shout"
    broken = CliRunner().invoke(main, ["tools", "./clock"], catch_exceptions=False)
    assert broken.exit_code == 2  # `./clock` names the file, which is no tool file
