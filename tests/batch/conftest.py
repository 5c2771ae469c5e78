from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from _batch_helpers import echo

from agentkit.testing import FakeServer

# Ray 2.60 secures a cluster with a token. A driver connecting to a cluster's address sends
# it only when RAY_AUTH_MODE says so, read once when ray is imported: set it before that.
os.environ.setdefault("RAY_AUTH_MODE", "token")


@pytest.fixture
def server() -> Iterator[FakeServer]:
    """A fake server answering every prompt with "answer: PROMPT"."""
    with FakeServer(handler=echo) as fake:
        yield fake
