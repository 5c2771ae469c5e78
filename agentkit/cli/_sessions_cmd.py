"""What `agentkit sessions list | show | export | import | rm | fork | search` do.

Plain text for people (one line per session or hit, the conversation as `chat` shows it),
or with `--json` one JSON object per line. Every text from the model, a tool or a stored
file goes through `clean` before it is printed.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import click

from agentkit.cli._jsonlines import json_line
from agentkit.cli._text import call_summary, clean, cut, format_usage, plural
from agentkit.errors import SessionError, SessionNotFound, UserError
from agentkit.messages import (
    AssistantMessage,
    Message,
    SystemMessage,
    ToolMessage,
    UserMessage,
    message_to_json,
)
from agentkit.sessions import RunRecord, SessionInfo, SQLiteStore

__all__ = [
    "export_session",
    "fork_session",
    "import_session",
    "list_sessions",
    "remove_session",
    "search_sessions",
    "show_session",
]

T = TypeVar("T")


def _sync(work: Callable[[], Awaitable[T]]) -> T:
    return anyio.run(work)


def _when(at: float | None) -> str:
    return "-" if at is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(at))


def _cost(info_cost: float | None) -> str:
    return "-" if info_cost is None else f"${info_cost:.4f}"


def _info_json(info: SessionInfo) -> dict[str, Any]:
    return {
        "type": "session",
        "name": info.name,
        "created_at": info.created_at,
        "updated_at": info.updated_at,
        "messages": info.messages,
        "turns": info.turns,
        "runs": info.runs,
        "usage": info.usage.to_dict(),
        "title": info.title,
        "forked_from": info.forked_from,
    }


def _run_json(run: RunRecord) -> dict[str, Any]:
    return {
        "type": "run",
        "id": run.id,
        "model": run.model,
        "status": run.status,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "duration": run.duration,
        "usage": run.usage.to_dict(),
        "error": run.error,
    }


def list_sessions(store: SQLiteStore, limit: int, as_json: bool) -> int:
    """The stored sessions, most recently updated first (name, messages, tokens, cost, title)."""
    found = _sync(lambda: store.sessions(limit))
    if as_json:
        for info in found:
            click.echo(json_line(_info_json(info)))
        return 0
    if not found:
        click.echo(f"no stored sessions in {store.path}", err=True)
        return 0
    rows = [
        (
            clean(info.name),
            _when(info.updated_at),
            f"{info.messages:,}",
            f"{info.usage.total_tokens:,}",
            _cost(info.usage.cost),
            cut(clean(info.title), 50),
        )
        for info in found
    ]
    header = ("NAME", "UPDATED", "MESSAGES", "TOKENS", "COST", "TITLE")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, row[-1]]).rstrip())
    return 0


def _message_lines(message: Message) -> list[str]:
    """A stored message as `agentkit chat` shows it."""
    if isinstance(message, UserMessage):
        return [f"> {clean(message.content)}"]
    if isinstance(message, SystemMessage):
        return [f"(system) {clean(message.content)}"]
    if isinstance(message, ToolMessage):
        lines = clean(message.content).splitlines() or [""]
        more = f" … {plural(len(lines) - 1, 'more line')}" if len(lines) > 1 else ""
        return [f"← {clean(message.name or 'tool')}: {cut(lines[0], 160)}{more}"]
    assert isinstance(message, AssistantMessage)
    lines = [clean(message.content)] if message.content else []
    return lines + [f"→ {call_summary(call)}" for call in message.tool_calls]


def show_session(store: SQLiteStore, name: str, as_json: bool) -> int:
    """A session's conversation, then its runs."""
    session = store.session(name)

    async def read() -> tuple[SessionInfo | None, list[Message], list[RunRecord]]:
        return await session.info(), await session.load(), await session.runs()

    info, messages, runs = _sync(read)
    if info is None:
        raise SessionNotFound(name, store.path)
    if as_json:
        click.echo(json_line(_info_json(info)))
        for message in messages:
            click.echo(json_line({"type": "message", "message": message_to_json(message)}))
        for run in runs:
            click.echo(json_line(_run_json(run)))
        return 0
    forked = f", forked from {clean(info.forked_from)}" if info.forked_from else ""
    click.echo(
        f"session {clean(info.name)}: {plural(info.messages, 'message')}, "
        f"{plural(info.runs, 'run')}, created {_when(info.created_at)}, "
        f"updated {_when(info.updated_at)}{forked}"
    )
    for message in messages:
        for line in _message_lines(message):
            click.echo(line)
    if runs:
        click.echo("runs:")
    for run in runs:
        took = "-" if run.duration is None else f"{run.duration:.1f} s"
        model = clean(run.model or "?")
        line = f"  {run.id}  {_when(run.started_at)}  {model}  {run.status}  {took}  "
        click.echo(line + format_usage(run.usage))
        if run.error:
            click.echo(f"     {cut(clean(run.error), 200)}")
    return 0


