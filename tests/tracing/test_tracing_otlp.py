"""OtlpExport: spans and metrics really leave over OTLP/HTTP, to a server on 127.0.0.1."""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import Iterator

import pytest

pytest.importorskip(
    "opentelemetry.exporter.otlp.proto.http",
    reason="needs agentkit-llama[otlp] (the OTLP exporter)",
)

from trip_events import trip_run

from agentkit import UserError
from agentkit.testing import FakeServer, Raw
from agentkit.tracing import OtlpExport


def otlp_collector() -> FakeServer:
    """A collector: takes OTLP/HTTP posts (an empty protobuf answer is a full success)."""
    taken = Raw(b"", headers={"content-type": "application/x-protobuf"})
    return FakeServer(routes={f"POST /v1/{kind}": lambda r: taken for kind in SIGNALS})


SIGNALS = ("traces", "metrics")


def test_spans_and_metrics_are_posted_as_otlp_protobuf_on_close() -> None:
    with otlp_collector() as collector:
        base = collector.url.removesuffix("/v1")
        with OtlpExport(base, service_name="trip-planner") as export:
            hook = export.hook()
            for event in trip_run():
                hook(event)
            assert collector.requests == []  # batched: nothing sent during the run
        posts = {request.path: request for request in collector.requests}
    assert set(posts) == {"/v1/traces", "/v1/metrics"}
    traces = posts["/v1/traces"]
    assert traces.method == "POST"
    assert traces.headers["content-type"] == "application/x-protobuf"
    body = str(traces.body)  # protobuf: its strings are readable in the bytes
    for name in ("invoke_agent planner", "execute_tool find_flights", "trip-planner"):
        assert name in body
    assert "gen_ai.client.token.usage" in str(posts["/v1/metrics"].body)
    assert export.spans_not_sent == 0 and export.failure == "" and not export.metrics_failed


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def sdk_log() -> Iterator[Records]:
    """What the SDK's span exporter logs (on its own logger: the CLI's tests may have made
    the SDK's loggers stop propagating to the root, where caplog listens)."""
    records = Records()
    logger = logging.getLogger("opentelemetry.exporter.otlp.proto.http.trace_exporter")
    logger.addHandler(records)
    yield records
    logger.removeHandler(records)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again: nothing listens there


def test_a_collector_that_is_down_is_given_up_on_at_close(sdk_log: Records) -> None:
    export = OtlpExport(f"http://127.0.0.1:{closed_port()}")
    hook = export.hook()
    for event in trip_run():
        hook(event)
    export.close(timeout=0.5)
    # The exporter's retries (10 s with backoff) were cut short, not waited out.
    assert "Shutdown in progress, aborting retry." in sdk_log.messages
    assert any("Connection refused" in m for m in sdk_log.messages)  # the SDK said why...
    assert export.failure == "could not be reached"  # ...and so does the export
    assert export.spans_not_sent == 9 and export.metrics_failed  # the trip's spans, all
    export.close()  # a second close does nothing


def test_a_collector_that_refuses_the_export_is_told_by_its_status() -> None:
    with FakeServer() as server, OtlpExport(server.url) as export:  # /v1/v1/traces: a 404
        hook = export.hook()
        for event in trip_run():
            hook(event)
    assert export.failure == "answered HTTP 404" and export.spans_not_sent == 9


def test_a_bad_endpoint_is_a_user_error() -> None:
    with pytest.raises(UserError, match="must start with http"):
        OtlpExport("localhost:4318")


def test_without_the_exporter_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter", None)
    with pytest.raises(UserError, match=r"pip install 'agentkit-llama\[otlp\]'"):
        OtlpExport("http://127.0.0.1:4318")
