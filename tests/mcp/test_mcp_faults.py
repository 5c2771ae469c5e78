"""Faults a server can have: a crash mid-call, a kill, a slow or failed start; and what the
caller sees (an error the model can act on, a named start error, never an orphan)."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import anyio
import pytest
from _mcp_servers import EDGE, child_pids, edge, everything_command, proc_alive, wait_for

from agentkit import ModelRetry
from agentkit.mcp import MCPServer, MCPServerError

pytestmark = pytest.mark.anyio


async def sleeping(server: MCPServer) -> bool:
    return "sleep started" in json.loads(await server.call_tool("events"))


@pytest.mark.slow
async def test_killed_mid_call_gives_an_error_result_and_leaves_no_process() -> None:
    async with edge() as server:
        pid = server.pid
        assert pid is not None and proc_alive(pid)

        async def kill_when_sleeping() -> None:
            await wait_for(lambda: sleeping(server), "the sleep call to start")
            os.kill(pid, signal.SIGKILL)

        async with anyio.create_task_group() as tg:
            tg.start_soon(kill_when_sleeping)
            with pytest.raises(ModelRetry) as info:
                await server.call_tool("sleep", {"seconds": 60})
        assert info.value.message == (
            "`sleep` failed: the MCP server `edge` stopped during the call (it was killed by "
            "SIGKILL). It is restarted for the next call."
        )
        assert not proc_alive(pid)  # gone, and reaped: no zombie
        assert pid not in child_pids()
        assert server.state == "down"
        # The next call starts it again, transparently.
        assert int(await server.call_tool("pid")) != pid
        assert server.state == "running"


async def test_a_crash_past_the_restart_budget_makes_the_server_unavailable() -> None:
    async with edge(restarts=0) as server:
        listed = [t.name for t in await server.list_tools()]
        with pytest.raises(ModelRetry) as info:
            await server.call_tool("crash")
        assert info.value.message == (
            "`crash` failed: the MCP server `edge` stopped during the call (it exited with "
            "status 7). It will not be restarted."
        )
        assert server.state == "unavailable"
        with pytest.raises(ModelRetry) as info:
            await server.call_tool("pid")
        assert info.value.message == (
            "`pid` is unavailable: the MCP server `edge` is down (it exited with status 7, "
            "and its restarts are used up). Continue without it."
        )
        # The tools listed before stay listed, so the model is told this, not left guessing.
        assert [t.name for t in await server.list_tools()] == listed


async def test_a_restart_that_fails_makes_the_server_unavailable(
    tmp_path: Path,
) -> None:
    flag = str(tmp_path / "started")
    # A launcher that serves once, then fails on every later start.
    script = (
        "import os, sys, runpy\n"
        f"flag = {flag!r}\n"
        "if os.path.exists(flag):\n"
        "    sys.exit('edge: cannot start twice')\n"
        "open(flag, 'w').close()\n"
        f"sys.argv = [{str(EDGE)!r}]\n"
        f"runpy.run_path(sys.argv[0], run_name='__main__')\n"
    )
    server = MCPServer.stdio(sys.executable, ["-c", script], name="once")
    async with server:
        with pytest.raises(ModelRetry, match="stopped during the call"):
            await server.call_tool("crash")
        with pytest.raises(ModelRetry) as info:
            await server.call_tool("pid")
        assert info.value.message.startswith("`pid` is unavailable: the MCP server `once` is down")
        assert "restarting it failed" in info.value.message
        assert (
            "stopped before its handshake finished: it exited with status 1" in info.value.message
        )
        assert server.state == "unavailable"


@pytest.mark.slow
async def test_a_server_that_dies_while_idle_is_restarted_on_the_next_call() -> None:
    async with edge() as server:
        pid = server.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        await wait_for(lambda: server.state == "down", "the loss to be noticed")
        assert not proc_alive(pid)
        assert int(await server.call_tool("pid")) not in (pid, 0)


@pytest.mark.slow
async def test_a_handshake_that_never_comes_fails_in_time_naming_the_server() -> None:
    before = child_pids()
    server = edge("--slow-start", "60", start_timeout=0.5)
    with pytest.raises(MCPServerError) as info:
        async with server:
            pass
    assert info.value.server == "edge"
    assert str(info.value).startswith("MCP server `edge` (")
    assert str(info.value).endswith("did not finish its handshake within 0.5 s")
    assert child_pids() == before
    assert server.state == "stopped"


async def test_a_server_that_dies_at_start_says_why() -> None:
    with pytest.raises(MCPServerError) as info:
        async with edge("--die-at-start"):
            pass
    text = str(info.value)
    assert "stopped before its handshake finished: it exited with status 3" in text
    assert text.endswith("Its stderr ended with:\nedge: missing EDGE_TOKEN, giving up")


async def test_a_missing_command_is_named() -> None:
    with pytest.raises(MCPServerError) as info:
        async with MCPServer.stdio("no-such-mcp-server-here", ["--x"]):
            pass
    assert str(info.value) == (
        "could not start MCP server `no-such-mcp-server-here` (no-such-mcp-server-here --x): "
        "no-such-mcp-server-here was not found"
    )


async def test_an_http_server_that_is_not_there() -> None:
    with pytest.raises(MCPServerError) as info:
        async with MCPServer.http("http://127.0.0.1:9/mcp", start_timeout=5):
            pass
    assert str(info.value).startswith(
        "could not connect to MCP server `127.0.0.1:9` (http://127.0.0.1:9/mcp): ConnectError"
    )


async def test_a_call_that_runs_too_long_is_cancelled_on_the_server() -> None:
    async with edge(timeout=0.3) as server:
        sleep = {t.name: t for t in await server.list_tools()}["sleep"]
        assert sleep.timeout == 0.3
        with anyio.move_on_after(sleep.timeout):  # what the executor does with `timeout`
            await sleep.function(seconds=60)

        async def cancelled() -> bool:
            return "sleep cancelled" in json.loads(await server.call_tool("events"))

        await wait_for(cancelled, "the server to see the request cancelled")
        assert await server.call_tool("pid")  # the connection is fine


@pytest.mark.slow
async def test_everything_killed_mid_call_over_http(everything_http: tuple[str, int]) -> None:
    url, pid = everything_http
    async with MCPServer.http(url, name="everything") as server:

        async def kill_soon() -> None:
            await anyio.sleep(0.3)
            os.kill(pid, signal.SIGKILL)

        async with anyio.create_task_group() as tg:
            tg.start_soon(kill_soon)
            args = {"duration": 30, "steps": 30}
            with pytest.raises(ModelRetry) as info:
                await server.call_tool("trigger-long-running-operation", args)
        assert info.value.message.startswith(
            "`trigger-long-running-operation` failed: the MCP server `everything` stopped "
            "during the call"
        )
        # Nothing answers at the URL any more: the reconnection fails, and says so.
        with pytest.raises(ModelRetry, match="is unavailable: .*restarting it failed"):
            await server.call_tool("echo", {"message": "hi"})


@pytest.mark.slow
async def test_a_server_ignoring_stdin_close_and_sigterm_is_killed() -> None:
    async with edge("--stubborn", shutdown_grace=0.2) as server:
        pid = server.pid
        assert pid is not None
    assert not proc_alive(pid)


@pytest.mark.slow
async def test_helpers_a_server_started_go_with_it() -> None:
    async with edge() as server:
        helper = int(await server.call_tool("spawn_helper"))
        assert proc_alive(helper)
    await wait_for(lambda: not proc_alive(helper), "the helper to be reaped")


async def test_everything_is_stopped_without_an_orphan() -> None:
    before = child_pids()
    server = MCPServer.stdio(everything_command(), ["stdio"], name="everything")
    async with server:
        pid = server.pid
        assert pid is not None and pid in child_pids()
        await server.list_tools()
    assert not proc_alive(pid)
    assert child_pids() == before
