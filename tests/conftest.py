"""Shared fixtures: tests run on the anyio pytest plugin (asyncio backend), never the network.

Hypothesis: tests that set no example count of their own use the default profile; the
`long` profile (`AGENTKIT_FUZZ=long pytest tests/test_fuzz.py`) runs thousands of examples
per property for a deeper search than CI can afford.
"""

from __future__ import annotations

import itertools
import os

import pytest
from hypothesis import settings

_SESSION_DBS = itertools.count()

settings.register_profile("long", max_examples=5_000, deadline=None)
if os.environ.get("AGENTKIT_FUZZ") == "long":
    settings.load_profile("long")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def sessions_db(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> str:
    """A sessions database of the test's own: `agentkit run` and `chat` store by default, and
    must never write to the user's data folder (subprocesses inherit it too)."""
    path = str(tmp_path_factory.getbasetemp() / f"sessions-{next(_SESSION_DBS)}.db")
    monkeypatch.setenv("AGENTKIT_SESSIONS", path)
    return path


@pytest.fixture(autouse=True)
def _own_cache_folder(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test reads or writes the developer's cache folder (saved endpoint probes)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "cache"))
