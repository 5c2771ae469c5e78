"""How `agentkit batch` shows a batch: a rich progress bar on a terminal, plain lines otherwise.

Any `progress=` callback of `run_batch` may use these too; they live in the CLI because
only the CLI draws on a terminal (the batch core never imports rich).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import IO, Any

from agentkit.batch import BatchProgress, BatchSummary
from agentkit.batch._types import State

__all__ = ["PlainProgress", "RichProgress", "progress_for", "progress_line", "summary_lines"]


def _count(n: int) -> str:
    return f"{n:,}"


def _tokens(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 10_000:
        return f"{n / 1000:.0f}k"
    return str(n)


def _cost(cost: float | None) -> str:
    return "cost unknown" if cost is None else f"${cost:,.4f}"


def _stats(p: BatchProgress) -> str:
    parts = [f"{p.rows_per_second:,.1f} rows/s", f"{_count(p.errors)} errors"]
    if p.invalid:
        parts.append(f"{_count(p.invalid)} invalid")
    parts += [f"{_tokens(p.tokens)} tokens", _cost(p.cost)]
    if p.rate_limited:
        parts.append(f"{_count(p.rate_limited)} rate-limited")
    return ", ".join(parts)


def progress_line(p: BatchProgress) -> str:
    """One plain line: rows done of the total, speed, errors, tokens, cost, rows in flight."""
    finished = p.skipped + p.done
    of = f"/{_count(p.total)}" if p.total is not None else ""
    skipped = f" ({_count(p.skipped)} from earlier runs)" if p.skipped else ""
    line = f"batch: {_count(finished)}{of} rows{skipped}, {_stats(p)}"
    if p.in_flight:
        line += f", {_count(p.in_flight)} in flight"
    return line


NOTICES: dict[State, str] = {
    "draining": "draining: finishing the {n} rows in flight (Ctrl-C again to cancel them)",
    "cancelling": "cancelling the {n} rows in flight; they run again on the next resume",
}


class PlainProgress:
    """Plain lines on a stream that is not a terminal: one every `every` seconds and on changes.

    Args:
        file: Where to write (stderr by default).
        every: Seconds between lines while the batch runs.
        clock: The clock.
    """

    def __init__(
        self,
        file: IO[str] | None = None,
        *,
        every: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.file = file if file is not None else sys.stderr
        self.every = every
        self.clock = clock
        self._last = -float("inf")
        self._state: State = "running"

    def __call__(self, p: BatchProgress) -> None:
        now = self.clock()
        changed = p.state != self._state
        if changed and p.state in NOTICES:
            print(NOTICES[p.state].format(n=_count(p.in_flight)), file=self.file, flush=True)
        self._state = p.state
        if p.state == "done":
            return  # the summary follows
        if changed or now - self._last >= self.every:
            self._last = now
            print(progress_line(p), file=self.file, flush=True)


class RichProgress:
    """A rich progress bar with rows/s, errors, tokens and cost; use it as a context manager.

    Args:
        console: A `rich.console.Console` (default: one on stderr).
    """

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = console if console is not None else Console(stderr=True)
        self._bar = Progress(
            TextColumn("[bold]batch"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self._task = self._bar.add_task("rows", total=None, stats="starting")
        self._state: State = "running"

    def __enter__(self) -> RichProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._bar.stop()

    def __call__(self, p: BatchProgress) -> None:
        if p.state != self._state and p.state in NOTICES:
            self.console.print(NOTICES[p.state].format(n=_count(p.in_flight)), style="yellow")
        self._state = p.state
        stats = _stats(p) + (f", {_count(p.in_flight)} in flight" if p.in_flight else "")
        self._bar.update(
            self._task, completed=p.skipped + p.done, total=p.total, stats=stats, refresh=False
        )


def progress_for(file: IO[str] | None = None) -> PlainProgress | RichProgress:
    """The rich bar when `file` (stderr by default) is a terminal, else plain lines."""
    stream = file if file is not None else sys.stderr
    if stream.isatty():
        from rich.console import Console

        return RichProgress(Console(file=stream))
    return PlainProgress(stream)


def summary_lines(summary: BatchSummary) -> list[str]:
    """The end-of-batch summary, and what to do next."""
    p = summary.progress
    lines = [
        f"{_count(p.ok)} ok, {_count(p.errors)} errors, {_count(p.invalid)} invalid in "
        f"{p.elapsed:,.1f} s ({p.rows_per_second:,.1f} rows/s); {_tokens(p.tokens)} tokens "
        f"({_count(p.prompt_tokens)} in, {_count(p.completion_tokens)} out), {_cost(p.cost)}",
    ]
    if p.skipped:
        lines.append(f"{_count(p.skipped)} rows were already done by an earlier run")
    lines += summary.notes
    if summary.stopped in ("interrupted", "cancelled", "fatal"):
        left = f"{_count(p.remaining)} rows" if p.remaining is not None else "the other rows"
        lines.append(f"stopped ({summary.stopped}): {left} not done; run again to resume")
    if p.errors:
        lines.append(
            f"rows that failed are in {summary.output} with their error; fix the cause and run "
            "again with --retry-errors to try them again"
        )
    if p.invalid:
        lines.append(
            f"invalid input lines are in {summary.output} with their line number and what is "
            "wrong; fix them in the input and run again (with --retry-errors for lines that "
            "give an id; a line without one gets a new id from its fixed content)"
        )
    lines.append(f"results: {summary.output}")
    return lines
