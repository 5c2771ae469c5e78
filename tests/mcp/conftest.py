"""Fixtures of the MCP tests (helpers in `_mcp_servers`).

Nothing here imports the SDK at import time: without it, the test modules are skipped (by
`_mcp_servers`), instead of the whole test session failing to load this file.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import anyio
import pytest


@pytest.fixture
async def everything_http() -> AsyncIterator[tuple[str, int]]:
    """server-everything serving Streamable HTTP; (its URL on 127.0.0.1, its pid)."""
    from _mcp_servers import everything_command, free_port  # skips without the SDK

    command = everything_command()
    port = free_port()
    env = {**os.environ, "PORT": str(port)}
    async with await anyio.open_process([command, "streamableHttp"], env=env) as process:
        assert process.stderr is not None
        seen = b""
        with anyio.fail_after(20):
            async for chunk in process.stderr:
                seen += chunk
                if b"listening on port" in seen:
                    break
        try:
            yield f"http://127.0.0.1:{port}/mcp", process.pid
        finally:
            if process.returncode is None:
                process.kill()
            await process.wait()
