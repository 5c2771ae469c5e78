"""OtlpExport: providers that send spans and metrics to an OTLP/HTTP collector (`--otel`).

The only place agentkit exports anything, and only when asked: the CLI's `--otel`, or an
application that builds one. The providers are not made global; the hook gets them.
"""

from __future__ import annotations

from typing import Any

from ..errors import UserError
from ._otel import OpenTelemetryHook

__all__ = ["OtlpExport"]

_MISSING = (
    "exporting over OTLP needs opentelemetry-sdk and opentelemetry-exporter-otlp-proto-http, "
    "which are not installed: pip install 'agentkit-llama[otlp]'"
)


class OtlpExport:
    """An SDK tracer and meter provider exporting over OTLP/HTTP (protobuf).

    Args:
        endpoint: The collector's base URL, e.g. "http://localhost:4318"; `/v1/traces` and
            `/v1/metrics` are appended. None: the exporters read the standard
            `OTEL_EXPORTER_OTLP_*` variables themselves (endpoint, headers, timeout).
        service_name: The resource's `service.name`.
        metric_interval: Seconds between metric exports (and one at `close()`).

    Use it as a context manager, or call `close()`: that sends what is still buffered
    before the process ends (bounded by `timeout`).
    """

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        service_name: str = "agentkit",
        metric_interval: float = 60.0,
    ) -> None:
        try:
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
                OTLPMetricExporter,
            )
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.metrics import MeterProvider
            from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
        except ImportError:
            raise UserError(_MISSING) from None
        if endpoint is not None and not endpoint.startswith(("http://", "https://")):
            raise UserError(
                f"the OTLP endpoint must start with http:// or https://, got {endpoint!r}"
            )
        base = endpoint.rstrip("/") if endpoint else None
        resource = Resource.create({"service.name": service_name})
        spans = OTLPSpanExporter(endpoint=f"{base}/v1/traces" if base else None)
        self.tracer_provider: Any = TracerProvider(resource=resource)
        self.tracer_provider.add_span_processor(BatchSpanProcessor(spans))
        metrics = OTLPMetricExporter(endpoint=f"{base}/v1/metrics" if base else None)
        reader = PeriodicExportingMetricReader(
            metrics, export_interval_millis=max(1.0, metric_interval * 1000)
        )
        self.meter_provider: Any = MeterProvider(resource=resource, metric_readers=[reader])

    def hook(self, **options: Any) -> OpenTelemetryHook:
        """An `OpenTelemetryHook` on these providers (options: capture_content, ...)."""
        return OpenTelemetryHook(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider, **options
        )

    def close(self, timeout: float = 5.0) -> None:
        """Send what is buffered, then stop both providers."""
        millis = int(timeout * 1000)
        self.tracer_provider.force_flush(millis)
        self.meter_provider.force_flush(millis)
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown(timeout_millis=millis)

    def __enter__(self) -> OtlpExport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
