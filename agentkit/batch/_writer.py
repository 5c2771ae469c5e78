"""The one writer of a batch's output, and what a batch says when its output cannot be written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream

from agentkit import UserError

from ._ledger import Ledger
from ._types import BatchControl, BatchStopped, BatchSummary

__all__ = ["Writer", "output_error"]


class Writer:
    """The one writer: takes every line waiting, writes and fsyncs them as one group.

    When a group cannot be written (a full disk), the batch is cancelled at once (its
    results could not be kept); the lines still arriving are counted, not written, and
    `lost` is told of each (those rows are not done: they run on the next resume).
    """

    def __init__(
        self, ledger: Ledger, control: BatchControl, lost: Callable[[dict[str, Any]], None]
    ) -> None:
        self.ledger = ledger
        self.control = control
        self.lost = lost
        self.failure: OSError | None = None
        self.unwritten = 0

    async def run(self, receive: MemoryObjectReceiveStream[dict[str, Any]]) -> None:
        async with receive:
            while True:
                try:
                    group = [await receive.receive()]
                except anyio.EndOfStream:
                    return
                while True:
                    try:
                        group.append(receive.receive_nowait())
                    except (anyio.WouldBlock, anyio.EndOfStream):
                        break
                await self._write(group)

    async def _write(self, group: list[dict[str, Any]]) -> None:
        if self.failure is None:
            try:
                await anyio.to_thread.run_sync(self.ledger.append, group)
                return
            except OSError as exc:
                self.failure = exc
                self.control.cancel()
        self.unwritten += len(group)
        for record in group:
            self.lost(record)

    def stopped(self, summary: BatchSummary) -> BatchStopped:
        """The error that ends a batch whose output could not be written."""
        failure = self.failure
        assert failure is not None
        why = failure.strerror or str(failure) or type(failure).__name__
        path = self.ledger.path
        return BatchStopped(
            f"the batch stopped: cannot write the results to {path} ({why}). The "
            f"{self.ledger.written} rows written by this run are kept and the file ends with "
            f"whole lines; the {self.unwritten} results that could not be written, and the "
            "rows not done, run again on the next resume: free space (or fix the disk), then "
            "run the same command again",
            summary,
        )


def output_error(path: Path, exc: OSError) -> UserError:
    """A clear error for an output (or its manifest) that cannot be read, created or written."""
    why = exc.strerror or str(exc) or type(exc).__name__
    where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(path) else ""
    return UserError(
        f"cannot write the output {path}{where}: {why}; free space, fix the permissions, or "
        "write to another folder"
    )
