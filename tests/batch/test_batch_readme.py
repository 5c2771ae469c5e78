"""The README's batch section tells the truth: its Python example runs, its flags exist."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from agentkit.cli import main

README = Path(__file__).resolve().parents[2] / "README.md"


def _section() -> str:
    text = README.read_text(encoding="utf-8")
    return text.split("## Batch runs", 1)[1].split("\n## ", 1)[0]


def test_the_python_example_runs_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (example,) = re.findall(r"```python\n(.*?)```", _section(), re.S)
    first = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)[0]
    monkeypatch.chdir(tmp_path)
    code = compile(first + "\n" + example, "README.md", "exec")
    exec(code, {})
    out = capsys.readouterr().out
    assert "2 ok, 0 failed; cost" in out and "22°C and sunny in Oslo" in out
    exec(code, {})  # again: both rows skipped, their results still read back
    assert "0 ok, 0 failed" in capsys.readouterr().out
    assert os.path.exists("answers.jsonl.manifest.json")


def test_the_flags_shown_exist() -> None:
    shown = set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", _section()))
    help_text = CliRunner().invoke(main, ["batch", "--help"]).stdout
    assert shown and all(flag in help_text for flag in shown), shown
