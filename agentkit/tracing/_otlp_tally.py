"""What an `OtlpExport` got across: spans ended and sent, and why an export failed.

- `Tally` wraps the span exporter (counts the spans the collector took), and its `ended`
  span processor counts the spans that end, so `not_sent` is exact: spans whose export
  failed and spans still queued when the export was closed.
- `Failures` is a logging filter on the OTLP/HTTP exporters' loggers: the SDK says why an
  export failed only in its log records (an exception: no answer; a status: the collector's
  HTTP error). It keeps the first reason and the names of the signals that failed, and lets
  every record through: where the records go is the application's logging configuration.

Both are duck-typed to the SDK's interfaces (it is an optional dependency, imported late).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

__all__ = ["SDK_LOGGERS", "Ended", "Failures", "Tally"]

# The loggers the span and metric exporters (and their HTTP clients) log on.
SDK_LOGGERS = tuple(
    f"opentelemetry.exporter.otlp.proto.http.{kind}_exporter" for kind in ("trace", "metric")
)


class Tally:
    """The span exporter, counting the spans it sent; `ended` counts those that end."""

    def __init__(self, exporter: Any) -> None:
        self.exporter = exporter
        self.ended = Ended()
        self.sent = 0
        self.closed = False
        self._lock = threading.Lock()

    @property
    def not_sent(self) -> int:
        """Spans that ended but never reached the collector (so far)."""
        return max(0, self.ended.count - self.sent)

    def export(self, spans: Sequence[Any]) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        if self.closed:  # given up on: the batch is counted as not sent, and not tried
            return SpanExportResult.FAILURE
        result = self.exporter.export(spans)
        if result is SpanExportResult.SUCCESS:
            with self._lock:
                self.sent += len(spans)
        return result

    def shutdown(self) -> None:
        """Stop the exporter (once): that also ends a retry it is waiting to make."""
        if not self.closed:
            self.closed = True
            self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class Ended:
    """A span processor that counts the spans that end (and does nothing else)."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        pass

    def _on_ending(self, span: Any) -> None:
        pass

    def on_end(self, span: Any) -> None:
        with self._lock:
            self.count += 1

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class Failures(logging.Filter):
    """Keeps why the OTLP exporters failed, from their log records; filters nothing out."""

    def __init__(self) -> None:
        super().__init__()
        self.reason = ""  # "could not be reached" or "answered HTTP 404", the first seen
        self.signals: set[str] = set()  # "spans", "metrics"

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        if not str(record.msg).startswith(("Transient error", "Failed to export")):
            return True
        self.signals.update(a for a in args if a in ("spans", "metrics"))
        if self.reason:
            return True
        if any(isinstance(a, BaseException) for a in args):
            self.reason = "could not be reached"  # no HTTP answer: refused, unknown, timed out
        elif status := next((a for a in args if isinstance(a, int) and a >= 100), None):
            self.reason = f"answered HTTP {status}"
        return True
