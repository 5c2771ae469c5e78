"""The events phase 2 adds to agentkit.events, built by hand (INTEGRATION.md, "Events").

Field names and defaults here are the specification the hook reads; when agentkit.events
has them, these tests import them from there instead and this module goes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from agentkit import (
    AssistantMessage,
    Message,
    RunResult,
    SystemMessage,
    ToolCall,
    Usage,
    UserMessage,
)


@dataclass(frozen=True, slots=True)
class RunStarted:
    agent: str
    model: str
    prompt: str
    run_id: str = ""
    parent_run_id: str | None = None
    parent_call_id: str | None = None
    server_address: str | None = None
    server_port: int | None = None
    provider: str | None = None
    stream: bool = False
    type: Literal["run_started"] = field(default="run_started", init=False)


@dataclass(frozen=True, slots=True)
class ModelRequestStarted:
    turn: int
    run_id: str = ""
    messages: Sequence[Message] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)
    stream: bool = False
    type: Literal["model_request_started"] = field(default="model_request_started", init=False)


@dataclass(frozen=True, slots=True)
class ModelRequestRetried:
    turn: int
    attempt: int
    reason: str
    delay: float
    run_id: str = ""
    type: Literal["model_request_retried"] = field(default="model_request_retried", init=False)


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str
    run_id: str = ""
    type: Literal["text_delta"] = field(default="text_delta", init=False)


@dataclass(frozen=True, slots=True)
class ModelReplyFinished:
    turn: int
    message: AssistantMessage
    usage: Usage
    run_id: str = ""
    finish_reason: str | None = None
    response_model: str | None = None
    response_id: str | None = None
    type: Literal["model_reply_finished"] = field(default="model_reply_finished", init=False)


@dataclass(frozen=True, slots=True)
class ToolCallStarted:
    call: ToolCall
    run_id: str = ""
    type: Literal["tool_call_started"] = field(default="tool_call_started", init=False)


@dataclass(frozen=True, slots=True)
class ToolCallFinished:
    call: ToolCall
    result: str
    is_error: bool
    duration: float
    run_id: str = ""
    error_type: str | None = None
    type: Literal["tool_call_finished"] = field(default="tool_call_finished", init=False)


@dataclass(frozen=True, slots=True)
class GuardrailChecked:
    kind: str
    guardrail: str
    tripped: bool
    duration: float
    run_id: str = ""
    categories: tuple[str, ...] = ()
    call_id: str | None = None
    type: Literal["guardrail_checked"] = field(default="guardrail_checked", init=False)


@dataclass(frozen=True, slots=True)
class RunFinished:
    result: RunResult[Any]
    run_id: str = ""
    type: Literal["run_finished"] = field(default="run_finished", init=False)


@dataclass(frozen=True, slots=True)
class RunFailed:
    error: BaseException
    usage: Usage
    run_id: str = ""
    type: Literal["run_failed"] = field(default="run_failed", init=False)


@dataclass(frozen=True, slots=True)
class AgentEvent:
    path: tuple[str, ...]
    event: Any
    run_id: str = ""
    type: Literal["agent_event"] = field(default="agent_event", init=False)


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
