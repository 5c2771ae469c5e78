"""Cancellation: during the request, the stream, a tool, the SDK's retry sleep and approval.

Each case cancels a run from outside and asserts that the `CancelledError` reached the
cancelling scope (never swallowed, never turned into another error), that it happened in
bounded time, what the server saw, that no connection and no thread is left running, and that
no result of a cancelled call entered the conversation (the live list a tool sees as
`ctx.messages`).
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from typing import Any

import anyio
import anyio.from_thread
import pytest
from _reliability import (
    BOUND,
    add,
    assert_connections_closed,
    assert_no_busy_threads,
    assert_valid_history,
    busy_threads,
    chunk,
    server_agent,
)

from agentkit import Agent, RunContext, ToolCall, ToolMessage, tool
from agentkit.events import RunFinished, TextDelta
from agentkit.messages import Message
from agentkit.testing import (
    Chunks,
    Completion,
    Error,
    FakeServer,
    FunctionModel,
    Hang,
    ScriptedModel,
)

pytestmark = pytest.mark.anyio


async def cancel_once(
    ready: Callable[[], Awaitable[Any]],
    work: Callable[[], Awaitable[Any]],
    *,
    abandons_threads: bool = False,
) -> list[threading.Thread]:
    """Run `work`; cancel it from outside once `ready()` returns.

    Fails if `work` finished anyway, if the cancellation did not reach the cancelling scope
    (swallowed, or replaced by another exception, which would propagate here), on a hang, or
    when a thread started meanwhile is still running code (unless `abandons_threads`: then
    the test releases them and checks). Returns the threads that ran before.
    """
    before = threading.enumerate()
    scope = anyio.CancelScope()
    finished = False

    async def runner() -> None:
        nonlocal finished
        with scope:
            await work()
            finished = True

    with anyio.fail_after(BOUND):
        async with anyio.create_task_group() as tg:
            tg.start_soon(runner)
            await ready()
            scope.cancel()
    assert scope.cancelled_caught, "the CancelledError did not reach the cancelling scope"
    assert not finished, "the work finished although it was cancelled"
    if not abandons_threads:
        await assert_no_busy_threads(before)
    return before


def requests_seen(
    server: FakeServer, count: int, then: float = 0.0
) -> Callable[[], Awaitable[None]]:
    """Ready once the server saw `count` chat requests (and `then` seconds more passed)."""

    async def wait() -> None:
        while len(server.chat_requests) < count:
            await anyio.sleep(0.005)
        await anyio.sleep(then)

    return wait


def no_results_for(messages: list[Message], call_ids: list[str]) -> None:
    assert not [m for m in messages if isinstance(m, ToolMessage) and m.tool_call_id in call_ids]
    assert_valid_history(messages, unanswered=call_ids)


# -- the request ------------------------------------------------------------------------------


async def test_cancel_during_the_request_propagates_and_closes_the_connection(
    fake_server: FakeServer,
) -> None:
    fake_server.add(Hang())
    async with server_agent(fake_server, deadline=15) as agent:
        # The agent's own 15 s deadline is not what fires: the outer cancel is not a ModelError.
        await cancel_once(requests_seen(fake_server, 1, 0.05), lambda: agent.run("hello"))
    await assert_connections_closed(fake_server)
    assert len(fake_server.chat_requests) == 1


async def test_agent_is_usable_after_a_cancelled_request(fake_server: FakeServer) -> None:
    fake_server.add(Hang(), Completion("back"))
    async with server_agent(fake_server) as agent:
        await cancel_once(requests_seen(fake_server, 1, 0.05), lambda: agent.run("hello"))
        with anyio.fail_after(BOUND):
            result = await agent.run("again")
    assert result.output == "back"
    assert_valid_history(result.messages)
    assert len(fake_server.chat_requests) == 2
    await assert_connections_closed(fake_server)


async def test_cancel_during_the_sdk_retry_sleep(fake_server: FakeServer) -> None:
    # The SDK would sleep 30 s before its retry; the cancel ends that sleep (BOUND < 30 s).
    fake_server.add(Error(429, headers={"retry-after": "30"}), Completion("unused"))
    async with server_agent(fake_server, max_retries=2) as agent:
        await cancel_once(requests_seen(fake_server, 1, 0.3), lambda: agent.run("hello"))
    assert len(fake_server.chat_requests) == 1  # no retry was sent
    await assert_connections_closed(fake_server)


# -- the stream -------------------------------------------------------------------------------


async def test_cancel_during_the_stream(fake_server: FakeServer) -> None:
    fake_server.add(Chunks([chunk("word ")] * 200, interval=0.02))
    first_text = anyio.Event()
    events: list[Any] = []

    async with server_agent(fake_server) as agent:

        async def consume() -> None:
            async for event in agent.stream("hello"):
                events.append(event)
                if isinstance(event, TextDelta):
                    first_text.set()

        await cancel_once(first_text.wait, consume)
    assert not any(isinstance(e, RunFinished) for e in events)
    assert len(fake_server.chat_requests) == 1
    await assert_connections_closed(fake_server)


async def test_stream_consumer_that_stops_early_closes_the_connection(
    fake_server: FakeServer,
) -> None:
    fake_server.add(Chunks([chunk("word ")] * 200, interval=0.02))
    with anyio.fail_after(BOUND):
        async with (
            server_agent(fake_server) as agent,
            aclosing(agent.stream("hello")) as events,
        ):
            async for event in events:
                if isinstance(event, TextDelta):
                    break
    assert len(fake_server.chat_requests) == 1
    await assert_connections_closed(fake_server)


async def test_stream_consumer_that_breaks_without_closing_leaves_no_connection(
    fake_server: FakeServer,
) -> None:
    # `break` does not close an async generator; the event loop finalizes it once dropped.
    fake_server.add(Chunks([chunk("word ")] * 200, interval=0.02), Completion("again"))
    with anyio.fail_after(BOUND):
        async with server_agent(fake_server) as agent:
            async for event in agent.stream("hello"):
                if isinstance(event, TextDelta):
                    break
            await assert_connections_closed(fake_server)
            assert (await agent.run("again")).output == "again"  # the agent still works
    assert len(fake_server.chat_requests) == 2
    await assert_connections_closed(fake_server)


# -- tools ------------------------------------------------------------------------------------


async def test_cancel_during_an_async_tool() -> None:
    started = anyio.Event()
    stopped = anyio.Event()
    live: list[list[Message]] = []

    async def forever(ctx: RunContext[None]) -> str:
        """Never ends."""
        live.append(ctx.messages)
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            stopped.set()
        return "never"

    model = ScriptedModel([ToolCall("forever", {}, "call_f"), "unused"])
    agent = Agent(model, tools=[forever])
    await cancel_once(started.wait, lambda: agent.run("go"))
    assert stopped.is_set()
    assert len(model.requests) == 1
    no_results_for(live[0], ["call_f"])


async def test_cancel_during_a_sync_tool_abandons_its_thread() -> None:
    started = threading.Event()
    release = threading.Event()
    live: list[list[Message]] = []

    def blocking(ctx: RunContext[None]) -> str:
        """Blocks until released."""
        live.append(ctx.messages)
        started.set()
        release.wait(10)
        return "late result"

    async def thread_started() -> None:
        while not started.is_set():
            await anyio.sleep(0.005)

    model = ScriptedModel([ToolCall("blocking", {}, "call_b"), "unused"])
    agent = Agent(model, tools=[blocking])
    before = await cancel_once(thread_started, lambda: agent.run("go"), abandons_threads=True)
    assert busy_threads(before)  # abandoned, not waited on: a thread cannot be cancelled
    release.set()
    await assert_no_busy_threads(before)
    no_results_for(live[0], ["call_b"])  # its late value never entered the conversation
    assert len(model.requests) == 1


async def test_cancel_during_parallel_async_and_sync_tools() -> None:
    release = threading.Event()
    running = 0
    all_started = anyio.Event()
    stopped: list[str] = []
    live: list[list[Message]] = []

    def arrived() -> None:
        nonlocal running
        running += 1
        if running == 3:
            all_started.set()

    async def waits(ctx: RunContext[None]) -> str:
        """Waits forever."""
        live.append(ctx.messages)
        arrived()
        try:
            await anyio.sleep_forever()
        finally:
            stopped.append("waits")
        return "never"

    def blocks() -> str:
        """Blocks until released."""
        anyio.from_thread.run_sync(arrived)
        release.wait(10)
        return "late"

    calls = [ToolCall("waits", {}, "c1"), ToolCall("blocks", {}, "c2"), ToolCall("waits", {}, "c3")]
    model = ScriptedModel([calls, "unused"])
    agent = Agent(model, tools=[waits, blocks])
    before = await cancel_once(all_started.wait, lambda: agent.run("go"), abandons_threads=True)
    assert stopped == ["waits", "waits"]
    release.set()
    await assert_no_busy_threads(before)
    no_results_for(live[0], ["c1", "c2", "c3"])


async def test_cancel_during_approval() -> None:
    asked = anyio.Event()
    ran: list[int] = []

    @tool(requires_approval=True)
    def delete(path: str) -> str:
        """Delete a file.

        Args:
            path: Which file.
        """
        ran.append(1)
        return "deleted"

    async def never_answers(call_: ToolCall) -> bool:
        asked.set()
        await anyio.sleep_forever()
        return True

    live: list[list[Message]] = []

    def peek(ctx: RunContext[None]) -> str:
        """Look at the conversation."""
        live.append(ctx.messages)
        return "seen"

    script = [ToolCall("peek", {}, "c0"), ToolCall("delete", {"path": "x"}, "c1"), "unused"]
    model = ScriptedModel(script)
    agent = Agent(model, tools=[delete, peek], approval=never_answers)
    await cancel_once(asked.wait, lambda: agent.run("go"))
    assert ran == []
    assert len(model.requests) == 2
    no_results_for(live[0], ["c1"])


async def test_cancel_between_turns_keeps_finished_results_only() -> None:
    # The first turn's call finished and was answered; the second turn's request is cancelled.
    live: list[list[Message]] = []
    second_request = anyio.Event()

    def peek(ctx: RunContext[None]) -> int:
        """Look at the conversation."""
        live.append(ctx.messages)
        return add(1, 1)

    async def reply(messages: list[Message], request: Any) -> Any:
        if len(messages) == 1:
            return ToolCall("peek", {}, "c0")
        second_request.set()
        await anyio.sleep_forever()

    model = FunctionModel(reply)
    agent = Agent(model, tools=[peek])
    await cancel_once(second_request.wait, lambda: agent.run("go"))
    assert len(model.requests) == 2
    assert_valid_history(live[0])
    assert [m.content for m in live[0] if isinstance(m, ToolMessage)] == ["2"]
