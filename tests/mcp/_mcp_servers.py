"""Helpers of the MCP tests: real servers, and checks on the processes they leave.

- The edge server (`servers/edge_server.py`, on the official SDK) covers what public servers
  cannot be made to do on cue: a crash mid-call, a slow start, `$defs`, list changes.
- `mcp-server-time` (PyPI) and `@modelcontextprotocol/server-everything` (npm, installed by
  `npm ci --prefix tests/mcp/servers`, or into $AGENTKIT_MCP_NPM_DIR) are the real thing.
  Without node, the npm servers or the SDK the tests skip, saying what to install, or fail
  when CI is set (except for node itself).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

# Before agentkit.mcp: without the SDK, each MCP test module is skipped, saying what to
# install; in CI (CI set, as .ci/run does) it fails instead, so a CI that forgot the extra
# cannot pass by skipping every MCP test.
IN_CI = bool(os.environ.get("CI"))
INSTALL = "pip install -e '.[mcp]' (or 'agentkit-llama[mcp]')"
if IN_CI and importlib.util.find_spec("mcp") is None:
    pytest.fail(f"CI runs the MCP tests, and the MCP SDK is not installed: {INSTALL}")
pytest.importorskip("mcp", reason=f"the MCP SDK is not installed: {INSTALL}")

from agentkit.mcp import MCPServer  # noqa: E402

HERE = Path(__file__).parent
EDGE = HERE / "servers" / "edge_server.py"
NPM_DIR = Path(os.environ.get("AGENTKIT_MCP_NPM_DIR") or HERE / "servers")


def edge(*args: str, **options: Any) -> MCPServer:
    """The edge server over stdio."""
    options.setdefault("name", "edge")
    return MCPServer.stdio(sys.executable, [str(EDGE), *args], **options)


def time_server(**options: Any) -> MCPServer:
    """`mcp-server-time` from PyPI, over stdio."""
    if IN_CI and importlib.util.find_spec("mcp_server_time") is None:
        pytest.fail("CI runs the MCP tests on mcp-server-time: pip install -e '.[dev]'")
    pytest.importorskip("mcp_server_time", reason="pip install mcp-server-time (CI does)")
    options.setdefault("name", "time")
    return MCPServer.stdio(sys.executable, ["-m", "mcp_server_time"], **options)


def everything_command() -> str:
    if shutil.which("node") is None:
        pytest.skip("node is not installed, so the npm MCP servers cannot run")
    path = NPM_DIR / "node_modules" / ".bin" / "mcp-server-everything"
    if not path.exists():
        # A fresh clone's `pytest` skips them, saying how to install; CI fails instead.
        missing = (
            f"@modelcontextprotocol/server-everything is not installed in {NPM_DIR}: run "
            "`npm ci --prefix tests/mcp/servers` (or set AGENTKIT_MCP_NPM_DIR)"
        )
        (pytest.fail if IN_CI else pytest.skip)(missing)
    return str(path)


def proc_alive(pid: int) -> bool:
    """Whether `pid` exists at all: running, or a zombie nobody reaped."""
    return os.path.exists(f"/proc/{pid}")


def child_pids() -> set[int]:
    """This process's children (zombies included)."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid():
                found.add(int(entry))
    return found


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def wait_for(check: Any, what: str, seconds: float = 10.0) -> None:
    """Poll an async or sync `check()` until true; fail naming `what` after `seconds`."""
    with anyio.move_on_after(seconds):
        while True:
            result = check()
            if hasattr(result, "__await__"):
                result = await result
            if result:
                return
            await anyio.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


SERVED = HERE / "servers" / "served_tools.py"
