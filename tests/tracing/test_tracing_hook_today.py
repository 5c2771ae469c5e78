"""The hook with today's loop, without an SDK, and without OpenTelemetry at all."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk", reason="needs opentelemetry-sdk (the otel test extra)")

from opentelemetry import trace
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NoOpTracerProvider, ProxyTracerProvider, StatusCode
from otel_events import ModelRequestStarted, trip_run

from agentkit import Agent, UserError, tool
from agentkit.testing import ScriptedModel, call
from agentkit.tracing import OpenTelemetryHook


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@tool
def divide(a: int, b: int) -> float:
    """Divide a by b."""
    return a / b


@pytest.mark.anyio
async def test_the_stream_of_todays_agent_already_makes_spans() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    hook = OpenTelemetryHook(tracer_provider=provider, meter_provider=NoOpMeterProvider())
    model = ScriptedModel([[call("add", a=1, b=2), call("divide", a=1, b=0)], "3, and no."])
    agent = Agent(model, tools=[add, divide])
    with model:
        async for event in agent.stream("1+2 and 1/0?"):
            hook(event)
    spans = {span.name: span for span in exporter.get_finished_spans()}
    assert sorted(spans) == [
        "chat",
        "execute_tool add",
        "execute_tool divide",
        "invoke_agent agent",
    ]
    root = spans["invoke_agent agent"]
    for name in ("chat", "execute_tool add", "execute_tool divide"):
        assert spans[name].parent is not None
        assert spans[name].parent.span_id == root.context.span_id
    assert spans["execute_tool divide"].status.status_code == StatusCode.ERROR
    assert spans["execute_tool add"].status.status_code == StatusCode.UNSET
    provider.shutdown()


class Untouchable:
    """Messages the hook must not read when nothing records them."""

    def __iter__(self) -> Iterator[Any]:
        raise AssertionError("content was built for a span that records nothing")

    def __len__(self) -> int:
        raise AssertionError("content was built for a span that records nothing")


def untouchable_run() -> list[Any]:
    events = trip_run()
    return [
        ModelRequestStarted(e.turn, e.run_id, Untouchable())  # type: ignore[arg-type]
        if isinstance(e, ModelRequestStarted)
        else e
        for e in events
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


def test_without_opentelemetry_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    with pytest.raises(UserError, match=r"pip install 'agentkit\[otel\]'"):
        OpenTelemetryHook()


def test_importing_agentkit_tracing_does_not_import_opentelemetry() -> None:
    code = (
        "import sys, agentkit.tracing\n"
        "from agentkit.tracing import Recorder, render_timeline\n"
        "assert not [m for m in sys.modules if m.startswith('opentelemetry')], 'imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
