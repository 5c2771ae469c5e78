"""Input rows: read from JSONL (or Python objects), checked, each with a stable id.

A row is `{"id": ..., "prompt": ..., "messages"?: [...], "deps"?: ..., "settings"?: {...},
"meta"?: ...}`. A row without an id gets one derived from its content, so the same row
gets the same id on every run (that is what resuming matches on). A row that cannot run
becomes an `InvalidRow` naming its line and what is wrong; it never stops the others.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

from agentkit.errors import UserError
from agentkit.messages import Message, messages_from_wire

__all__ = [
    "FIELDS",
    "InvalidRow",
    "Row",
    "RowSource",
    "id_key",
    "read_rows",
]

FIELDS = ("id", "prompt", "messages", "deps", "settings", "meta")
RowSource = Union[str, "os.PathLike[str]", Iterable[Union[Mapping[str, Any], str]]]  # noqa: UP007


@dataclass(frozen=True, slots=True)
class Row:
    """One runnable row.

    Attributes:
        id: The row's id as given (str or int), or the derived `row-...` id.
        line: Its line in the input file (its position, from 1, for Python rows).
        prompt: The user's message.
        messages: An earlier conversation to continue, typed.
        deps: Passed to tools as `RunContext.deps`; None when the row has none.
        settings: Model settings for this row, over the agent's.
        meta: The row's own data, copied to its result line as is.
    """

    id: str | int
    line: int
    prompt: str
    messages: tuple[Message, ...] | None = None
    deps: Any = None
    settings: dict[str, Any] | None = None
    meta: Any = None

    @property
    def key(self) -> str:
        """The id as the ledger compares it."""
        return id_key(self.id)


@dataclass(frozen=True, slots=True)
class InvalidRow:
    """A row that cannot run: its line, an id when one can be told, and what is wrong."""

    id: str | int
    line: int
    problem: str

    @property
    def key(self) -> str:
        return id_key(self.id)


def id_key(value: str | int) -> str:
    """The ledger's key for an id: 7 and "7" are the same row."""
    return value if isinstance(value, str) else str(value)


def derived_id(data: Mapping[str, Any] | str | bytes) -> str:
    """A stable id from a row's content: the same content (in any key order), the same id."""
    if isinstance(data, bytes):
        raw = data
    elif isinstance(data, str):
        raw = data.encode("utf-8", "surrogatepass")
    else:
        raw = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode(
            "utf-8", "surrogatepass"
        )
    return "row-" + hashlib.sha256(raw).hexdigest()[:20]


