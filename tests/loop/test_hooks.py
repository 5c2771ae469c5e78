"""Hooks: every event of run(), run_sync() and stream(), in order; failures; retries."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import pytest

from agentkit import Agent, HookError, ModelError, UsageLimitExceeded, UserError, tool
from agentkit.events import (
    AgentEvent,
    Event,
    GuardrailChecked,
    ModelReplyFinished,
    ModelRequestRetried,
    ModelRequestStarted,
    RunFailed,
    RunFinished,
    RunStarted,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
    event_to_dict,
)
from agentkit.testing import Chunks, Completion, Drop, Error, FakeServer, Hang, ScriptedModel, call
from agentkit.usage import UsageLimits

SECRET = "sk-hooks-0123456789abcdef"
FAST = {"retry-after-ms": "1"}


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def kinds(events: list[Any]) -> list[str]:
    return [e.type for e in events]


RUN = [
    "run_started",
    "model_request_started",
    "model_reply_finished",
    "tool_call_started",
    "tool_call_finished",
    "model_request_started",
    "model_reply_finished",
    "run_finished",
]


@pytest.mark.parametrize("way", ["run", "run_sync", "stream"])
def test_a_hook_gets_every_event_in_order(way: str) -> None:
    seen: list[Event] = []
    streamed: list[Event] = []
    model = ScriptedModel([call("add", a=1, b=2), "three"])
    agent = Agent(model, tools=[add], hooks=[seen.append])

    async def drive() -> None:
        if way == "run":
            await agent.run("1+2?")
            return
        async for event in agent.stream("1+2?"):
            streamed.append(event)

    with model:
        if way == "run_sync":
            agent.run_sync("1+2?")
        else:
            anyio.run(drive)
    expected = RUN if way != "stream" else [*RUN[:6], "text_delta", *RUN[6:]]
    assert kinds(seen) == expected
    if way == "stream":
        assert seen == streamed  # the very events the stream yields, in its order
    assert len({e.run_id for e in seen}) == 1
    started = seen[0]
    assert isinstance(started, RunStarted)
    assert (started.agent, started.model, started.prompt) == ("agent", "scripted", "1+2?")
    assert started.stream is (way == "stream")
    request = seen[1]
    assert isinstance(request, ModelRequestStarted)
    assert [m.role for m in request.messages] == ["user"]
    finished = next(e for e in seen if isinstance(e, ToolCallFinished))
    assert (finished.call.name, finished.call.arguments, finished.result) == (
        "add",
        {"a": 1, "b": 2},
        "3",
    )
    assert finished.call.id == next(e for e in seen if isinstance(e, ToolCallStarted)).call.id


@pytest.mark.anyio
async def test_async_hooks_are_awaited_in_the_order_given() -> None:
    order: list[str] = []

    async def first(event: Event) -> None:
        await anyio.sleep(0)
        order.append(f"first {event.type}")

    def second(event: Event) -> None:
        order.append(f"second {event.type}")

    with ScriptedModel(["hi"]) as model:
        await Agent(model, hooks=[first, second]).run("hello")
    assert order[:4] == [
        "first run_started",
        "second run_started",
        "first model_request_started",
        "second model_request_started",
    ]
    assert order[-1] == "second run_finished"


@pytest.mark.anyio
async def test_a_raising_hook_is_logged_once_and_the_run_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[str] = []

    def broken(event: Event) -> None:
        calls.append(event.type)
        raise ValueError(f"no good, key {SECRET}")

    seen: list[Event] = []
    replies = [Completion(tool_calls=[call("add", a=1, b=2)]), Completion("three")]
    with FakeServer(replies) as server, caplog.at_level(logging.WARNING, logger="agentkit.hooks"):
        hooks = [broken, seen.append]
        async with Agent(
            "m", base_url=server.url, api_key=SECRET, tools=[add], hooks=hooks
        ) as agent:
            result = await agent.run("1+2?")
    assert result.output == "three"
    assert calls == RUN  # it kept getting every event
    assert kinds(seen) == RUN  # and the hooks after it too
    [record] = caplog.records
    assert record.name == "agentkit.hooks"
    assert "broken" in record.getMessage() and "run_started" in record.getMessage()
    assert "ValueError: no good" in record.getMessage()
    assert SECRET not in caplog.text  # redacted, traceback included


@pytest.mark.anyio
async def test_a_critical_hook_that_raises_stops_the_run() -> None:
    class Audit:
        critical = True

        def __init__(self) -> None:
            self.failed: list[RunFailed] = []

        def __call__(self, event: Event) -> None:
            if isinstance(event, RunFailed):
                self.failed.append(event)
            elif isinstance(event, ToolCallStarted):
                raise RuntimeError("the audit log is full")

    audit = Audit()
    model = ScriptedModel([call("add", a=1, b=2)])
    with model, pytest.raises(HookError, match="critical hook 'Audit' raised") as caught:
        await Agent(model, tools=[add], hooks=[audit]).run("1+2?")
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert caught.value.hook == "Audit"
    assert caught.value.usage is not None and caught.value.usage.requests == 1
    [failed] = audit.failed
    assert failed.error is caught.value


@pytest.mark.anyio
async def test_a_failed_run_gives_hooks_and_the_stream_run_failed_then_raises() -> None:
    seen: list[Event] = []
    streamed: list[Event] = []
    model = ScriptedModel([call("add", a=1, b=2)] * 2)
    agent = Agent(model, tools=[add], hooks=[seen.append], usage_limits=UsageLimits(requests=2))

    async def read() -> None:
        async for event in agent.stream("go"):
            streamed.append(event)

    with model, pytest.raises(UsageLimitExceeded) as caught:
        await read()
    assert seen == streamed
    failed = seen[-1]
    assert isinstance(failed, RunFailed)
    assert failed.error is caught.value
    assert failed.usage.requests == 2
    assert failed.run_id == seen[0].run_id


@pytest.mark.anyio
async def test_a_cancelled_run_gives_hooks_run_failed_without_yielding_it() -> None:
    seen: list[Event] = []
    streamed: list[Event] = []
    with FakeServer([Hang()]) as server:
        agent = Agent("m", base_url=server.url, api_key="k", hooks=[seen.append])
        with anyio.move_on_after(0.3):
            async for event in agent.stream("hi"):
                streamed.append(event)
        await agent.aclose()
    assert kinds(streamed) == ["run_started", "model_request_started"]
    assert kinds(seen) == ["run_started", "model_request_started", "run_failed"]
    assert isinstance(seen[-1], RunFailed)
    assert isinstance(seen[-1].error, anyio.get_cancelled_exc_class())


@pytest.mark.anyio
async def test_a_reader_that_stops_early_is_a_failure_for_hooks_but_not_after_the_answer() -> None:
    seen: list[Event] = []
    with ScriptedModel(["one"]) as model:  # the first run stops before its request
        agent = Agent(model, hooks=[seen.append])
        events = agent.stream("a")
        async for event in events:
            if isinstance(event, ModelRequestStarted):
                break
        await events.aclose()  # type: ignore[attr-defined]
        assert isinstance(seen[-1], RunFailed) and isinstance(seen[-1].error, GeneratorExit)
        seen.clear()
        events = agent.stream("b")
        async for event in events:
            if isinstance(event, RunFinished):
                break
        await events.aclose()  # type: ignore[attr-defined]
        assert kinds(seen)[-1] == "run_finished"


def test_hooks_and_guardrails_that_are_not_callables_are_listed_at_once() -> None:
    with pytest.raises(UserError) as caught:
        Agent("offline", hooks=[print, "nope"], output_guardrails=print, name="bad name")  # type: ignore[arg-type, list-item]
    text = str(caught.value)
    assert "hooks[1] must be callable, got 'nope'" in text
    assert "output_guardrails must be a list of callables" in text
    assert "tool name 'bad name' is not valid" in text


# -- retries -------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("stream", [False, True])
async def test_each_retry_of_a_request_is_an_event(stream: bool) -> None:
    seen: list[Event] = []
    replies = [Error(429, headers={"retry-after-ms": "20"}), Error(503, headers=FAST)]
    with FakeServer([*replies, Completion("ok")]) as server:
        agent = Agent("m", base_url=server.url, api_key="k", hooks=[seen.append])
        async with agent:
            if stream:
                streamed = [e async for e in agent.stream("hi")]
                assert streamed == seen
            else:
                await agent.run("hi")
    retries = [e for e in seen if isinstance(e, ModelRequestRetried)]
    assert [(r.turn, r.attempt, r.reason) for r in retries] == [(1, 1, "429"), (1, 2, "503")]
    assert retries[0].delay >= 0.02  # the Retry-After the server asked for
    assert kinds(seen)[:5] == [
        "run_started",
        "model_request_started",
        "model_request_retried",
        "model_request_retried",
        "text_delta" if stream else "model_reply_finished",
    ]


@pytest.mark.anyio
async def test_hooks_hear_a_retry_while_the_request_is_still_in_flight() -> None:
    heard: list[int] = []

    def hook(event: Event) -> None:
        if isinstance(event, ModelRequestRetried):
            heard.append(len(server.chat_requests))  # attempts the server has seen by then

    with FakeServer([Error(503, headers=FAST), Completion("ok")]) as server:
        async with Agent("m", base_url=server.url, api_key="k", hooks=[hook]) as agent:
            await agent.run("hi")
    assert heard == [1]  # before the second attempt reached the server


@pytest.mark.anyio
async def test_a_dropped_connection_is_retried_as_connection() -> None:
    seen: list[Event] = []
    with FakeServer([Drop(), Completion("ok")]) as server:
        async with Agent("m", base_url=server.url, api_key="k", hooks=[seen.append]) as agent:
            assert (await agent.run("hi")).output == "ok"
    [retry] = [e for e in seen if isinstance(e, ModelRequestRetried)]
    assert (retry.attempt, retry.reason) == (1, "connection")


@pytest.mark.anyio
async def test_the_resend_without_stream_options_is_a_retry() -> None:
    seen: list[Event] = []
    rejected = Error(400, body={"error": {"message": "unknown field stream_options"}})
    with FakeServer([rejected, Completion("ok")]) as server:
        async with Agent("m", base_url=server.url, api_key="k", hooks=[seen.append]) as agent:
            async for _ in agent.stream("hi"):
                pass
    [retry] = [e for e in seen if isinstance(e, ModelRequestRetried)]
    assert (retry.attempt, retry.reason) == (1, "stream_options")


@pytest.mark.anyio
async def test_retries_before_a_failure_come_before_run_failed() -> None:
    seen: list[Event] = []
    with FakeServer([Error(500, headers=FAST)] * 3) as server:
        agent = Agent("m", base_url=server.url, api_key="k", hooks=[seen.append])
        async with agent:
            with pytest.raises(ModelError):
                await agent.run("hi")
    assert kinds(seen) == [
        "run_started",
        "model_request_started",
        "model_request_retried",
        "model_request_retried",
        "run_failed",
    ]


@pytest.mark.anyio
async def test_a_streamed_reply_carries_the_servers_model_id_and_finish_reason() -> None:
    seen: list[Event] = []
    chunk = {
        "id": "chatcmpl-42",
        "model": "llama-3.1-8b",
        "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}],
    }
    with FakeServer([Chunks([chunk])]) as server:
        async with Agent("m", base_url=server.url, api_key="k", hooks=[seen.append]) as agent:
            async for _ in agent.stream("hi"):
                pass
    [reply] = [e for e in seen if isinstance(e, ModelReplyFinished)]
    assert (reply.response_id, reply.response_model, reply.finish_reason) == (
        "chatcmpl-42",
        "llama-3.1-8b",
        "stop",
    )
    started = seen[0]
    assert isinstance(started, RunStarted)
    assert started.server_address == "127.0.0.1" and started.server_port == server.port


# -- event_to_dict ----------------------------------------------------------------------


def test_every_event_type_has_a_dict_with_its_run_id() -> None:
    from agentkit import AssistantMessage, RunResult, ToolCall, Usage
    from agentkit.events import ContextTrimmed

    call_ = ToolCall("add", {"a": 1}, id="c1")
    inner = TextDelta("hi", "run_child")
    events: list[Event] = [
        RunStarted("a", "m", "p", "r", "r0", "c0"),
        ModelRequestStarted(1, "r"),
        ModelRequestRetried(1, 1, "503", 0.5, "r"),
        TextDelta("x", "r"),
        ModelReplyFinished(1, AssistantMessage("x"), Usage(1), "r", "stop"),
        ToolCallStarted(call_, "r"),
        ToolCallFinished(call_, "2", True, 0.1, "r", "timeout"),
        GuardrailChecked("input", "g", True, 0.1, "r", ("S1",)),
        RunFinished(RunResult("x"), "r"),
        RunFailed(ModelError("boom"), Usage(), "r"),
        AgentEvent(("a", "b"), inner, "r"),
        ContextTrimmed(2, 900, 700, 800, 1, 4, 0, 0, "r"),
    ]
    import typing

    from agentkit import events as module

    every = {cls.__dataclass_fields__["type"].default for cls in typing.get_args(module.Event)}
    assert {e.type for e in events} == every
    dicts = [event_to_dict(e) for e in events]
    assert all(d["run_id"] == "r" for d in dicts)
    assert dicts[0]["parent_run_id"] == "r0" and dicts[0]["parent_call_id"] == "c0"
    assert dicts[2] == {
        "type": "model_request_retried",
        "run_id": "r",
        "turn": 1,
        "attempt": 1,
        "reason": "503",
        "delay": 0.5,
    }
    assert dicts[6]["error_type"] == "timeout"
    assert dicts[7]["categories"] == ["S1"] and dicts[7]["tripped"] is True
    assert dicts[9] == {
        "type": "run_failed",
        "run_id": "r",
        "error": "ModelError",
        "message": "boom",
        "usage": Usage().to_dict(),
    }
    assert dicts[10]["path"] == ["a", "b"]
    assert dicts[10]["event"] == {"type": "text_delta", "run_id": "run_child", "text": "hi"}
    import json

    json.dumps(dicts)  # all of it serializable
