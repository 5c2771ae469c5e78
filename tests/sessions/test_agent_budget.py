"""The context budget in the loop: the model gets the trimmed view; nothing else changes.

Through `Agent` with `ScriptedModel` (what the model was sent, typed) and `FakeServer`
(what went over the wire), with and without a session.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from agentkit import Agent, ContextBudgetExceeded, RunError, UserError
from agentkit.events import ContextTrimmed, ModelRequestStarted, event_to_dict
from agentkit.messages import (
    AssistantMessage,
    Message,
    SystemMessage,
    ToolCall,
    ToolMessage,
    Usage,
    UserMessage,
)
from agentkit.models import ModelResponse
from agentkit.sessions import MemorySession, SQLiteSession, TokenEstimator, conversation_problems
from agentkit.testing import Completion, FakeServer, ScriptedModel, call

pytestmark = pytest.mark.anyio

LLAMA = "meta-llama/llama-3.1-70b-instruct"


def read(name: str) -> str:
    """Read a document.

    Args:
        name: Its name.
    """
    return f"{name}: " + "lorem ipsum dolor sit amet " * 40


def old_turns(count: int, result_chars: int = 400) -> list[Message]:
    """Whole earlier turns: a question, a call, its (long) result, an answer."""
    messages: list[Message] = []
    for i in range(count):
        made = ToolCall("read", {"name": f"doc{i}"}, id=f"old-{i}")
        messages += [
            UserMessage(f"question {i} " * 10),
            AssistantMessage(None, (made,)),
            ToolMessage(made.id, (f"result {i} " * result_chars)[:result_chars], "read"),
            AssistantMessage(f"answer {i} " * 10),
        ]
    return messages


def estimate(messages: Sequence[Message], agent: Agent) -> int:
    return TokenEstimator().estimate(messages, agent.tools.definitions)


async def test_the_model_gets_the_trimmed_view_and_the_session_stays_whole() -> None:
    session = MemorySession()
    await session.append(old_turns(30))
    model = ScriptedModel([call("read", name="new"), "done"])
    agent = Agent(model, tools=[read], instructions="Be brief.", max_input_tokens=2_000)
    events = [e async for e in agent.stream("the new question", session=session)]
    first, second = model.requests
    for request in (first, second):
        assert estimate(request.messages, agent) <= 2_000
        assert request.messages[0] == SystemMessage("Be brief.")  # never dropped
        assert conversation_problems(request.messages) == []  # no call lost its result
    assert first.messages[-1] == UserMessage("the new question")  # the current turn is kept
    assert len(first.messages) < 30 * 4
    # The second request keeps the first one's cuts: the prompt's start stays the same.
    assert second.messages[: len(first.messages)] == first.messages
    trimmed = [e for e in events if isinstance(e, ContextTrimmed)]
    assert len(trimmed) == 1
    index = events.index(trimmed[0])
    assert isinstance(events[index + 1], ModelRequestStarted) and trimmed[0].turn == 1
    event = trimmed[0]
    assert event.budget == 2_000 and event.tokens <= 2_000 < event.tokens_before
    assert event.dropped_turns > 0 and event.dropped_messages == 4 * event.dropped_turns
    # The run's conversation and the stored session have everything.
    result = events[-1].result  # type: ignore[union-attr]
    stored = await session.load()
    assert stored[: 30 * 4] == old_turns(30)
    assert stored == [m for m in result.messages if not isinstance(m, SystemMessage)]


async def test_old_long_results_are_cut_before_any_turn_is_dropped() -> None:
    session = MemorySession()
    await session.append(old_turns(3, result_chars=40_000))
    model = ScriptedModel(["ok"])
    agent = Agent(model, max_input_tokens=6_000)
    events = [e async for e in agent.stream("now", session=session)]
    (event,) = [e for e in events if isinstance(e, ContextTrimmed)]
    assert (event.dropped_turns, event.cut_results) == (0, 3)
    sent = model.requests[0].messages
    assert len(sent) == 3 * 4 + 1
    originals = [m for m in old_turns(3, result_chars=40_000) if isinstance(m, ToolMessage)]
    cut = [m for m in sent if isinstance(m, ToolMessage)]
    for short, whole in zip(cut, originals, strict=True):
        assert "characters of this tool result cut to fit" in short.content
        head, tail = short.content.split("\n\n[...")[0], short.content.rsplit("]\n\n", 1)[1]
        assert whole.content.startswith(head) and whole.content.endswith(tail)  # kept ends
        assert len(short.content) < len(whole.content) // 10
    assert event.run_id and event.run_id == events[0].run_id  # RunStarted's
    assert event_to_dict(event) == {
        "type": "context_trimmed",
        "run_id": event.run_id,
        "turn": 1,
        "tokens_before": event.tokens_before,
        "tokens": event.tokens,
        "budget": 6_000,
        "dropped_turns": 0,
        "dropped_messages": 0,
        "cut_results": 3,
        "cut_chars": event.cut_chars,
    }


async def test_without_a_session_messages_are_trimmed_the_same_way() -> None:
    model = ScriptedModel(["ok"])
    agent = Agent(model, max_input_tokens=1_500)
    result = await agent.run("now", messages=old_turns(20))
    assert estimate(model.requests[0].messages, agent) <= 1_500
    assert result.messages[:80] == old_turns(20)  # the result has the whole conversation


async def test_when_even_the_minimum_does_not_fit_nothing_is_sent() -> None:
    session = MemorySession()
    await session.append(old_turns(2))
    model = ScriptedModel([])
    agent = Agent(model, instructions="x " * 2_000, max_input_tokens=1_000)
    with pytest.raises(ContextBudgetExceeded) as caught:
        await agent.run("hello", session=session)
    error = caught.value
    assert isinstance(error, RunError)
    assert error.budget == 1_000 and error.needed > 1_000
    assert "max_input_tokens" in str(error)
    assert model.requests == []  # refused before sending, not by the endpoint's 400
    assert error.messages[-1] == UserMessage("hello") and error.usage == Usage()
    assert await session.load() == old_turns(2)  # the unanswered prompt is not stored


async def test_the_default_budget_is_llama_31s_window_less_the_reply() -> None:
    huge = "word " * 500_000  # about 130k tokens by the estimate
    with pytest.raises(ContextBudgetExceeded) as caught:
        await Agent(ScriptedModel([], name=LLAMA)).run(huge)
    assert caught.value.budget == 131_072 - 16_384
    agent = Agent(ScriptedModel([], name=LLAMA), model_settings={"max_tokens": 1_024})
    with pytest.raises(ContextBudgetExceeded) as caught:
        await agent.run(huge)
    assert caught.value.budget == 131_072 - 1_024
    # A model agentkit does not know gets no budget: the prompt is sent as it is.
    model = ScriptedModel(["read it all"], name="my-own-model")
    assert (await Agent(model).run(huge)).output == "read it all"


async def test_the_estimate_is_recalibrated_from_the_reported_usage() -> None:
    # Under the budget by the estimate; the server reports twice as many prompt tokens,
    # so the next request (a little longer) is trimmed although the raw estimate fits.
    history = old_turns(12)
    agent = Agent(ScriptedModel([]), tools=[read])
    raw = estimate([*history, UserMessage("first")], agent)
    budget = int(raw * 1.3)
    reported = Usage(requests=1, prompt_tokens=2 * raw, completion_tokens=5)
    calls = (ToolCall("read", {"name": "x"}, "c1"),)
    reply = ModelResponse(AssistantMessage(None, calls), reported)
    model = ScriptedModel([reply, "done"])
    agent = Agent(model, tools=[read], max_input_tokens=budget)
    events = [e async for e in agent.stream("first", messages=history)]
    trimmed = [e for e in events if isinstance(e, ContextTrimmed)]
    assert [e.turn for e in trimmed] == [2]
    assert len(model.requests[0].messages) == len(history) + 1  # the first was whole
    assert len(model.requests[1].messages) < len(history) + 3


async def test_a_token_counter_near_the_budget_has_the_last_word() -> None:
    asked: list[int] = []

    async def counter(messages: Sequence[Message], tools: object) -> int | None:
        asked.append(len(messages))
        return 10 * estimate(messages, Agent(ScriptedModel([])))

    history = old_turns(10)
    budget = int(estimate([*history, UserMessage("q")], Agent(ScriptedModel([]))) * 1.05)
    model = ScriptedModel(["ok"])
    agent = Agent(model, max_input_tokens=budget, token_counter=counter)
    await agent.run("q", messages=history)
    assert asked  # the estimate was within 90% of the budget: the server was asked
    assert len(model.requests[0].messages) < len(history) + 1  # and its count trimmed it


async def test_a_history_processor_sees_the_history_and_the_model_gets_its_answer() -> None:
    seen: list[list[Message]] = []

    async def keep_last_turn(messages: list[Message]) -> list[Message]:
        seen.append(messages)
        return [messages[0], *messages[-1:]]

    session = MemorySession()
    await session.append(old_turns(3))
    model = ScriptedModel(["ok"])
    agent = Agent(model, instructions="Sys.", history_processor=keep_last_turn)
    await agent.run("latest", session=session)
    assert model.requests[0].messages == [SystemMessage("Sys."), UserMessage("latest")]
    assert seen[0][1:13] == old_turns(3)  # it got the whole history, system prompt first
    assert len(await session.load()) == 3 * 4 + 2  # the session is unchanged by it

    def breaks_a_call(messages: list[Message]) -> list[Message]:
        return [m for m in messages if not isinstance(m, ToolMessage)]

    agent = Agent(ScriptedModel([]), history_processor=breaks_a_call)
    with pytest.raises(UserError, match="separated tool calls from their results"):
        await agent.run("x", messages=old_turns(1))


async def test_the_trimmed_view_is_what_goes_over_the_wire(fake_server: FakeServer) -> None:
    fake_server.add(Completion("answered"))
    agent = Agent(LLAMA, base_url=fake_server.url, api_key="test", max_input_tokens=1_500)
    async with agent:
        result = await agent.run("the question", messages=old_turns(25))
    sent = fake_server.chat_requests[0].messages
    assert result.output == "answered"
    assert sent[-1] == {"role": "user", "content": "the question"}
    assert len(sent) < 25 * 4
    ids = {c["id"] for m in sent for c in m.get("tool_calls") or ()}
    assert ids == {m["tool_call_id"] for m in sent if m["role"] == "tool"}  # no orphans


async def test_hysteresis_carries_over_between_runs_on_one_session(tmp_path: object) -> None:
    session = SQLiteSession("s", f"{tmp_path}/s.db")
    await session.append(old_turns(30))
    model = ScriptedModel(["one", "two"])
    agent = Agent(model, max_input_tokens=2_000)
    first = [e async for e in agent.stream("first", session=session)]
    second = [e async for e in agent.stream("second", session=session)]
    assert sum(isinstance(e, ContextTrimmed) for e in first) == 1
    assert not any(isinstance(e, ContextTrimmed) for e in second)  # the same cuts, kept
    a, b = (r.messages for r in model.requests)
    assert b[: len(a)] == a  # the second prompt starts as the first did


def test_bad_budget_settings_are_refused_with_every_problem() -> None:
    with pytest.raises(UserError) as listed:
        Agent(ScriptedModel([]), max_input_tokens=0, max_turns=0)
    assert "max_input_tokens must be a whole number >= 1" in str(listed.value)
    assert "max_turns must be" in str(listed.value)  # listed with the others
    with pytest.raises(UserError) as caught:
        Agent(
            ScriptedModel([]),
            history_processor="summary",  # type: ignore[arg-type]
            token_counter=5,  # type: ignore[arg-type]
        )
    text = str(caught.value)
    assert "history_processor must be a function" in text
    assert "token_counter must be a function" in text
    with pytest.raises(UserError, match="leaves no room for the prompt"):
        Agent(ScriptedModel([], name=LLAMA), model_settings={"max_tokens": 200_000})


def test_the_settings_are_part_of_the_config_and_replace_keeps_them() -> None:
    def processor(messages: list[Message]) -> list[Message]:
        return messages

    agent = Agent(ScriptedModel([]), max_input_tokens=9_000, history_processor=processor)
    assert agent.config.max_input_tokens == 9_000
    again = agent.replace(max_turns=3)
    assert again.config.max_input_tokens == 9_000 and again.config.history_processor is processor


async def test_a_probed_llama_cpp_tokenizer_is_used_near_the_budget_without_being_asked() -> None:
    from _probe_profiles import PROFILES

    from agentkit.models import OpenAIModel
    from agentkit.testing import FakeRequest, Raw

    profile = PROFILES["llama.cpp-like"]
    seen: list[str] = []

    def apply_template(request: FakeRequest) -> Raw:
        seen.append("/apply-template")
        return Raw(
            '{"prompt": "' + "word " * 5000 + '"}', headers={"content-type": "application/json"}
        )

    def tokenize(request: FakeRequest) -> Raw:
        seen.append("/tokenize")
        count = len(str(request.body.get("content", "")).split()) or 1  # the probe's short text
        return Raw(
            f'{{"tokens": {list(range(count))}}}', headers={"content-type": "application/json"}
        )

    routes = {"POST /apply-template": apply_template, "POST /tokenize": tokenize}
    with FakeServer(handler=profile.handler, routes=routes) as server:
        found = await OpenAIModel("m", base_url=server.url, api_key="sk-probe-0123456789").probe()
        assert found.result("tokenize") == "available"  # saved in the cache for later runs
        seen.clear()
        history = old_turns(10)
        budget = int(estimate([*history, UserMessage("q")], Agent(ScriptedModel([]))) * 1.05)
        server.handler = lambda request: Completion("ok")
        agent = Agent(
            OpenAIModel("m", base_url=server.url, api_key="sk-probe-0123456789"),
            max_input_tokens=budget,
        )
        await agent.run("q", messages=history)
        sent = server.chat_requests[-1].messages
    assert seen[:2] == ["/apply-template", "/tokenize"]  # near the budget: the server counted
    assert len(sent) < len(history) + 1  # and its 5,000 tokens made the run trim
