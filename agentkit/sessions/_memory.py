"""`MemoryStore` and `MemorySession`: the same behaviour as SQLite, in this process only.

For tests, notebooks, and a chat that should not be stored. Appends are whole turns, one
run at a time holds a session, and export gives the same JSON lines as `SQLiteStore`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import secrets
import threading
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import anyio.lowlevel

from agentkit.errors import SessionBusy, SessionError, SessionNotFound
from agentkit.messages import Message, Usage

from ._jsonl import Exported, StoredMessage, dump, parse
from ._runs import check_block, check_wait, ended, take
from ._types import RunRecord, SearchHit, SessionInfo, message_text, title_of

__all__ = ["MemoryRun", "MemorySession", "MemoryStore"]

_WHERE = "this MemoryStore"


@dataclass
class _Stored:
    created_at: float
    updated_at: float
    forked_from: str | None = None
    messages: list[StoredMessage] = field(default_factory=list)
    runs: list[RunRecord] = field(default_factory=list)
    lease: str | None = None
    lease_since: float = 0.0
    turns: int = 0


class MemoryStore:
    """Named sessions held in memory, gone when the process ends."""

    def __init__(self) -> None:
        self._sessions: dict[str, _Stored] = {}
        self._lock = threading.Lock()
        self._run_ids = itertools.count(1)

    def session(self, name: str, *, wait: float = 0.0) -> MemorySession:
        """The session of that name (stored at its first append)."""
        return MemorySession(name, store=self, wait=wait)

    def _get(self, name: str, create: bool = False) -> _Stored | None:
        stored = self._sessions.get(name)
        if stored is None and create:
            now = time.time()
            stored = self._sessions[name] = _Stored(now, now)
        return stored

    def _free(self, name: str, stored: _Stored, token: str | None = None) -> None:
        if stored.lease is not None and stored.lease != token:
            holder = "a run in this process"
            raise SessionBusy(
                f"session {name!r} is in use by another run ({holder}); wait for it to end, "
                "or pass wait= to queue behind it",
                name=name,
                holder=holder,
            )
        if token is not None and stored.lease != token:
            raise SessionBusy(
                f"this run no longer holds session {name!r}; nothing of this turn was stored",
                name=name,
                holder="nobody",
            )

    def _append(self, name: str, block: list[Message], token: str | None, run: int | None) -> None:
        with self._lock:
            stored = self._get(name, create=True)
            assert stored is not None
            self._free(name, stored, token)
            now = time.time()
            stored.messages += [StoredMessage(m, stored.turns, run, now) for m in block]
            stored.turns += 1
            stored.updated_at = now

    def _info(self, name: str, stored: _Stored) -> SessionInfo:
        usage = sum((r.usage for r in stored.runs), Usage())
        return SessionInfo(
            name=name,
            created_at=stored.created_at,
            updated_at=stored.updated_at,
            messages=len(stored.messages),
            turns=stored.turns,
            runs=len(stored.runs),
            usage=usage,
            title=title_of(s.message for s in stored.messages),
            forked_from=stored.forked_from,
        )

    async def sessions(self, limit: int | None = None) -> list[SessionInfo]:
        """The stored sessions, most recently updated first."""
        with self._lock:
            found = [self._info(n, s) for n, s in self._sessions.items()]
        found.sort(key=lambda i: i.updated_at, reverse=True)
        return found[:limit] if limit is not None else found

    async def latest(self) -> SessionInfo | None:
        """The most recently updated session holding a conversation."""
        found = [info for info in await self.sessions() if info.messages]
        return found[0] if found else None

    async def remove_if_empty(self, name: str) -> bool:
        """Delete the session if it holds nothing: no message, no run holding it, no run
        that used the model. True when it was deleted."""
        with self._lock:
            stored = self._sessions.get(name)
            if stored is None or stored.messages or stored.lease is not None:
                return False
            if any(r.usage.requests or r.usage.total_tokens for r in stored.runs):
                return False
            del self._sessions[name]
            return True

    async def remove(self, name: str) -> bool:
        """Delete a session; False when there was none; SessionBusy while a run holds it."""
        with self._lock:
            stored = self._sessions.get(name)
            if stored is None:
                return False
            self._free(name, stored)
            del self._sessions[name]
            return True

    async def fork(self, source: str, target: str) -> MemorySession:
        """Copy the conversation of `source` as a new session `target`."""
        with self._lock:
            stored = self._sessions.get(source)
            if stored is None:
                raise SessionNotFound(source, _WHERE)
            if target in self._sessions:
                raise SessionError(f"a session named {target!r} exists already")
            now = time.time()
            copy = [dataclasses.replace(s, run=None) for s in stored.messages]
            self._sessions[target] = _Stored(now, now, source, copy, turns=stored.turns)
        return self.session(target)

    async def search(
        self, query: str, *, limit: int = 20, session: str | None = None
    ) -> list[SearchHit]:
        """Messages holding every word of `query` (case-insensitive), newest first."""
        terms = [t.lower() for t in query.split()]
        hits: list[SearchHit] = []
        if not terms:
            return hits
        with self._lock:
            for name, stored in self._sessions.items():
                if session is not None and name != session:
                    continue
                for position, s in enumerate(stored.messages):
                    text = message_text(s.message)
                    if all(t in text.lower() for t in terms):
                        snippet = " ".join(text.split())[:80]
                        hits.append(SearchHit(name, position, s.message.role, snippet, s.at))
        hits.sort(key=lambda h: h.created_at, reverse=True)
        return hits[:limit]

    async def export_jsonl(self, name: str) -> str:
        """The session as JSON lines (the format of `SQLiteStore.export_jsonl`)."""
        with self._lock:
            stored = self._sessions.get(name)
            if stored is None:
                raise SessionNotFound(name, _WHERE)
            exported = Exported(
                name,
                stored.created_at,
                stored.updated_at,
                stored.forked_from,
                list(stored.runs),
                list(stored.messages),
            )
        return dump(exported)

    async def import_jsonl(
        self, text: str, *, name: str | None = None, replace: bool = False
    ) -> MemorySession:
        """Store a session from exported JSON lines, checked whole first."""
        exported = parse(text)
        target = exported.name if name is None else name
        with self._lock:
            old = self._sessions.get(target)
            if old is not None:
                if not replace:
                    raise SessionError(f"a session named {target!r} exists already")
                self._free(target, old)
            turns = len({s.turn for s in exported.messages})
            self._sessions[target] = _Stored(
                exported.created_at,
                exported.updated_at,
                exported.forked_from,
                list(exported.messages),
                list(exported.runs),
                turns=turns,
            )
        return self.session(target)


class MemorySession:
    """One conversation in memory: `MemorySession()`, or `store.session(name)`.

    `wait`: seconds a run on it waits for another run holding it, before `SessionBusy`.
    """

    def __init__(
        self, name: str = "default", *, store: MemoryStore | None = None, wait: float = 0.0
    ) -> None:
        check_wait(wait)
        self.wait = wait
        self._name = name
        self.store = store if store is not None else MemoryStore()

    def __repr__(self) -> str:
        return f"MemorySession({self._name!r})"

    @property
    def name(self) -> str:
        """The session's name."""
        return self._name

    async def load(self) -> list[Message]:
        """The stored conversation, oldest first."""
        await anyio.lowlevel.checkpoint()
        stored = self.store._sessions.get(self._name)
        return [] if stored is None else [s.message for s in stored.messages]

    async def append(self, messages: Sequence[Message]) -> None:
        """Append one whole turn; SessionBusy while a run holds the session."""
        block = check_block(messages, self._name)
        await anyio.lowlevel.checkpoint()
        self.store._append(self._name, block, None, None)

    async def clear(self) -> None:
        """Forget the conversation (runs stay recorded)."""
        await anyio.lowlevel.checkpoint()
        with self.store._lock:
            stored = self.store._sessions.get(self._name)
            if stored is not None:
                self.store._free(self._name, stored)
                stored.messages.clear()
                stored.turns = 0
                stored.updated_at = time.time()

    async def info(self) -> SessionInfo | None:
        """What is stored, or None when nothing is."""
        await anyio.lowlevel.checkpoint()
        stored = self.store._sessions.get(self._name)
        return None if stored is None else self.store._info(self._name, stored)

    async def runs(self) -> list[RunRecord]:
        """The runs recorded on this session, oldest first."""
        await anyio.lowlevel.checkpoint()
        stored = self.store._sessions.get(self._name)
        return [] if stored is None else list(stored.runs)

    def _acquire(self, token: str, model: str | None) -> int | str:
        store = self.store
        with store._lock:
            stored = store._get(self._name, create=True)
            assert stored is not None
            if stored.lease is not None:
                return "a run in this process"
            stored.lease, stored.lease_since = token, time.time()
            run = RunRecord(next(store._run_ids), model, "running", time.time(), None, Usage())
            stored.runs.append(run)
            return run.id

    def _release(self, token: str, run_id: int, error: BaseException | None, usage: Usage) -> None:
        status, text = ended(error)
        with self.store._lock:
            stored = self.store._sessions.get(self._name)
            if stored is None:
                return
            stored.runs = [
                dataclasses.replace(
                    r, status=status, finished_at=time.time(), usage=usage, error=text
                )
                if r.id == run_id
                else r
                for r in stored.runs
            ]
            if stored.lease == token:
                stored.lease = None

    @contextlib.asynccontextmanager
    async def run(self, *, model: str | None = None, wait: float = 0.0) -> AsyncIterator[MemoryRun]:
        """Hold the session for one run; SessionBusy when another run holds it."""
        token = secrets.token_hex(16)

        async def attempt() -> int | str:
            await anyio.lowlevel.checkpoint()
            return self._acquire(token, model)

        run_id = await take(self._name, attempt, wait)
        handle = MemoryRun(self, token, run_id)
        error: BaseException | None = None
        try:
            yield handle
        except BaseException as exc:
            error = exc
            raise
        finally:
            self._release(token, run_id, error, handle.usage)


class MemoryRun:
    """A run holding a `MemorySession`; see `SessionRun`."""

    def __init__(self, session: MemorySession, token: str, run_id: int) -> None:
        self._session = session
        self._token = token
        self._id = run_id
        self.usage = Usage()

    @property
    def id(self) -> int:
        """The run's number in the store."""
        return self._id

    async def commit(self, messages: Sequence[Message], *, usage: Usage | None = None) -> None:
        """Append one whole turn as this run."""
        session = self._session
        block = check_block(messages, session.name)
        if usage is not None:
            self.usage = usage
        await anyio.lowlevel.checkpoint()
        session.store._append(session.name, block, self._token, self._id)
