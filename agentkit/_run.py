"""The state of one run: conversation, usage, limits and the failure budget; its result."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ._context import RunContext
from .errors import RunError, ToolRetriesExceeded, UsageLimitExceeded, UserError
from .messages import AssistantMessage, Message, ToolCall, ToolMessage, Usage

__all__ = ["RunResult", "RunState", "UsageLimits"]

OutputT = TypeVar("OutputT")


@dataclass(frozen=True, slots=True)
class UsageLimits:
    """Limits that stop a run with `UsageLimitExceeded`. None means no limit."""

    requests: int | None = None
    total_tokens: int | None = None
    tool_calls: int | None = None

    def __post_init__(self) -> None:
        problems = [
            f"{name} must be a whole number >= {least} or None, got {value!r}"
            for name, least in (("requests", 1), ("total_tokens", 1), ("tool_calls", 0))
            if (value := getattr(self, name)) is not None
            and (not isinstance(value, int) or isinstance(value, bool) or value < least)
        ]
        if problems:
            raise UserError("the usage limits are not valid:", problems)


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


class RunState:
    """One run's conversation, usage and consecutive failures per tool.

    Every `RunError` leaving a run goes through `fail`, so it carries the messages and
    usage so far; the checks answer any pending tool calls first, so that conversation is
    always valid to continue from.
    """

    def __init__(
        self,
        messages: list[Message],
        limits: UsageLimits,
        deps: Any,
        budget: Callable[[str], int],
    ) -> None:
        self.messages = messages
        self.usage = Usage()
        self.limits = limits
        self.deps = deps
        self.budget = budget
        self.failures: dict[str, int] = {}
        self.asked_after_tool_use_failed = False
        self.asked_after_empty_reply = False

    def fail(self, error: RunError) -> RunError:
        """`error`, carrying the conversation and usage so far."""
        error.messages = list(self.messages)
        error.usage = self.usage
        return error

    def context(self, call: ToolCall) -> RunContext[Any]:
        """The `RunContext` for one tool call."""
        retry = self.failures.get(call.name, 0)
        return RunContext(self.deps, self.messages, self.usage, call.name, call.id, retry)

    def count(self, name: str, failed: bool, what: str) -> None:
        """Record a call's outcome; stop the run when a tool's failures reach its budget."""
        if not failed:
            self.failures[name] = 0
            return
        count = self.failures[name] = self.failures.get(name, 0) + 1
        if count >= self.budget(name):
            raise self.fail(
                ToolRetriesExceeded(
                    f"{what} failed {count} times in a row; the run stopped "
                    "(see the last tool results in .messages)",
                    tool_name=name,
                )
            )

    def check_requests(self) -> None:
        """Stop before a request the request limit does not allow."""
        limit = self.limits.requests
        if limit is not None and self.usage.requests >= limit:
            raise self.fail(UsageLimitExceeded(f"the request limit of {limit} was reached"))

    def check_tokens(self) -> None:
        """Stop once the token limit is exceeded, answering the calls of the last reply."""
        limit = self.limits.total_tokens
        if limit is not None and self.usage.total_tokens > limit:
            last = self.messages[-1] if self.messages else None
            if isinstance(last, AssistantMessage):
                self._answer(last.tool_calls, "Not run: the run's token limit was exceeded.")
            raise self.fail(
                UsageLimitExceeded(
                    f"the token limit of {limit} was exceeded ({self.usage.total_tokens} used)"
                )
            )

    def check_tool_calls(
        self, calls: Sequence[ToolCall], will_run: int, answers: Mapping[str, str]
    ) -> None:
        """Stop before running calls the tool-call limit does not allow, answering them all.

        Args:
            calls: Every call of the reply.
            will_run: How many of them would run.
            answers: Results already known (bad calls), by call id.
        """
        limit = self.limits.tool_calls
        if limit is None or self.usage.tool_calls + will_run <= limit:
            return
        self._answer(calls, "Not run: the run's tool-call limit was reached.", answers)
        more = f"{will_run} more call{'s' if will_run != 1 else ''}"
        raise self.fail(
            UsageLimitExceeded(
                f"the tool-call limit of {limit} would be exceeded by {more} "
                f"({self.usage.tool_calls} made)"
            )
        )

    def _answer(
        self, calls: Sequence[ToolCall], text: str, known: Mapping[str, str] | None = None
    ) -> None:
        """Answer calls that will not run, so the conversation stays valid to continue from."""
        for call in calls:
            answer = known.get(call.id, text) if known else text
            self.messages.append(ToolMessage(call.id, answer, call.name))
