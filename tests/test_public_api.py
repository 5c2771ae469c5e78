"""The public surface: a sorted `__all__`, the names users are promised, no import side effects."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import agentkit

REPO = Path(agentkit.__file__).resolve().parent.parent

# Users and examples are written against these; losing one is a breaking change.
REQUIRED = [
    "Agent",
    "AgentkitError",
    "AssistantMessage",
    "MaxTurnsExceeded",
    "Message",
    "ModelError",
    "ModelRetry",
    "RunContext",
    "RunError",
    "RunResult",
    "SystemMessage",
    "Tool",
    "ToolCall",
    "ToolMessage",
    "Usage",
    "UsageLimitExceeded",
    "UserError",
    "UserMessage",
    "tool",
]


def test_all_is_sorted_and_without_duplicates() -> None:
    assert agentkit.__all__ == sorted(agentkit.__all__)
    assert len(set(agentkit.__all__)) == len(agentkit.__all__)


def test_every_name_in_all_is_importable() -> None:
    namespace: dict[str, object] = {}
    exec(f"from agentkit import {', '.join(agentkit.__all__)}", namespace)
    for name in agentkit.__all__:
        assert namespace[name] is getattr(agentkit, name), name


def test_required_public_names_are_exported() -> None:
    missing = [name for name in REQUIRED if name not in agentkit.__all__]
    assert missing == []


def test_public_surface_stays_small() -> None:
    # About two dozen names (STYLE.md); a sprawling export list is a smell.
    assert len(agentkit.__all__) <= 40


def test_exported_exceptions_share_the_root() -> None:
    errors = [
        obj
        for obj in (getattr(agentkit, name) for name in agentkit.__all__)
        if inspect.isclass(obj) and issubclass(obj, BaseException)
    ]
    assert {e.__name__ for e in errors} >= {"AgentkitError", "UserError", "ModelRetry"}
    assert all(issubclass(e, agentkit.AgentkitError) for e in errors)


def test_exported_classes_and_functions_have_docstrings() -> None:
    undocumented = [
        name
        for name in agentkit.__all__
        if (inspect.isclass(getattr(agentkit, name)) or inspect.isfunction(getattr(agentkit, name)))
        and not inspect.getdoc(getattr(agentkit, name))
    ]
    assert undocumented == []


def test_version_matches_the_project() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert agentkit.__version__ == project["version"]


def test_import_has_no_side_effects(tmp_path: Path) -> None:
    home = tmp_path / "home"
    work = tmp_path / "work"
    home.mkdir()
    work.mkdir()
    probe = (
        "import json, sys; import agentkit; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('agentkit', 'rich', 'click'))))"
    )
    env = {
        **os.environ,
        "HOME": str(home),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", probe],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    *printed, last = done.stdout.splitlines()
    assert printed == []  # nothing printed by the import itself
    loaded = json.loads(last)
    assert "agentkit.cli" not in loaded
    assert [m for m in loaded if m.split(".")[0] in ("rich", "click")] == []
    assert list(home.iterdir()) == []
    assert list(work.iterdir()) == []
