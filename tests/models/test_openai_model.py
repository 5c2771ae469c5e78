"""The OpenAI-compatible adapter end to end: the real `openai` client against the fake server."""

from __future__ import annotations

import json
import re
from typing import Any

import anyio
import pytest
from _reliability import (
    OPEN_AGENTS,
    assert_connections_closed,
    close_open_agents,  # noqa: F401 - autouse: closes OPEN_AGENTS
)

from agentkit import Agent, ModelError, ToolCall
from agentkit.events import TextDelta
from agentkit.models import OpenAIModel
from agentkit.testing import Chunks, Completion, Drop, Error, FakeServer, Hang, Raw

pytestmark = pytest.mark.anyio

KEY = "sk-test-SECRET-0123456789"
FAST = {"retry-after-ms": "1"}  # keeps the SDK's retry sleeps short


def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: The first.
        b: The second.
    """
    return a + b


def make_agent(server: FakeServer, **kwargs: Any) -> Agent[str]:
    kwargs.setdefault("max_retries", 2)
    agent: Agent[str] = Agent(
        "meta-llama/llama-3.1-70b-instruct", base_url=server.url, api_key=KEY, tools=[add], **kwargs
    )
    OPEN_AGENTS.append(agent)
    return agent


def model_for(server: FakeServer, **kwargs: Any) -> OpenAIModel:
    model = OpenAIModel("m", base_url=server.url, api_key=KEY, **kwargs)
    OPEN_AGENTS.append(Agent(model))
    return model


async def test_tool_call_round_trip_through_http(fake_server: FakeServer) -> None:
    fake_server.add(
        Completion(tool_calls=[ToolCall("add", {"a": 2, "b": "40"}, "call_1")]),
        Completion("42", usage={"prompt_tokens": 1_000_000, "completion_tokens": 500_000}),
    )
    result = await make_agent(fake_server, model_settings={"temperature": 0.1, "seed": 7}).run(
        "2+40?"
    )
    assert result.output == "42"
    first, second = fake_server.chat_requests
    assert first.body["model"] == "meta-llama/llama-3.1-70b-instruct"
    assert first.body["temperature"] == 0.1 and first.body["seed"] == 7
    assert first.body["tools"][0]["function"]["name"] == "add"
    assert first.headers["authorization"] == f"Bearer {KEY}"
    assert second.messages[-1] == {"role": "tool", "tool_call_id": "call_1", "content": "42"}
    assert second.messages[-2]["tool_calls"][0]["id"] == "call_1"
    assert result.usage.requests == 2
    assert result.usage.prompt_tokens > 1_000_000
    # Llama 3.1 70B at haimaker: $0.40 per million tokens, in and out.
    assert result.usage.cost == pytest.approx(result.usage.total_tokens * 0.40 / 1e6)


async def test_stream_yields_text_deltas_and_asks_for_usage(fake_server: FakeServer) -> None:
    fake_server.add(
        Completion(tool_calls=[ToolCall("add", {"a": 1, "b": 2})], chunk_size=3),
        Completion("one plus two is three", chunk_size=4),
    )
    events = [e async for e in make_agent(fake_server).stream("1+2?")]
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 2 and "".join(deltas) == "one plus two is three"
    request = fake_server.chat_requests[0]
    assert request.body["stream"] is True
    assert request.body["stream_options"] == {"include_usage": True}
    assert events[-1].result.usage.prompt_tokens > 0  # usage arrived in the stream


async def test_extra_body_and_settings_pass_through(fake_server: FakeServer) -> None:
    fake_server.add(Completion("ok"))
    settings = {
        "top_p": 0.5,
        "max_tokens": 64,
        "stop": ["\n"],
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "extra_body": {"repetition_penalty": 1.1},
    }
    await make_agent(fake_server).run("x", model_settings=settings)  # type: ignore[arg-type]
    body = fake_server.chat_requests[0].body
    assert body["top_p"] == 0.5 and body["max_tokens"] == 64 and body["stop"] == ["\n"]
    assert body["tool_choice"] == "auto" and body["parallel_tool_calls"] is False
    assert body["repetition_penalty"] == 1.1 and "extra_body" not in body


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
async def test_retryable_status_then_success(fake_server: FakeServer, status: int) -> None:
    fake_server.add(Error(status, headers=FAST), Completion("fine"))
    assert (await make_agent(fake_server).run("x")).output == "fine"
    assert len(fake_server.chat_requests) == 2


async def test_retries_spent_is_a_model_error(fake_server: FakeServer) -> None:
    fake_server.add(*[Error(503, headers=FAST)] * 3)
    with pytest.raises(ModelError) as info:
        await make_agent(fake_server).run("x")
    assert info.value.status == 503
    assert len(fake_server.chat_requests) == 3
    assert fake_server.url in str(info.value) and "meta-llama" in str(info.value)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_client_errors_are_not_retried(fake_server: FakeServer, status: int) -> None:
    fake_server.add(Error(status, {"error": {"message": "nope", "type": "x"}}))
    with pytest.raises(ModelError) as info:
        await make_agent(fake_server).run("x")
    error = info.value
    assert error.status == status and error.endpoint == fake_server.url
    assert f"HTTP {status}: nope" in str(error)
    assert KEY not in str(error) and KEY not in repr(error.__dict__)
    assert len(fake_server.chat_requests) == 1


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Raw("<html><body>Bad gateway</body></html>"), "body that is not JSON (text/html)"),
        (Raw("{not json", headers={"content-type": "application/json"}), "not JSON"),
        (
            Raw(
                '{"id": "x", "object": "chat.completion"}',
                headers={"content-type": "application/json"},
            ),
            "the reply has no choices",
        ),
        (Raw('{"choices": []}', headers={"content-type": "application/json"}), "no choices"),
        (
            Raw('{"choices": [{"index": 0}]}', headers={"content-type": "application/json"}),
            "choice has no message",
        ),
        (Raw("[1, 2]", headers={"content-type": "application/json"}), "not a JSON object"),
    ],
)
async def test_odd_200_replies_are_model_errors(
    fake_server: FakeServer, reply: Raw, message: str
) -> None:
    fake_server.add(reply)
    with pytest.raises(ModelError, match=re.escape(message)):
        await make_agent(fake_server).run("x")


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Chunks([_chunk({"content": "hel"})], done=False), "ended without \\[DONE\\]"),
        (Chunks([_chunk({"content": "hel"}), "{broken"]), "malformed stream chunk"),
        (
            Chunks([_chunk({"content": "a"}), {"error": {"message": "overloaded"}}]),
            "error in the stream: overloaded",
        ),
        (
            Chunks([_chunk({"content": "a"}), {"message": "x"}], event={1: "error"}),
            "error in the stream",
        ),
        (Chunks([_chunk({"content": "a"})], reset=True), "stream"),
        (Chunks([{"choices": "nope"}]), "malformed stream chunk"),
    ],
)
async def test_broken_streams_are_model_errors(
    fake_server: FakeServer, reply: Chunks, message: str
) -> None:
    fake_server.add(reply)
    with pytest.raises(ModelError, match=message):
        async for _ in make_agent(fake_server, max_retries=0).stream("x"):
            pass


@pytest.mark.slow
async def test_dropped_connection_is_retried_then_reported(fake_server: FakeServer) -> None:
    fake_server.add(Drop(), Completion("back"))
    assert (await make_agent(fake_server).run("x")).output == "back"
    fake_server.add(Drop(), Drop())
    with pytest.raises(ModelError, match="cannot connect"):
        await make_agent(fake_server, max_retries=1).run("x")


async def test_connection_refused_is_a_model_error() -> None:
    with anyio.fail_after(30):
        agent = Agent("m", base_url="http://127.0.0.1:9/v1", api_key=KEY, max_retries=0)
        OPEN_AGENTS.append(agent)
        with pytest.raises(ModelError, match=r"cannot connect") as info:
            await agent.run("x")
    assert info.value.status is None and info.value.endpoint == "http://127.0.0.1:9/v1"


async def test_silent_server_times_out(fake_server: FakeServer) -> None:
    fake_server.add(Hang(), Hang(after_headers=True))
    model = model_for(fake_server, max_retries=0, timeout=0.2)
    with pytest.raises(ModelError, match="no answer within 0.2 s"):
        await Agent(model).run("x")
    with pytest.raises(ModelError):
        async for _ in Agent(model).stream("x"):
            pass


async def test_slow_drip_trips_the_total_deadline(fake_server: FakeServer) -> None:
    body = json.dumps({"choices": [{"message": {"role": "assistant", "content": "x" * 200}}]})
    fake_server.add(Raw(body, headers={"content-type": "application/json"}, interval=0.02))
    model = model_for(fake_server, max_retries=0, timeout=1.0, deadline=0.3)
    with pytest.raises(ModelError, match="deadline"):
        await Agent(model).run("x")
    fake_server.add(Chunks([_chunk({"content": "x"})] * 100, interval=0.02))
    with pytest.raises(ModelError, match="deadline"):
        async for _ in Agent(model).stream("x"):
            pass


async def test_agent_passes_its_deadline_to_the_model(fake_server: FakeServer) -> None:
    body = json.dumps({"choices": [{"message": {"role": "assistant", "content": "x" * 200}}]})
    fake_server.add(Raw(body, headers={"content-type": "application/json"}, interval=0.02))
    agent = make_agent(fake_server, max_retries=0, timeout=1.0, deadline=0.3)
    assert isinstance(agent.model, OpenAIModel) and agent.model.deadline == 0.3
    with pytest.raises(ModelError, match=r"within the 0\.3 s deadline"):
        await agent.run("x")


async def test_cancel_during_request_and_connections_closed(fake_server: FakeServer) -> None:
    fake_server.add(Hang())
    agent = make_agent(fake_server)
    with anyio.move_on_after(0.2) as scope:
        await agent.run("x")
    assert scope.cancelled_caught
    await agent.model.aclose()
    await assert_connections_closed(fake_server)


async def test_stream_options_rejected_are_dropped_once(fake_server: FakeServer) -> None:
    fake_server.add(
        Error(400, {"error": {"message": "Unrecognized request argument: stream_options"}}),
        Completion("ok"),
    )
    events = [e async for e in make_agent(fake_server).stream("x")]
    assert events[-1].result.output == "ok"
    assert "stream_options" not in fake_server.chat_requests[1].body


async def test_without_usage_in_the_stream_tokens_and_cost_are_unknown(
    fake_server: FakeServer,
) -> None:
    fake_server.add(
        Error(400, {"error": {"message": "Unrecognized request argument: stream_options"}}),
        Completion("ok"),
    )
    events = [e async for e in make_agent(fake_server).stream("x")]
    usage = events[-1].result.usage
    assert (usage.requests, usage.total_tokens, usage.cost) == (1, 0, None)


async def test_tool_settings_are_left_out_of_a_request_without_tools(
    fake_server: FakeServer,
) -> None:
    fake_server.add(Completion("ok"), Completion("ok"))
    settings: Any = {"tool_choice": "auto", "parallel_tool_calls": True, "temperature": 0.1}
    bare = Agent("m", base_url=fake_server.url, api_key=KEY, model_settings=settings)
    OPEN_AGENTS.append(bare)
    await bare.run("x")
    await make_agent(fake_server, model_settings=settings).run("x")
    without, with_tools = (r.body for r in fake_server.chat_requests)
    assert "tool_choice" not in without and "parallel_tool_calls" not in without
    assert without["temperature"] == 0.1
    assert with_tools["tool_choice"] == "auto" and with_tools["parallel_tool_calls"] is True


async def test_tool_definitions_are_sent_every_turn_exactly_as_defined(
    fake_server: FakeServer,
) -> None:
    # They are encoded once per agent and spliced into each request body.
    fake_server.add(Completion(tool_calls=[ToolCall("add", {"a": 1, "b": 1})]), Completion("2"))
    agent = make_agent(fake_server, model_settings={"temperature": 0.5})
    await agent.run("1+1")
    first, second = fake_server.chat_requests
    assert first.body["tools"] == second.body["tools"] == [agent.tools.get("add").definition()]
    assert second.body["temperature"] == 0.5
