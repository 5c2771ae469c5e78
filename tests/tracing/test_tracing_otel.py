"""OpenTelemetryHook on recorded events: content capture, caps, failures, odd orders.

The spans of a real run are in test_tracing_golden.py; here the hook gets events written
out by hand (the real `agentkit.events`), to reach the cases a run reaches rarely.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

pytest.importorskip("opentelemetry.sdk", reason="needs opentelemetry-sdk (the otel test extra)")

from opentelemetry.trace import StatusCode
from otel_setup import Otel, by_name, parent_name
from trip_events import MODEL, PROMPT, SECRET, trip_run

from agentkit import AssistantMessage, ModelError, ToolCall, Usage, UserMessage
from agentkit.events import (
    AgentEvent,
    GuardrailChecked,
    ModelReplyFinished,
    ModelRequestRetried,
    ModelRequestStarted,
    RunFailed,
    RunStarted,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
)
from agentkit.models import OpenAIModel
from agentkit.tracing import OpenTelemetryHook


@pytest.fixture
def otel() -> Iterator[Otel]:
    setup = Otel()
    yield setup
    setup.shutdown()


def test_content_is_recorded_when_asked_as_the_conventions_json(otel: Otel) -> None:
    spans = by_name(otel.play(trip_run(), capture_content=True))
    chat = spans[f"chat {MODEL}"].attributes or {}
    sent = json.loads(str(chat["gen_ai.input.messages"]))
    assert sent == [
        {"role": "system", "parts": [{"type": "text", "content": "You plan trips."}]},
        {"role": "user", "parts": [{"type": "text", "content": PROMPT}]},
    ]
    reply = json.loads(str(chat["gen_ai.output.messages"]))
    assert reply[0]["finish_reason"] == "tool_call"  # the schema's word for the server's
    assert reply[0]["parts"][0] == {
        "type": "tool_call",
        "id": "call_w",
        "name": "get_weather",
        "arguments": {"city": "Paris"},
    }
    weather = spans["execute_tool get_weather"].attributes or {}
    assert json.loads(str(weather["gen_ai.tool.call.arguments"])) == {"city": "Paris"}
    assert weather["gen_ai.tool.call.result"] == "18 C, cloudy"
    flights = spans["execute_tool find_flights"].attributes or {}
    assert "gen_ai.tool.call.result" not in flights  # results only of calls that succeeded
    agent = spans["invoke_agent planner"].attributes or {}
    assert json.loads(str(agent["gen_ai.output.messages"]))[0]["parts"][0]["content"] == (
        "Morning: the Louvre."
    )


def test_captured_content_is_cut_to_the_cap_and_stays_json(otel: Otel) -> None:
    long = "x" * 500
    events = [
        RunStarted("a", MODEL, long, "r"),
        ModelRequestStarted(1, "r", (UserMessage(long),)),
        ModelReplyFinished(1, AssistantMessage("ok"), Usage(1, 1, 1), "r", "stop"),
    ]
    spans = by_name(otel.play(events, capture_content=True, max_content_chars=100))
    sent = json.loads(str((spans[f"chat {MODEL}"].attributes or {})["gen_ai.input.messages"]))
    assert sent[0]["parts"][0]["content"] == "x" * 100 + "…[400 more characters]"


def test_the_api_key_never_appears_in_any_attribute(otel: Otel) -> None:
    model = OpenAIModel(MODEL, base_url=f"https://user:{SECRET}@api.groq.com/openai/v1")
    address, port = model.server
    assert (address, port) == ("api.groq.com", 443)
    events = [
        RunStarted("a", MODEL, "hi", "r", server_address=address, server_port=port),
        ModelRequestStarted(1, "r", (UserMessage("hi"),)),
        ModelReplyFinished(1, AssistantMessage("ok"), Usage(1, 1, 1), "r", "stop"),
    ]
    spans = otel.play(events, capture_content=True)
    for span in spans:
        assert SECRET not in json.dumps(dict(span.attributes or {}), default=str)
        assert (span.attributes or {})["gen_ai.provider.name"] == "groq"


def test_a_failed_request_ends_its_span_and_the_run_with_the_error(otel: Otel) -> None:
    error = ModelError("model endpoint http://x (model 'm'): HTTP 503", status=503)
    events = [
        RunStarted("a", MODEL, "hi", "r"),
        ModelRequestStarted(1, "r", (UserMessage("hi"),)),
        ModelRequestRetried(1, 1, "503", 0.5, "r"),
        RunFailed(error, Usage(), "r"),
    ]
    spans = by_name(otel.play(events))
    chat, agent = spans[f"chat {MODEL}"], spans["invoke_agent a"]
    for span in (chat, agent):
        assert span.status.status_code == StatusCode.ERROR
        assert (span.attributes or {})["error.type"] == "503"
    assert agent.status.description == str(error)
    assert [(e.name, dict(e.attributes or {})) for e in chat.events] == [
        ("agentkit.request.retry", {"retry.attempt": 1, "error.type": "503", "retry.delay": 0.5})
    ]
    [point] = otel.points("gen_ai.client.operation.duration")
    assert point.attributes["error.type"] == "503"
    assert otel.points("gen_ai.client.token.usage") == []


def test_a_run_that_fails_ends_its_open_calls_and_sub_agents(otel: Otel) -> None:
    call = ToolCall("researcher", {"task": "t"}, id="c1")
    events = [
        RunStarted("top", MODEL, "hi", "r1"),
        ToolCallStarted(call, "r1"),
        AgentEvent(("top", "researcher"), RunStarted("researcher", MODEL, "t", "r2", "r1", "c1")),
        AgentEvent(("top", "researcher"), ModelRequestStarted(1, "r2")),
        RunFailed(TimeoutError(), Usage(), "r1"),  # cancelled from outside, say
    ]
    spans = otel.play(events)
    assert len(spans) == 4
    for span in spans:
        assert span.status.status_code == StatusCode.ERROR, span.name
        assert (span.attributes or {})["error.type"] == "TimeoutError"
    child = by_name(spans)["invoke_agent researcher"]
    assert parent_name(child, spans) == "execute_tool researcher"


def test_an_event_seen_twice_makes_one_span(otel: Otel) -> None:
    # The same hook on a sub-agent and on its caller gets each of the child's events twice:
    # directly, then passed up inside an AgentEvent.
    started = RunStarted("child", MODEL, "t", "r2")
    request = ModelRequestStarted(1, "r2")
    reply = ModelReplyFinished(1, AssistantMessage("ok"), Usage(1, 2, 3), "r2", "stop")
    hook = otel.hook()
    for event in (started, request, reply):
        hook(event)
        hook(AgentEvent(("top", "child"), event, "r1"))
    assert [s.name for s in otel.exporter.get_finished_spans()] == [f"chat {MODEL}"]


def test_streaming_requests_record_the_first_chunk(otel: Otel) -> None:
    events = [
        RunStarted("a", MODEL, "hi", "r", stream=True),
        ModelRequestStarted(1, "r", stream=True),
        TextDelta("Hel", "r"),
        TextDelta("lo", "r"),
        ModelReplyFinished(1, AssistantMessage("Hello"), Usage(1, 1, 1), "r", "stop"),
    ]
    chat = by_name(otel.play(events))[f"chat {MODEL}"].attributes or {}
    assert chat["gen_ai.request.stream"] is True
    assert isinstance(chat["gen_ai.response.time_to_first_chunk"], float)


def test_a_tool_call_whose_start_was_not_seen_is_placed_by_its_duration(otel: Otel) -> None:
    call = ToolCall("add", {"a": 1}, id="c1")
    spans = otel.play([RunStarted("a", MODEL, "hi", "r"), ToolCallFinished(call, "2", False, 2.0)])
    [tool] = [s for s in spans if s.name == "execute_tool add"]
    assert tool.end_time is not None and tool.start_time is not None
    assert tool.end_time - tool.start_time >= 2_000_000_000  # its 2 s, though only its end came


def test_guardrail_checks_are_spans_under_the_run_or_the_call(otel: Otel) -> None:
    call = ToolCall("http_fetch", {"url": "http://x"}, id="c1")
    events = [
        RunStarted("a", MODEL, "hi", "r"),
        GuardrailChecked("input", "llama_guard", False, 0.2, "r"),
        ToolCallStarted(call, "r"),
        GuardrailChecked("tool_result", "llama_guard", True, 0.3, "r", ("S2", "S9"), "c1"),
        RunFailed(ModelError("stopped"), Usage(), "r"),
    ]
    spans = otel.play(events)
    checks = [s for s in spans if s.name == "apply_guardrail llama_guard"]
    assert [parent_name(s, spans) for s in checks] == [
        "invoke_agent a",
        "execute_tool http_fetch",
    ]
    assert dict(checks[1].attributes or {}) == {
        "gen_ai.operation.name": "apply_guardrail",
        "gen_ai.guardrail.component.name": "llama_guard",
        "gen_ai.guardrail.source": "tool_result",
        "gen_ai.guardrail.result.type": "tripped",
        "gen_ai.guardrail.result.value": "true",
        "gen_ai.guardrail.result.reason": "S2,S9",
    }
    assert checks[1].end_time is not None and checks[1].start_time is not None
    assert checks[1].end_time - checks[1].start_time >= 300_000_000


def test_bad_options_are_user_errors() -> None:
    from agentkit import UserError

    with pytest.raises(UserError, match="at least 1"):
        OpenTelemetryHook(max_content_chars=0)
