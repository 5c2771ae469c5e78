"""Fixtures shared by the tests of the sandboxed tools (`python`, `shell`).

Each test module that uses `bwrap` provides a module-scoped `tool` fixture: the tool under
test, whose module holds the `_sandbox` it loaded. `user` is a throwaway normal user, made
once per session when the tests run as root (`_sandbox_users.py`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import anyio
import pytest
from _sandbox_users import ThrowawayUser, throwaway_user, why_no_throwaway_user

from agentkit import Tool


@pytest.fixture(scope="module")
def bwrap_problem(tool: Tool) -> str | None:
    """Probe once: None when bubblewrap can build the sandbox here, else why not."""
    saved = {
        k: os.environ.pop(k) for k in ("AGENTKIT_SANDBOX", "AGENTKIT_BWRAP") if k in os.environ
    }
    try:
        found = anyio.run(tool.function.__globals__["_sandbox"].find_bwrap)
    finally:
        os.environ.update(saved)
    return found if isinstance(found, str) else None


@pytest.fixture
def bwrap(bwrap_problem: str | None) -> None:
    """Skip the test where bubblewrap cannot sandbox."""
    if bwrap_problem is not None:
        pytest.skip(f"bubblewrap cannot sandbox on this machine: {bwrap_problem}")


@pytest.fixture(scope="session")
def user() -> Iterator[ThrowawayUser]:
    """A throwaway normal user for the session (tests run as root); skip where none can be."""
    why = why_no_throwaway_user()
    if why is not None:
        pytest.skip(f"cannot run as a throwaway user here: {why}")
    yield from throwaway_user()
