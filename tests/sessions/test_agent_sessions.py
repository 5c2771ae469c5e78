"""`agent.run(prompt, session=...)`, `stream` and `run_sync`: history, whole turns, the lease.

Each test runs on a `MemorySession` and on a `SQLiteSession` in a real file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from agentkit import Agent, MaxTurnsExceeded, ModelError, SessionBusy, UserError
from agentkit.events import ModelReplyFinished, RunFinished, ToolCallStarted
from agentkit.messages import AssistantMessage, SystemMessage, ToolMessage, UserMessage
from agentkit.sessions import (
    MemoryStore,
    Session,
    SessionStore,
    SQLiteSession,
    SQLiteStore,
    conversation_problems,
)
from agentkit.testing import ScriptedModel, call

pytestmark = pytest.mark.anyio


def add(a: int, b: int) -> int:
    """Add two numbers.

    Args:
        a: The first.
        b: The second.
    """
    return a + b


async def wait_forever(reason: str) -> str:
    """Wait until cancelled.

    Args:
        reason: Why.
    """
    await anyio.sleep_forever()
    return "not reached"


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SessionStore]:
    if request.param == "memory":
        yield MemoryStore()
        return
    sqlite = SQLiteStore(tmp_path / "sessions.db")
    yield sqlite
    sqlite.close()


def roles(messages: Any) -> list[str]:
    return [m.role for m in messages]


async def test_a_run_loads_the_history_and_stores_each_whole_turn(store: SessionStore) -> None:
    session = store.session("s")
    model = ScriptedModel([call("add", a=1, b=2), "3", "and 4"])
    agent = Agent(model, tools=[add], instructions="Be brief.")
    first = await agent.run("1+2?", session=session)
    assert first.output == "3"
    second = await agent.run("and +1?", session=session)
    assert second.output == "and 4"
    # The second run's request carried the first run's conversation, after the system prompt.
    sent = model.requests[2].messages
    assert roles(sent) == ["system", "user", "assistant", "tool", "assistant", "user"]
    assert sent[-1] == UserMessage("and +1?")
    stored = await session.load()
    assert roles(stored) == ["user", "assistant", "tool", "assistant", "user", "assistant"]
    assert not any(isinstance(m, SystemMessage) for m in stored)  # never the system prompt
    assert stored == [m for m in second.messages if not isinstance(m, SystemMessage)]
    assert conversation_problems(stored) == []
    model.assert_done()


async def test_each_run_is_recorded_with_its_model_usage_and_timing(store: SessionStore) -> None:
    session = store.session("s")
    agent = Agent(ScriptedModel([call("add", a=1, b=2), "3"], name="llama-x"), tools=[add])
    result = await agent.run("1+2?", session=session)
    (record,) = await session.runs()
    assert (record.model, record.status, record.error) == ("llama-x", "ok", None)
    assert record.usage == result.usage
    assert (record.usage.requests, record.usage.tool_calls) == (2, 1)
    assert record.duration is not None and record.duration >= 0
    info = await session.info()
    assert info is not None and info.title == "1+2?" and info.usage == result.usage


async def test_changed_instructions_apply_to_an_old_session(store: SessionStore) -> None:
    session = store.session("s")
    await Agent(ScriptedModel(["hi"]), instructions="Old rules.").run("hello", session=session)
    model = ScriptedModel(["hi again"])
    await Agent(model, instructions="New rules.").run("hello?", session=session)
    assert model.requests[0].messages[0] == SystemMessage("New rules.")
    assert roles(model.requests[0].messages) == ["system", "user", "assistant", "user"]


async def test_stream_and_run_sync_take_a_session_too(store: SessionStore) -> None:
    session = store.session("s")
    model = ScriptedModel(["streamed answer", "second"])
    agent = Agent(model)
    events = [e async for e in agent.stream("first", session=session)]
    assert isinstance(events[-1], RunFinished)
    assert roles(await session.load()) == ["user", "assistant"]
    await Agent(model).run("again", session=session)
    assert roles(model.requests[1].messages) == ["user", "assistant", "user"]


def test_run_sync_stores_into_the_session(tmp_path: Path) -> None:
    session = SQLiteSession("s", tmp_path / "s.db")
    agent = Agent(ScriptedModel(["one", "two"]))
    agent.run_sync("first", session=session)
    result = agent.run_sync("second", session=session)
    assert [m.content for m in result.messages] == ["first", "one", "second", "two"]
    assert anyio.run(session.load) == result.messages


async def test_messages_and_session_together_are_refused(store: SessionStore) -> None:
    agent = Agent(ScriptedModel([]))
    with pytest.raises(UserError, match="session= or messages=, not both"):
        await agent.run("hi", session=store.session("s"), messages=[UserMessage("earlier")])
    with pytest.raises(UserError, match="session= must be a session"):
        await agent.run("hi", session="s")  # type: ignore[arg-type]


async def test_a_bad_prompt_is_refused_before_the_session_is_taken(store: SessionStore) -> None:
    session = store.session("s")
    with pytest.raises(UserError, match="the prompt must be a string"):
        await Agent(ScriptedModel([])).run(42, session=session)  # type: ignore[arg-type]
    assert await session.runs() == []


async def test_a_failed_run_keeps_its_valid_conversation_to_continue(
    store: SessionStore,
) -> None:
    session = store.session("s")
    model = ScriptedModel([call("add", a=1, b=1), call("add", a=2, b=2), "done"])
    with pytest.raises(MaxTurnsExceeded) as caught:
        await Agent(model, tools=[add], max_turns=2).run("keep adding", session=session)
    stored = await session.load()
    assert stored == caught.value.messages  # all of it: both turns, every call answered
    assert conversation_problems(stored) == []
    (record,) = await session.runs()
    assert record.status == "failed" and "MaxTurnsExceeded" in (record.error or "")
    assert record.usage.requests == 2
    result = await Agent(model, tools=[add]).run("go on", session=session)
    assert result.output == "done"
    assert len(model.requests[2].messages) == len(stored) + 1


async def test_a_prompt_the_model_never_answered_is_not_stored(store: SessionStore) -> None:
    session = store.session("s")
    agent = Agent(ScriptedModel([ModelError("the endpoint is down", status=503)]))
    with pytest.raises(ModelError):
        await agent.run("hello", session=session)
    assert await session.load() == []  # asking again will not send "hello" twice
    (record,) = await session.runs()
    assert record.status == "failed" and "the endpoint is down" in (record.error or "")


async def test_a_cancelled_run_stores_its_whole_turns_not_the_one_in_flight(
    store: SessionStore,
) -> None:
    session = store.session("s")
    model = ScriptedModel([call("add", a=1, b=2), call("wait_forever", reason="x")])
    agent = Agent(model, tools=[add, wait_forever])
    started = anyio.Event()

    async def run() -> None:
        async for event in agent.stream("go", session=session):
            if isinstance(event, ToolCallStarted) and event.name == "wait_forever":
                started.set()

    async with anyio.create_task_group() as group:
        group.start_soon(run)
        await started.wait()
        group.cancel_scope.cancel()
    stored = await session.load()
    assert roles(stored) == ["user", "assistant", "tool"]  # the first turn, whole
    assert conversation_problems(stored) == []
    (record,) = await session.runs()
    assert record.status == "cancelled" and record.usage.requests == 2
    # The session is free again, and continues from the stored turn.
    model2 = ScriptedModel(["back"])
    await Agent(model2, tools=[add, wait_forever]).run("again", session=session)
    assert roles(model2.requests[0].messages) == ["user", "assistant", "tool", "user"]


async def test_an_abandoned_stream_gives_the_session_back_when_closed(
    store: SessionStore,
) -> None:
    session = store.session("s")
    agent = Agent(ScriptedModel([call("add", a=1, b=2), "3"]), tools=[add])
    events = agent.stream("1+2?", session=session)
    async for event in events:
        if isinstance(event, ModelReplyFinished):
            break
    await events.aclose()  # type: ignore[attr-defined]
    assert await session.load() == []  # the turn in flight was not stored
    (record,) = await session.runs()
    assert record.status == "cancelled"
    assert (await Agent(ScriptedModel(["ok"])).run("hi", session=session)).output == "ok"


async def test_a_second_run_on_a_held_session_is_refused_or_waits(store: SessionStore) -> None:
    session = store.session("s")
    release = anyio.Event()
    holding = anyio.Event()

    async def slow(text: str) -> str:
        """Hold on.

        Args:
            text: Anything.
        """
        holding.set()
        await release.wait()
        return "held"

    first = Agent(ScriptedModel([call("slow", text="x"), "first done"]), tools=[slow])
    second = Agent(ScriptedModel(["second done"]))
    outputs: list[str] = []

    async def run_first() -> None:
        outputs.append((await first.run("one", session=session)).output)

    async def run_second_waiting() -> None:
        waiting = store.session("s", wait=30)  # queues behind the first run
        outputs.append((await second.run("two", session=waiting)).output)

    async with anyio.create_task_group() as group:
        group.start_soon(run_first)
        await holding.wait()
        with pytest.raises(SessionBusy) as busy:
            await second.run("two", session=store.session("s"))
        assert busy.value.name == "s" and "in use by another run" in str(busy.value)
        group.start_soon(run_second_waiting)
        await anyio.sleep(0.05)
        release.set()
    assert outputs == ["first done", "second done"]
    stored = await session.load()
    # Never interleaved: the second run came after the whole first one.
    assert [m.content for m in stored if not isinstance(m, ToolMessage)] == [
        "one",
        None,
        "first done",
        "two",
        "second done",
    ]
    assert [r.status for r in await session.runs()] == ["ok", "ok"]


async def test_an_output_type_run_stores_the_final_result_call_with_its_result(
    store: SessionStore,
) -> None:
    from pydantic import BaseModel

    class Sum(BaseModel):
        total: int

    session: Session = store.session("s")
    model = ScriptedModel([call("final_result", total=3)])
    result = await Agent(model, output_type=Sum).run("1+2", session=session)
    assert result.output == Sum(total=3)
    stored = await session.load()
    assert roles(stored) == ["user", "assistant", "tool"]
    assert isinstance(stored[1], AssistantMessage) and stored[1].tool_calls[0].name == (
        "final_result"
    )
    assert conversation_problems(stored) == []


def test_a_bad_wait_is_refused_where_the_session_is_made(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="wait must be a number of seconds >= 0"):
        SQLiteSession("s", tmp_path / "s.db", wait=-1)
    with pytest.raises(UserError, match="wait must be"):
        MemoryStore().session("s", wait=float("nan"))


async def test_an_answer_a_guardrail_stopped_is_not_stored(store: SessionStore) -> None:
    from agentkit import GuardrailTripped
    from agentkit.guardrails import GuardrailCheck, Verdict

    def no_secret(check: GuardrailCheck) -> Verdict | None:
        return Verdict.trip("says 'secret'") if "secret" in check.content else None

    session = store.session("s")
    model = ScriptedModel([call("add", a=1, b=2), "the secret is 3", "it is 3"])
    agent = Agent(model, tools=[add], output_guardrails=[no_secret])
    with pytest.raises(GuardrailTripped):
        await agent.run("1+2?", session=session)
    stored = await session.load()
    # The whole first turn stays; the answer the guardrail stopped is not kept to be resent.
    assert roles(stored) == ["user", "assistant", "tool"]
    assert "secret" not in str(stored)
    (record,) = await session.runs()
    assert record.status == "failed" and "GuardrailTripped" in (record.error or "")
    assert (await agent.run("again?", session=session)).output == "it is 3"


async def test_hooks_see_the_trimmed_event_with_the_run_id(store: SessionStore) -> None:
    seen: list[Any] = []
    session = store.session("s")
    await session.append([UserMessage("old " * 4_000), AssistantMessage("noted")])
    agent = Agent(ScriptedModel(["ok"]), hooks=[seen.append], max_input_tokens=500)
    await agent.run("now", session=session)
    kinds = [e.type for e in seen]
    assert kinds[:3] == ["run_started", "context_trimmed", "model_request_started"]
    assert seen[1].run_id == seen[0].run_id
    # The request event carries what was sent: the trimmed view.
    assert [m.content for m in seen[2].messages] == ["now"]
