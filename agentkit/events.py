"""What the loop reports while it runs, and the result it ends with.

Events are small frozen dataclasses tagged by a literal `type`.

`Agent.stream()` yields them in order; `Agent.run()` drains the same events. A run yields,
per model turn: `ModelRequestStarted`, any `TextDelta`s, `ModelReplyFinished`, then for each
tool call a `ToolCallStarted` and a `ToolCallFinished`; and at the end one `RunFinished`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar, Union

from agentkit.messages import AssistantMessage, Message, ToolCall
from agentkit.usage import Usage

OutputT = TypeVar("OutputT")

__all__ = [
    "Event",
    "ModelReplyFinished",
    "ModelRequestStarted",
    "RunFinished",
    "RunResult",
    "TextDelta",
    "ToolCallFinished",
    "ToolCallStarted",
    "event_to_dict",
]


@dataclass(frozen=True, slots=True)
class ModelRequestStarted:
    """A request to the model is about to be sent (turn counts from 1)."""

    turn: int
    type: Literal["model_request_started"] = field(default="model_request_started", init=False)


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of answer text, as it streams. Text that turns out to be a tool call is not sent."""

    text: str
    type: Literal["text_delta"] = field(default="text_delta", init=False)


@dataclass(frozen=True, slots=True)
class ModelReplyFinished:
    """The model's reply is complete: its message (tool calls recovered) and its usage."""

    turn: int
    message: AssistantMessage
    usage: Usage
    type: Literal["model_reply_finished"] = field(default="model_reply_finished", init=False)


@dataclass(frozen=True, slots=True)
class ToolCallStarted:
    """A tool call is about to run."""

    call: ToolCall
    type: Literal["tool_call_started"] = field(default="tool_call_started", init=False)

    @property
    def name(self) -> str:
        """The tool's name."""
        return self.call.name

    @property
    def arguments(self) -> dict[str, Any] | None:
        """The decoded arguments (None when the model sent no JSON object)."""
        return self.call.arguments


@dataclass(frozen=True, slots=True)
class ToolCallFinished:
    """A tool call ended: `result` is the text sent back to the model.

    Attributes:
        call: The call.
        result: The tool-result text the model receives (the value, or what went wrong).
        is_error: Whether the call failed (unknown tool, bad arguments, exception, timeout,
            `ModelRetry`, declined by the user).
        duration: Seconds from start to end of the call.
    """

    call: ToolCall
    result: str
    is_error: bool
    duration: float
    type: Literal["tool_call_finished"] = field(default="tool_call_finished", init=False)


@dataclass(frozen=True, slots=True)
class RunResult(Generic[OutputT]):
    """What a finished run produced.

    Attributes:
        output: The final answer: text, or a validated `output_type` instance.
        messages: The whole conversation, typed; pass it as `messages=` to continue.
        usage: Requests, tokens, tool calls and estimated cost of this run.
    """

    output: OutputT
    messages: list[Message] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)


@dataclass(frozen=True, slots=True)
class RunFinished:
    """The run ended with a final answer."""

    result: RunResult[Any]
    type: Literal["run_finished"] = field(default="run_finished", init=False)


Event = Union[  # noqa: UP007 - a runtime alias users can pass to isinstance-free match
    ModelRequestStarted,
    TextDelta,
    ModelReplyFinished,
    ToolCallStarted,
    ToolCallFinished,
    RunFinished,
]


def _call_dict(call: ToolCall) -> dict[str, Any]:
    args: Any = call.arguments if call.arguments is not None else call.raw_arguments
    return {"id": call.id, "name": call.name, "arguments": args}


def event_to_dict(event: Event) -> dict[str, Any]:
    """A JSON-serializable dict of an event (for `--json` output and logs)."""
    if isinstance(event, TextDelta):
        return {"type": event.type, "text": event.text}
    if isinstance(event, ModelRequestStarted):
        return {"type": event.type, "turn": event.turn}
    if isinstance(event, ModelReplyFinished):
        message = event.message
        return {
            "type": event.type,
            "turn": event.turn,
            "content": message.content,
            "tool_calls": [_call_dict(c) for c in message.tool_calls],
            "usage": event.usage.to_dict(),
        }
    if isinstance(event, ToolCallStarted):
        return {"type": event.type, **_call_dict(event.call)}
    if isinstance(event, ToolCallFinished):
        return {
            "type": event.type,
            **_call_dict(event.call),
            "result": event.result,
            "is_error": event.is_error,
            "duration": round(event.duration, 6),
        }
    result = event.result
    output = result.output
    if hasattr(output, "model_dump"):
        output = output.model_dump(mode="json")
    return {"type": event.type, "output": output, "usage": result.usage.to_dict()}
