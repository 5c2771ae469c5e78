"""The sessions' SQL for runs: each function is one transaction, run in a worker thread.

Every write starts with `BEGIN IMMEDIATE` and checks the run lease inside the same
transaction, so a write that another run's lease forbids never lands, in this process or
another.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from agentkit.errors import SessionBusy, SessionError
from agentkit.messages import Message, Usage, message_from_json, message_to_json

from ._lease import Holder, describe, is_alive
from ._sqlite_db import index_stale, rebuild_index, transaction
from ._types import RunStatus, message_text, title_of

__all__ = [
    "INSERT",
    "Loaded",
    "acquire",
    "append",
    "check_lease",
    "clear",
    "delete_messages",
    "ensure",
    "index",
    "load",
    "release",
    "session_id",
    "store_usage",
]


def session_id(conn: sqlite3.Connection, name: str) -> int | None:
    row = conn.execute("SELECT id FROM sessions WHERE name = ?", (name,)).fetchone()
    return None if row is None else int(row[0])


def ensure(conn: sqlite3.Connection, name: str, now: float) -> int:
    conn.execute(
        "INSERT OR IGNORE INTO sessions (name, created_at, updated_at) VALUES (?, ?, ?)",
        (name, now, now),
    )
    return cast(int, session_id(conn, name))


def _busy(name: str, holder: str) -> SessionBusy:
    return SessionBusy(
        f"session {name!r} is in use by another run ({holder}); wait for it to end, or "
        "pass wait= (--wait) to queue behind it",
        name=name,
        holder=holder,
    )


def check_lease(conn: sqlite3.Connection, sid: int, name: str, token: str | None) -> None:
    """Refuse the write unless the caller holds the lease (or nobody live does)."""
    row = conn.execute(
        "SELECT token, run_id, host, pid, start, acquired_at FROM leases WHERE session_id = ?",
        (sid,),
    ).fetchone()
    if token is not None:
        if row is None or row[0] != token:
            raise SessionBusy(
                f"this run no longer holds session {name!r} (its lease was taken over); "
                "nothing of this turn was stored",
                name=name,
                holder="another run" if row is None else describe(Holder(*row[2:5]), row[5]),
            )
        return
    if row is None:
        return
    holder = Holder(row[2], row[3], row[4])
    if is_alive(holder):
        raise _busy(name, describe(holder, row[5]))
    _recover(conn, sid, row[1])


def _recover(conn: sqlite3.Connection, sid: int, run_id: int | None) -> None:
    """Drop a dead process's lease; its run is recorded as interrupted."""
    conn.execute("DELETE FROM leases WHERE session_id = ?", (sid,))
    if run_id is not None:
        conn.execute(
            "UPDATE runs SET status = 'interrupted' WHERE id = ? AND status = 'running'",
            (run_id,),
        )


def index(conn: sqlite3.Connection, fts: bool, sid: int, first_seq: int = 0) -> None:
    if fts:
        conn.execute(
            "INSERT INTO messages_fts (rowid, text) "
            "SELECT id, text FROM messages WHERE session_id = ? AND seq >= ?",
            (sid, first_seq),
        )
    else:
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('fts_stale', '1')")


def delete_messages(conn: sqlite3.Connection, fts: bool, sid: int) -> None:
    if fts and not index_stale(conn):
        conn.execute(
            "INSERT INTO messages_fts (messages_fts, rowid, text) "
            "SELECT 'delete', id, text FROM messages WHERE session_id = ?",
            (sid,),
        )
        conn.execute("DELETE FROM messages WHERE session_id = ?", (sid,))
        return
    conn.execute("DELETE FROM messages WHERE session_id = ?", (sid,))
    if fts:
        rebuild_index(conn)
    else:
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('fts_stale', '1')")


def store_usage(conn: sqlite3.Connection, run_id: int, usage: Usage) -> None:
    conn.execute(
        "UPDATE runs SET requests = ?, prompt_tokens = ?, completion_tokens = ?, "
        "tool_calls = ?, cost = ? WHERE id = ?",
        (
            usage.requests,
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.tool_calls,
            usage.cost,
            run_id,
        ),
    )


def _rows(
    messages: Sequence[Message], sid: int, seq: int, turn: int, run: int | None, at: float
) -> list[tuple[Any, ...]]:
    return [
        (
            sid,
            seq + i,
            turn,
            run,
            m.role,
            at,
            json.dumps(message_to_json(m), ensure_ascii=False),
            message_text(m),
        )
        for i, m in enumerate(messages)
    ]


