"""Shared pieces of the reliability tests: the history check, agents on the fake server, threads.

Every reliability test asserts four things: the outcome (a result or a typed error), a bounded
time (`anyio.fail_after(BOUND)`: a hang fails the test, nothing asserts that anything was
fast), the requests the model saw, and that the conversation stays valid
(`assert_valid_history`).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import anyio
import pytest

from agentkit import Agent, AssistantMessage, RunError, RunResult, ToolMessage
from agentkit.events import RunFinished
from agentkit.messages import Message
from agentkit.models import OpenAIModel
from agentkit.testing import FakeRequest, FakeServer

# A recognisable key: the secrets tests search every output for it.
KEY = "sk-agentkit-CANARY-7f3a9c2e5b1d"
MODEL_ID = "meta-llama/llama-3.1-70b-instruct"
FAST = {"retry-after-ms": "1"}  # the SDK honours it: retry sleeps of 1 ms keep tests quick
BOUND = 20.0  # seconds a single scenario may take before it counts as a hang

E = TypeVar("E", bound=RunError)


def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: The first.
        b: The second.
    """
    return a + b


def assert_valid_history(messages: Sequence[Message], *, unanswered: Iterable[str] = ()) -> None:
    """Every tool call is answered by exactly one tool result, right after its reply.

    Args:
        messages: The conversation.
        unanswered: Ids of calls a cancelled run may leave without a result; only the last
            assistant message may hold them, and none of them may have a result.
    """
    allowed = set(unanswered)
    pending: list[str] = []
    for message in messages:
        if isinstance(message, ToolMessage):
            assert message.tool_call_id not in allowed, f"result of a cancelled call: {message}"
            assert message.tool_call_id in pending, f"result answers no open call: {message}"
            pending.remove(message.tool_call_id)
            continue
        assert not pending, f"calls left unanswered: {pending}"
        if isinstance(message, AssistantMessage):
            ids = [c.id for c in message.tool_calls]
            assert all(ids), f"a call without an id: {message}"
            # Unique within a reply; a server may reuse ids from one reply to the next
            # ("call_0" each time), which is valid: results pair with the open calls.
            assert len(set(ids)) == len(ids), f"duplicate call ids in one reply: {ids}"
            pending = ids
    assert set(pending) <= allowed, f"calls left unanswered: {sorted(set(pending) - allowed)}"
    if allowed:
        assert set(pending) == allowed, f"the cancelled calls are not the last reply's: {pending}"


def assert_valid_wire_history(request: FakeRequest) -> None:
    """The same check on the wire messages a request carried to the endpoint."""
    pending: list[str] = []
    for message in request.messages:
        if message["role"] == "tool":
            assert message["tool_call_id"] in pending, f"result answers no open call: {message}"
            pending.remove(message["tool_call_id"])
            continue
        assert not pending, f"calls left unanswered on the wire: {pending}"
        if message["role"] == "assistant":
            pending = [c["id"] for c in message.get("tool_calls") or ()]
            assert all(pending) and len(set(pending)) == len(pending), pending
    assert not pending, f"calls left unanswered on the wire: {pending}"


def openai_model(server: FakeServer, **kwargs: Any) -> OpenAIModel:
    """The real adapter on the fake server; short timeouts unless given."""
    kwargs.setdefault("max_retries", 2)
    kwargs.setdefault("timeout", 5.0)
    kwargs.setdefault("deadline", 15.0)
    return OpenAIModel(MODEL_ID, base_url=server.url, api_key=KEY, **kwargs)


def server_agent(server: FakeServer, *, tools: Sequence[Any] = (add,), **kwargs: Any) -> Agent[Any]:
    """An agent on the fake server; use it as `async with` so its connections close.

    Model keywords (max_retries, timeout, deadline) go to `OpenAIModel`, the rest to `Agent`.
    """
    model_keys = {"max_retries", "timeout", "deadline"}
    model = openai_model(server, **{k: v for k, v in kwargs.items() if k in model_keys})
    rest = {k: v for k, v in kwargs.items() if k not in model_keys}
    return Agent(model, tools=list(tools), **rest)


async def assert_connections_closed(server: FakeServer, wait: float = 3.0) -> None:
    """Wait (a little) until the server has no open connection; fail if one stays open."""
    with anyio.move_on_after(wait):
        while server.open_connections:
            await anyio.sleep(0.01)
    assert server.open_connections == 0, f"{server.open_connections} connections left open"


async def run_on_server(
    server: FakeServer, *, stream: bool = False, prompt: str = "What is 2 + 3?", **kwargs: Any
) -> RunResult[Any]:
    """One run on the server, in bounded time; then the connections and the history are checked.

    Keywords go to `server_agent`.
    """
    try:
        with anyio.fail_after(BOUND):
            async with server_agent(server, **kwargs) as agent:
                if not stream:
                    result = await agent.run(prompt)
                else:
                    events = [e async for e in agent.stream(prompt)]
                    assert isinstance(events[-1], RunFinished)
                    result = events[-1].result
    finally:
        await assert_connections_closed(server)
    assert_valid_history(result.messages)
    for request in server.chat_requests:
        assert_valid_wire_history(request)
    return result


async def error_on_server(server: FakeServer, error: type[E], **kwargs: Any) -> E:
    """`run_on_server` that must end in `error`; it must carry a valid, non-empty history."""
    with pytest.raises(error) as info:
        await run_on_server(server, **kwargs)
    assert info.value.messages, "the error carries the conversation so far"
    assert_valid_history(info.value.messages)
    for request in server.chat_requests:
        assert_valid_wire_history(request)
    return info.value


def chunk(
    content: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    finish_reason: str | None = None,
) -> dict[str, Any]:
    """One chat-completion stream chunk."""
    delta: dict[str, Any] = {}
    if content is not None:
        delta["content"] = content
    if tool_calls is not None:
        delta["tool_calls"] = tool_calls
    choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
    return {"object": "chat.completion.chunk", "choices": [choice]}


# Frames an idle worker thread sits in (the thread machinery, a queue, anyio's or asyncio's
# worker loop). A thread with any other frame on its stack is running someone's code.
_IDLE_FILES = ("threading.py", "queue.py", "thread.py", "_asyncio.py", "selectors.py")


def busy_threads(before: Iterable[threading.Thread]) -> list[threading.Thread]:
    """Threads started since `before` that are still running code (idle pool workers are not)."""
    old = set(before)
    frames = sys._current_frames()
    busy = []
    for thread in threading.enumerate():
        if thread in old or thread.ident is None or thread.ident not in frames:
            continue
        frame: Any = frames[thread.ident]
        while frame is not None:
            if Path(frame.f_code.co_filename).name not in _IDLE_FILES:
                busy.append(thread)
                break
            frame = frame.f_back
    return busy


async def assert_no_busy_threads(before: Iterable[threading.Thread], wait: float = 3.0) -> None:
    """Wait (a little) until no thread started since `before` runs code; fail otherwise."""
    snapshot = list(before)
    with anyio.move_on_after(wait):
        while busy_threads(snapshot):
            await anyio.sleep(0.01)
    assert not busy_threads(snapshot), f"threads left running: {busy_threads(snapshot)}"


# Agents whose connections a test opened; `close_open_agents` closes them after each test.
OPEN_AGENTS: list[Agent[Any]] = []


@pytest.fixture(autouse=True)
async def close_open_agents() -> AsyncIterator[None]:
    """Close the agents a test registered: connections belong to the test's event loop.

    Import it into an async test module to use it there.
    """
    yield
    while OPEN_AGENTS:
        await OPEN_AGENTS.pop().aclose()
