"""Fixtures shared by the tests of the sandboxed tools (`python`, `shell`).

Each test module provides a module-scoped `tool` fixture: the tool under test, whose module
holds the `_sandbox` it loaded.
"""

from __future__ import annotations

import os

import anyio
import pytest

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
