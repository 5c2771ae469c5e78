"""What the loop reports while it runs, and the result it ends with.

Events are small frozen dataclasses tagged by a literal `type`.

`Agent.stream()` yields them in order; `Agent.run()` drains the same events, and the hooks
of `Agent(hooks=[...])` get every one of them in all three. A run yields `RunStarted`
first; per model turn: `ModelRequestStarted`, a `ModelRequestRetried` for each retry of the
request, any `TextDelta`s, `ModelReplyFinished`, then for each tool call a
`ToolCallStarted` and a `ToolCallFinished`; `GuardrailChecked` after each guardrail's
check; and at the end one `RunFinished`, or `RunFailed` just before the error is raised.
A `ContextTrimmed` comes just before the `ModelRequestStarted` of a request whose history
had to be trimmed to fit `max_input_tokens`.
A sub-agent's events (an agent used as a tool) come wrapped in `AgentEvent`.

Every event carries the `run_id` of its run, so one hook can follow concurrent runs.
"""

from __future__ import annotations

from typing import Any

from agentkit._event_types import (
    AgentEvent,
    ContextTrimmed,
    Event,
    GuardrailChecked,
    ModelReplyFinished,
    ModelRequestRetried,
    ModelRequestStarted,
    RunFailed,
    RunFinished,
    RunResult,
    RunStarted,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
)
from agentkit.messages import ToolCall

__all__ = [
    "AgentEvent",
    "ContextTrimmed",
    "Event",
    "GuardrailChecked",
    "ModelReplyFinished",
    "ModelRequestRetried",
    "ModelRequestStarted",
    "RunFailed",
    "RunFinished",
    "RunResult",
    "RunStarted",
    "TextDelta",
    "ToolCallFinished",
    "ToolCallStarted",
    "event_to_dict",
]


_TRIMMED_FIELDS = tuple(
    f for f in ContextTrimmed.__dataclass_fields__ if f not in ("type", "run_id")
)


def _call_dict(call: ToolCall) -> dict[str, Any]:
    args: Any = call.arguments if call.arguments is not None else call.raw_arguments
    return {"id": call.id, "name": call.name, "arguments": args}


def event_to_dict(event: Event) -> dict[str, Any]:
    """A JSON-serializable dict of an event (for `--json` output and logs).

    Every dict has the event's `type` and `run_id`; a request's messages and settings are
    left out (they grow with the conversation).
    """
    head: dict[str, Any] = {"type": event.type, "run_id": event.run_id}
    if isinstance(event, TextDelta):
        return {**head, "text": event.text}
    if isinstance(event, ModelRequestStarted):
        return {**head, "turn": event.turn}
    if isinstance(event, ModelReplyFinished):
        message = event.message
        return {
            **head,
            "turn": event.turn,
            "content": message.content,
            "tool_calls": [_call_dict(c) for c in message.tool_calls],
            "usage": event.usage.to_dict(),
            "finish_reason": event.finish_reason,
        }
    if isinstance(event, ToolCallStarted):
        return {**head, **_call_dict(event.call)}
    if isinstance(event, ToolCallFinished):
        return {
            **head,
            **_call_dict(event.call),
            "result": event.result,
            "is_error": event.is_error,
            "error_type": event.error_type,
            "duration": round(event.duration, 6),
        }
    if isinstance(event, RunFinished):
        output = event.result.output
        if hasattr(output, "model_dump"):
            output = output.model_dump(mode="json")
        return {**head, "output": output, "usage": event.result.usage.to_dict()}
    return {**head, **_other_dict(event)}


def _other_dict(event: Event) -> dict[str, Any]:
    if isinstance(event, RunStarted):
        return {
            "agent": event.agent,
            "model": event.model,
            "prompt": event.prompt,
            "parent_run_id": event.parent_run_id,
            "parent_call_id": event.parent_call_id,
        }
    if isinstance(event, ModelRequestRetried):
        return {
            "turn": event.turn,
            "attempt": event.attempt,
            "reason": event.reason,
            "delay": round(event.delay, 6),
        }
    if isinstance(event, GuardrailChecked):
        return {
            "kind": event.kind,
            "guardrail": event.guardrail,
            "tripped": event.tripped,
            "categories": list(event.categories),
            "call_id": event.call_id,
            "duration": round(event.duration, 6),
        }
    if isinstance(event, RunFailed):
        return {
            "error": type(event.error).__name__,
            "message": str(event.error),
            "usage": event.usage.to_dict(),
        }
    if isinstance(event, AgentEvent):
        return {"path": list(event.path), "event": event_to_dict(event.event)}
    if isinstance(event, ContextTrimmed):
        return {name: getattr(event, name) for name in _TRIMMED_FIELDS}
    raise TypeError(f"not an agentkit event: {event!r:.100}")
