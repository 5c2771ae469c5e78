"""The output file is the ledger: one JSON line per finished row, appended and fsynced.

One writer appends; a row counts as finished once its line is on disk. Lines are written
whole (one `os.write` per group of lines) and fsynced per group, so a crash can leave at
most a torn last line, which the next run cuts off (that row simply runs again). The file
is append-only: a row run again (`retry_errors`) gets a new line, and the last line of an
id is its result.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentkit.errors import UserError

from ._rows import id_key

__all__ = ["Ledger", "LedgerState", "read_results", "scan"]

FINISHED = "ok"


@dataclass
class LedgerState:
    """What an existing output file holds: the last status of each id, and repairs made."""

    statuses: dict[str, str] = field(default_factory=dict)
    lines: int = 0
    torn_bytes: int = 0

    def finished(self, key: str, retry_errors: bool) -> bool:
        """Whether the row with this id is done: succeeded, or failed and not to retry."""
        status = self.statuses.get(key)
        return status == FINISHED or (status is not None and not retry_errors)


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) of every complete line; a torn last line is left out."""
    with path.open("rb") as file:
        for number, raw in enumerate(file, 1):
            if not raw.endswith(b"\n"):
                return  # torn: the writer died in the middle of this line
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except ValueError:
                record = None
            if not isinstance(record, dict) or "id" not in record or "status" not in record:
                raise UserError(
                    f"{path} line {number} is not a result line ({raw[:80]!r}): the file was "
                    "changed by something other than agentkit batch; remove that line, or "
                    "write to a new output file"
                )
            yield number, record


def read_results(path: str | os.PathLike[str]) -> dict[str | int, dict[str, Any]]:
    """The result of every row in an output file, by id: the last line of each id wins.

    Raises:
        UserError: A line that is not a result line (the file was edited).
    """
    results: dict[str, dict[str, Any]] = {}
    for _, record in _records(Path(path)):
        results[id_key(record["id"])] = record
    return {record["id"]: record for record in results.values()}


def scan(path: Path) -> LedgerState:
    """Read an output file before resuming, cutting off a torn last line.

    Raises:
        UserError: A line that is not a result line (the file was edited).
    """
    state = LedgerState()
    if not path.exists():
        return state
    for number, record in _records(path):
        state.statuses[id_key(record["id"])] = str(record["status"])
        state.lines = number
    size = path.stat().st_size
    with path.open("rb+") as file:
        end = _complete_end(file, size)
        if end < size:
            file.truncate(end)
            file.flush()
            os.fsync(file.fileno())
            state.torn_bytes = size - end
    return state


def _complete_end(file: Any, size: int) -> int:
    """The offset just after the last newline: where the complete lines end."""
    position = size
    while position > 0:
        start = max(0, position - 65536)
        file.seek(start)
        chunk = file.read(position - start)
        newline: int = chunk.rfind(b"\n")
        if newline >= 0:
            return start + newline + 1
        position = start
    return 0


def encode(record: Mapping[str, Any]) -> bytes:
    """One ledger line. Non-JSON values (an output that is no JSON type) become their text."""
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str)
    return (text + "\n").encode("utf-8", "surrogatepass")


class Ledger:
    """The single writer of an output file: appends groups of lines, fsyncs each group.

    A group that cannot be written whole (a full disk, a failing fsync) is cut off again, so
    the file still ends with the last group that was written, and the `OSError` is raised.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        created = not path.exists()
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if created:
            _fsync_folder(path.parent)
        self._end = os.fstat(self._fd).st_size
        self.written = 0

    def append(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Write the lines in one go and put them on disk (blocking: run it in a thread).

        Raises:
            OSError: The lines could not all be written and synced; none of them stay.
        """
        data = b"".join(encode(r) for r in records)
        view = memoryview(data)
        try:
            while view:
                done = os.write(self._fd, view)
                view = view[done:]
            os.fsync(self._fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._end)  # no half line for the next group to follow
            raise
        self._end += len(data)
        self.written += data.count(b"\n")

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _fsync_folder(folder: Path) -> None:
    """Make a new file's name durable too (its folder entry)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on a folder; the data itself is synced
    finally:
        os.close(fd)
