"""What every session store offers: the `Session` and `SessionStore` protocols and their records.

A session is one named conversation. It grows only by `append`, one transaction per call;
each appended block must be a whole turn (every tool call answered in the same block, no
result without its call), so the stored conversation is always valid to send, whatever
happens between two appends (a crash, a cancellation, a kill).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from agentkit.messages import AssistantMessage, Message, ToolMessage, Usage, UserMessage

__all__ = [
    "RunRecord",
    "RunStatus",
    "SearchHit",
    "Session",
    "SessionInfo",
    "SessionRun",
    "SessionStore",
    "conversation_problems",
    "message_text",
    "title_of",
]

RunStatus = Literal["running", "ok", "failed", "cancelled", "interrupted"]


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A stored session, as `agentkit sessions list` shows it.

    Attributes:
        name: Its name.
        created_at: When it was created (seconds since the epoch).
        updated_at: When it last changed.
        messages: Messages stored.
        turns: Appended blocks (one per committed turn).
        runs: Runs recorded.
        usage: The sum of the usage of its runs.
        title: The start of its first user message, on one line.
        forked_from: The session it was forked from, if any.
    """

    name: str
    created_at: float
    updated_at: float
    messages: int
    turns: int
    runs: int
    usage: Usage
    title: str
    forked_from: str | None = None


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run on a session: its model, timing, usage and how it ended.

    Attributes:
        id: Its number in the store.
        model: The model id it used, when it said.
        status: "running", "ok", "failed", "cancelled", or "interrupted" (its process died;
            found when the next run recovered the session).
        started_at: Seconds since the epoch.
        finished_at: None while running or when interrupted.
        usage: Requests, tokens, tool calls and estimated cost.
        error: For a failed run, the error's type and message.
    """

    id: int
    model: str | None
    status: RunStatus
    started_at: float
    finished_at: float | None
    usage: Usage
    error: str | None = None

    @property
    def duration(self) -> float | None:
        """Seconds from start to end; None while running or when interrupted."""
        return None if self.finished_at is None else self.finished_at - self.started_at


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A stored message that matched a search.

    Attributes:
        session: The session's name.
        position: The message's index in the conversation (0 is the first).
        role: "user", "assistant", "tool" or "system".
        snippet: The matching text, shortened around the match.
        created_at: When it was stored.
    """

    session: str
    position: int
    role: str
    snippet: str
    created_at: float


@runtime_checkable
class SessionRun(Protocol):
    """A run holding a session: it alone may append until it ends.

    `usage` is the run's usage so far; each `commit` stores it, and the end of the run
    stores its last value with the run's status and timing.
    """

    usage: Usage

    @property
    def id(self) -> int:
        """The run's number in the store."""
        ...

    async def commit(self, messages: Sequence[Message], *, usage: Usage | None = None) -> None:
        """Append one whole turn, in one transaction, as this run."""
        ...


@runtime_checkable
class Session(Protocol):
    """One named conversation that persists."""

    @property
    def name(self) -> str:
        """The session's name."""
        ...

    async def load(self) -> list[Message]:
        """The stored conversation, oldest first; [] for a session not stored yet."""
        ...

    async def append(self, messages: Sequence[Message]) -> None:
        """Append one whole turn in one transaction (refused while a run holds the session)."""
        ...

    async def clear(self) -> None:
        """Forget the conversation (its runs are kept)."""
        ...

    def run(
        self, *, model: str | None = None, wait: float = 0.0
    ) -> AbstractAsyncContextManager[SessionRun]:
        """Hold the session for one run; `SessionBusy` when another run holds it."""
        ...

    async def info(self) -> SessionInfo | None:
        """What is stored, or None when nothing is."""
        ...

    async def runs(self) -> list[RunRecord]:
        """The runs recorded on this session, oldest first."""
        ...


@runtime_checkable
class SessionStore(Protocol):
    """Many named sessions: what the CLI lists, shows, forks, removes and searches."""

    def session(self, name: str, *, wait: float = 0.0) -> Session:
        """The session of that name (stored at its first append); runs on it wait `wait`
        seconds for another run holding it."""
        ...

    async def sessions(self, limit: int | None = None) -> list[SessionInfo]:
        """The stored sessions, most recently updated first."""
        ...

    async def latest(self) -> SessionInfo | None:
        """The most recently updated session holding messages, for `agentkit run -c`."""
        ...

    async def remove(self, name: str) -> bool:
        """Delete a session and its runs; False when there was none."""
        ...

    async def remove_if_empty(self, name: str) -> bool:
        """Delete the session if it holds nothing (no message, no run holding it, no run
        that used the model); True when it was deleted."""
        ...

    async def fork(self, source: str, target: str) -> Session:
        """Copy a session's conversation under a new name."""
        ...

    async def search(
        self, query: str, *, limit: int = 20, session: str | None = None
    ) -> list[SearchHit]:
        """Stored messages holding every word of `query`, best matches first."""
        ...

    async def export_jsonl(self, name: str) -> str:
        """A session as JSON lines (see `agentkit.sessions` for the format)."""
        ...

    async def import_jsonl(
        self, text: str, *, name: str | None = None, replace: bool = False
    ) -> Session:
        """Store the session `export_jsonl` wrote, under its own name or `name`."""
        ...


def message_text(message: Message) -> str:
    """The searchable text of a message: its content, and the calls' names and arguments."""
    if isinstance(message, AssistantMessage):
        parts = [message.content or ""]
        parts += [f"{c.name} {c.raw_arguments}" for c in message.tool_calls]
        return "\n".join(p for p in parts if p)
    return message.content


def title_of(messages: Iterable[Message], width: int = 60) -> str:
    """The start of the first user message, on one line."""
    for message in messages:
        if isinstance(message, UserMessage):
            line = " ".join(message.content.split())
            return line if len(line) <= width else line[: width - 1] + "…"
    return ""


def conversation_problems(messages: Sequence[Message], *, block: bool = False) -> list[str]:
    """What makes a conversation invalid to send: calls without results, results without calls.

    Results must follow the assistant message of their calls, before the next message of
    another role. With `block`, the messages are one appended block, which must also not
    answer a call made before it.
    """
    problems: list[str] = []
    pending: dict[str, str] = {}  # call id -> tool name, of the last assistant message

    def close() -> None:
        for call_id, name in pending.items():
            problems.append(f"the call {call_id!r} ({name}) has no result")
        pending.clear()

    for i, message in enumerate(messages):
        if isinstance(message, ToolMessage):
            if pending.pop(message.tool_call_id, None) is None:
                where = "in this block" if block else "before it"
                problems.append(
                    f"messages[{i}]: the result for {message.tool_call_id!r} answers no call "
                    f"{where}"
                )
            continue
        close()
        if isinstance(message, AssistantMessage):
            for call in message.tool_calls:
                if call.id in pending:
                    problems.append(f"messages[{i}]: the call id {call.id!r} is used twice")
                pending[call.id] = call.name
    close()
    return problems
