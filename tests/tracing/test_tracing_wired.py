"""OpenTelemetryHook as users wire it: `Agent(hooks=[...])`, with and without an SDK."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

pytest.importorskip("opentelemetry.sdk", reason="needs opentelemetry-sdk (the otel test extra)")

from opentelemetry import trace
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.trace import NoOpTracerProvider, ProxyTracerProvider, StatusCode
from otel_setup import Otel, by_name, parent_name
from trip_events import trip_run

from agentkit import Agent, ModelError, UserError, tool
from agentkit.events import ModelRequestStarted
from agentkit.testing import Completion, Error, FakeServer, ScriptedModel, call
from agentkit.tracing import OpenTelemetryHook


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@tool
def divide(a: int, b: int) -> float:
    """Divide a by b."""
    return a / b


@pytest.fixture
def otel() -> Iterator[Otel]:
    setup = Otel()
    yield setup
    setup.shutdown()


def script() -> ScriptedModel:
    return ScriptedModel([[call("add", a=1, b=2), call("divide", a=1, b=0)], "3, and no."])


EXPECTED = [
    "chat scripted",
    "chat scripted",
    "execute_tool add",
    "execute_tool divide",
    "invoke_agent calc",
]


@pytest.mark.parametrize("way", ["run", "run_sync", "stream"])
def test_run_run_sync_and_stream_make_the_same_spans(otel: Otel, way: str) -> None:
    model = script()
    agent = Agent(model, name="calc", tools=[add, divide], hooks=[otel.hook()])

    async def drive() -> None:
        if way == "run":
            await agent.run("1+2 and 1/0?")
        else:
            async for _ in agent.stream("1+2 and 1/0?"):
                pass

    with model:
        if way == "run_sync":
            agent.run_sync("1+2 and 1/0?")
        else:
            anyio.run(drive)
    spans = otel.spans()
    assert sorted(s.name for s in spans) == EXPECTED
    named = by_name(spans)
    for span in spans:
        if span.name != "invoke_agent calc":
            assert parent_name(span, spans) == "invoke_agent calc"
    assert named["execute_tool divide"].status.status_code == StatusCode.ERROR
    assert (named["execute_tool divide"].attributes or {})["error.type"] == "ZeroDivisionError"
    assert (named["invoke_agent calc"].attributes or {})["gen_ai.provider.name"] == "agentkit"


@pytest.mark.anyio
async def test_the_run_span_goes_under_the_span_current_where_the_run_started(otel: Otel) -> None:
    tracer = otel.tracer_provider.get_tracer("web")
    with ScriptedModel(["hi"]) as model:
        agent = Agent(model, hooks=[otel.hook()])
        with tracer.start_as_current_span("GET /ask"):
            await agent.run("hello")
    spans = otel.spans()
    assert parent_name(by_name(spans)["invoke_agent agent"], spans) == "GET /ask"


@pytest.mark.anyio
async def test_concurrent_runs_of_one_agent_make_separate_trees(otel: Otel) -> None:
    model = ScriptedModel(["one", "two"])
    agent = Agent(model, hooks=[otel.hook()])
    with model:
        async with anyio.create_task_group() as group:
            group.start_soon(agent.run, "a")
            group.start_soon(agent.run, "b")
    spans = otel.spans()
    roots = [s for s in spans if s.name == "invoke_agent agent"]
    assert len(roots) == 2
    for chat in (s for s in spans if s.name.startswith("chat")):
        assert chat.parent is not None
        assert chat.parent.span_id in {root.context.span_id for root in roots}
    assert len({s.context.trace_id for s in roots}) == 2


@pytest.mark.anyio
async def test_real_retries_are_span_events_and_a_failed_run_an_error(otel: Otel) -> None:
    fast = {"retry-after-ms": "1"}
    script_ = [Error(503, headers=fast), Completion("ok"), Error(500, headers=fast)] + [
        Error(500, headers=fast)
    ] * 2
    with FakeServer(script_) as server:
        agent = Agent("m", base_url=server.url, api_key="k", hooks=[otel.hook()])
        async with agent:
            assert (await agent.run("first")).output == "ok"
            with pytest.raises(ModelError):
                await agent.run("second")
    chats = [s for s in otel.spans() if s.name == "chat m"]
    assert [(e.name, dict(e.attributes or {})["error.type"]) for e in chats[0].events] == [
        ("agentkit.request.retry", "503")
    ]
    assert chats[0].status.status_code == StatusCode.UNSET
    assert [dict(e.attributes or {})["retry.attempt"] for e in chats[1].events] == [1, 2]
    assert chats[1].status.status_code == StatusCode.ERROR
    assert (chats[1].attributes or {})["error.type"] == "500"
    failed = [s for s in otel.spans() if s.name == "invoke_agent agent"][1]
    assert failed.status.status_code == StatusCode.ERROR


class Untouchable(tuple):  # type: ignore[type-arg]
    """Messages the hook must not read when nothing records them."""

    def __iter__(self) -> Iterator[Any]:
        raise AssertionError("content was built for a span that records nothing")

    def __len__(self) -> int:
        raise AssertionError("content was built for a span that records nothing")


def untouchable_run() -> list[Any]:
    return [
        ModelRequestStarted(e.turn, e.run_id, Untouchable())
        if isinstance(e, ModelRequestStarted)
        else e
        for e in trip_run()
    ]


def test_without_an_sdk_nothing_is_recorded_or_built() -> None:
    hook = OpenTelemetryHook(
        tracer_provider=NoOpTracerProvider(),
        meter_provider=NoOpMeterProvider(),
        capture_content=True,
    )
    for event in untouchable_run():
        hook(event)
    assert hook._runs == {}  # every run ended


def test_the_global_default_records_nothing_until_an_sdk_is_set() -> None:
    if not isinstance(trace.get_tracer_provider(), ProxyTracerProvider):
        pytest.skip("a global tracer provider was set in this process")
    hook = OpenTelemetryHook(capture_content=True)
    for event in untouchable_run():
        hook(event)
    assert hook._runs == {}


def test_without_opentelemetry_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    with pytest.raises(UserError, match=r"pip install 'agentkit-llama\[otel\]'"):
        OpenTelemetryHook()


def test_importing_agentkit_tracing_does_not_import_opentelemetry() -> None:
    code = (
        "import sys, agentkit.tracing\n"
        "from agentkit.tracing import Recorder, render_timeline\n"
        "assert not [m for m in sys.modules if m.startswith('opentelemetry')], 'imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
