"""The connection's lifetime: one owner task, so any task may call, cancel or stop; no
cancel-scope error, no process or file descriptor left behind."""

from __future__ import annotations

import json

import anyio
import pytest
from _mcp_servers import child_pids, edge, everything_command, open_fds, proc_alive, wait_for

from agentkit import UserError
from agentkit.mcp import MCPServer, MCPServerError

pytestmark = pytest.mark.anyio


async def events(server: MCPServer) -> list[str]:
    found: list[str] = json.loads(await server.call_tool("events"))
    return found


async def test_cancelling_a_call_from_another_task_cancels_the_request() -> None:
    async with edge() as server:
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.call_tool, "sleep", {"seconds": 60})

            async def started() -> bool:
                return "sleep started" in await events(server)

            await wait_for(started, "the call to start")
            tg.cancel_scope.cancel()  # no "exit cancel scope in a different task"

        async def cancelled() -> bool:
            return "sleep cancelled" in await events(server)

        await wait_for(cancelled, "the server to see the request cancelled")
        assert server.state == "running"


async def test_calls_from_many_tasks_run_at_once() -> None:
    async with edge() as server, anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(server.call_tool, "sleep", {"seconds": 60})

        async def all_started() -> bool:
            return (await events(server)).count("sleep started") == 3

        await wait_for(all_started, "three calls in flight at once")
        tg.cancel_scope.cancel()


async def test_started_in_a_task_group_and_stopped_from_another_task() -> None:
    server = edge()
    async with anyio.create_task_group() as tg:
        await server.start(tg)
        pid = server.pid
        assert pid is not None
        with pytest.raises(UserError, match="running already"):
            await server.start(tg)
        results: list[str] = []

        async def use_then_stop() -> None:
            results.append(await server.call_tool("pid"))
            await server.aclose()

        tg.start_soon(use_then_stop)
    assert results == [str(pid)]
    assert not server.running and not proc_alive(pid)
    await server.aclose()  # again: nothing to do


@pytest.mark.slow
async def test_a_server_can_be_started_again_after_it_stopped() -> None:
    server = edge()
    for _ in range(2):
        async with server:
            assert await server.call_tool("events") == "[]"  # a fresh process each time


async def test_entering_twice_in_one_task_nests() -> None:
    async with edge() as server:
        async with server:
            pid = server.pid
        assert server.running and server.pid == pid
    assert not server.running


async def test_entering_from_another_task_while_running_is_refused() -> None:
    async with edge() as server:
        failures: list[BaseException] = []

        async def enter() -> None:
            try:
                async with server:
                    pass
            except UserError as exc:
                failures.append(exc)

        async with anyio.create_task_group() as tg:
            tg.start_soon(enter)
        assert len(failures) == 1
        assert "running in another task already" in str(failures[0])
        assert await server.call_tool("pid")


async def test_using_a_server_that_is_not_started_says_so() -> None:
    server = edge()
    with pytest.raises(MCPServerError, match=r"`edge` is not running: start it first"):
        await server.list_tools()
    with pytest.raises(MCPServerError, match=r"`edge` is not running"):
        await server.call_tool("pid")


async def test_an_error_in_the_body_propagates_as_it_is_and_the_server_stops() -> None:
    server = edge()
    pids: list[int | None] = []

    async def fail_inside() -> None:
        async with server:
            pids.append(server.pid)
            raise ValueError("boom")

    with pytest.raises(ValueError, match="^boom$"):
        await fail_inside()
    assert pids[0] is not None and not proc_alive(pids[0])
    assert not server.running


async def test_an_outer_cancellation_during_a_call_leaves_no_process() -> None:
    before = child_pids()
    server = edge()
    with anyio.move_on_after(30) as scope:
        async with server:
            pid = server.pid
            with anyio.CancelScope() as inner:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(server.call_tool, "sleep", {"seconds": 60})
                    await wait_for(lambda: _started(server), "the call to start")
                    inner.cancel()
    assert not scope.cancelled_caught
    assert pid is not None and not proc_alive(pid)
    assert child_pids() == before


async def _started(server: MCPServer) -> bool:
    return "sleep started" in await events(server)


@pytest.mark.slow
async def test_fifty_connect_close_cycles_leak_no_process_or_fd() -> None:
    command = everything_command()
    server = MCPServer.stdio(command, ["stdio"], name="everything")
    async with server:  # warm up: the first start opens what the process keeps
        await server.list_tools()
    fds, children = open_fds(), child_pids()
    pids = set()
    for _ in range(50):
        async with server:
            assert server.pid is not None
            pids.add(server.pid)
            assert await server.call_tool("echo", {"message": "x"}) == "Echo: x"
    assert len(pids) == 50
    assert not [pid for pid in pids if proc_alive(pid)]
    assert child_pids() == children
    assert open_fds() == fds


async def test_calls_in_flight_when_the_server_stops_end_with_a_clear_error() -> None:
    server = edge()
    errors: list[BaseException] = []

    async def call_and_record() -> None:
        try:
            await server.call_tool("sleep", {"seconds": 60})
        except MCPServerError as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        await server.start(tg)
        tg.start_soon(call_and_record)
        await wait_for(lambda: _started(server), "the call to start")
        await server.aclose()
    assert [str(e) for e in errors] == ["MCP server `edge` was stopped"]


async def test_calls_made_while_it_starts_wait_for_it() -> None:
    server = edge()
    async with anyio.create_task_group() as tg:
        results: list[str] = []

        async def early_call() -> None:
            await wait_for(lambda: server.state == "starting", "the start")
            results.append(await server.call_tool("events"))

        tg.start_soon(early_call)
        await server.start(tg)
        await wait_for(lambda: results, "the early call")
        await server.aclose()
    assert results == ["[]"]


async def test_a_call_handed_over_as_the_owner_is_cancelled_is_not_lost() -> None:
    # The call is handed to the waiting owner, which is cancelled in the same tick, before it
    # runs: anyio neither loses the item nor cancels the owner, and the call is there to take.
    from agentkit.mcp._calls import Call, Inbox

    inbox = Inbox()
    scope = anyio.CancelScope()

    async def owner() -> None:
        with scope:
            await inbox.wait()

    async with anyio.create_task_group() as tg:
        tg.start_soon(owner)
        await anyio.wait_all_tasks_blocked()

        async def run(client: object) -> None:
            return None

        call = Call(run)
        inbox.put(call)
        scope.cancel()  # in the same tick, before the owner runs again
    assert inbox.take() == [call]
    inbox.close()
    inbox.dispose()
