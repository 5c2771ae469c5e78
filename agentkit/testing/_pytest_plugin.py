"""pytest fixtures of the testing kit, registered through the `pytest11` entry point.

Imports stay inside the fixtures: pytest loads this plugin in every session of a project
that has agentkit installed, and should not pay for (or break on) agentkit's import there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from agentkit.testing._fake_server import FakeServer


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    """A started `FakeServer` on 127.0.0.1, stopped after the test."""
    from agentkit.testing._fake_server import FakeServer

    with FakeServer() as server:
        yield server