def export_session(store: SQLiteStore, name: str, output: str | None) -> int:
    """The session as JSON lines, to stdout or a file."""
    text = _sync(lambda: store.export_jsonl(name))
    if output is None or output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return 0
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise SessionError(f"cannot write {output}: {exc.strerror or exc}") from None
    click.echo(f"exported session {clean(name)} to {output}", err=True)
    return 0


def import_session(store: SQLiteStore, file: str, name: str | None, replace: bool) -> int:
    """Store a session from JSON lines (a file, or "-" for stdin)."""
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SessionError(f"cannot read {file}: {getattr(exc, 'strerror', None) or exc}") from None
    session = _sync(lambda: store.import_jsonl(text, name=name, replace=replace))
    info = _sync(session.info)
    count = plural(info.messages if info else 0, "message")
    click.echo(f"imported session {clean(session.name)} ({count})", err=True)
    return 0


def remove_session(store: SQLiteStore, name: str, yes: bool) -> int:
    """Delete a session; asks first on a terminal unless --yes."""
    info = _sync(store.session(name).info)
    if info is None:
        raise SessionNotFound(name, store.path)
    if not yes:
        if not sys.stdin.isatty():
            raise UserError(f"pass --yes to remove session {name!r} without being asked")
        question = f"remove session {clean(name)} ({plural(info.messages, 'message')})?"
        if not click.confirm(question, default=False, err=True):
            click.echo("kept", err=True)
            return 0
    _sync(lambda: store.remove(name))
    click.echo(f"removed session {clean(name)}", err=True)
    return 0


def fork_session(store: SQLiteStore, source: str, target: str) -> int:
    """Copy a session's conversation under a new name."""
    _sync(lambda: store.fork(source, target))
    click.echo(f"forked session {clean(source)} as {clean(target)}", err=True)
    return 0


def search_sessions(
    store: SQLiteStore, query: str, session: str | None, limit: int, as_json: bool
) -> int:
    """Stored messages holding every word of the query."""

    async def find() -> tuple[str, list[Any]]:
        return await store.search_kind(), await store.search(query, limit=limit, session=session)

    kind, hits = _sync(find)
    if kind == "like":
        click.echo("agentkit: this SQLite has no FTS5: the search scans every message", err=True)
    for hit in hits:
        if as_json:
            click.echo(
                json_line(
                    {
                        "type": "hit",
                        "session": hit.session,
                        "position": hit.position,
                        "role": hit.role,
                        "snippet": hit.snippet,
                        "created_at": hit.created_at,
                    }
                )
            )
            continue
        where = f"{clean(hit.session)}[{hit.position}]"
        snippet = clean(hit.snippet).replace("\n", " ")
        click.echo(f"{where}  {_when(hit.created_at)}  {hit.role}: {snippet}")
    if not hits and not as_json:
        click.echo(f"nothing found for {json.dumps(query, ensure_ascii=False)}", err=True)
    return 0
