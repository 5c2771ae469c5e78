"""`SQLiteStore` and `SQLiteSession`: sessions in a SQLite file, on the standard library.

Every call runs in a worker thread (anyio), one at a time per store. A worker thread is
never abandoned: a run cancelled while its turn is being written gets the whole turn
stored, then sees the cancellation; a write that fails stores nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import secrets
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Literal, TypeVar

import anyio.to_thread

from agentkit.errors import UserError
from agentkit.messages import Message, Usage

from . import _sqlite_admin as admin, _sqlite_ops as ops
from ._jsonl import dump, parse
from ._lease import this_process
from ._paths import default_db_path
from ._runs import check_block, check_wait, ended, take
from ._sqlite_db import Database
from ._types import RunRecord, SearchHit, SessionInfo

__all__ = ["SQLiteRun", "SQLiteSession", "SQLiteStore"]

T = TypeVar("T")


class SQLiteStore:
    """Named sessions in one SQLite file, safe to share between processes.

    Args:
        path: The database file; default `default_db_path()` (AGENTKIT_SESSIONS, else the
            user's data folder). ":memory:" keeps it in this process only.
        timeout: Seconds a write waits behind other processes' writes.
        fts: Full-text search with FTS5: None when the SQLite build has it, False never
            (search then scans with LIKE).
        durable: Sync every commit to disk (survives power loss; a crash of the process
            never loses a committed turn either way).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        timeout: float = 30.0,
        fts: bool | None = None,
        durable: bool = False,
    ) -> None:
        self.path = str(default_db_path() if path is None else path)
        self._db = Database(self.path, timeout=timeout, fts=fts, durable=durable)

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    async def _call(self, function: Callable[..., T], *args: Any, fts: bool = False) -> T:
        db = self._db

        def work(conn: sqlite3.Connection) -> T:
            return function(conn, db.fts, *args) if fts else function(conn, *args)

        return await anyio.to_thread.run_sync(functools.partial(db.call, work))

    def close(self) -> None:
        """Close the connection (the next call opens it again)."""
        self._db.close()

    def session(self, name: str, *, wait: float = 0.0) -> SQLiteSession:
        """The session of that name in this file (stored at its first append)."""
        return SQLiteSession(name, store=self, wait=wait)

    async def search_kind(self) -> Literal["fts5", "like"]:
        """How `search` finds text: "fts5", or "like" where the SQLite build lacks FTS5."""
        await self._call(lambda conn: None)
        return "fts5" if self._db.fts else "like"

    async def sessions(self, limit: int | None = None) -> list[SessionInfo]:
        """The stored sessions, most recently updated first."""
        return await self._call(admin.sessions, limit)

    async def latest(self) -> SessionInfo | None:
        """The most recently updated session holding a conversation (`agentkit run -c`).

        A session with no message (its only run failed before the model answered, or it
        was cleared) is passed over: continuing it would drop the real conversation.
        """
        found = await self._call(admin.sessions, 1, None, True)
        return found[0] if found else None

    async def remove(self, name: str) -> bool:
        """Delete a session with its runs; False when there was none; SessionBusy in use."""
        return await self._call(admin.remove, name, fts=True)

    async def remove_if_empty(self, name: str) -> bool:
        """Delete the session if it holds nothing: no message, no run holding it, no run
        that used the model. True when it was deleted (what a failed first run leaves)."""
        return await self._call(admin.remove_if_empty, name)

    async def fork(self, source: str, target: str) -> SQLiteSession:
        """Copy the conversation of `source` as a new session `target` (runs stay behind)."""
        await self._call(admin.fork, source, target, self.path, fts=True)
        return self.session(target)

    async def search(
        self, query: str, *, limit: int = 20, session: str | None = None
    ) -> list[SearchHit]:
        """Stored messages holding every word of `query` (best first with FTS5, else newest)."""
        return await self._call(admin.search, query, limit, session, fts=True)

    async def export_jsonl(self, name: str) -> str:
        """The session as JSON lines; SessionNotFound when there is none."""
        return dump(await self._call(admin.export, name, self.path))

    async def import_jsonl(
        self, text: str, *, name: str | None = None, replace: bool = False
    ) -> SQLiteSession:
        """Store a session from `export_jsonl`'s text, checked whole first.

        Args:
            text: The JSON lines.
            name: Store it under this name instead of its own.
            replace: Replace a session of the same name (else SessionError).
        """
        exported = parse(text)
        if name is not None:
            exported = dataclasses.replace(exported, name=name)
        await self._call(admin.import_session, exported, replace, fts=True)
        return self.session(exported.name)


