"""OtlpExport: providers that send spans and metrics to an OTLP/HTTP collector (`--otel`).

The only place agentkit exports anything, and only when asked: the CLI's `--otel`, or an
application that builds one. The providers are not made global; the hook gets them.

Closing is bounded: a collector that is down would otherwise hold the process for the
exporters' retries (10 s per signal by default, with backoff). `close(timeout)` flushes and
stops the providers in a daemon thread and waits at most `timeout`; past it, the exporters
are shut down (which ends a retry they wait to make) and what is left is given up, counted in
`spans_not_sent`, with why in `failure`.
"""

from __future__ import annotations

import atexit
import logging
import threading
from typing import Any

from ..errors import UserError
from ._otel import OpenTelemetryHook
from ._otlp_tally import SDK_LOGGERS, Failures, Tally

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
    before the process ends, waiting at most `timeout` seconds (it is also called at exit).
    Then `spans_not_sent` says how many spans never reached the collector, and `failure`
    why ("could not be reached", "answered HTTP 404"; "" when nothing failed).
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
        self._tally = Tally(OTLPSpanExporter(endpoint=f"{base}/v1/traces" if base else None))
        # Closed here, bounded (`close`), not by the SDK's own unbounded exit handlers.
        self.tracer_provider: Any = TracerProvider(resource=resource, shutdown_on_exit=False)
        tally: Any = self._tally  # the SDK's span exporter and processor, duck-typed
        self.tracer_provider.add_span_processor(tally.ended)  # counts the spans that end
        self.tracer_provider.add_span_processor(BatchSpanProcessor(tally))
        self._metrics = OTLPMetricExporter(endpoint=f"{base}/v1/metrics" if base else None)
        reader = PeriodicExportingMetricReader(
            self._metrics, export_interval_millis=max(1.0, metric_interval * 1000)
        )
        self.meter_provider: Any = MeterProvider(
            resource=resource, metric_readers=[reader], shutdown_on_exit=False
        )
        self._failures = Failures()
        for name in SDK_LOGGERS:
            logging.getLogger(name).addFilter(self._failures)
        self._closed = False
        self._flushed = False  # the metrics, before `close` gave up
        atexit.register(self.close)

    @property
    def spans_not_sent(self) -> int:
        """Spans that ended but did not reach the collector (all sent: 0)."""
        return self._tally.not_sent

    @property
    def metrics_failed(self) -> bool:
        """An export of metrics failed, or `close` gave up before they were flushed."""
        return "metrics" in self._failures.signals or (self._closed and not self._flushed)

    @property
    def failure(self) -> str:
        """Why an export failed: "could not be reached", "answered HTTP 503", "did not take
        them" (the SDK said no more); "" when none failed."""
        if self._failures.reason:
            return self._failures.reason
        return "did not take them" if self._failures.signals or self.spans_not_sent else ""

    def hook(self, **options: Any) -> OpenTelemetryHook:
        """An `OpenTelemetryHook` on these providers (options: capture_content, ...)."""
        return OpenTelemetryHook(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider, **options
        )

    def close(self, timeout: float = 2.0) -> None:
        """Send what is buffered, then stop both providers: at most `timeout` seconds (and a
        moment more for the exporters to give up); a second call does nothing."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        millis = int(timeout * 1000)

        def flush_and_stop() -> None:
            self.tracer_provider.force_flush(millis)
            self.meter_provider.force_flush(millis)
            self._flushed = not self._tally.closed
            self.tracer_provider.shutdown()
            self.meter_provider.shutdown(timeout_millis=millis)

        worker = threading.Thread(target=flush_and_stop, name="agentkit-otlp-close", daemon=True)
        worker.start()
        worker.join(timeout)
        if worker.is_alive():  # the collector does not take them: stop retrying, give up
            self._tally.shutdown()
            self._metrics.shutdown()
            worker.join(0.5)  # a request under way may still hold it: it dies with the process
        for name in SDK_LOGGERS:
            logging.getLogger(name).removeFilter(self._failures)

    def __enter__(self) -> OtlpExport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
