"""Shared fixtures: tests run on the anyio pytest plugin (asyncio backend), never the network."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
