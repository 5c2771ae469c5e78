"""The state of one run: the conversation (its one writer), usage, limits, failures, answer.

Every change to the conversation goes through a `RunState` method, so the rules that keep it
valid to continue from (each call answered exactly once, in call order) live in one place.
Every `RunError` leaving a run goes through `fail`, so it carries the messages and usage so
far; the checks answer any pending tool calls first. A run on a session stores its turns
through `commit`, whole (a reply with all its results), never the system prompt.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agentkit._context import RunContext
from agentkit._loop import notes
from agentkit.errors import RunError, ToolRetriesExceeded, UsageLimitExceeded
from agentkit.events import RunResult
from agentkit.messages import (
    AssistantMessage,
    Message,
    SystemMessage,
    ToolCall,
    ToolMessage,
    UserMessage,
)
from agentkit.models import ModelResponse
from agentkit.usage import Usage, UsageLimits

if TYPE_CHECKING:
    from agentkit._loop.stored import Stored

__all__ = ["Answer", "RunState", "new_run_id"]

_TREE = " (of the top agent, for it and its sub-agents)"


@dataclass(frozen=True, slots=True)
class Answer:
    """The run's final answer: text, or a validated `output_type` instance."""

    value: Any


def new_run_id() -> str:
    """A run's id: "run_" and 16 random hex digits."""
    return "run_" + os.urandom(8).hex()


class RunState:
    """One run's conversation, usage, consecutive failures per tool, and its answer.

    Args:
        messages: The conversation the run starts from (system, history, the prompt).
        limits: The run's usage limits.
        deps: Given to tools as `RunContext.deps`.
        budget: Failures in a row that stop the run, by tool name.
        parent: For a sub-agent's run, the run whose tool call started it: usage counts in
            every run up the tree as it is used, and the top run's limits bind them all.
        stored: The session the run stores its turns into, if any.
    """

    def __init__(
        self,
        messages: list[Message],
        limits: UsageLimits,
        deps: Any,
        budget: Callable[[str], int],
        parent: RunState | None = None,
        stored: Stored | None = None,
    ) -> None:
        self._messages = messages
        self.run_id = new_run_id()
        self.parent = parent
        self.top: RunState = self if parent is None else parent.top
        self.usage = Usage()
        self.limits = limits
        self.deps = deps
        self.budget = budget
        self.failures: dict[str, int] = {}
        self.reply: ModelResponse | None = None
        self.answer: Answer | None = None
        self.asked_after_tool_use_failed = False
        self.asked_after_empty_reply = False
        # The run's prompt: what comes before it is history (the budget never drops it);
        # from it on, what a session has not stored yet.
        self.prompt_at = len(messages) - 1
        self._unstored = self.prompt_at
        self.stored = stored
        if stored is not None:
            stored.run = self

    @property
    def messages(self) -> Sequence[Message]:
        """The conversation so far (read-only: change it through the methods below)."""
        return self._messages

    def last_reply(self) -> ModelResponse:
        """The reply recorded last."""
        assert self.reply is not None, "no reply recorded yet"
        return self.reply

    def result(self) -> RunResult[Any]:
        """The finished run's result."""
        assert self.answer is not None, "the run has no answer yet"
        finish = self.reply.finish_reason if self.reply is not None else None
        cut = finish == "length"
        return RunResult(self.answer.value, list(self._messages), self.usage, finish, cut)

    # The writers of the conversation.

    def add_reply(self, response: ModelResponse) -> None:
        """Record the model's reply and what it used."""
        self.reply = response
        self._messages.append(response.message)
        self._count(response.usage)

    def add_note(self, text: str) -> None:
        """Tell the model something the loop decided (a nudge, a reminder)."""
        self._messages.append(UserMessage(text))

    def add_results(self, calls: Sequence[ToolCall], results: Mapping[str, str]) -> None:
        """Answer every call of the last reply with its result, in call order."""
        self._messages.extend(ToolMessage(c.id, results[c.id], c.name) for c in calls)

    def finish(self, value: Any) -> None:
        """The run has its answer."""
        self.answer = Answer(value)

    def add_usage(self, usage: Usage) -> None:
        """Count usage that came with no reply (a refused request, tool calls that ran)."""
        self._count(usage)

    def _count(self, usage: Usage) -> None:
        run: RunState | None = self
        while run is not None:  # a sub-agent's usage is its callers' too, as it happens
            run.usage = run.usage + usage
            run = run.parent

    async def commit(self) -> None:
        """Store what the run added since the last commit in its session, as one block.

        Called where every call is answered (a turn boundary, the answer, a `RunError`), so
        a session never holds half a turn. A block holds a reply: the prompt is stored with
        the first one, never alone (a prompt the model never answered is not kept, to be
        asked twice). The system prompt is not stored: changed instructions apply to old
        sessions.
        """
        if self.stored is None:
            return
        block = [m for m in self._messages[self._unstored :] if not isinstance(m, SystemMessage)]
        if any(isinstance(m, AssistantMessage) for m in block):
            await self.stored.lease.commit(block, usage=self.usage)
            self._unstored = len(self._messages)

    # Tool calls and their failures.

    def context(self, call: ToolCall) -> RunContext[Any]:
        """The `RunContext` for one tool call."""
        retry = self.failures.get(call.name, 0)
        return RunContext(self.deps, self._messages, self.usage, call.name, call.id, retry)

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

    # Limits.

    def fail(self, error: RunError) -> RunError:
        """`error`, carrying the conversation and usage so far."""
        error.messages = list(self._messages)
        error.usage = self.usage
        return error

    def _bounds(self) -> tuple[tuple[RunState, str], ...]:
        """Whose limits bind this run: its own, and for a sub-agent the top run's too."""
        if self.top is self:
            return ((self, ""),)
        return ((self, ""), (self.top, _TREE))

    def check_requests(self) -> None:
        """Stop before a request the request limit does not allow."""
        for run, whose in self._bounds():
            limit = run.limits.requests
            if limit is not None and run.usage.requests >= limit:
                raise self.fail(
                    UsageLimitExceeded(f"the request limit of {limit}{whose} was reached")
                )

    def check_tokens(self) -> None:
        """Stop once the token limit is exceeded, answering the calls of the last reply."""
        for run, whose in self._bounds():
            limit = run.limits.total_tokens
            if limit is not None and run.usage.total_tokens > limit:
                last = self._messages[-1] if self._messages else None
                if isinstance(last, AssistantMessage):
                    self._answer_unrun(last.tool_calls, notes.NOT_RUN_TOKEN_LIMIT)
                raise self.fail(
                    UsageLimitExceeded(
                        f"the token limit of {limit}{whose} was exceeded "
                        f"({run.usage.total_tokens} used)"
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
        for run, whose in self._bounds():
            limit = run.limits.tool_calls
            if limit is None or run.usage.tool_calls + will_run <= limit:
                continue
            self._answer_unrun(calls, notes.NOT_RUN_CALL_LIMIT, answers)
            more = f"{will_run} more call{'s' if will_run != 1 else ''}"
            raise self.fail(
                UsageLimitExceeded(
                    f"the tool-call limit of {limit}{whose} would be exceeded by {more} "
                    f"({run.usage.tool_calls} made)"
                )
            )

    def _answer_unrun(
        self, calls: Sequence[ToolCall], text: str, known: Mapping[str, str] | None = None
    ) -> None:
        """Answer calls that will not run, so the conversation stays valid to continue from."""
        self.add_results(calls, {c.id: (known or {}).get(c.id, text) for c in calls})
