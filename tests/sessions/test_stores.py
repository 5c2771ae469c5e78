"""The behaviour every session store shares, run on MemoryStore and SQLiteStore alike."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from _session_turns import turn

from agentkit.errors import UserError
from agentkit.messages import (
    AssistantMessage,
    Message,
    SystemMessage,
    ToolCall,
    ToolMessage,
    Usage,
    UserMessage,
)
from agentkit.sessions import (
    MemoryStore,
    Session,
    SessionBusy,
    SessionError,
    SessionNotFound,
    SessionStore,
    SQLiteStore,
    conversation_problems,
)

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SessionStore]:
    if request.param == "memory":
        yield MemoryStore()
        return
    sqlite = SQLiteStore(tmp_path / "sessions.db")
    yield sqlite
    sqlite.close()


def test_stores_and_sessions_satisfy_the_protocols(store: SessionStore) -> None:
    assert isinstance(store, SessionStore)
    assert isinstance(store.session("a"), Session)


async def test_a_new_session_is_empty_and_not_listed(store: SessionStore) -> None:
    session = store.session("new")
    assert await session.load() == []
    assert await session.info() is None
    assert await store.sessions() == []


async def test_every_kind_of_message_comes_back_equal(store: SessionStore) -> None:
    weird = ToolCall("f", None, id="odd", raw_arguments="{not json")
    messages: list[Message] = [
        SystemMessage("rules"),
        UserMessage("héllo 🌍"),
        AssistantMessage("thinking", (ToolCall("g", {"n": [1, {"x": None}]}, id="c1"), weird)),
        ToolMessage("c1", "ok", "g"),
        ToolMessage("odd", "bad arguments", None),
        AssistantMessage(""),
    ]
    session = store.session("s")
    await session.append(messages)
    assert await session.load() == messages
    assert await store.session("s").load() == messages  # a fresh object reads the same


async def test_appends_accumulate_in_order_and_count_as_turns(store: SessionStore) -> None:
    session = store.session("s")
    for tag in ("a", "b", "c"):
        await session.append(turn(tag))
    loaded = await session.load()
    assert loaded == turn("a") + turn("b") + turn("c")
    info = await session.info()
    assert info is not None
    assert (info.messages, info.turns, info.title) == (len(loaded), 3, "question a")


@pytest.mark.parametrize(
    ("block", "problem"),
    [
        (turn("x")[:2], "has no result"),  # the calls without their results
        (turn("x")[2:], "answers no call"),  # results without their call
        ([], "nothing to append"),
    ],
)
async def test_a_partial_turn_is_refused_and_nothing_is_stored(
    store: SessionStore, block: list[object], problem: str
) -> None:
    session = store.session("s")
    await session.append(turn("a"))
    with pytest.raises(UserError, match=problem):
        await session.append(block)  # type: ignore[arg-type]
    assert await session.load() == turn("a")


async def test_append_refuses_what_is_not_a_message(store: SessionStore) -> None:
    with pytest.raises(UserError, match="typed messages"):
        await store.session("s").append([{"role": "user", "content": "hi"}])  # type: ignore[list-item]


async def test_clear_forgets_the_messages_and_keeps_the_runs(store: SessionStore) -> None:
    session = store.session("s")
    async with session.run(model="m") as run:
        await run.commit(turn("a"))
    await session.clear()
    assert await session.load() == []
    assert len(await session.runs()) == 1
    await session.append(turn("b"))
    assert await session.load() == turn("b")


async def test_a_run_records_model_usage_timing_and_status(store: SessionStore) -> None:
    session = store.session("s")
    async with session.run(model="llama") as run:
        await run.commit(turn("a"), usage=Usage(1, 100, 10, 2, 0.01))
        run.usage = Usage(2, 250, 30, 2, 0.02)  # a later reply, after the last commit
    (record,) = await session.runs()
    assert (record.model, record.status, record.error) == ("llama", "ok", None)
    assert record.usage == Usage(2, 250, 30, 2, 0.02)
    assert record.duration is not None and record.duration >= 0
    info = await session.info()
    assert info is not None and info.usage.prompt_tokens == 250 and info.runs == 1


async def test_a_failed_run_is_recorded_with_its_error(store: SessionStore) -> None:
    session = store.session("s")
    with pytest.raises(RuntimeError):
        async with session.run(model="m"):
            raise RuntimeError("endpoint down")
    (record,) = await session.runs()
    assert record.status == "failed"
    assert record.error == "RuntimeError: endpoint down"


async def test_a_cancelled_run_is_recorded_and_frees_the_session(store: SessionStore) -> None:
    session = store.session("s")
    with anyio.CancelScope() as scope:  # cancelled after the commit, however slow it was
        async with session.run() as run:
            await run.commit(turn("a"))
            scope.cancel()
            await anyio.sleep(10)
    (record,) = await session.runs()
    assert record.status == "cancelled"
    async with session.run():  # the lease was given back
        pass
    assert await session.load() == turn("a")


async def test_a_second_run_is_refused_while_the_first_holds_the_session(
    store: SessionStore,
) -> None:
    session = store.session("s")
    async with session.run() as run:
        with pytest.raises(SessionBusy, match="in use by another run") as caught:
            async with store.session("s").run():
                pass
        assert caught.value.name == "s"
        with pytest.raises(SessionBusy):
            await session.append(turn("intruder"))
        with pytest.raises(SessionBusy):
            await session.clear()
        with pytest.raises(SessionBusy):
            await store.remove("s")
        await run.commit(turn("a"))
    assert await session.load() == turn("a")


async def test_a_second_run_can_wait_for_the_first(store: SessionStore) -> None:
    session = store.session("s")
    order: list[str] = []
    held = anyio.Event()

    async def first() -> None:
        async with session.run() as run:
            held.set()
            await anyio.sleep(0.1)
            await run.commit(turn("first"))
            order.append("first")

    async def second() -> None:
        await held.wait()
        async with session.run(wait=5) as run:
            await run.commit(turn("second"))
            order.append("second")

    async with anyio.create_task_group() as tg:
        tg.start_soon(first)
        tg.start_soon(second)
    assert order == ["first", "second"]
    assert await session.load() == turn("first") + turn("second")


async def test_a_bad_wait_is_a_user_error(store: SessionStore) -> None:
    with pytest.raises(UserError, match="wait must be"):
        async with store.session("s").run(wait=-1):
            pass


async def test_sessions_are_listed_newest_first_and_removed(store: SessionStore) -> None:
    for name in ("one", "two", "three"):
        await store.session(name).append(turn(name))
        await anyio.sleep(0.01)
    assert [i.name for i in await store.sessions()] == ["three", "two", "one"]
    assert [i.name for i in await store.sessions(limit=1)] == ["three"]
    latest = await store.latest()
    assert latest is not None and latest.name == "three"
    assert await store.remove("two") is True
    assert await store.remove("two") is False
    assert [i.name for i in await store.sessions()] == ["three", "one"]
    assert await store.session("two").load() == []


async def test_latest_is_the_newest_session_that_holds_a_conversation(
    store: SessionStore,
) -> None:
    await store.session("talk").append(turn("banana"))
    await anyio.sleep(0.01)
    with pytest.raises(RuntimeError):  # a run that failed before the model ever answered
        async with store.session("failed").run(model="m"):
            raise RuntimeError("endpoint down")
    latest = await store.latest()
    assert latest is not None and latest.name == "talk"  # not the empty one
    await store.session("emptied").append(turn("x"))
    await store.session("emptied").clear()
    latest = await store.latest()
    assert latest is not None and latest.name == "talk"
    await store.remove("talk")
    assert await store.latest() is None


async def test_remove_if_empty_drops_only_a_session_that_holds_nothing(
    store: SessionStore,
) -> None:
    with pytest.raises(RuntimeError):
        async with store.session("failed").run(model="m"):
            raise RuntimeError("endpoint down")
    assert await store.remove_if_empty("failed") is True
    assert await store.session("failed").info() is None
    assert await store.session("failed").runs() == []
    assert await store.remove_if_empty("failed") is False  # gone already
    await store.session("talk").append(turn("a"))
    assert await store.remove_if_empty("talk") is False  # it holds a conversation

    async def spend_and_fail() -> None:  # a run that used the model, though nothing was kept
        async with store.session("spent").run(model="m") as run:
            run.usage = Usage(1, 100, 5)
            raise RuntimeError("the guardrail stopped the answer")

    with pytest.raises(RuntimeError):
        await spend_and_fail()
    assert await store.remove_if_empty("spent") is False  # its cost stays on record
    held = store.session("held")
    async with held.run():
        assert await store.remove_if_empty("held") is False  # a run holds it
    assert await store.remove_if_empty("held") is True
    assert {i.name for i in await store.sessions()} == {"spent", "talk"}


async def test_fork_copies_the_conversation_and_then_they_diverge(store: SessionStore) -> None:
    await store.session("main").append(turn("a"))
    fork = await store.fork("main", "branch")
    await fork.append(turn("b"))
    assert await store.session("main").load() == turn("a")
    assert await fork.load() == turn("a") + turn("b")
    info = await fork.info()
    assert info is not None and info.forked_from == "main"
    with pytest.raises(SessionError, match="exists already"):
        await store.fork("main", "branch")
    with pytest.raises(SessionNotFound, match="no session named 'ghost'"):
        await store.fork("ghost", "x")


async def test_search_finds_every_word_across_sessions(store: SessionStore) -> None:
    await store.session("trip").append(
        [UserMessage("What is the weather in Paris?"), AssistantMessage("Sunny in Paris.")]
    )
    await store.session("work").append([UserMessage("Paris office budget for next year")])
    hits = await store.search("paris weather")
    assert [(h.session, h.position, h.role) for h in hits] == [("trip", 0, "user")]
    assert "weather in Paris" in hits[0].snippet
    assert {h.session for h in await store.search("PARIS")} == {"trip", "work"}
    assert [h.session for h in await store.search("paris", session="work")] == ["work"]
    assert await store.search("   ") == []
    assert await store.search('"unbalanced quote AND (') == []  # no query syntax error


async def test_search_finds_tool_call_arguments_and_results(store: SessionStore) -> None:
    await store.session("s").append(turn("zebra"))
    assert {h.role for h in await store.search("lookup zebra-1")} == {"assistant"}
    assert {h.role for h in await store.search("result zebra")} == {"tool"}


async def test_export_import_round_trip_keeps_messages_turns_and_runs(store: SessionStore) -> None:
    session = store.session("s")
    async with session.run(model="m") as run:
        await run.commit(turn("a"), usage=Usage(1, 10, 1))
        await run.commit(turn("b", calls=3))
    text = await store.export_jsonl("s")
    first = json.loads(text.splitlines()[0])
    assert first["agentkit_session"] == 1 and first["name"] == "s"
    copy = await store.import_jsonl(text, name="copy")
    assert await copy.load() == await session.load()
    info = await copy.info()
    assert info is not None and (info.turns, info.runs) == (2, 1)
    (record,) = await copy.runs()
    assert (record.model, record.usage.prompt_tokens) == ("m", 10)
    with pytest.raises(SessionError, match="exists already"):
        await store.import_jsonl(text)
    replaced = await store.import_jsonl(text, replace=True)
    assert await replaced.load() == await session.load()


async def test_export_of_a_missing_session_names_it(store: SessionStore) -> None:
    with pytest.raises(SessionNotFound, match="'nope'"):
        await store.export_jsonl("nope")


async def test_jsonl_moves_between_kinds_of_store(tmp_path: Path) -> None:
    memory = MemoryStore()
    await memory.session("s").append(turn("a"))
    sqlite = SQLiteStore(tmp_path / "x.db")
    moved = await sqlite.import_jsonl(await memory.export_jsonl("s"))
    assert await moved.load() == turn("a")
    back = await MemoryStore().import_jsonl(await sqlite.export_jsonl("s"))
    assert await back.load() == turn("a")
    assert conversation_problems(await back.load()) == []
