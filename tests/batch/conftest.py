from __future__ import annotations

from collections.abc import Iterator

import pytest
from _batch_helpers import echo

from agentkit.testing import FakeServer


@pytest.fixture
def server() -> Iterator[FakeServer]:
    """A fake server answering every prompt with "answer: PROMPT"."""
    with FakeServer(handler=echo) as fake:
        yield fake
