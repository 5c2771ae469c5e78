"""The real OpenTelemetry SDK with in-memory exporters, and helpers to read what it kept."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentkit.tracing import OpenTelemetryHook

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
        return self.spans()

    def spans(self) -> list[ReadableSpan]:
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

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


def by_name(spans: Sequence[ReadableSpan]) -> dict[str, ReadableSpan]:
    """Spans by name; a second span of one name is "name #2", in the order they ended."""
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
