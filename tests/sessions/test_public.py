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

    for name in (
        "SessionError",
        "SessionNotFound",
        "SessionBusy",
        "SessionDatabaseError",
        "ContextBudgetExceeded",
    ):
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


def test_agents_without_sessions_or_budget_load_none_of_it() -> None:
    code = (
        "import sys; from agentkit import Agent; "
        "Agent('my-model', base_url='http://127.0.0.1:1/v1', api_key='k'); "
        "print(sorted(m for m in sys.modules if m.startswith('agentkit.sessions.') "
        "or m == 'sqlite3'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['agentkit.sessions._windows']"


def test_names_load_on_first_use_and_unknown_ones_fail() -> None:
    import pytest

    assert sessions.SQLiteSession.__module__ == "agentkit.sessions._sqlite"
    assert set(sessions.__all__) <= set(dir(sessions))
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        sessions.Nothing  # noqa: B018
