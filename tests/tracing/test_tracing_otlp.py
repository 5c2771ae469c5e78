"""OtlpExport: spans and metrics really leave over OTLP/HTTP, to a server on 127.0.0.1."""

from __future__ import annotations

import sys

import pytest

pytest.importorskip(
    "opentelemetry.exporter.otlp.proto.http",
    reason="needs agentkit-llama[otlp] (the OTLP exporter)",
)

from trip_events import trip_run

from agentkit import UserError
from agentkit.testing import FakeServer
from agentkit.tracing import OtlpExport


def test_spans_and_metrics_are_posted_as_otlp_protobuf_on_close() -> None:
    with FakeServer() as collector:
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


def test_a_bad_endpoint_is_a_user_error() -> None:
    with pytest.raises(UserError, match="must start with http"):
        OtlpExport("localhost:4318")


def test_without_the_exporter_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter", None)
    with pytest.raises(UserError, match=r"pip install 'agentkit-llama\[otlp\]'"):
        OtlpExport("http://127.0.0.1:4318")
