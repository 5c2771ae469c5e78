"""A session as JSON lines, for export and import between stores and machines.

```text
{"agentkit_session": 1, "name": "...", "created_at": ..., "updated_at": ..., "forked_from": null}
{"run": {"id": 1, "model": "...", "status": "ok", "started_at": ..., "finished_at": ...,
         "usage": {...}, "error": null}}
{"turn": 0, "run": 1, "at": ..., "message": {"v": 1, "role": "user", "content": "..."}}
```

One header line, then the runs, then the messages in order, each with the turn (appended
block) it was stored in. Messages use agentkit's own versioned JSON, so a file written today
is read by every later agentkit.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from agentkit.errors import SessionError
from agentkit.messages import Message, Usage, message_from_json, message_to_json

from ._types import RunRecord, RunStatus, conversation_problems

__all__ = ["FORMAT_VERSION", "Exported", "StoredMessage", "dump", "parse"]

FORMAT_VERSION = 1
_STATUSES = ("running", "ok", "failed", "cancelled", "interrupted")


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message with where and when it was stored."""

    message: Message
    turn: int
    run: int | None
    at: float


@dataclass(frozen=True, slots=True)
class Exported:
    """A whole session: its header fields, runs and messages."""

    name: str
    created_at: float
    updated_at: float
    forked_from: str | None
    runs: Sequence[RunRecord]
    messages: Sequence[StoredMessage]


def usage_to_json(usage: Usage) -> dict[str, Any]:
    data = usage.to_dict()
    data.pop("total_tokens")
    return data


def usage_from_json(data: object, where: str) -> Usage:
    if not isinstance(data, Mapping):
        raise SessionError(f"{where}: usage must be an object, got {data!r:.80}")
    counts = {}
    for key in ("requests", "prompt_tokens", "completion_tokens", "tool_calls"):
        value = data.get(key, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise SessionError(f"{where}: usage.{key} must be a whole number >= 0, got {value!r}")
        counts[key] = value
    cost = data.get("cost")
    if cost is not None and not _number(cost):
        raise SessionError(f"{where}: usage.cost must be a number or null, got {cost!r}")
    return Usage(cost=None if cost is None else float(cost), **counts)


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def dump(session: Exported) -> str:
    """The JSON lines of a session, each line ending in a newline."""
    header = {
        "agentkit_session": FORMAT_VERSION,
        "name": session.name,
        "created_at": session.created_at,
        "updated_at": session.updated_at,
        "forked_from": session.forked_from,
    }
    lines = [header]
    for run in session.runs:
        record = {
            "id": run.id,
            "model": run.model,
            "status": run.status,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "usage": usage_to_json(run.usage),
            "error": run.error,
        }
        lines.append({"run": record})
    for stored in session.messages:
        lines.append(
            {
                "turn": stored.turn,
                "run": stored.run,
                "at": stored.at,
                "message": message_to_json(stored.message),
            }
        )
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)


def _get(data: Mapping[str, Any], key: str, kinds: tuple[type, ...], where: str) -> Any:
    value = data.get(key)
    ok = isinstance(value, kinds) and not isinstance(value, bool)
    if not ok or (isinstance(value, float) and not math.isfinite(value)):
        names = " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
        raise SessionError(f"{where}: {key!r} must be {names}, got {value!r:.80}")
    return value


def _header(data: Mapping[str, Any]) -> tuple[str, float, float, str | None]:
    version = data.get("agentkit_session")
    if version != FORMAT_VERSION:
        newer = isinstance(version, int) and version > FORMAT_VERSION
        hint = " (written by a newer agentkit: upgrade to read it)" if newer else ""
        raise SessionError(f"line 1: unknown session format version {version!r}{hint}")
    name = _get(data, "name", (str,), "line 1")
    if not name.strip():
        raise SessionError("line 1: the session name is empty")
    created = float(_get(data, "created_at", (int, float), "line 1"))
    updated = float(_get(data, "updated_at", (int, float), "line 1"))
    return name, created, updated, _get(data, "forked_from", (str, type(None)), "line 1")


def _run(data: object, where: str) -> RunRecord:
    if not isinstance(data, Mapping):
        raise SessionError(f"{where}: a run must be an object, got {data!r:.80}")
    status = data.get("status")
    if status not in _STATUSES:
        raise SessionError(f"{where}: unknown run status {status!r}")
    finished = _get(data, "finished_at", (int, float, type(None)), where)
    return RunRecord(
        id=_get(data, "id", (int,), where),
        model=_get(data, "model", (str, type(None)), where),
        status=cast(RunStatus, status),
        started_at=float(_get(data, "started_at", (int, float), where)),
        finished_at=None if finished is None else float(finished),
        usage=usage_from_json(data.get("usage", {}), where),
        error=_get(data, "error", (str, type(None)), where),
    )


def _lines(text: str) -> Iterable[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except (ValueError, RecursionError) as exc:
            raise SessionError(f"line {number}: not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise SessionError(f"line {number}: expected a JSON object, got {line[:80]!r}")
        yield number, data


def parse(text: str) -> Exported:
    """The session `dump` wrote, checked whole before anything is stored.

    Raises:
        SessionError: Says which line is wrong and why.
    """
    lines = iter(_lines(text))
    first = next(lines, None)
    if first is None:
        raise SessionError("the file is empty: expected a session exported by agentkit")
    name, created, updated, forked = _header(first[1])
    runs: list[RunRecord] = []
    messages: list[StoredMessage] = []
    for number, data in lines:
        where = f"line {number}"
        if "run" in data and "message" not in data:
            if messages:
                raise SessionError(f"{where}: runs must come before the messages")
            runs.append(_run(data["run"], where))
            continue
        if "message" not in data:
            raise SessionError(f"{where}: expected a run or a message, got keys {sorted(data)}")
        try:
            message = message_from_json(data["message"], f"{where}: message")
        except ValueError as exc:
            raise SessionError(str(exc)) from None
        turn = _get(data, "turn", (int,), where)
        if messages and turn < messages[-1].turn:
            raise SessionError(f"{where}: turn {turn} comes after turn {messages[-1].turn}")
        run = _get(data, "run", (int, type(None)), where)
        at = float(_get(data, "at", (int, float), where))
        messages.append(StoredMessage(message, turn, run, at))
    known = {run.id for run in runs}
    for stored in messages:
        if stored.run is not None and stored.run not in known:
            raise SessionError(
                f"a message of turn {stored.turn} names run {stored.run}, not in the file"
            )
    for turn, block in _blocks(messages):
        problems = conversation_problems(block, block=True)
        if problems:
            raise SessionError(f"turn {turn} is not a whole turn: " + "; ".join(problems))
    return Exported(name, created, updated, forked, runs, messages)


def _blocks(messages: Sequence[StoredMessage]) -> Iterable[tuple[int, list[Message]]]:
    block: list[Message] = []
    turn = None
    for stored in messages:
        if stored.turn != turn and block:
            yield cast(int, turn), block
            block = []
        turn = stored.turn
        block.append(stored.message)
    if block:
        yield cast(int, turn), block