class SQLiteSession:
    """One conversation in a SQLite file: `SQLiteSession("chat", "chats.db")`.

    Args:
        name: The session's name.
        path: The database file (default: see `SQLiteStore`), unless `store` is given.
        store: The store to use, sharing its connection.
        wait: Seconds a run on it (`agent.run(..., session=...)`) waits for another run
            holding it to end, before `SessionBusy` (`math.inf`: as long as it takes).
    """

    def __init__(
        self,
        name: str,
        path: str | os.PathLike[str] | None = None,
        *,
        store: SQLiteStore | None = None,
        wait: float = 0.0,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise UserError(f"a session needs a non-empty name, got {name!r}")
        check_wait(wait)
        self.wait = wait
        self._name = name
        self.store = store if store is not None else SQLiteStore(path)
        self._version: tuple[int, int] | None = None
        self._cached: list[Message] = []

    def __repr__(self) -> str:
        return f"SQLiteSession({self._name!r}, {self.store.path!r})"

    @property
    def name(self) -> str:
        """The session's name."""
        return self._name

    async def load(self) -> list[Message]:
        """The stored conversation; only messages stored since the last load are read."""
        version, known = self._version, self._cached
        got = await self.store._call(ops.load, self._name, version, len(known))
        if got.version == version and got.start == len(known):
            messages = known + got.messages
        else:
            messages = got.messages
        self._version, self._cached = got.version, messages
        return list(messages)

    async def append(self, messages: Sequence[Message]) -> None:
        """Append one whole turn in one transaction; SessionBusy while a run holds it."""
        block = check_block(messages, self._name)
        await self.store._call(ops.append, self._name, block, fts=True)

    async def clear(self) -> None:
        """Forget the conversation (runs stay recorded); SessionBusy while a run holds it."""
        await self.store._call(ops.clear, self._name, fts=True)

    async def info(self) -> SessionInfo | None:
        """What is stored, or None when nothing is."""
        return await self.store._call(admin.info, self._name)

    async def runs(self) -> list[RunRecord]:
        """The runs recorded on this session, oldest first."""
        return await self.store._call(admin.runs, self._name)

    @contextlib.asynccontextmanager
    async def run(self, *, model: str | None = None, wait: float = 0.0) -> AsyncIterator[SQLiteRun]:
        """Hold the session for one run, in every process; SessionBusy when another holds it.

        Args:
            model: The model id, recorded with the run.
            wait: Seconds to wait for another run to end before SessionBusy
                (`math.inf`: as long as it takes). A lease left by a process that died is
                taken over at once, and that run recorded as "interrupted".
        """
        token = secrets.token_hex(16)
        holder = this_process()
        run_id = await take(
            self._name,
            lambda: self.store._call(ops.acquire, self._name, token, holder, model),
            wait,
        )
        handle = SQLiteRun(self, token, run_id)
        error: BaseException | None = None
        try:
            yield handle
        except BaseException as exc:
            error = exc
            raise
        finally:
            status, text = ended(error)
            with anyio.CancelScope(shield=True):
                await self.store._call(ops.release, token, run_id, status, handle.usage, text)


class SQLiteRun:
    """A run holding a `SQLiteSession`; see `SessionRun`."""

    def __init__(self, session: SQLiteSession, token: str, run_id: int) -> None:
        self._session = session
        self._token = token
        self._id = run_id
        self.usage = Usage()

    @property
    def id(self) -> int:
        """The run's number in the store."""
        return self._id

    async def commit(self, messages: Sequence[Message], *, usage: Usage | None = None) -> None:
        """Append one whole turn as this run, with the run's usage so far, in one transaction.

        Raises:
            SessionBusy: The run's lease was taken over; nothing was stored.
        """
        session = self._session
        block = check_block(messages, session.name)
        if usage is not None:
            self.usage = usage
        await session.store._call(
            ops.append, session.name, block, self._token, self._id, self.usage, fts=True
        )
