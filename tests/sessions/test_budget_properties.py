"""Properties of the trimmed view over generated histories with parallel tool calls.

Whatever the history and the budget: the view fits by the estimator or the minimum truly
does not; no call loses its result nor a result its call; the system prompt and the current
turn stay; the view keeps the history's order; the history itself is never changed.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from agentkit.messages import (
    AssistantMessage,
    Message,
    SystemMessage,
    ToolCall,
    ToolMessage,
    UserMessage,
)
from agentkit.sessions import (
    ContextBudget,
    ContextBudgetExceeded,
    TokenEstimator,
    Trimmer,
    conversation_problems,
)

PROSE = st.text(alphabet="abcdefghij klmnop,.", min_size=0, max_size=300)


@st.composite
def text(draw: st.DrawFn) -> str:
    """Short prose, or now and then a long result (JSON-looking or not)."""
    if draw(st.integers(0, 5)) == 0:
        size = draw(st.integers(1_000, 30_000))
        return draw(st.sampled_from(["{", "x"])) + "r" * size
    return draw(PROSE)


@st.composite
def user_turn(draw: st.DrawFn, tag: int, in_progress: bool) -> list[Message]:
    messages: list[Message] = [UserMessage(draw(PROSE) or "q")]
    for step in range(draw(st.integers(0, 3))):
        calls = tuple(
            ToolCall("tool", {"arg": draw(PROSE)}, id=f"c{tag}-{step}-{i}")
            for i in range(draw(st.integers(1, 4)))  # parallel calls
        )
        messages.append(AssistantMessage(draw(st.none() | PROSE), calls))
        results = [ToolMessage(c.id, draw(text()), "tool") for c in calls]
        messages += draw(st.permutations(results))  # results in any order
    if not in_progress or draw(st.booleans()):
        messages.append(AssistantMessage(draw(PROSE)))
    return messages


@st.composite
def histories(draw: st.DrawFn) -> list[Message]:
    messages: list[Message] = []
    if draw(st.booleans()):
        messages.append(SystemMessage(draw(PROSE) or "system"))
    turns = draw(st.integers(1, 10))
    for t in range(turns):
        messages += draw(user_turn(t, in_progress=t == turns - 1))
    return messages


budgets = st.builds(
    ContextBudget,
    max_input_tokens=st.integers(50, 20_000),
    target=st.floats(0.3, 1.0),
    result_keep_tokens=st.integers(16, 600),
)


def minimum(history: Sequence[Message], budget: ContextBudget, estimator: TokenEstimator) -> int:
    """The estimate of the least the trimmer may send: system, and the current turn cut."""
    current = max(i for i, m in enumerate(history) if isinstance(m, UserMessage))
    keep: list[Message] = [m for m in history[:current] if isinstance(m, SystemMessage)]
    for m in history[current:]:
        if (
            isinstance(m, ToolMessage)
            and estimator.text_tokens(m.content) > 2 * budget.result_keep_tokens
        ):
            rate = len(m.content) / estimator.text_tokens(m.content)
            half = max(1, int(budget.result_keep_tokens * rate / 2))
            m = ToolMessage(m.tool_call_id, m.content[:half] + " " * 80 + m.content[-half:], m.name)
        keep.append(m)
    return estimator.estimate(keep)


def same_or_cut(view: Message, original: Message) -> bool:
    if view == original:
        return True
    return (
        isinstance(view, ToolMessage)
        and isinstance(original, ToolMessage)
        and (view.tool_call_id, view.name) == (original.tool_call_id, original.name)
        and "characters of this tool result cut" in view.content
        and len(view.content) < len(original.content)
    )


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories(), budgets, st.floats(0.5, 2.5))
def test_the_view_fits_and_keeps_every_call_with_its_results(
    history: list[Message], budget: ContextBudget, scale: float
) -> None:
    assert conversation_problems(history) == []  # the generator makes valid histories
    estimator = TokenEstimator()
    estimator.scale = scale  # as if recalibrated by a server's reports
    frozen = list(history)
    try:
        result = Trimmer(budget, estimator).view(history)
    except ContextBudgetExceeded as exc:
        error: ContextBudgetExceeded | None = exc
    else:
        error = None
    if error is not None:  # then even the minimum is over the budget
        assert error.needed > budget.max_input_tokens
        assert minimum(history, budget, estimator) > budget.max_input_tokens * 0.98
        assert history == frozen
        return
    view = result.messages
    assert history == frozen  # the stored history is never changed
    assert estimator.estimate(view) == result.tokens <= budget.max_input_tokens
    assert conversation_problems(view) == []  # no orphan call, no orphan result
    systems = [m for m in history if isinstance(m, SystemMessage)]
    assert [m for m in view if isinstance(m, SystemMessage)] == systems
    current = max(i for i, m in enumerate(history) if isinstance(m, UserMessage))
    tail = history[current:]
    assert len(view) >= len(tail)
    assert all(same_or_cut(v, o) for v, o in zip(view[-len(tail) :], tail, strict=True))
    # The view is the history in order, less whole turns, with some results cut.
    position = 0
    for message in view:
        while not same_or_cut(message, history[position]):
            position += 1
        position += 1
    if not result.trimmed:
        assert view == history


@pytest.mark.slow
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories(), st.lists(histories(), min_size=1, max_size=4), budgets)
def test_a_growing_history_keeps_its_cuts_until_the_budget_is_passed(
    start: list[Message], more: list[list[Message]], budget: ContextBudget
) -> None:
    trimmer = Trimmer(budget)
    history = list(start)
    try:
        previous = trimmer.view(history)
    except ContextBudgetExceeded:
        return
    for extra in more:
        # Later turns of the same conversation (ids made unique to this position).
        history += [_renamed(m, len(history)) for m in extra if not isinstance(m, SystemMessage)]
        try:
            result = trimmer.view(history)
        except ContextBudgetExceeded:
            return
        assert conversation_problems(result.messages) == []
        assert result.tokens <= budget.max_input_tokens
        if not result.trimmed and previous.messages != history[: len(previous.messages)]:
            # The same cuts as before: the earlier view is the start of this one.
            assert result.messages[: len(previous.messages)] == previous.messages
        previous = result


def _renamed(message: Message, offset: int) -> Message:
    if isinstance(message, AssistantMessage):
        calls = tuple(
            ToolCall(c.name, c.arguments, id=f"{c.id}@{offset}") for c in message.tool_calls
        )
        return AssistantMessage(message.content, calls)
    if isinstance(message, ToolMessage):
        return ToolMessage(f"{message.tool_call_id}@{offset}", message.content, message.name)
    return message