INSERT = (
    "INSERT INTO messages (session_id, seq, turn, run_id, role, created_at, data, text) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def append(
    conn: sqlite3.Connection,
    fts: bool,
    name: str,
    messages: Sequence[Message],
    token: str | None = None,
    run_id: int | None = None,
    usage: Usage | None = None,
) -> None:
    """Append one block of messages as the next turn, in one transaction."""
    now = time.time()
    with transaction(conn):
        sid = ensure(conn, name, now)
        check_lease(conn, sid, name, token)
        # The last row by the (session_id, seq) index: no scan of a long session.
        last = conn.execute(
            "SELECT seq, turn FROM messages WHERE session_id = ? ORDER BY seq DESC LIMIT 1",
            (sid,),
        ).fetchone()
        seq, turn = (0, 0) if last is None else (last[0] + 1, last[1] + 1)
        conn.executemany(INSERT, _rows(messages, sid, seq, turn, run_id, now))
        index(conn, fts, sid, seq)
        conn.execute(
            "UPDATE sessions SET updated_at = ?, title = COALESCE(title, NULLIF(?, '')) "
            "WHERE id = ?",
            (now, title_of(messages), sid),
        )
        if run_id is not None and usage is not None:
            store_usage(conn, run_id, usage)


@dataclass(frozen=True, slots=True)
class Loaded:
    """Messages read from `start` on, and what identifies that conversation's version."""

    version: tuple[int, int] | None  # (session id, generation); None: no such session
    start: int
    messages: list[Message]


def load(
    conn: sqlite3.Connection, name: str, version: tuple[int, int] | None, start: int
) -> Loaded:
    """The messages from position `start` on, when `version` is still current; else all."""
    with transaction(conn, write=False):
        row = conn.execute("SELECT id, generation FROM sessions WHERE name = ?", (name,)).fetchone()
        if row is None:
            return Loaded(None, 0, [])
        current = (int(row[0]), int(row[1]))
        if current != version:
            start = 0
        data = conn.execute(
            "SELECT seq, data FROM messages WHERE session_id = ? AND seq >= ? ORDER BY seq",
            (current[0], start),
        ).fetchall()
    messages = []
    for seq, text in data:
        try:
            messages.append(message_from_json(json.loads(text), f"{name}[{seq}]"))
        except ValueError as exc:
            raise SessionError(f"session {name!r}: stored message is unreadable: {exc}") from None
    return Loaded(current, start, messages)


def clear(conn: sqlite3.Connection, fts: bool, name: str) -> None:
    with transaction(conn):
        sid = session_id(conn, name)
        if sid is None:
            return
        check_lease(conn, sid, name, None)
        delete_messages(conn, fts, sid)
        conn.execute(
            "UPDATE sessions SET generation = generation + 1, title = NULL, updated_at = ? "
            "WHERE id = ?",
            (time.time(), sid),
        )


def acquire(
    conn: sqlite3.Connection, name: str, token: str, holder: Holder, model: str | None
) -> int | str:
    """Take the session for a run: the new run's id, or who holds it (a str) when busy."""
    now = time.time()
    with transaction(conn):
        sid = ensure(conn, name, now)
        row = conn.execute(
            "SELECT run_id, host, pid, start, acquired_at FROM leases WHERE session_id = ?",
            (sid,),
        ).fetchone()
        if row is not None:
            other = Holder(row[1], row[2], row[3])
            if is_alive(other):
                return describe(other, row[4])
            _recover(conn, sid, row[0])
        run_id = conn.execute(
            "INSERT INTO runs (session_id, model, status, started_at) VALUES (?, ?, 'running', ?)",
            (sid, model, now),
        ).lastrowid
        conn.execute(
            "INSERT INTO leases (session_id, token, run_id, host, pid, start, acquired_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (sid, token, run_id, holder.host, holder.pid, holder.start, now),
        )
        return cast(int, run_id)


def release(
    conn: sqlite3.Connection,
    token: str,
    run_id: int,
    status: RunStatus,
    usage: Usage,
    error: str | None,
) -> None:
    """End a run: record how it ended and its usage, and give the session back."""
    with transaction(conn):
        store_usage(conn, run_id, usage)
        conn.execute(
            "UPDATE runs SET status = ?, finished_at = ?, error = ? WHERE id = ?",
            (status, time.time(), error, run_id),
        )
        conn.execute("DELETE FROM leases WHERE token = ?", (token,))
