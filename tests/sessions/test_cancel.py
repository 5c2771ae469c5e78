"""A write is all or nothing, whatever interrupts it: a cancellation, or a failure inside."""

from __future__ import annotations

import random
import sqlite3
import threading
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest
from _session_turns import turn

from agentkit.messages import AssistantMessage, ToolCall, ToolMessage, UserMessage
from agentkit.sessions import SessionError, SQLiteSession, conversation_problems

pytestmark = pytest.mark.anyio


async def test_a_cancellation_while_the_write_waits_for_the_lock_stores_the_whole_turn(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.db"
    session = SQLiteSession("s", path)
    await session.append(turn("before"))
    blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")  # another process's write in progress
    released = threading.Event()

    def release_soon() -> None:
        released.wait(0.3)
        blocker.execute("COMMIT")
        blocker.close()

    thread = threading.Thread(target=release_soon)
    thread.start()
    cancelled = False
    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as tg:
            tg.start_soon(session.append, turn("during"))
            await anyio.sleep(0.1)  # the write is now waiting inside BEGIN IMMEDIATE
            scope.cancel()
    cancelled = scope.cancelled_caught
    thread.join()
    assert cancelled
    # The worker thread is never abandoned: the turn went in whole, then the cancel landed.
    assert await session.load() == turn("before") + turn("during")


async def test_cancellations_at_random_moments_never_store_part_of_a_turn(tmp_path: Path) -> None:
    session = SQLiteSession("s", tmp_path / "s.db")
    rng = random.Random(13)
    blocks = []
    outcomes: set[tuple[bool, bool]] = set()  # (cancelled, stored)
    for i in range(120):
        block = turn(f"t{i}", calls=rng.randint(1, 4))
        before = len(await session.load())
        # 0: cancelled before the write starts; else often while it runs in its thread.
        with anyio.move_on_after(rng.choice([0.0, rng.uniform(0, 0.0015)])) as scope:
            await session.append(block)
            await anyio.lowlevel.checkpoint()  # where a cancellation during the write lands
        outcomes.add((scope.cancelled_caught, len(await session.load()) > before))
        blocks.append(block)
    assert {(True, False), (True, True)} <= outcomes  # both kinds of cancellation happened
    loaded = await session.load()
    assert conversation_problems(loaded) == []
    # Every turn is there whole or not at all, and the ones there are in order.
    position = 0
    for block in blocks:
        if loaded[position : position + len(block)] == block:
            position += len(block)
    assert position == len(loaded)


async def test_a_run_cancelled_during_a_commit_keeps_that_turn_and_ends_cancelled(
    tmp_path: Path,
) -> None:
    session = SQLiteSession("s", tmp_path / "s.db")
    with anyio.CancelScope() as scope:
        async with session.run() as run:
            await run.commit(turn("first"))
            scope.cancel()  # delivered at the next checkpoint: inside the second commit
            await run.commit(turn("second"))
    assert scope.cancelled_caught
    loaded = await session.load()
    assert loaded in (turn("first"), turn("first") + turn("second"))
    assert [r.status for r in await session.runs()] == ["cancelled"]


async def test_a_write_that_fails_stores_nothing(tmp_path: Path) -> None:
    session = SQLiteSession("s", tmp_path / "s.db")
    await session.append(turn("a"))
    bad = ToolCall("f", {"data": b"\x00 bytes are not JSON"}, id="c1", raw_arguments="{}")
    with pytest.raises((TypeError, SessionError)):
        await session.append(
            [UserMessage("q"), AssistantMessage(None, (bad,)), ToolMessage("c1", "r", "f")]
        )
    assert await session.load() == turn("a")
    await session.append(turn("b"))  # and the session goes on
    assert await session.load() == turn("a") + turn("b")
