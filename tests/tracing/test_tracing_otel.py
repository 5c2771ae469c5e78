"""Golden spans and metrics of OpenTelemetryHook, through the real SDK's in-memory exporters."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk", reason="needs opentelemetry-sdk (the otel test extra)")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from otel_events import (
    MODEL,
    PROMPT,
    SECRET,
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
    trip_run,
)

from agentkit import AssistantMessage, ModelError, ToolCall, Usage, UserMessage
from agentkit.tracing import OpenTelemetryHook
from agentkit.tracing._attrs import server_of

CONTENT_KEYS = (
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
)


class Otel:
    """An SDK tracer and meter provider with in-memory exporters, and a hook on them."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def hook(self, **options: Any) -> OpenTelemetryHook:
        return OpenTelemetryHook(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider, **options
        )

    def play(self, events: Sequence[Any], **options: Any) -> list[ReadableSpan]:
        hook = self.hook(**options)
        for event in events:
            hook(event)
        return list(self.exporter.get_finished_spans())

    def points(self, name: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        assert data is not None
        return [
            point
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
            if metric.name == name
            for point in metric.data.data_points
        ]


@pytest.fixture
def otel() -> Iterator[Otel]:
    setup = Otel()
    yield setup
    setup.tracer_provider.shutdown()
    setup.meter_provider.shutdown()


def by_name(spans: Sequence[ReadableSpan]) -> dict[str, ReadableSpan]:
    named: dict[str, ReadableSpan] = {}
    for span in spans:
        key = span.name
        number = 2
        while key in named:
            key, number = f"{span.name} #{number}", number + 1
        named[key] = span
    return named


def parent_name(span: ReadableSpan, spans: Sequence[ReadableSpan]) -> str | None:
    if span.parent is None:
        return None
    ids = {s.context.span_id: s.name for s in spans}
    return ids[span.parent.span_id]


def test_the_golden_run_has_these_spans_kinds_and_parents(otel: Otel) -> None:
    spans = otel.play(trip_run())
    tree = sorted((s.name, s.kind, parent_name(s, spans)) for s in spans)
    chat = f"chat {MODEL}"
    assert tree == sorted(
        [
            ("invoke_agent planner", SpanKind.INTERNAL, None),
            (chat, SpanKind.CLIENT, "invoke_agent planner"),
            (chat, SpanKind.CLIENT, "invoke_agent planner"),
            (chat, SpanKind.CLIENT, "invoke_agent planner"),
            ("execute_tool get_weather", SpanKind.INTERNAL, "invoke_agent planner"),
            ("execute_tool find_flights", SpanKind.INTERNAL, "invoke_agent planner"),
            ("execute_tool researcher", SpanKind.INTERNAL, "invoke_agent planner"),
            ("invoke_agent researcher", SpanKind.INTERNAL, "execute_tool researcher"),
            (chat, SpanKind.CLIENT, "invoke_agent researcher"),
        ]
    )
    assert len({s.context.trace_id for s in spans}) == 1


def test_parallel_calls_are_siblings_that_overlap(otel: Otel) -> None:
    spans = by_name(otel.play(trip_run()))
    weather, flights = spans["execute_tool get_weather"], spans["execute_tool find_flights"]
    assert weather.parent == flights.parent
    assert weather.start_time is not None and flights.end_time is not None
    assert weather.start_time < flights.end_time  # both were open at once


def test_the_golden_attributes(otel: Otel) -> None:
    spans = by_name(otel.play(trip_run()))
    server = {"server.address": "llm.internal", "server.port": 8000}
    common = {"gen_ai.provider.name": "openai_compatible", "gen_ai.request.model": MODEL}
    assert dict(spans["invoke_agent planner"].attributes or {}) == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "planner",
        **common,
        **server,
        "gen_ai.usage.input_tokens": 660,
        "gen_ai.usage.output_tokens": 65,
    }
    assert dict(spans[f"chat {MODEL}"].attributes or {}) == {
        "gen_ai.operation.name": "chat",
        **common,
        **server,
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.max_tokens": 512,
        "gen_ai.response.finish_reasons": ("tool_calls",),
        "gen_ai.usage.input_tokens": 120,
        "gen_ai.usage.output_tokens": 30,
        "gen_ai.response.model": MODEL,
        "gen_ai.response.id": "chatcmpl-1",
    }
    assert dict(spans["execute_tool get_weather"].attributes or {}) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "get_weather",
        "gen_ai.tool.call.id": "call_w",
        "gen_ai.tool.type": "function",
    }
    assert spans["execute_tool get_weather"].status.status_code == StatusCode.UNSET
    assert dict(spans["invoke_agent researcher"].attributes or {})["gen_ai.agent.name"] == (
        "researcher"
    )


def test_a_failing_tool_has_an_error_status_and_type(otel: Otel) -> None:
    flights = by_name(otel.play(trip_run()))["execute_tool find_flights"]
    assert flights.status.status_code == StatusCode.ERROR
    assert (flights.attributes or {})["error.type"] == "timeout"


def test_no_content_is_recorded_by_default(otel: Otel) -> None:
    for span in otel.play(trip_run()):
        attributes = dict(span.attributes or {})
        assert [key for key in attributes if key in CONTENT_KEYS] == [], span.name
        text = json.dumps(attributes, default=str)
        for content in (PROMPT, "You plan trips.", "Paris", "18 C, cloudy", "The Louvre"):
            assert content not in text, (span.name, content)


def test_metrics_follow_the_conventions(otel: Otel) -> None:
    otel.play(trip_run())
    durations = otel.points("gen_ai.client.operation.duration")
    assert sum(point.count for point in durations) == 4  # three planner requests, one child's
    assert {point.attributes["gen_ai.operation.name"] for point in durations} == {"chat"}
    tokens = otel.points("gen_ai.client.token.usage")
    summed = {kind: 0 for kind in ("input", "output")}
    for point in tokens:
        summed[point.attributes["gen_ai.token.type"]] += point.sum
    assert summed == {"input": 120 + 200 + 40 + 300, "output": 30 + 20 + 5 + 10}
    point = tokens[0]  # the first reply named its model: points carry it
    assert point.attributes["gen_ai.response.model"] == MODEL
    assert point.attributes["gen_ai.provider.name"] == "openai_compatible"
    assert point.attributes["server.address"] == "llm.internal"
    assert list(point.explicit_bounds)[:4] == [1, 4, 16, 64]


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
    address, port = server_of(f"https://user:{SECRET}@api.groq.com/openai/v1")
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
