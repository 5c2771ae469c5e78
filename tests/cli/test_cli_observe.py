"""`agentkit run --trace`, `--otel`, and what a sub-agent did, on the command line."""

from __future__ import annotations

import json
import logging
import socket
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from agentkit.cli import main
from agentkit.cli._load import ENDPOINT_VARIABLES
from agentkit.testing import FakeServer, Raw

TEAM = """
from agentkit import Agent, tool
from agentkit.testing import ScriptedModel, call


@tool
def lookup(topic: str) -> str:
    '''Look a topic up.

    Args:
        topic: The topic.
    '''
    return f"facts about {topic}"


researcher = Agent(
    ScriptedModel([call("lookup", topic="Louvre"), "The Louvre is big."]),
    name="researcher",
    description="Finds facts.",
    tools=[lookup],
)
agent = Agent(
    ScriptedModel([call("researcher", task="Louvre facts"), "It is very big."]),
    name="writer",
    tools=[researcher.as_tool()],
)
"""


@pytest.fixture(autouse=True)
def no_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*ENDPOINT_VARIABLES, "AGENTKIT_MODEL", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def team(folder: Path) -> str:
    path = folder / "team.py"
    path.write_text(textwrap.dedent(TEAM), encoding="utf-8")
    return str(path)


def test_trace_prints_a_timeline_on_stderr_when_the_run_ends() -> None:
    result = invoke("run", "--offline", "--trace", "--tools", "calculator", "what is 17*23?")
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("trace: "))
    assert "2 requests, 1 tool call, " in lines[head]
    assert lines[head + 1].split()[2:4] == ["request", "1"]
    assert "calculate" in lines[head + 2] and lines[head + 2].endswith(" ok")
    assert lines[head + 4].endswith("answer")
    assert "trace:" not in result.stdout and "391" in result.stdout


def test_trace_shows_a_failed_run_too() -> None:
    result = invoke(
        "run", "--offline", "--trace", "--max-turns", "1", "--tools", "calculator", "17*23?"
    )
    assert result.exit_code == 1
    assert "failed: MaxTurnsExceeded" in result.stderr
    assert result.stderr.index("trace: ") < result.stderr.index("error: ")


def test_a_sub_agents_calls_are_shown_under_the_call_that_ran_it(tmp_path: Path) -> None:
    result = invoke("run", "--trace", team(tmp_path), "How big is the Louvre?")
    assert result.exit_code == 0, result.output
    err = result.stderr
    assert '→ researcher(task="Louvre facts")' in err
    assert '  researcher > → lookup(topic="Louvre")' in err
    assert "  researcher > ← lookup: facts about Louvre" in err
    assert err.index("researcher > ← lookup") < err.index("← researcher: The Louvre is big.")
    assert result.stdout.strip() == "It is very big."  # the sub-agent's text is no answer
    assert "researcher: request 1" in err and "researcher: request 2" in err  # the timeline
    assert "4 requests, 2 tool calls" in err


def test_json_carries_a_sub_agents_events_with_their_path(tmp_path: Path) -> None:
    result = invoke("run", "--json", team(tmp_path), "How big is the Louvre?")
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines()]
    passed = [e for e in events if e["type"] == "agent_event"]
    assert {tuple(e["path"]) for e in passed} == {("writer", "researcher")}
    assert [e["event"]["type"] for e in passed][:2] == ["run_started", "model_request_started"]
    assert events[-1]["usage"]["requests"] == 4


def test_otel_without_an_endpoint_says_what_to_set() -> None:
    result = invoke("run", "--otel", "hello")
    assert result.exit_code == 2
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in result.stderr and "is not set" in result.stderr


@pytest.fixture
def sdk_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    """--otel quiets the SDK's loggers for the rest of the process: undone after the test."""
    pytest.importorskip(
        "opentelemetry.exporter.otlp.proto.http", reason="needs agentkit-llama[otlp]"
    )
    sdk = logging.getLogger("opentelemetry")
    monkeypatch.setattr(sdk, "handlers", [])
    monkeypatch.setattr(sdk, "propagate", True)


def test_otel_sends_the_runs_spans_to_the_collector(
    monkeypatch: pytest.MonkeyPatch, sdk_logging: None
) -> None:
    taken = Raw(b"", headers={"content-type": "application/x-protobuf"})
    routes = {"POST /v1/traces": lambda r: taken, "POST /v1/metrics": lambda r: taken}
    with FakeServer(routes=routes) as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url.removesuffix("/v1"))
        monkeypatch.setenv("OTEL_SERVICE_NAME", "cli-test")
        result = invoke("run", "--offline", "--otel", "--tools", "calculator", "what is 17*23?")
        posts = {request.path: request for request in collector.requests}
    assert result.exit_code == 0, result.output
    assert set(posts) == {"/v1/traces", "/v1/metrics"}
    body = str(posts["/v1/traces"].body)
    for name in ("invoke_agent agent", "execute_tool calculate", "cli-test"):
        assert name in body
    assert "OTLP collector" not in result.stderr  # all taken: nothing to say


@pytest.mark.slow  # the 2 s the CLI gives a collector at exit
def test_otel_with_a_collector_that_is_down_says_so_once(
    monkeypatch: pytest.MonkeyPatch, sdk_logging: None
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")
    result = invoke("run", "--offline", "--otel", "hi")
    assert result.exit_code == 0, result.output  # the answer was given: telemetry is extra
    said = (
        f"agentkit: the OTLP collector at http://127.0.0.1:{port} could not be reached: 2 "
        "spans and the metrics were not sent (is it running? check OTEL_EXPORTER_OTLP_ENDPOINT)"
    )
    assert said in result.stderr.splitlines()
    # The SDK's own lines (one per failed attempt and retry) are not shown.
    assert "Transient error" not in result.stderr and "retrying" not in result.stderr
