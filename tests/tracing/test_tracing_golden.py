"""Golden spans and metrics of a real run: Agent(hooks=[OpenTelemetryHook]) over real HTTP.

The planner's first reply asks for two tool calls at once (`find_flights` fails), its second
asks the researcher, an agent used as a tool, and its third answers. The fake server answers
every request, the real `openai` client sends them, and the real SDK's in-memory exporters
keep the spans and the metric points.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk", reason="needs opentelemetry-sdk (the otel test extra)")

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode
from otel_setup import CONTENT_KEYS, Otel, by_name, parent_name

from agentkit import Agent, tool
from agentkit.testing import Completion, FakeServer

pytestmark = pytest.mark.anyio

MODEL = "meta-llama/llama-3.1-70b-instruct"
PROMPT = "Plan a day in Paris"
SECRET = "sk-live-0123456789abcdef"


@tool
async def get_weather(city: str) -> str:
    """The weather in a city.

    Args:
        city: The city.
    """
    return f"18 C, cloudy in {city}"


@tool
def find_flights(to: str) -> str:
    """Flights to an airport.

    Args:
        to: The airport code.
    """
    raise ConnectionError("the flight search is down")


def replies() -> list[Completion]:
    def usage(prompt: int, completion: int) -> dict[str, int]:
        return {"prompt_tokens": prompt, "completion_tokens": completion}

    weather = {"id": "call_w", "name": "get_weather", "arguments": {"city": "Paris"}}
    flights = {"id": "call_f", "name": "find_flights", "arguments": {"to": "CDG"}}
    research = {"id": "call_r", "name": "researcher", "arguments": {"task": "Find museums"}}
    return [
        Completion(tool_calls=[weather, flights], usage=usage(120, 30)),
        Completion(tool_calls=[research], usage=usage(200, 20)),
        Completion("The Louvre.", usage=usage(40, 5)),  # the researcher's one reply
        Completion("Morning: the Louvre.", usage=usage(300, 10)),
    ]


def planner(server: FakeServer, otel: Otel, **options: Any) -> Agent[str]:
    endpoint = {"base_url": server.url, "api_key": SECRET}
    researcher: Agent[str] = Agent(MODEL, name="researcher", description="Finds facts.", **endpoint)
    return Agent(
        MODEL,
        name="planner",
        instructions="You plan trips.",
        tools=[get_weather, find_flights, researcher.as_tool()],
        model_settings={"temperature": 0.2, "max_tokens": 512},
        hooks=[otel.hook(**options)],
        **endpoint,
    )


@pytest.fixture
def otel() -> Iterator[Otel]:
    setup = Otel()
    yield setup
    setup.shutdown()


async def golden_run(otel: Otel, *, stream: bool = False, **options: Any) -> list[ReadableSpan]:
    with FakeServer(replies()) as server:
        async with planner(server, otel, **options) as agent:
            if stream:
                async for _ in agent.stream(PROMPT):
                    pass
            else:
                assert (await agent.run(PROMPT)).output == "Morning: the Louvre."
        port = int(server.url.split(":")[2].split("/")[0])
    spans = otel.spans()
    for span in spans:  # the server's port, the same on every span that names the server
        if "server.port" in (span.attributes or {}):
            assert (span.attributes or {})["server.port"] == port
    return spans


async def test_the_golden_run_has_these_spans_kinds_and_parents(otel: Otel) -> None:
    spans = await golden_run(otel)
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


async def test_parallel_calls_are_siblings_that_overlap(otel: Otel) -> None:
    spans = by_name(await golden_run(otel))
    weather, flights = spans["execute_tool get_weather"], spans["execute_tool find_flights"]
    assert weather.parent == flights.parent
    assert weather.start_time is not None and flights.end_time is not None
    assert flights.start_time is not None and weather.end_time is not None
    assert weather.start_time < flights.end_time and flights.start_time < weather.end_time


async def test_the_golden_attributes(otel: Otel) -> None:
    spans = by_name(await golden_run(otel))
    common = {"gen_ai.provider.name": "openai_compatible", "gen_ai.request.model": MODEL}
    server = {"server.address": "127.0.0.1"}
    agent = dict(spans["invoke_agent planner"].attributes or {})
    agent.pop("server.port")
    assert agent == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "planner",
        **common,
        **server,
        # The whole tree: the planner's three replies and the researcher's one.
        "gen_ai.usage.input_tokens": 120 + 200 + 40 + 300,
        "gen_ai.usage.output_tokens": 30 + 20 + 5 + 10,
    }
    chat = dict(spans[f"chat {MODEL}"].attributes or {})
    chat.pop("server.port")
    assert chat.pop("gen_ai.response.id").startswith("chatcmpl-")
    assert chat == {
        "gen_ai.operation.name": "chat",
        **common,
        **server,
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.max_tokens": 512,
        "gen_ai.response.finish_reasons": ("tool_calls",),
        "gen_ai.usage.input_tokens": 120,
        "gen_ai.usage.output_tokens": 30,
        "gen_ai.response.model": MODEL,
    }
    assert dict(spans["execute_tool get_weather"].attributes or {}) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "get_weather",
        "gen_ai.tool.call.id": "call_w",
        "gen_ai.tool.type": "function",
    }
    assert spans["execute_tool get_weather"].status.status_code == StatusCode.UNSET
    child = dict(spans["invoke_agent researcher"].attributes or {})
    assert child["gen_ai.agent.name"] == "researcher"
    assert (child["gen_ai.usage.input_tokens"], child["gen_ai.usage.output_tokens"]) == (40, 5)


async def test_the_failing_tool_has_an_error_status_and_type(otel: Otel) -> None:
    spans = by_name(await golden_run(otel))
    flights = spans["execute_tool find_flights"]
    assert flights.status.status_code == StatusCode.ERROR
    assert (flights.attributes or {})["error.type"] == "ConnectionError"
    for name in ("invoke_agent planner", "execute_tool researcher", "invoke_agent researcher"):
        assert spans[name].status.status_code == StatusCode.UNSET, name


async def test_no_content_and_no_key_is_recorded_by_default(otel: Otel) -> None:
    for span in await golden_run(otel):
        attributes = dict(span.attributes or {})
        assert [key for key in attributes if key in CONTENT_KEYS] == [], span.name
        text = json.dumps(attributes, default=str)
        for content in (PROMPT, "You plan trips.", "Paris", "18 C", "The Louvre", "museums"):
            assert content not in text, (span.name, content)
        assert SECRET not in text


async def test_the_metrics_follow_the_conventions(otel: Otel) -> None:
    await golden_run(otel)
    durations = otel.points("gen_ai.client.operation.duration")
    assert sum(point.count for point in durations) == 4  # three planner requests, one child's
    assert {point.attributes["gen_ai.operation.name"] for point in durations} == {"chat"}
    tokens = otel.points("gen_ai.client.token.usage")
    summed = {"input": 0, "output": 0}
    for point in tokens:
        summed[point.attributes["gen_ai.token.type"]] += point.sum
    assert summed == {"input": 120 + 200 + 40 + 300, "output": 30 + 20 + 5 + 10}
    point = tokens[0]
    assert point.attributes["gen_ai.response.model"] == MODEL
    assert point.attributes["gen_ai.provider.name"] == "openai_compatible"
    assert point.attributes["server.address"] == "127.0.0.1"
    assert list(point.explicit_bounds)[:4] == [1, 4, 16, 64]


async def test_a_streamed_run_has_the_same_tree_and_first_chunk_times(otel: Otel) -> None:
    spans = await golden_run(otel, stream=True)
    assert len(spans) == 9
    chats = [s for s in spans if s.name.startswith("chat ")]
    for chat in chats:
        assert (chat.attributes or {})["gen_ai.request.stream"] is True
    answered = [c for c in chats if "gen_ai.response.time_to_first_chunk" in (c.attributes or {})]
    assert len(answered) == 2  # the replies with text: the researcher's and the last


async def test_content_is_recorded_when_asked(otel: Otel) -> None:
    spans = by_name(await golden_run(otel, capture_content=True))
    first = spans[f"chat {MODEL}"].attributes or {}
    sent = json.loads(str(first["gen_ai.input.messages"]))
    assert sent == [
        {"role": "system", "parts": [{"type": "text", "content": "You plan trips."}]},
        {"role": "user", "parts": [{"type": "text", "content": PROMPT}]},
    ]
    weather = spans["execute_tool get_weather"].attributes or {}
    assert json.loads(str(weather["gen_ai.tool.call.arguments"])) == {"city": "Paris"}
    assert weather["gen_ai.tool.call.result"] == "18 C, cloudy in Paris"
    text = json.dumps({k: dict(s.attributes or {}) for k, s in spans.items()}, default=str)
    assert SECRET not in text
