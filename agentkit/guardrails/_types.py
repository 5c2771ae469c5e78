"""What a guardrail is given, what it answers, and the two errors that stop a run.

A guardrail is a callable, sync or async, that takes a `GuardrailCheck` and returns a
`Verdict` (or None, which passes). Input guardrails see the user's prompt, output guardrails
the final answer, tool-result guardrails the result of one tool call, each with the
conversation before it. `GuardrailTripped` and `GuardrailError` live in `agentkit.errors`,
with the rest of the exception tree, and are re-exported here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Union

from ..errors import CheckKind, GuardrailError, GuardrailTripped
from ..messages import Message, ToolCall, Usage

__all__ = [
    "CheckKind",
    "Guardrail",
    "GuardrailCheck",
    "GuardrailError",
    "GuardrailTripped",
    "Verdict",
    "guardrail_name",
]


@dataclass(frozen=True, slots=True)
class GuardrailCheck:
    """What a guardrail is asked to judge.

    Attributes:
        kind: "input" (the user's prompt), "output" (the final answer) or "tool_result"
            (what one tool call returned).
        content: The text under judgement: the prompt, the answer (a structured answer as
            its JSON), or the tool-result text the model would receive.
        messages: The conversation before `content` (system message included); for a tool
            result, up to and including the assistant message that made the call.
        call: For a tool result, the call it answers.
        output: For an output check, the answer itself (a validated `output_type` instance,
            or the text).
        deps: The `deps=` given to the run.
    """

    kind: CheckKind
    content: str
    messages: tuple[Message, ...] = ()
    call: ToolCall | None = None
    output: Any = None
    deps: Any = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """A guardrail's answer: the content passes, or it trips and the run stops.

    Attributes:
        tripped: Whether the run must stop.
        reason: Why, in words fit for a log line (never the content itself).
        categories: Codes of the policy categories the content violates (e.g. "S1").
        ignored: Codes a classifier reported that are outside the categories chosen; they
            did not trip the guardrail.
        raw: The classifier's answer as received, when there was one.
        usage: What asking a model for this verdict cost, when a model was asked.
        guardrail: The name of the guardrail that gave it (filled in by `run_guardrails`).
    """

    tripped: bool
    reason: str = ""
    categories: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()
    raw: str = ""
    usage: Usage | None = None
    guardrail: str = ""

    @classmethod
    def ok(cls, *, raw: str = "", ignored: tuple[str, ...] = ()) -> Verdict:
        """A verdict that lets the content pass."""
        return cls(False, raw=raw, ignored=ignored)

    @classmethod
    def trip(cls, reason: str, *, categories: tuple[str, ...] = ()) -> Verdict:
        """A verdict that stops the run, saying why."""
        return cls(True, reason=reason, categories=categories)


GuardrailResult = Union[Verdict, None]  # noqa: UP007
Guardrail = Callable[[GuardrailCheck], Union[GuardrailResult, Awaitable[GuardrailResult]]]  # noqa: UP007


def guardrail_name(guardrail: object) -> str:
    """How a guardrail is named in verdicts and errors: its `name`, else its function name."""
    name = getattr(guardrail, "name", None)
    if isinstance(name, str) and name:
        return name
    name = getattr(guardrail, "__name__", None)
    return name if isinstance(name, str) and name else type(guardrail).__name__
