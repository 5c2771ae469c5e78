"""The history a request sends: the user's `history_processor`, then the budget's trim.

`prepare_view` is the one call the loop makes before each request (INTEGRATION.md).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Union

from agentkit.errors import UserError
from agentkit.messages import AssistantMessage, Message, SystemMessage, ToolMessage, UserMessage

from ._tokenize import TokenCounter
from ._trim import Trimmer, TrimResult
from ._types import conversation_problems

__all__ = ["HistoryProcessor", "prepare_view", "run_history_processor"]

HistoryProcessor = Callable[
    [list[Message]], Union[Sequence[Message], Awaitable[Sequence[Message]]]  # noqa: UP007
]
"""A user's own step over the history before each request (a summary, a filter).

It gets a copy of the history (system prompt first) and returns the messages to send,
sync or async; agentkit checks that no tool call lost its result, then applies the budget.
The stored session is never changed by it.
"""

_TYPES = (SystemMessage, UserMessage, AssistantMessage, ToolMessage)


async def run_history_processor(
    processor: HistoryProcessor, history: Sequence[Message]
) -> list[Message]:
    """The processor's view of `history`, checked.

    Raises:
        UserError: It returned something that is not a list of messages, or a conversation
            with a tool call separated from its result.
    """
    name = getattr(processor, "__qualname__", repr(processor))
    out: Any = processor(list(history))
    if inspect.isawaitable(out):
        out = await out
    if not isinstance(out, Sequence) or isinstance(out, str | bytes):
        raise UserError(f"history_processor {name} must return a list of messages, got {out!r:.80}")
    messages = list(out)
    wrong = [f"[{i}] {m!r:.60}" for i, m in enumerate(messages) if not isinstance(m, _TYPES)]
    if wrong:
        raise UserError(f"history_processor {name} returned items that are not messages:", wrong)
    problems = conversation_problems(messages)
    if problems:
        raise UserError(
            f"history_processor {name} separated tool calls from their results "
            "(drop a call together with its results):",
            problems,
        )
    return messages


async def prepare_view(
    history: Sequence[Message],
    tools: Sequence[Mapping[str, Any]],
    trimmer: Trimmer,
    *,
    current: int | None = None,
    processor: HistoryProcessor | None = None,
    counter: TokenCounter | None = None,
    ask_above: float = 0.9,
) -> TrimResult:
    """The view to send for one request.

    Args:
        history: The whole conversation, system prompt first.
        tools: The tool definitions sent with it.
        trimmer: The conversation's trimmer (it keeps the cuts between requests).
        current: Index of the current run's prompt in `history`.
        processor: The user's `history_processor`, applied first.
        counter: The server's token counter: asked for the exact size when the estimate is
            within `ask_above` of the budget, and what it says recalibrates the estimator.
        ask_above: Share of the budget above which the counter is asked.

    Raises:
        ContextBudgetExceeded: The minimum does not fit.
        UserError: The processor broke the conversation.
    """
    messages = list(history)
    if processor is not None:
        messages = await run_history_processor(processor, messages)
        current = None  # its indices are its own: the last user message marks the turn
    result = trimmer.view(messages, tools, current=current)
    if counter is None or result.tokens < ask_above * trimmer.budget.max_input_tokens:
        return result
    exact = await counter(result.messages, tools)
    if exact is None:
        return result
    trimmer.estimator.observe(result.messages, tools, exact)
    return trimmer.view(messages, tools, current=current)
