"""A recorded run, written out event by event: the golden timeline's input, with exact times.

The planner's first reply asks for two calls at once (one times out), its second asks a
researcher sub-agent, its third answers. `agentkit.events` are the real events the loop
yields; the spans of a real run of this shape are in test_tracing_otel.py.
"""

from __future__ import annotations

from typing import Any

from agentkit import AssistantMessage, RunResult, SystemMessage, ToolCall, Usage, UserMessage
from agentkit.events import (
    AgentEvent,
    ModelReplyFinished,
    ModelRequestStarted,
    RunFinished,
    RunStarted,
    ToolCallFinished,
    ToolCallStarted,
)

MODEL = "meta-llama/llama-3.1-70b-instruct"
PROMPT = "Plan a day in Paris"
SECRET = "sk-live-0123456789abcdef"


def trip_run() -> list[Any]:
    """The golden run: a planner whose first reply asks for two calls at once (one times
    out), whose second asks a researcher sub-agent, and whose third answers."""
    weather = ToolCall("get_weather", {"city": "Paris"}, id="call_w")
    flights = ToolCall("find_flights", {"to": "CDG"}, id="call_f")
    research = ToolCall("researcher", {"task": "Find museums"}, id="call_r")
    system, user = SystemMessage("You plan trips."), UserMessage(PROMPT)
    sub = ("planner", "researcher")

    def child(event: Any) -> AgentEvent:
        return AgentEvent(sub, event, run_id="run-1")

    return [
        RunStarted(
            "planner", MODEL, PROMPT, "run-1", server_address="llm.internal", server_port=8000
        ),
        ModelRequestStarted(1, "run-1", (system, user), {"temperature": 0.2, "max_tokens": 512}),
        ModelReplyFinished(
            1,
            AssistantMessage(None, (weather, flights)),
            Usage(1, 120, 30),
            "run-1",
            "tool_calls",
            MODEL,
            "chatcmpl-1",
        ),
        ToolCallStarted(weather, "run-1"),
        ToolCallStarted(flights, "run-1"),
        ToolCallFinished(weather, "18 C, cloudy", False, 0.2, "run-1"),
        ToolCallFinished(flights, "Timed out after 30 s.", True, 30.0, "run-1", "timeout"),
        ModelRequestStarted(2, "run-1", (system, user), {"temperature": 0.2, "max_tokens": 512}),
        ModelReplyFinished(
            2, AssistantMessage(None, (research,)), Usage(1, 200, 20), "run-1", "tool_calls"
        ),
        ToolCallStarted(research, "run-1"),
        child(
            RunStarted(
                "researcher",
                MODEL,
                "Find museums",
                "run-2",
                "run-1",
                "call_r",
                server_address="llm.internal",
                server_port=8000,
            )
        ),
        child(ModelRequestStarted(1, "run-2", (UserMessage("Find museums"),))),
        child(
            ModelReplyFinished(1, AssistantMessage("The Louvre."), Usage(1, 40, 5), "run-2", "stop")
        ),
        child(RunFinished(RunResult("The Louvre.", [], Usage(1, 40, 5)), "run-2")),
        ToolCallFinished(research, "The Louvre.", False, 0.5, "run-1"),
        ModelRequestStarted(3, "run-1", (system, user), {"temperature": 0.2, "max_tokens": 512}),
        ModelReplyFinished(
            3, AssistantMessage("Morning: the Louvre."), Usage(1, 300, 10), "run-1", "stop"
        ),
        RunFinished(RunResult("Morning: the Louvre.", [], Usage(4, 660, 65, 3)), "run-1"),
    ]