def _describe(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_id(data: Mapping[str, Any]) -> tuple[str | int | None, str | None]:
    """(id, problem): the id given, or None to derive one; a problem when it is not an id."""
    if "id" not in data or data["id"] is None:
        return None, None
    value = data["id"]
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None, f'"id" must be a string or an integer, got {_describe(value)}'
    if isinstance(value, str) and not value.strip():
        return None, '"id" must not be empty (leave it out to have one derived from the row)'
    return value, None


def _problems(data: Mapping[str, Any]) -> tuple[list[str], tuple[Message, ...] | None]:
    """Everything wrong with a row's fields, and its messages once decoded."""
    problems = []
    unknown = sorted(k for k in data if k not in FIELDS)
    if unknown:
        names = ", ".join(repr(k) for k in unknown)
        problems.append(
            f"unknown field{'s' if len(unknown) > 1 else ''} {names} (a row has "
            f'{", ".join(FIELDS)}; put your own data under "meta")'
        )
    prompt = data.get("prompt")
    if "prompt" not in data:
        problems.append('no "prompt": every row needs the user\'s message as "prompt"')
    elif not isinstance(prompt, str):
        problems.append(f'"prompt" must be a string, got {_describe(prompt)}')
    settings = data.get("settings")
    if settings is not None and not isinstance(settings, dict):
        problems.append(
            f'"settings" must be an object of model settings, got {_describe(settings)}'
        )
    messages = None
    raw = data.get("messages")
    if raw is not None:
        if not isinstance(raw, list):
            problems.append(f'"messages" must be a list of chat messages, got {_describe(raw)}')
        else:
            try:
                messages = tuple(messages_from_wire(raw))
            except (TypeError, ValueError) as exc:
                problems.append(f'"messages" is not a valid conversation: {exc}')
    return problems, messages


def parse_row(data: object, line: int, where: str = "line") -> Row | InvalidRow:
    """A decoded row checked: a `Row` to run, or an `InvalidRow` saying every problem.

    `where` names the position in messages: "line" in a file, "row" for Python rows.
    """
    if isinstance(data, str):
        data = {"prompt": data}
    if not isinstance(data, Mapping):
        what = type(data).__name__
        return InvalidRow(
            derived_id(_describe(data)),
            line,
            f'{where} {line}: a row must be a JSON object with a "prompt", got {what}',
        )
    given, id_problem = _check_id(data)
    problems, messages = _problems(data)
    if id_problem:
        problems.insert(0, id_problem)
    row_id: str | int = given if given is not None else derived_id(data)
    if problems:
        return InvalidRow(row_id, line, f"{where} {line}: " + "; ".join(problems))
    return Row(
        id=row_id,
        line=line,
        prompt=data["prompt"],
        messages=messages,
        deps=data.get("deps"),
        settings=data.get("settings"),
        meta=data.get("meta"),
    )


def _decode(raw: bytes, line: int) -> Row | InvalidRow:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return InvalidRow(
            derived_id(raw), line, f"line {line}: not UTF-8 text (byte {exc.start + 1})"
        )
    try:
        data = json.loads(text)
    except ValueError as exc:
        detail = getattr(exc, "msg", str(exc))
        column = getattr(exc, "colno", None)
        where = f" at column {column}" if column else ""
        return InvalidRow(derived_id(raw), line, f"line {line}: not JSON ({detail}{where})")
    return parse_row(data, line)


def _file_rows(path: Path) -> Iterator[Row | InvalidRow]:
    with path.open("rb") as file:
        for number, raw in enumerate(file, 1):
            stripped = raw.strip()
            if stripped:  # blank lines (a trailing newline, spacing) are no rows
                yield _decode(stripped, number)


def _python_rows(rows: Iterable[Mapping[str, Any] | str]) -> Iterator[Row | InvalidRow]:
    for number, item in enumerate(rows, 1):
        yield parse_row(item, number, "row")


def _unique(rows: Iterator[Row | InvalidRow], where: str) -> Iterator[Row | InvalidRow]:
    """The rows, a second row with an id already seen made invalid (it would never run)."""
    first: dict[str, int] = {}
    for row in rows:
        seen = first.setdefault(row.key, row.line)
        if seen == row.line:
            yield row
            continue
        if isinstance(row.id, str) and row.id.startswith("row-"):
            problem = f'the same row as {where} {seen}; give each row an "id" to run it twice'
        else:
            problem = (
                f"duplicate id {_describe(row.id)} (first on {where} {seen}); ids must be unique"
            )
        # Its own id: a line under the first row's id would be taken for that row's result.
        yield InvalidRow(f"{row.key}@{where}{row.line}", row.line, f"{where} {row.line}: {problem}")


def count_rows(source: RowSource) -> int | None:
    """How many rows the source holds, when that is known without running it."""
    if isinstance(source, str | os.PathLike):
        with Path(source).open("rb") as file:
            return sum(1 for raw in file if raw.strip())
    try:
        return len(source)  # type: ignore[arg-type]
    except TypeError:
        return None


def read_rows(source: RowSource) -> Iterator[Row | InvalidRow]:
    """The rows of a JSONL file (a path) or of Python rows (dicts or prompt strings), lazily.

    Raises:
        UserError: The input file does not exist or is not a file.
    """
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.is_file():
            what = "is a folder" if path.is_dir() else "not found"
            raise UserError(
                f"input file {what}: {path} (give a JSONL file, one row per line: "
                '{"id": ..., "prompt": ...})'
            )
        return _unique(_file_rows(path), "line")
    if isinstance(source, Mapping):
        raise UserError("rows must be a JSONL path or an iterable of rows, got one dict")
    return _unique(_python_rows(source), "row")
