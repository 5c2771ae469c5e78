"""The trimmer: what it cuts first, what it never drops, hysteresis, and its errors."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from agentkit.errors import RunError, UserError
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
    default_input_budget,
    prepare_view,
)

pytestmark = pytest.mark.anyio

SYSTEM = SystemMessage("You are terse.")


def exchange(tag: str, result_chars: int = 100, calls: int = 1) -> list[Message]:
    made = tuple(ToolCall("read", {"f": f"{tag}{i}"}, id=f"{tag}-{i}") for i in range(calls))
    return [
        UserMessage(f"question {tag} " * 5),
        AssistantMessage(None, made),
        *[ToolMessage(c.id, (f"{tag} data " * result_chars)[:result_chars], "read") for c in made],
        AssistantMessage(f"answer {tag} " * 5),
    ]


def history(turns: int, result_chars: int = 100) -> list[Message]:
    return [SYSTEM, *[m for t in range(turns) for m in exchange(f"t{t}", result_chars)]]


def tokens(messages: Sequence[Message]) -> int:
    return TokenEstimator().estimate(messages)


def test_the_default_budget_is_the_llama_window_less_the_reply() -> None:
    assert default_input_budget() == 131_072 - 16_384
    assert default_input_budget(8192, 1024) == 7168
    assert ContextBudget().max_input_tokens == default_input_budget()


def test_a_history_under_the_budget_is_sent_as_it_is() -> None:
    h = history(3)
    result = Trimmer(ContextBudget(10_000)).view(h)
    assert result.messages == h and result.messages is not h
    assert not result.trimmed and result.tokens == result.tokens_before == tokens(h)


def test_oversized_old_results_are_cut_first_keeping_head_and_tail() -> None:
    h = [SYSTEM, *exchange("old", result_chars=40_000), *exchange("new")]
    budget = ContextBudget(tokens(h) // 2, result_keep_tokens=100)
    result = Trimmer(budget).view(h)
    assert (result.trimmed, result.dropped_turns, result.cut_results) == (True, 0, 1)
    cut = result.messages[3]
    assert isinstance(cut, ToolMessage) and cut.tool_call_id == "old-0"
    original = h[3].content or ""
    head, rest = cut.content.split("\n\n[... ", 1)
    marker, tail = rest.split(" ...]\n\n", 1)
    assert original.startswith(head) and original.endswith(tail) and head and tail
    assert len(head) + result.cut_chars + len(tail) == len(original)
    assert marker.startswith(f"{result.cut_chars:,} characters")
    assert h[3].content == original  # the history itself is untouched
    assert result.tokens <= budget.max_input_tokens


def test_then_the_oldest_whole_turns_are_dropped() -> None:
    h = history(20)
    budget = ContextBudget(tokens(h) // 2)
    result = Trimmer(budget).view(h)
    assert result.dropped_turns > 0 and result.cut_results == 0
    assert result.messages[0] == SYSTEM
    assert result.messages[1:] == h[1 + 4 * result.dropped_turns :]  # a clean cut at a turn
    assert result.dropped_messages == 4 * result.dropped_turns
    assert result.tokens <= budget.target * budget.max_input_tokens


def test_the_current_turn_is_kept_and_its_big_results_cut_rather_than_failing() -> None:
    current = exchange("now", result_chars=60_000, calls=2)
    h = [SYSTEM, *history(5)[1:], *current]
    budget = ContextBudget(3_000, result_keep_tokens=200)
    result = Trimmer(budget).view(h)
    assert result.messages[0] == SYSTEM
    assert [m.role for m in result.messages[1:]] == [m.role for m in current]
    assert result.messages[1] == current[0]
    assert result.dropped_turns == 5 and result.cut_results == 2
    assert conversation_problems(result.messages) == []


def test_current_protects_the_runs_prompt_past_later_user_messages() -> None:
    prompt = UserMessage("the real question " * 50)
    nudge = UserMessage("Your reply was empty. Answer the question.")
    h = [SYSTEM, *history(6)[1:], prompt, AssistantMessage(""), nudge]
    budget = ContextBudget(tokens([SYSTEM, prompt, nudge]) + 60)
    result = Trimmer(budget).view(h, current=h.index(prompt))
    assert prompt in result.messages and nudge in result.messages


def test_a_system_message_in_the_middle_is_never_dropped() -> None:
    note = SystemMessage("Mid-conversation instruction.")
    h = [SYSTEM, *exchange("a"), note, *exchange("b"), *exchange("c"), *exchange("d")]
    result = Trimmer(ContextBudget(tokens(h) // 2)).view(h)
    assert result.dropped_turns >= 1 and note in result.messages


def test_when_even_the_minimum_does_not_fit_it_raises_before_sending() -> None:
    h = [SystemMessage("rules " * 2000), *exchange("a")]
    with pytest.raises(ContextBudgetExceeded, match="max_input_tokens") as caught:
        Trimmer(ContextBudget(500)).view(h)
    assert isinstance(caught.value, RunError)
    assert caught.value.budget == 500 and caught.value.needed > 500


def test_tools_count_against_the_budget() -> None:
    tools = [
        {"type": "function", "function": {"name": f"t{i}", "description": "d " * 200}}
        for i in range(20)
    ]
    h = history(1)
    assert Trimmer(ContextBudget(2000)).view(h).trimmed is False
    with pytest.raises(ContextBudgetExceeded):
        Trimmer(ContextBudget(2000)).view(h, tools)


def test_hysteresis_keeps_the_same_prefix_until_the_budget_is_passed_again() -> None:
    h = history(30)
    budget = ContextBudget(tokens(h) // 2, target=0.6)
    trimmer = Trimmer(budget)
    first = trimmer.view(h)
    assert first.trimmed and first.tokens <= 0.6 * budget.max_input_tokens + 1
    grown = list(h)
    views = [first]
    for t in range(30, 60):
        grown += exchange(f"t{t}")
        views.append(trimmer.view(grown))
        if views[-1].trimmed:
            break
    steady = views[1:-1]
    assert steady, "the room left by the target allowed no growth"
    for view in steady:  # the same cuts: the earlier view is a prefix of the later one
        assert not view.trimmed
        assert view.messages[: len(first.messages)] == first.messages
        assert view.tokens <= budget.max_input_tokens
    assert views[-1].trimmed and views[-1].dropped_turns > first.dropped_turns


def test_a_different_history_gets_new_cuts() -> None:
    trimmer = Trimmer(ContextBudget(tokens(history(30)) // 2))
    trimmer.view(history(30))
    other = [SYSTEM, *exchange("x"), *exchange("y")]
    assert trimmer.view(other).messages == other


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("max_input_tokens", 0, "max_input_tokens"),
        ("target", 1.5, "target"),
        ("result_keep_tokens", 3, "result_keep_tokens"),
    ],
)
def test_a_bad_budget_is_a_user_error(field: str, value: object, problem: str) -> None:
    with pytest.raises(UserError, match=problem):
        ContextBudget(**{field: value})  # type: ignore[arg-type]


async def test_a_history_processor_runs_first_sync_or_async() -> None:
    h = history(4)

    def keep_last_turn(messages: list[Message]) -> list[Message]:
        return [messages[0], *messages[-4:]]

    async def async_keep(messages: list[Message]) -> list[Message]:
        return keep_last_turn(messages)

    for processor in (keep_last_turn, async_keep):
        result = await prepare_view(h, [], Trimmer(ContextBudget(10_000)), processor=processor)
        assert result.messages == [h[0], *h[-4:]]


async def test_a_history_processor_that_orphans_a_call_is_refused() -> None:
    def drop_results(messages: list[Message]) -> list[Message]:
        return [m for m in messages if not isinstance(m, ToolMessage)]

    with pytest.raises(UserError, match="drop_results separated tool calls"):
        await prepare_view(history(2), [], Trimmer(), processor=drop_results)
    with pytest.raises(UserError, match="must return a list"):
        await prepare_view(history(2), [], Trimmer(), processor=lambda m: None)  # type: ignore[arg-type,return-value]


async def test_the_server_count_is_asked_near_the_budget_and_recalibrates() -> None:
    h = history(10)
    asked: list[int] = []

    async def counter(messages: Sequence[Message], tools: object) -> int:
        asked.append(len(messages))
        return 2 * TokenEstimator().estimate(messages)  # the server's tokenizer says double

    far = Trimmer(ContextBudget(10 * tokens(h)))
    await prepare_view(h, [], far, counter=counter)
    assert asked == []  # far from the budget: no request
    near = Trimmer(ContextBudget(int(tokens(h) * 1.05)))
    result = await prepare_view(h, [], near, counter=counter)
    assert asked == [len(h)]
    assert near.estimator.scale == pytest.approx(2.0, rel=0.01)
    assert result.trimmed and result.tokens <= near.budget.max_input_tokens
