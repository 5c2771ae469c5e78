"""What a guardrail is given, what it answers, and the two errors that stop a run.

A guardrail is a callable, sync or async, that takes a `GuardrailCheck` and returns a
`Verdict` (or None, which passes). Input guardrails see the user's prompt, output guardrails
the final answer, tool-result guardrails the result of one tool call, each with the
conversation before it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, Union

from ..errors import RunError
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

CheckKind = Literal["input", "output", "tool_result"]

_KIND_TEXT = {"input": "input", "output": "output", "tool_result": "tool-result"}


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


class GuardrailTripped(RunError):
    """A guardrail stopped the run. Carries the verdict, and the messages and usage so far.

    Attributes:
        verdict: The verdict that tripped.
        kind: Which check tripped: "input", "output" or "tool_result".
        call: For a tool result, the call whose result tripped.
    """

    def __init__(self, verdict: Verdict, kind: CheckKind, call: ToolCall | None = None) -> None:
        what = f" (the result of {call.name!r}, call {call.id})" if call is not None else ""
        reason = verdict.reason or "no reason given"
        super().__init__(
            f"the {_KIND_TEXT[kind]} guardrail {verdict.guardrail or 'guardrail'!r} stopped "
            f"the run{what}: {reason}"
        )
        self.verdict = verdict
        self.kind: CheckKind = kind
        self.call = call


class GuardrailError(RunError):
    """A guardrail could not decide: it raised, its endpoint failed, or its answer was no
    verdict. The run stops (a guardrail fails closed: an undecided check never passes).

    Attributes:
        guardrail: The guardrail's name.
        kind: The check it was running, once known.
        raw: The classifier's answer that was no verdict, when that was the problem.
        status: The HTTP status of a failed request to a classifier, when there was one.
        endpoint: The classifier's base URL (never its key).
    """

    def __init__(
        self,
        message: str,
        *,
        guardrail: str = "",
        kind: CheckKind | None = None,
        raw: str = "",
        status: int | None = None,
        endpoint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.guardrail = guardrail
        self.kind = kind
        self.raw = raw
        self.status = status
        self.endpoint = endpoint
