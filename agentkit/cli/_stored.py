"""The session an `agentkit run` or `agentkit chat` stores into, in the sessions database.

The database: `--sessions-db`, else AGENTKIT_SESSIONS, else the user's data folder
(`agentkit.sessions.default_db_path`). `run` and `chat` store by default: into `--session
NAME` (resumed, or started), the latest session holding messages with `run -c`, else a
new session named by the time (`run-2026-12-07-0933`), so that `run -c` continues it. A
session the command started and left empty (its runs failed before the model answered) is
removed when the command ends: a failed run leaves no session behind. `--no-store` writes
nothing: `run` then reads the session it is given (if any) without adding to it, and `chat`
keeps its conversation in a `MemorySession` (the context budget's cuts still carry over
from turn to turn).

Every CLI turn runs in its own event loop; a `SQLiteStore` holds nothing bound to one (a
lock and a connection used from worker threads), so one store serves all the turns of a chat.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from agentkit import _env
from agentkit.cli._text import plural
from agentkit.errors import AgentkitError, SessionDatabaseError, SessionError
from agentkit.sessions import MemorySession, Session, SQLiteStore, default_db_path

if TYPE_CHECKING:
    from agentkit.cli._render import Renderer

__all__ = [
    "Conversation",
    "SessionChoice",
    "explain",
    "explained",
    "open_conversation",
    "open_store",
]

T = TypeVar("T")


def _sync(work: Callable[[], Awaitable[T]]) -> T:
    """`work()` in an event loop of its own (the CLI is synchronous between turns)."""
    return anyio.run(work)


@dataclass(frozen=True)
class SessionChoice:
    """What the command line says about sessions.

    Attributes:
        name: `--session NAME`.
        latest: `-c/--continue`.
        store: False with `--no-store`.
        wait: `--wait SECONDS`: how long to queue behind a run holding the session.
        db: `--sessions-db PATH`.
    """

    name: str | None = None
    latest: bool = False
    store: bool = True
    wait: float = 0.0
    db: str | None = None


def db_path(choice: SessionChoice) -> Path:
    """The sessions database: `--sessions-db`, else AGENTKIT_SESSIONS, else the data folder."""
    return Path(choice.db).expanduser() if choice.db else default_db_path()


def open_store(choice: SessionChoice, *, create: bool = True) -> SQLiteStore:
    """The sessions database (opened, and created if need be, at its first use).

    Raises:
        SessionError: `create` is False and there is no file at the path: a command that
            only reads (`sessions list`, `show`, `export`, `search`) or needs a stored
            session (`rm`, `fork`) never creates a database, nor its folders.
    """
    path = db_path(choice)
    if not create and not path.exists():
        raise SessionError(
            f"no sessions database at {path} ({_chosen_by(choice)}): `agentkit run` and "
            "`agentkit chat` create it when they first store a conversation; choose another "
            "with --sessions-db PATH or AGENTKIT_SESSIONS"
        )
    return SQLiteStore(path)


def explain(
    exc: SessionDatabaseError, choice: SessionChoice, *, storing: bool
) -> SessionDatabaseError:
    """The error with the way out the user has: another file, chosen the way they chose
    this one, or (`storing`: a `run` or `chat` that stores) `--no-store`."""
    if choice.db:
        elsewhere = "choose another file with --sessions-db PATH"
    elif _env.sessions_db() is not None:
        elsewhere = "AGENTKIT_SESSIONS chose it: set it to another file, or give --sessions-db PATH"
    else:
        elsewhere = "choose another file with --sessions-db PATH or AGENTKIT_SESSIONS"
    if storing:
        elsewhere += ", or pass --no-store to store nothing"
    return SessionDatabaseError(exc.path, exc.problem, exc.remedy, elsewhere=elsewhere)


@contextlib.contextmanager
def explained(choice: SessionChoice, *, storing: bool) -> Iterator[None]:
    """Database errors of the block, with `explain`'s way out."""
    try:
        yield
    except SessionDatabaseError as exc:
        raise explain(exc, choice, storing=storing) from exc


def _chosen_by(choice: SessionChoice) -> str:
    """How the database's path was chosen, as the user chose it."""
    if choice.db:
        return "given by --sessions-db"
    if _env.sessions_db() is not None:
        return "set by AGENTKIT_SESSIONS"
    return "the default"


def new_name(store: SQLiteStore, kind: str) -> str:
    """A name no stored session has: `chat-2026-12-07-0933`, then `...-0933-2`, ..."""
    base = f"{kind}-{time.strftime('%Y-%m-%d-%H%M')}"

    async def free() -> str:
        for n in range(1, 1000):
            name = base if n == 1 else f"{base}-{n}"
            if await store.session(name).info() is None:
                return name
        raise SessionError(f"no free session name like {base!r}: give one with --session NAME")

    return _sync(free)


