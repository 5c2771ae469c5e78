"""The `--trace` timeline: a recording of events rendered as a few plain lines."""

from __future__ import annotations

import pytest
from trip_events import MODEL, trip_run

from agentkit import Agent, AssistantMessage, ModelError, ToolCall, Usage, tool
from agentkit.events import (
    GuardrailChecked,
    ModelReplyFinished,
    ModelRequestRetried,
    ModelRequestStarted,
    RunFailed,
    RunStarted,
    ToolCallFinished,
    ToolCallStarted,
)
from agentkit.testing import ScriptedModel, call
from agentkit.tracing import Recorder, render_timeline

TIMES = [0.0, 0.0, 0.41, 0.41, 0.41, 0.61, 30.41, 30.42, 30.80, 30.80, 30.81, 30.81, 31.10]
TIMES += [31.11, 31.30, 31.30, 31.72, 31.72]


def test_the_golden_run_as_a_timeline() -> None:
    records = list(zip(TIMES, trip_run(), strict=True))
    assert render_timeline(records) == "\n".join(
        [
            "trace: 31.72 s, 4 requests, 3 tool calls (1 failed), 660 tokens in / 65 out",
            "      0 ms  request 1                    410 ms  120 in / 30 out, 2 tool calls",
            "    410 ms    get_weather                200 ms  call_w ok",
            "    410 ms    find_flights              30.00 s  call_f failed (timeout)",
            "   30.42 s  request 2                    380 ms  200 in / 20 out, 1 tool call",
            "   30.80 s    researcher                 500 ms  call_r ok",
            "   30.81 s      researcher: request 1    290 ms  40 in / 5 out, text",
            "   31.30 s  request 3                    420 ms  300 in / 10 out, text",
            "   31.72 s  answer",
        ]
    )


def test_a_failed_run_shows_its_retries_guardrails_and_error() -> None:
    records = [
        (10.0, RunStarted("a", MODEL, "hi", "r")),
        (10.0, GuardrailChecked("input", "llama_guard", False, 0.15, "r")),
        (10.2, ModelRequestStarted(1, "r")),
        (10.7, ModelRequestRetried(1, 1, "503", 0.5, "r")),
        (12.2, RunFailed(ModelError("HTTP 503", status=503), Usage(), "r")),
    ]
    assert render_timeline(records) == "\n".join(
        [
            "trace: 2.35 s, 1 request, 0 tool calls, no tokens reported",
            "      0 ms  guardrail llama_guard (input)    150 ms  passed",
            "    350 ms  request 1                                no reply",
            "    850 ms    retry 1                                503",
            "    2.35 s  failed: ModelError",
        ]
    )


def test_names_from_the_model_cannot_draw_on_the_terminal() -> None:
    bad = ToolCall("evil\x1b[2J\x07" + "x" * 80, {}, id="c1")
    records = [
        (0.0, ToolCallStarted(bad)),
        (0.1, ToolCallFinished(bad, "no such tool", True, 0.1, error_type="unknown_tool")),
    ]
    text = render_timeline(records)
    assert "\x1b" not in text and "\x07" not in text
    assert "evil?[2J?xxx" in text
    assert "…" in text  # the long name is cut
    assert "c1 failed (unknown_tool)" in text


def test_nothing_recorded_says_so() -> None:
    assert render_timeline([]) == "trace: no events recorded"


def test_a_reply_without_token_counts_shows_only_what_followed() -> None:
    records = [
        (0.0, ModelRequestStarted(1)),
        (0.25, ModelReplyFinished(1, AssistantMessage("hi"), Usage(requests=1))),
    ]
    assert render_timeline(records).splitlines()[1] == "      0 ms  request 1    250 ms  text"


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@pytest.mark.anyio
async def test_the_recorder_keeps_a_real_runs_events_in_order_with_times() -> None:
    recorder = Recorder()
    model = ScriptedModel([[call("add", a=1, b=2), call("add", a=3, b=4)], "3 and 7"])
    with model:
        await Agent(model, tools=[add], hooks=[recorder]).run("1+2, 3+4?")
    times = [at for at, _ in recorder.records]
    assert times == sorted(times)
    lines = render_timeline(recorder.records).splitlines()
    assert lines[0].startswith("trace: ")
    assert "2 requests, 2 tool calls, " in lines[0]
    assert [line.split()[2] for line in lines[1:-1]].count("add") == 2
    assert lines[-1].endswith("answer")
    recorder.clear()
    assert recorder.records == []
