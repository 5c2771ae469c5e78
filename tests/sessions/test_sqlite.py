"""What only the SQLite store does: the file's settings, migrations, search index, leases."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from _session_turns import turn

from agentkit.messages import UserMessage
from agentkit.sessions import SessionBusy, SessionError, SQLiteSession, SQLiteStore
from agentkit.sessions._sqlite_db import SCHEMA_VERSION

pytestmark = pytest.mark.anyio

HOLDER = Path(__file__).with_name("_holder.py")


def sql(path: Path, statement: str) -> list[tuple[object, ...]]:
    """One statement on a connection of the test's own, closed after."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        return conn.execute(statement).fetchall()
    finally:
        conn.close()


async def test_the_file_is_in_wal_mode_at_the_current_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "folder" / "s.db"  # folders made on first use
    await SQLiteSession("s", path).append(turn("a"))
    assert sql(path, "PRAGMA journal_mode") == [("wal",)]
    assert sql(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]


async def test_a_file_from_a_newer_agentkit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    await SQLiteSession("s", path).append(turn("a"))
    sql(path, f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(SessionError, match="newer than this agentkit knows"):
        await SQLiteSession("s", path).load()


async def test_a_database_agentkit_did_not_create_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    sql(path, "CREATE TABLE invoices (id INTEGER)")
    with pytest.raises(SessionError, match="did not create.*invoices"):
        await SQLiteSession("s", path).load()
    assert sql(path, "SELECT name FROM sqlite_master") == [("invoices",)]


async def test_a_file_that_is_not_a_database_gets_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("just some notes, not SQLite\n" * 100)
    with pytest.raises(SessionError, match="not a sessions database"):
        await SQLiteSession("s", path).load()


async def test_an_unwritable_place_says_what_to_do(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SessionError, match="AGENTKIT_SESSIONS"):
        await SQLiteSession("s", blocker / "sub" / "s.db").load()


async def test_load_reads_what_another_connection_appended_or_cleared(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    reader, writer = SQLiteSession("s", path), SQLiteSession("s", path)
    await writer.append(turn("a"))
    assert await reader.load() == turn("a")
    await writer.append(turn("b"))
    assert await reader.load() == turn("a") + turn("b")  # only the new rows are read
    await writer.clear()
    await writer.append(turn("c"))
    assert await reader.load() == turn("c")  # a clear is seen, not mistaken for growth
    await SQLiteStore(path).remove("s")
    await writer.append(turn("d"))
    assert await reader.load() == turn("d")


async def test_search_without_fts5_scans_and_says_so(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db", fts=False)
    assert await store.search_kind() == "like"
    await store.session("s").append([UserMessage("100% of the_budget")])
    assert [h.snippet for h in await store.search("100%")] == ["100% of the_budget"]
    assert await store.search("the_b") != []
    assert await store.search("thexb") == []  # _ is no wildcard


async def test_the_index_catches_up_with_writes_made_without_fts5(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with_fts = SQLiteStore(path)
    await with_fts.session("a").append([UserMessage("alpha indexed")])
    assert await with_fts.search_kind() == "fts5"
    without = SQLiteStore(path, fts=False)
    await without.session("b").append([UserMessage("beta written by a build without fts5")])
    await without.remove("a")
    hits = await with_fts.search("beta")  # the same open store sees the mark and rebuilds
    assert [h.session for h in hits] == ["b"]
    assert await with_fts.search("alpha") == []
    assert sql(path, "PRAGMA integrity_check") == [("ok",)]


async def test_removed_and_cleared_messages_leave_the_index(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    await store.session("a").append([UserMessage("walrus")])
    await store.session("b").append([UserMessage("walrus too")])
    await store.remove("a")
    await store.session("b").clear()
    assert await store.search("walrus") == []
    # FTS5's own check raises when the index and the messages disagree.
    sql(tmp_path / "s.db", "INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')")


async def test_a_lease_left_by_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    done = subprocess.run(
        [sys.executable, str(HOLDER), str(path), "s", "exit"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.strip() == "holding", done.stderr
    session = SQLiteSession("s", path)
    async with session.run(model="next") as run:  # at once: its holder is gone
        await run.commit(turn("a"))
    first, second = await session.runs()
    assert (first.model, first.status, first.finished_at) == ("holder", "interrupted", None)
    assert second.status == "ok"


async def test_a_run_whose_lease_was_taken_over_cannot_write(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    session = SQLiteSession("s", path)
    async with session.run() as run:
        sql(path, "DELETE FROM leases")  # as if an operator broke the lease
        async with SQLiteSession("s", path).run() as other:
            await other.commit(turn("other"))
            with pytest.raises(SessionBusy, match="no longer holds"):
                await run.commit(turn("late"))
    assert await session.load() == turn("other")


async def test_a_session_needs_a_name() -> None:
    from agentkit.errors import UserError

    with pytest.raises(UserError, match="non-empty name"):
        SQLiteSession("  ", ":memory:")


async def test_a_memory_database_works_in_one_process() -> None:
    session = SQLiteSession("s", ":memory:")
    await session.append(turn("a"))
    assert await session.load() == turn("a")
