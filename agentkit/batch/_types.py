"""What a batch reports: progress snapshots, the summary, the control handle, the stop error."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import anyio

from agentkit import AgentkitError

__all__ = ["BatchControl", "BatchProgress", "BatchStopped", "BatchSummary", "State"]

State = Literal["running", "draining", "cancelling", "done"]


class BatchControl:
    """Stop a running batch: `drain()` finishes the rows in flight, `cancel()` drops them.

    Call from the batch's event loop (a signal handler, another task); the rows dropped
    by `cancel()` have no result line, so the next run does them again.
    """

    def __init__(self) -> None:
        self.draining = False
        self.cancelled = False
        self._scopes: list[anyio.CancelScope] = []
        self._on_change: list[Callable[[], object]] = []

    def drain(self) -> None:
        """Start no new row; let the rows in flight finish and be written."""
        self.draining = True
        self._changed()

    def cancel(self) -> None:
        """Stop the rows in flight now (what was already finished stays written)."""
        self.draining = True
        self.cancelled = True
        for scope in self._scopes:
            scope.cancel()
        self._changed()

    def _changed(self) -> None:
        for listener in self._on_change:
            listener()

    def _attach(self, scope: anyio.CancelScope) -> None:
        self._scopes.append(scope)
        if self.cancelled:
            scope.cancel()


@dataclass(frozen=True)
class BatchProgress:
    """A snapshot of a running batch, handed to the `progress` callback.

    Attributes:
        total: Rows in the input, when known.
        skipped: Rows already finished by an earlier run.
        done: Rows finished by this run (ok, error and invalid).
        ok: Rows that succeeded in this run.
        errors: Rows that failed in this run (after their attempts).
        invalid: Rows that cannot run (bad input), found in this run.
        in_flight: Rows running now.
        prompt_tokens: Tokens sent so far in this run.
        completion_tokens: Tokens received so far in this run.
        cost: Estimated US dollars so far; None while no model has a known price.
        elapsed: Seconds since the batch started.
        rate_limited: 429 answers waited out.
        state: "running", "draining" (first Ctrl-C), "cancelling" or "done".
    """

    total: int | None
    skipped: int
    done: int
    ok: int
    errors: int
    invalid: int
    in_flight: int
    prompt_tokens: int
    completion_tokens: int
    cost: float | None
    elapsed: float
    rate_limited: int
    state: State

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def rows_per_second(self) -> float:
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def remaining(self) -> int | None:
        """Rows neither finished earlier nor in this run, when the total is known."""
        if self.total is None:
            return None
        return max(0, self.total - self.skipped - self.done)


@dataclass(frozen=True)
class BatchSummary:
    """What a batch run did.

    Attributes:
        output: The output file (the ledger).
        progress: The last snapshot: counts, tokens, cost, time.
        stopped: None when every row was done; "interrupted" (drained), "cancelled", or
            "fatal" (the endpoint refused; see `BatchStopped`).
        repaired_bytes: Bytes of a torn last line cut off the output before resuming.
        backend: "local" or "ray".
        notes: Things the user should know (a forced resume, a repaired file).
    """

    output: Path
    progress: BatchProgress
    stopped: Literal["interrupted", "cancelled", "fatal"] | None = None
    repaired_bytes: int = 0
    backend: str = "local"
    notes: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Whether every row of the input has a result line (ok, error or invalid)."""
        return self.stopped is None


class BatchStopped(AgentkitError):
    """The batch stopped early because the endpoint refused a row in a way every row would be.

    The rows finished before stopping are written; fix the cause and run again.

    Attributes:
        summary: What the batch did before it stopped.
    """

    def __init__(self, message: str, summary: BatchSummary) -> None:
        super().__init__(message)
        self.summary = summary
