"""The public names of agentkit.sessions stay exported, and the package imports lightly."""

from __future__ import annotations

import subprocess
import sys

import agentkit.sessions as sessions


def test_every_public_name_is_exported_once() -> None:
    assert len(sessions.__all__) == len(set(sessions.__all__))
    missing = [name for name in sessions.__all__ if not hasattr(sessions, name)]
    assert missing == []
    for name in ("Session", "SQLiteSession", "MemorySession", "SessionBusy", "Trimmer"):
        assert name in sessions.__all__


def test_the_errors_sit_under_the_roots() -> None:
    import agentkit
    import agentkit.errors
    from agentkit.errors import AgentkitError, RunError

    for name in ("SessionError", "SessionNotFound", "SessionBusy", "ContextBudgetExceeded"):
        assert getattr(sessions, name) is getattr(agentkit.errors, name) is getattr(agentkit, name)
        assert name in agentkit.errors.__doc__  # drawn in the tree
    assert issubclass(sessions.SessionNotFound, LookupError)
    assert not issubclass(sessions.SessionBusy, RunError)  # raised before a run starts
    assert issubclass(sessions.SessionBusy, sessions.SessionError)
    assert issubclass(sessions.SessionError, AgentkitError)
    assert issubclass(sessions.ContextBudgetExceeded, RunError)


def test_importing_opens_no_file_and_no_http_client() -> None:
    code = (
        "import sys, agentkit.sessions; print(any(m in sys.modules for m in ('httpx2', 'openai')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
