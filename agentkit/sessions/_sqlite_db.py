"""The SQLite file under the sessions: connection, settings, versioned migrations, search index.

- WAL, so readers never wait for the writer, and a busy timeout, so writers queue instead
  of failing; every write is `BEGIN IMMEDIATE` (a deferred transaction that turns into a
  write fails with SQLITE_BUSY at once, ignoring the timeout: the "database is locked" that
  users of other tools meet).
- Migrations are numbered by `PRAGMA user_version` and run in one immediate transaction
  that reads the version again once it holds the lock, so processes opening a new file at
  the same moment apply each migration exactly once.
- The full-text index (FTS5) is kept only where the SQLite build has FTS5. A build without
  it leaves a mark when it writes; the next build with it rebuilds the index.

One connection per `Database`, used from worker threads one call at a time; a process that
forks gets a connection of its own on first use.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from agentkit.errors import SessionDatabaseError

__all__ = ["SCHEMA_VERSION", "Database", "transaction"]

T = TypeVar("T")

_V1 = (
    """CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        title TEXT,
        forked_from TEXT,
        generation INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX sessions_updated ON sessions (updated_at)",
    """CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        model TEXT,
        status TEXT NOT NULL,
        started_at REAL NOT NULL,
        finished_at REAL,
        requests INTEGER NOT NULL DEFAULT 0,
        prompt_tokens INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        tool_calls INTEGER NOT NULL DEFAULT 0,
        cost REAL,
        error TEXT
    )""",
    "CREATE INDEX runs_session ON runs (session_id, id)",
    """CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        turn INTEGER NOT NULL,
        run_id INTEGER REFERENCES runs (id) ON DELETE SET NULL,
        role TEXT NOT NULL,
        created_at REAL NOT NULL,
        data TEXT NOT NULL,
        text TEXT NOT NULL,
        UNIQUE (session_id, seq)
    )""",
    """CREATE TABLE leases (
        session_id INTEGER PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
        token TEXT NOT NULL UNIQUE,
        run_id INTEGER,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        start TEXT NOT NULL,
        acquired_at REAL NOT NULL
    )""",
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)

# Append a tuple of statements for each new version; never edit a released one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1,)
SCHEMA_VERSION = len(MIGRATIONS)

_FTS = (
    "CREATE VIRTUAL TABLE messages_fts USING fts5("
    "text, content='messages', content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
)


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection, *, write: bool = True) -> Iterator[None]:
    """One transaction: all of it is committed, or none of it (on any exception)."""
    conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _remedy(exc: sqlite3.Error) -> str:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return "another process kept it locked past the busy timeout: try again"
    if "unable to open" in text or "readonly" in text:
        return "check that its folder exists and is writable"
    if "not a database" in text or "malformed" in text:
        return "it is not a sessions database"
    return ""


class Database:
    """One sessions database file (or ":memory:"), used one call at a time.

    Args:
        path: The file; its folder is created on first use.
        timeout: Seconds a write waits for another process's write before failing.
        fts: Keep the full-text index: None when the build has FTS5, False never.
        durable: Sync to disk at every commit (survives power loss, not only crashes).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout: float = 30.0,
        fts: bool | None = None,
        durable: bool = False,
    ) -> None:
        self.path = str(path)
        self.timeout = timeout
        self.durable = durable
        self._want_fts = fts
        self.fts = False
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0

    def __repr__(self) -> str:
        return f"Database({self.path!r})"

    def call(self, function: Callable[[sqlite3.Connection], T]) -> T:
        """`function(connection)`, alone on the connection; SQLite errors: SessionDatabaseError."""
        with self._lock:
            try:
                return function(self._connection())
            except sqlite3.Error as exc:
                raise SessionDatabaseError(self.path, str(exc), _remedy(exc)) from exc

    def close(self) -> None:
        """Close the connection (a later call opens a new one)."""
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        if self.path != ":memory:":
            try:
                Path(self.path).expanduser().parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise SessionDatabaseError(
                    self.path, f"cannot create its folder: {exc}", "use a writable place"
                ) from None
        conn = sqlite3.connect(
            os.path.expanduser(self.path),
            timeout=self.timeout,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            if self.path != ":memory:":
                self._wal(conn)
            conn.execute(f"PRAGMA synchronous = {'FULL' if self.durable else 'NORMAL'}")
            _migrate(conn, self.path)
            self.fts = self._want_fts is not False and _fts_usable(conn)
            if self.fts:
                _index_ready(conn)
        except BaseException:
            conn.close()
            raise
        self._conn, self._pid = conn, os.getpid()
        return conn

    def _wal(self, conn: sqlite3.Connection) -> None:
        """Switch to WAL; the switch needs a moment alone with the file, so retry it."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
                if mode.lower() != "wal":
                    conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)


def _user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _migrate(conn: sqlite3.Connection, path: str) -> None:
    if _user_version(conn) == SCHEMA_VERSION:
        return
    with transaction(conn):
        version = _user_version(conn)  # again, now that this connection holds the lock
        if version > SCHEMA_VERSION:
            raise SessionDatabaseError(
                path,
                f"its schema version {version} is newer than this agentkit knows "
                f"({SCHEMA_VERSION})",
                "upgrade agentkit to use it",
            )
        if version == 0:
            tables = conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' LIMIT 3"
            ).fetchall()
            if tables:
                names = ", ".join(t[0] for t in tables)
                raise SessionDatabaseError(
                    path, f"agentkit did not create it (tables: {names}); it is left alone"
                )
        for statements in MIGRATIONS[version:]:
            for statement in statements:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _fts_usable(conn: sqlite3.Connection) -> bool:
    """Whether this SQLite build has FTS5 (probed in the temp schema: no lock on the file)."""
    try:
        conn.execute("CREATE VIRTUAL TABLE temp.agentkit_fts5_probe USING fts5(x)")
    except sqlite3.OperationalError:
        return False
    conn.execute("DROP TABLE temp.agentkit_fts5_probe")
    return True


def fts_table_exists(conn: sqlite3.Connection) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'messages_fts'"
    ).fetchone()
    return row is not None


def index_stale(conn: sqlite3.Connection) -> bool:
    """Whether a build without FTS5 wrote messages since the index was last rebuilt."""
    return conn.execute("SELECT 1 FROM meta WHERE key = 'fts_stale'").fetchone() is not None


def rebuild_index(conn: sqlite3.Connection) -> None:
    """Rebuild the index from the messages (inside a write transaction)."""
    conn.execute("INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')")
    conn.execute("DELETE FROM meta WHERE key = 'fts_stale'")


def _index_ready(conn: sqlite3.Connection) -> None:
    """Create the index when missing, rebuild it when a build without FTS5 wrote."""
    if fts_table_exists(conn) and not index_stale(conn):
        return
    with transaction(conn):
        if not fts_table_exists(conn):
            conn.execute(_FTS)
            rebuild_index(conn)
        elif index_stale(conn):
            rebuild_index(conn)
