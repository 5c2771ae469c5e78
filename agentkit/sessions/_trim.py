"""A view of the history that fits the context budget; the stored history is never changed.

Cheapest first: cut oversized old tool results (their head and tail kept, with a marker),
then drop the oldest whole turns (a user message and everything up to the next one, so a
tool call and its results always go together), then cut oversized results of the current
turn. The system prompt and the current turn are never dropped; when even they do not fit,
`ContextBudgetExceeded` is raised before anything is sent.

Hysteresis: nothing is trimmed until the estimate passes `max_input_tokens`; then the view
is trimmed down to `target` (a lower share of it), and the same cuts are kept for later
requests until the budget is passed again, so the prompt's prefix stays the same from one
request to the next and the server's prefix cache keeps working.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agentkit.errors import ContextBudgetExceeded, UserError
from agentkit.messages import Message, SystemMessage, ToolMessage, UserMessage

from ._tokens import TokenEstimator
from ._windows import CONTEXT_WINDOW, OUTPUT_RESERVE, context_window, default_input_budget

__all__ = [
    "CONTEXT_WINDOW",
    "OUTPUT_RESERVE",
    "ContextBudget",
    "TrimResult",
    "Trimmer",
    "context_window",
    "default_input_budget",
]


def _cut_marker(chars: int) -> str:
    return (
        f"\n\n[... {chars:,} characters of this tool result cut to fit the context window ...]\n\n"
    )


@dataclass(frozen=True, slots=True)
class ContextBudget:
    """How big a prompt may be, and how trimming behaves.

    Attributes:
        max_input_tokens: Trim when the estimate passes this; fail when the minimum does.
        target: Share of `max_input_tokens` to trim down to (hysteresis: room to grow).
        result_keep_tokens: Tokens a cut tool result keeps (half head, half tail); results
            over twice this are the ones cut.
    """

    max_input_tokens: int = field(default_factory=default_input_budget)
    target: float = 0.75
    result_keep_tokens: int = 400

    def __post_init__(self) -> None:
        problems = []
        if not isinstance(self.max_input_tokens, int) or self.max_input_tokens < 1:
            problems.append(
                f"max_input_tokens must be a whole number >= 1, got {self.max_input_tokens!r}"
            )
        if not (isinstance(self.target, int | float) and 0 < self.target <= 1):
            problems.append(f"target must be a share in (0, 1], got {self.target!r}")
        if not isinstance(self.result_keep_tokens, int) or self.result_keep_tokens < 16:
            problems.append(
                f"result_keep_tokens must be a whole number >= 16, got {self.result_keep_tokens!r}"
            )
        if problems:
            raise UserError("the context budget is not valid:", problems)


@dataclass(frozen=True, slots=True)
class TrimResult:
    """The view to send, and what trimming removed (the `context_trimmed` event's fields).

    Attributes:
        messages: The view: the history, or a trimmed copy of it.
        tokens: Its estimated prompt tokens.
        tokens_before: The estimate for the whole history.
        budget: `max_input_tokens`.
        trimmed: Whether the cuts were computed for this request (False: none, or the
            same cuts as the request before, which keeps the prefix stable).
        dropped_turns: Old turns left out of the view.
        dropped_messages: Messages left out of the view.
        cut_results: Tool results shortened.
        cut_chars: Characters removed from them.
    """

    messages: list[Message]
    tokens: int
    tokens_before: int
    budget: int
    trimmed: bool = False
    dropped_turns: int = 0
    dropped_messages: int = 0
    cut_results: int = 0
    cut_chars: int = 0


@dataclass(frozen=True, slots=True)
class _Cuts:
    length: int  # the history's length when they were decided
    last: Message  # and its last message, to tell the same history grown from another
    dropped: int  # old turns dropped, oldest first
    cut: frozenset[int]  # positions of shortened tool results


class _Plan:
    """One history's turns and per-message costs, for deciding and applying cuts."""

    def __init__(
        self,
        history: Sequence[Message],
        estimator: TokenEstimator,
        tools: Sequence[Mapping[str, Any]],
        current: int | None,
        keep_tokens: int,
    ) -> None:
        self.history = history
        self.estimator = estimator
        self.keep_tokens = keep_tokens
        self.fixed = estimator.fixed_tokens(tools)
        self.costs = [estimator.message_tokens(m) for m in history]
        if current is None:
            users = [i for i, m in enumerate(history) if isinstance(m, UserMessage)]
            current = users[-1] if users else 0
        self.current = max(0, min(current, len(history)))
        # Old turns: [start, end) before `current`, each from a user message to the next
        # (the first also takes whatever came before the first user message).
        starts = [i for i in range(self.current) if isinstance(history[i], UserMessage)]
        if not starts or starts[0] != 0:
            starts = [0, *starts]
        bounds = [*starts, self.current]
        self.turns = [
            (a, b)
            for a, b in itertools.pairwise(bounds)
            if any(self.droppable(i) for i in range(a, b))
        ]
        self._short: dict[int, tuple[ToolMessage, float, int] | None] = {}
        self.cut_results = 0  # of the last view

    def shortened(self, i: int) -> tuple[ToolMessage, float, int] | None:
        """Result `i` cut to its head and tail: (message, its cost, characters removed).

        None when message `i` is not a tool result over twice the tokens a cut one keeps.
        """
        if i not in self._short:
            self._short[i] = self._shorten(self.history[i])
        return self._short[i]

    def _shorten(self, message: Message) -> tuple[ToolMessage, float, int] | None:
        if not isinstance(message, ToolMessage):
            return None
        tokens = self.estimator.text_tokens(message.content)
        if tokens <= 2 * self.keep_tokens:
            return None
        half = max(1, int(self.keep_tokens * len(message.content) / tokens / 2))
        text = message.content
        removed = len(text) - 2 * half
        cut = ToolMessage(
            message.tool_call_id, text[:half] + _cut_marker(removed) + text[-half:], message.name
        )
        return cut, self.estimator.message_tokens(cut), removed

    def droppable(self, i: int) -> bool:
        """Whether message `i` goes when its turn is dropped (a system message never does)."""
        return not isinstance(self.history[i], SystemMessage)

    def dropped_range(self, dropped: int) -> tuple[int, int]:
        return (0, 0) if not dropped else (self.turns[0][0], self.turns[dropped - 1][1])

    def view(self, cuts: _Cuts) -> tuple[list[Message], int, int]:
        """The messages, how many were dropped, and how many characters were cut."""
        low, high = self.dropped_range(cuts.dropped)
        messages: list[Message] = []
        chars = results = 0
        for i, message in enumerate(self.history):
            if low <= i < high and self.droppable(i):
                continue
            short = self.shortened(i) if i in cuts.cut else None
            if short is None:
                messages.append(message)
            else:
                messages.append(short[0])
                chars += short[2]
                results += 1
        self.cut_results = results
        return messages, len(self.history) - len(messages), chars

    def decide(self, start: _Cuts | None, target: float) -> _Cuts:
        """Cuts bringing the view to `target` unscaled tokens, from (never undoing) `start`."""
        dropped = start.dropped if start else 0
        cut = set(start.cut) if start else set()
        low, high = self.dropped_range(dropped)

        def cost(i: int) -> float:
            short = self.shortened(i) if i in cut else None
            return self.costs[i] if short is None else short[1]

        total = self.fixed + sum(
            cost(i) for i in range(len(self.history)) if not (low <= i < high and self.droppable(i))
        )

        def shorten(indices: range) -> None:
            nonlocal total
            for i in indices:
                if total <= target:
                    return
                short = self.shortened(i)
                if (
                    short is not None
                    and i not in cut
                    and not (low <= i < high and self.droppable(i))
                ):
                    total += short[1] - self.costs[i]
                    cut.add(i)

        shorten(range(self.current))  # 1. oversized old tool results, oldest first
        while dropped < len(self.turns) and total > target:  # 2. the oldest whole turns
            a, b = self.turns[dropped]
            total -= sum(cost(i) for i in range(a, b) if self.droppable(i))
            dropped += 1
            low, high = self.dropped_range(dropped)
        shorten(range(self.current, len(self.history)))  # 3. the current turn's results
        return _Cuts(len(self.history), self.history[-1], dropped, frozenset(cut))


class Trimmer:
    """Trims views of one conversation; keep one per conversation (it holds the cuts).

    Args:
        budget: The budget and how to trim.
        estimator: Token estimates (share it with whatever observes the usage).
    """

    def __init__(
        self, budget: ContextBudget | None = None, estimator: TokenEstimator | None = None
    ) -> None:
        self.budget = budget or ContextBudget()
        self.estimator = estimator or TokenEstimator()
        self._cuts: _Cuts | None = None

    def reset(self) -> None:
        """Forget the cuts (the next view is decided afresh)."""
        self._cuts = None

    def view(
        self,
        history: Sequence[Message],
        tools: Sequence[Mapping[str, Any]] = (),
        *,
        current: int | None = None,
    ) -> TrimResult:
        """The view of `history` to send.

        Args:
            history: The whole conversation, system prompt first.
            tools: The tool definitions sent with it.
            current: Index of the current run's prompt (default: the last user message);
                from there on nothing is dropped.

        Raises:
            ContextBudgetExceeded: Even the system prompt, tools and current turn, with
                its results cut, do not fit.
        """
        limit = self.budget.max_input_tokens
        before = self.estimator.estimate(history, tools)
        cuts = self._cuts if self._grown_from(history) else None
        if cuts is None and before <= limit:
            self._cuts = None
            return TrimResult(list(history), before, before, limit)
        plan = _Plan(history, self.estimator, tools, current, self.budget.result_keep_tokens)
        if cuts is not None:
            kept = self._result(plan, cuts, tools, before, trimmed=False)
            if kept.tokens <= limit:
                return kept
        target = self.budget.target * limit / self.estimator.scale - 1
        cuts = plan.decide(cuts, target)
        result = self._result(plan, cuts, tools, before, trimmed=True)
        if result.tokens > limit:
            raise ContextBudgetExceeded(
                f"the prompt needs about {result.tokens:,} tokens even with the old turns "
                f"dropped and long tool results cut, over the budget of {limit:,} "
                "(max_input_tokens): shorten the system prompt or the current message, offer "
                "fewer tools, or raise max_input_tokens if the model's context allows",
                needed=result.tokens,
                budget=limit,
            )
        self._cuts = cuts
        return result

    def _grown_from(self, history: Sequence[Message]) -> bool:
        """Whether `history` is the one the cuts were decided on, maybe with more at its end."""
        cuts = self._cuts
        if cuts is None or len(history) < cuts.length:
            return False
        last = history[cuts.length - 1]
        return last is cuts.last or last == cuts.last

    def _result(
        self,
        plan: _Plan,
        cuts: _Cuts,
        tools: Sequence[Mapping[str, Any]],
        before: int,
        *,
        trimmed: bool,
    ) -> TrimResult:
        messages, dropped, chars = plan.view(cuts)
        return TrimResult(
            messages,
            self.estimator.estimate(messages, tools),
            before,
            self.budget.max_input_tokens,
            trimmed=trimmed,
            dropped_turns=cuts.dropped,
            dropped_messages=dropped,
            cut_results=plan.cut_results,
            cut_chars=chars,
        )
