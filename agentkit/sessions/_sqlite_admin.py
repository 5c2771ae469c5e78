"""The sessions' SQL for the CLI: list, show, remove, fork, search, export and import.

Each function is one transaction; the writes check the run lease like every other write.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from typing import Any, cast

from agentkit.errors import SessionError, SessionNotFound
from agentkit.messages import Usage, message_from_json, message_to_json

from ._jsonl import Exported, StoredMessage
from ._sqlite_db import index_stale, rebuild_index, transaction
from ._sqlite_ops import INSERT, check_lease, delete_messages, index, session_id
from ._types import RunRecord, SearchHit, SessionInfo, message_text, title_of

__all__ = [
    "export",
    "fork",
    "import_session",
    "info",
    "remove",
    "remove_if_empty",
    "runs",
    "search",
    "sessions",
]


_SUMS = (
    "COUNT(*), COALESCE(SUM(requests), 0), COALESCE(SUM(prompt_tokens), 0), "
    "COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(tool_calls), 0), SUM(cost)"
)


def _info(row: Sequence[Any], sums: Sequence[Any]) -> SessionInfo:
    usage = Usage(sums[1], sums[2], sums[3], sums[4], sums[5])
    return SessionInfo(
        name=row[0],
        created_at=row[1],
        updated_at=row[2],
        messages=row[5],
        turns=row[6],
        runs=sums[0],
        usage=usage,
        title=row[3] or "",
        forked_from=row[4],
    )


_HAS_MESSAGES = "EXISTS (SELECT 1 FROM messages m WHERE m.session_id = s.id)"


def sessions(
    conn: sqlite3.Connection,
    limit: int | None,
    name: str | None = None,
    with_messages: bool = False,
) -> list[SessionInfo]:
    """Sessions, most recently updated first (only `name`, when given; only those holding
    messages, with `with_messages`)."""
    where = "WHERE s.name = ?" if name is not None else ""
    if with_messages:
        where = f"WHERE {_HAS_MESSAGES}"
    query = f"""
    SELECT s.name, s.created_at, s.updated_at, s.title, s.forked_from,
        (SELECT COUNT(*) FROM messages m WHERE m.session_id = s.id),
        (SELECT COALESCE(MAX(turn) + 1, 0) FROM messages m WHERE m.session_id = s.id),
        s.id
    FROM sessions s {where} ORDER BY s.updated_at DESC, s.id DESC LIMIT ?
    """
    params: tuple[Any, ...] = (name, -1) if name is not None else (limit or -1,)
    with transaction(conn, write=False):
        rows = conn.execute(query, params).fetchall()
        found = []
        for row in rows:
            sums = conn.execute(
                f"SELECT {_SUMS} FROM runs WHERE session_id = ?", (row[7],)
            ).fetchone()
            found.append(_info(row, sums))
    return found


def info(conn: sqlite3.Connection, name: str) -> SessionInfo | None:
    found = sessions(conn, None, name)
    return found[0] if found else None


def _run(row: Sequence[Any]) -> RunRecord:
    return RunRecord(
        id=row[0],
        model=row[1],
        status=row[2],
        started_at=row[3],
        finished_at=row[4],
        usage=Usage(row[5], row[6], row[7], row[8], row[9]),
        error=row[10],
    )


_RUNS = (
    "SELECT id, model, status, started_at, finished_at, requests, prompt_tokens, "
    "completion_tokens, tool_calls, cost, error FROM runs WHERE session_id = ? ORDER BY id"
)


def runs(conn: sqlite3.Connection, name: str) -> list[RunRecord]:
    sid = session_id(conn, name)
    return [] if sid is None else [_run(r) for r in conn.execute(_RUNS, (sid,)).fetchall()]


def remove(conn: sqlite3.Connection, fts: bool, name: str) -> bool:
    with transaction(conn):
        sid = session_id(conn, name)
        if sid is None:
            return False
        check_lease(conn, sid, name, None)
        delete_messages(conn, fts, sid)
        conn.execute("DELETE FROM leases WHERE session_id = ?", (sid,))
        conn.execute("DELETE FROM runs WHERE session_id = ?", (sid,))
        conn.execute("DELETE FROM sessions WHERE id = ?", (sid,))
        return True


def remove_if_empty(conn: sqlite3.Connection, name: str) -> bool:
    """Delete the session when it holds nothing: no message, no run holding it, and no run
    that used the model (one that failed before its first reply). True when deleted."""
    with transaction(conn):
        sid = session_id(conn, name)
        if sid is None:
            return False
        kept = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM messages WHERE session_id = ?) "
            "OR EXISTS (SELECT 1 FROM leases WHERE session_id = ?) "
            "OR EXISTS (SELECT 1 FROM runs WHERE session_id = ? AND (requests > 0 "
            "OR prompt_tokens > 0 OR completion_tokens > 0 OR status = 'running'))",
            (sid, sid, sid),
        ).fetchone()[0]
        if kept:
            return False
        conn.execute("DELETE FROM runs WHERE session_id = ?", (sid,))
        conn.execute("DELETE FROM sessions WHERE id = ?", (sid,))
        return True


def _taken(name: str) -> SessionError:
    return SessionError(
        f"a session named {name!r} exists already: remove it first, or choose another name"
    )


def fork(conn: sqlite3.Connection, fts: bool, source: str, target: str, where: str) -> None:
    now = time.time()
    with transaction(conn):
        src = session_id(conn, source)
        if src is None:
            raise SessionNotFound(source, where)
        if session_id(conn, target) is not None:
            raise _taken(target)
        title = conn.execute("SELECT title FROM sessions WHERE id = ?", (src,)).fetchone()[0]
        conn.execute(
            "INSERT INTO sessions (name, created_at, updated_at, title, forked_from) "
            "VALUES (?, ?, ?, ?, ?)",
            (target, now, now, title, source),
        )
        dst = cast(int, session_id(conn, target))
        conn.execute(
            "INSERT INTO messages (session_id, seq, turn, run_id, role, created_at, data, text) "
            "SELECT ?, seq, turn, NULL, role, created_at, data, text FROM messages "
            "WHERE session_id = ? ORDER BY seq",
            (dst, src),
        )
        index(conn, fts, dst)


def _snippet(text: str, terms: Sequence[str], width: int = 80) -> str:
    flat = " ".join(text.split())
    lower = flat.lower()
    at = min((i for t in terms if (i := lower.find(t.lower())) >= 0), default=0)
    start = max(0, at - width // 3)
    piece = flat[start : start + width]
    return ("…" if start else "") + piece + ("…" if start + width < len(flat) else "")


def search(
    conn: sqlite3.Connection, fts: bool, query: str, limit: int, session: str | None
) -> list[SearchHit]:
    """Messages holding every word of `query`: by relevance with FTS5, else newest first."""
    terms = query.split()
    if not terms:
        return []
    where, params = ("AND s.name = ?", [session]) if session is not None else ("", [])
    if fts:
        if index_stale(conn):
            with transaction(conn):
                rebuild_index(conn)
        match = " ".join('"' + t.replace('"', '""') + '"' for t in terms)
        rows = conn.execute(
            "SELECT s.name, m.seq, m.role, m.text, m.created_at FROM messages_fts f "
            "JOIN messages m ON m.id = f.rowid JOIN sessions s ON s.id = m.session_id "
            f"WHERE messages_fts MATCH ? {where} ORDER BY f.rank, m.id DESC LIMIT ?",
            [match, *params, limit],
        ).fetchall()
    else:
        likes = " AND ".join("m.text LIKE ? ESCAPE '\\'" for _ in terms)
        patterns = [
            "%" + t.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            for t in terms
        ]
        rows = conn.execute(
            "SELECT s.name, m.seq, m.role, m.text, m.created_at FROM messages m "
            f"JOIN sessions s ON s.id = m.session_id WHERE {likes} {where} "
            "ORDER BY m.id DESC LIMIT ?",
            [*patterns, *params, limit],
        ).fetchall()
    return [SearchHit(r[0], r[1], r[2], _snippet(r[3], terms), r[4]) for r in rows]


def export(conn: sqlite3.Connection, name: str, where: str) -> Exported:
    with transaction(conn, write=False):
        row = conn.execute(
            "SELECT id, created_at, updated_at, forked_from FROM sessions WHERE name = ?",
            (name,),
        ).fetchone()
        if row is None:
            raise SessionNotFound(name, where)
        found = [_run(r) for r in conn.execute(_RUNS, (row[0],)).fetchall()]
        data = conn.execute(
            "SELECT data, turn, run_id, created_at FROM messages WHERE session_id = ? ORDER BY seq",
            (row[0],),
        ).fetchall()
    messages = [
        StoredMessage(message_from_json(json.loads(d[0]), name), d[1], d[2], d[3]) for d in data
    ]
    return Exported(name, row[1], row[2], row[3], found, messages)


def import_session(conn: sqlite3.Connection, fts: bool, session: Exported, replace: bool) -> None:
    """Store a whole exported session in one transaction (its runs get new ids)."""
    with transaction(conn):
        old = session_id(conn, session.name)
        if old is not None:
            if not replace:
                raise _taken(session.name)
            check_lease(conn, old, session.name, None)
            delete_messages(conn, fts, old)
            conn.execute("DELETE FROM runs WHERE session_id = ?", (old,))
            conn.execute("DELETE FROM sessions WHERE id = ?", (old,))
        conn.execute(
            "INSERT INTO sessions (name, created_at, updated_at, title, forked_from) "
            "VALUES (?, ?, ?, NULLIF(?, ''), ?)",
            (
                session.name,
                session.created_at,
                session.updated_at,
                title_of(s.message for s in session.messages),
                session.forked_from,
            ),
        )
        sid = cast(int, session_id(conn, session.name))
        ids: dict[int, int] = {}
        for run in session.runs:
            u = run.usage
            ids[run.id] = cast(
                int,
                conn.execute(
                    "INSERT INTO runs (session_id, model, status, started_at, finished_at, "
                    "requests, prompt_tokens, completion_tokens, tool_calls, cost, error) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        sid,
                        run.model,
                        "interrupted" if run.status == "running" else run.status,
                        run.started_at,
                        run.finished_at,
                        u.requests,
                        u.prompt_tokens,
                        u.completion_tokens,
                        u.tool_calls,
                        u.cost,
                        run.error,
                    ),
                ).lastrowid,
            )
        rows = [
            (
                sid,
                seq,
                s.turn,
                None if s.run is None else ids[s.run],
                s.message.role,
                s.at,
                json.dumps(message_to_json(s.message), ensure_ascii=False),
                message_text(s.message),
            )
            for seq, s in enumerate(session.messages)
        ]
        conn.executemany(INSERT, rows)
        index(conn, fts, sid)
