"""The command line of sessions: `--session`, `-c`, `--no-store`, `--wait` on `run` and
`chat`, `--sessions-db` on `agentkit`, and the `agentkit sessions ...` commands.

Declarations only (click); the work is in `_stored` (the session a run or chat uses) and
`_sessions_cmd` (the `sessions` commands), imported when a command runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

if TYPE_CHECKING:
    from agentkit.cli._load import Options
    from agentkit.cli._render import Renderer
    from agentkit.cli._stored import SessionChoice
    from agentkit.sessions import SQLiteStore

__all__ = [
    "remember_db",
    "session_choice",
    "session_options",
    "sessions_db_option",
    "sessions_group",
]

F = TypeVar("F", bound=Callable[..., Any])
Execute = Callable[["Options", Callable[["Renderer"], int]], NoReturn]

_DB = "agentkit.sessions_db"  # where `--sessions-db` is kept in click's context


def sessions_db_option(command: F) -> F:
    """`agentkit --sessions-db PATH ...`."""
    return click.option(
        "--sessions-db",
        metavar="PATH",
        type=click.Path(dir_okay=False),
        help="The sessions database (default: $AGENTKIT_SESSIONS, else "
        "~/.local/share/agentkit/sessions.db or the platform's data folder).",
    )(command)


def remember_db(path: str | None) -> None:
    """Keep `--sessions-db` for the subcommand."""
    click.get_current_context().meta[_DB] = path


def session_options(*, continue_flag: bool) -> Callable[[F], F]:
    """`--session`, `--no-store`, `--wait` (and `-c/--continue` for `run`)."""

    def decorate(command: F) -> F:
        decorators = [
            click.option(
                "--session",
                "session_name",
                metavar="NAME",
                help="Resume or start the stored session NAME (default: a new one).",
            ),
            click.option("--no-store", is_flag=True, help="Store nothing of this conversation."),
            click.option(
                "--wait",
                "session_wait",
                type=click.FloatRange(min=0),
                default=0.0,
                metavar="SECONDS",
                help="Wait this long for another run holding the session to end.",
            ),
        ]
        if continue_flag:
            decorators.insert(
                1,
                click.option(
                    "-c",
                    "--continue",
                    "continue_latest",
                    is_flag=True,
                    help="Continue the latest stored conversation.",
                ),
            )
        for decorator in reversed(decorators):
            command = decorator(command)
        return command

    return decorate


def session_choice(flags: dict[str, Any]) -> SessionChoice:
    """The session options, taken out of a command's flags."""
    from agentkit.cli._stored import SessionChoice

    name = flags.pop("session_name", None)
    latest = flags.pop("continue_latest", False)
    if name is not None and latest:
        raise click.UsageError("--session and -c/--continue name two sessions: give one")
    if name is not None and not name.strip():
        raise click.UsageError("--session needs a name")
    return SessionChoice(
        name=name,
        latest=latest,
        store=not flags.pop("no_store", False),
        wait=flags.pop("session_wait", 0.0),
        db=click.get_current_context().meta.get(_DB),
    )


def sessions_group(execute: Execute) -> click.Group:
    """The `agentkit sessions` commands, reporting failures through `execute` (as `run` does)."""

    def on_store(
        as_json: bool, work: Callable[[SQLiteStore], int], *, create: bool = False
    ) -> NoReturn:
        """`work(store)`; only `import` (create=True) makes a database that is not there."""
        from agentkit.cli._load import Options
        from agentkit.cli._stored import SessionChoice, explained, open_store

        choice = SessionChoice(db=click.get_current_context().meta.get(_DB))

        def body(renderer: Renderer) -> int:
            with explained(choice, storing=False):
                store = open_store(choice, create=create)
                try:
                    return work(store)
                finally:
                    store.close()

        execute(Options(json=as_json), body)

    json_option = click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")

    @click.group("sessions")
    def sessions() -> None:
        """List, show, export, import, remove, fork and search the stored sessions.

        `agentkit run` and `agentkit chat` store what they say in a SQLite file
        (--sessions-db, $AGENTKIT_SESSIONS, else the user's data folder); `run -c`
        continues the latest session, `--session NAME` a named one.
        """

    @sessions.command("list")
    @click.option("--limit", type=click.IntRange(min=1), default=20, help="At most N sessions.")
    @json_option
    def list_command(limit: int, as_json: bool) -> None:
        """The sessions, most recently updated first: name, messages, tokens, cost, title."""
        from agentkit.cli._sessions_cmd import list_sessions

        on_store(as_json, lambda store: list_sessions(store, limit, as_json))

    @sessions.command("show")
    @click.argument("name")
    @json_option
    def show_command(name: str, as_json: bool) -> None:
        """A session's conversation as `chat` shows it, then its runs."""
        from agentkit.cli._sessions_cmd import show_session

        on_store(as_json, lambda store: show_session(store, name, as_json))

    @sessions.command("export")
    @click.argument("name")
    @click.option("-o", "--output", metavar="FILE", help="Write to FILE instead of stdout.")
    def export_command(name: str, output: str | None) -> None:
        """A session as JSON lines (messages, runs), to import elsewhere."""
        from agentkit.cli._sessions_cmd import export_session

        on_store(False, lambda store: export_session(store, name, output))

    @sessions.command("import")
    @click.argument("file", metavar="FILE")
    @click.option("--name", help="Store it under this name instead of its own.")
    @click.option("--replace", is_flag=True, help="Replace a session of the same name.")
    def import_command(file: str, name: str | None, replace: bool) -> None:
        """Store a session from an export (FILE "-" reads stdin)."""
        from agentkit.cli._sessions_cmd import import_session

        on_store(False, lambda store: import_session(store, file, name, replace), create=True)

    @sessions.command("rm")
    @click.argument("name")
    @click.option("--yes", is_flag=True, help="Do not ask first (needed without a terminal).")
    def rm_command(name: str, yes: bool) -> None:
        """Delete a session and its runs."""
        from agentkit.cli._sessions_cmd import remove_session

        on_store(False, lambda store: remove_session(store, name, yes))

    @sessions.command("fork")
    @click.argument("source")
    @click.argument("target")
    def fork_command(source: str, target: str) -> None:
        """Copy a session's conversation as a new session TARGET."""
        from agentkit.cli._sessions_cmd import fork_session

        on_store(False, lambda store: fork_session(store, source, target))

    @sessions.command("search")
    @click.argument("query")
    @click.option("--session", "session_name", metavar="NAME", help="Only in this session.")
    @click.option("--limit", type=click.IntRange(min=1), default=20, help="At most N hits.")
    @json_option
    def search_command(query: str, session_name: str | None, limit: int, as_json: bool) -> None:
        """Stored messages holding every word of QUERY (full-text where SQLite has FTS5)."""
        from agentkit.cli._sessions_cmd import search_sessions

        on_store(as_json, lambda store: search_sessions(store, query, session_name, limit, as_json))

    return sessions