class Conversation:
    """The session a run or chat stores into, and what `/session` and `/reset` do with it.

    Args:
        session: The session (a `MemorySession` when nothing is stored).
        store: The database, when stored.
        wait: Seconds a run queues behind another holding the session.
        kind: "run" or "chat", for new names.
    """

    def __init__(
        self,
        session: Session,
        store: SQLiteStore | None,
        wait: float,
        kind: str,
        *,
        started: bool = False,
        choice: SessionChoice | None = None,
    ) -> None:
        self.session = session
        self.choice = choice or SessionChoice()
        self.store = store
        self.wait = wait
        self.kind = kind
        # The sessions this command started (none stored before it): those its runs left
        # empty are removed at the end, so a failed first run leaves no session behind.
        self.started: set[str] = {session.name} if started else set()

    @property
    def name(self) -> str:
        """The session's name."""
        return self.session.name

    def run_args(self) -> dict[str, Any]:
        """The keywords for `agent.stream(prompt, ...)`."""
        return {"session": self.session}

    def describe(self, *, greeting: bool = False) -> str:
        """Which session this is, in a line."""
        if self.store is None:
            return "nothing is stored (--no-store)"
        info = _sync(self.session.info)
        if info is None or not info.messages:
            state = "new"
        else:
            state = f"{'resumed: ' if greeting else ''}{plural(info.messages, 'message')}"
        return f"session {self.name} ({state}), in {self.store.path}"

    def greet(self, renderer: Renderer) -> None:
        """Say which session the chat is in."""
        renderer.info(f"{self.describe(greeting=True)}; /session NAME switches to another")

    def command(self, text: str, renderer: Renderer) -> bool:
        """Run `/session [NAME]` or `/reset`; False for any other command."""
        words = text.split()
        command = words[0].lower()
        if command == "/session":
            if len(words) > 1:
                self.switch(" ".join(words[1:]))
            renderer.info(self.describe())
            return True
        if command == "/reset":
            self.switch(None)
            renderer.info(
                f"the conversation was reset: {self.describe()} "
                "(/usage still counts the whole session)"
            )
            return True
        return False

    def explain(self, exc: AgentkitError) -> AgentkitError:
        """A database error of a turn, with the way out (see `explain`); others as they are."""
        if not isinstance(exc, SessionDatabaseError):
            return exc
        return explain(exc, self.choice, storing=self.store is not None)

    def switch(self, name: str | None) -> None:
        """Go on in the session `name`, or in a new one."""
        if self.store is None:
            self.session = MemorySession(name or "chat")
            return
        store = self.store
        if name is None:
            name = new_name(store, self.kind)
            self.started.add(name)
        elif _sync(store.session(name).info) is None:
            self.started.add(name)
        self.session = store.session(name, wait=self.wait)

    def close(self) -> None:
        """Remove the sessions this command started and left empty; close the database."""
        if self.store is None:
            return
        store = self.store
        try:
            for name in sorted(self.started):
                # Only when nothing is stored in it: not a message, not a run that spent
                # tokens, not a run of another process that took it meanwhile.
                with contextlib.suppress(SessionError):  # never hide how the run ended
                    _sync(functools.partial(store.remove_if_empty, name))
        finally:
            store.close()


def open_conversation(choice: SessionChoice, kind: str) -> Conversation | None:
    """The session `agentkit run` (kind "run") or `agentkit chat` ("chat") uses.

    None for a `run --no-store` given no session: nothing to read, nothing to store.

    Raises:
        SessionError: `-c` and no session is stored; the database cannot be used.
    """
    if not choice.store:
        return _unstored(choice, kind)
    if choice.latest and not db_path(choice).exists():  # nothing to continue; nothing created
        raise _nothing_to_continue(str(db_path(choice)))
    store = open_store(choice)
    try:
        if choice.latest:
            latest = _sync(store.latest)  # the latest that holds a conversation
            if latest is None:
                raise _nothing_to_continue(store.path)
            name, started = latest.name, False
        elif choice.name is not None:
            name, started = choice.name, _sync(store.session(choice.name).info) is None
        else:
            name, started = new_name(store, kind), True
    except BaseException:
        store.close()
        raise
    session = store.session(name, wait=choice.wait)
    return Conversation(session, store, choice.wait, kind, started=started, choice=choice)


def _unstored(choice: SessionChoice, kind: str) -> Conversation | None:
    """With --no-store: a `MemorySession` holding a copy of the session asked for, if any."""
    if not (choice.name or choice.latest):
        return None if kind == "run" else Conversation(MemorySession("chat"), None, 0.0, kind)
    memory = MemorySession(choice.name or "chat")
    if not db_path(choice).exists():  # nothing to read, and nothing is created
        if choice.latest:
            raise _nothing_to_continue(str(db_path(choice)))
        return Conversation(memory, None, 0.0, kind)
    found = open_conversation(SessionChoice(choice.name, choice.latest, db=choice.db), kind)
    assert found is not None
    try:
        history = _sync(found.session.load)
    finally:
        found.close()
    memory = MemorySession(found.name)
    if history:
        _sync(lambda: memory.append(history))
    return Conversation(memory, None, 0.0, kind)


def _nothing_to_continue(path: str) -> SessionError:
    return SessionError(
        f"no stored session to continue in {path} (`agentkit run PROMPT` starts one; "
        "--session NAME names it)"
    )
