"""`run_batch`: rows in, one result line per row out, resumable, whichever backend runs them.

The driver reads the rows, skips those the output already finished, starts at most
`concurrency` at a time on the backend, and hands each result to the one writer of the
output file. The driver alone writes, so resuming works the same for every backend.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, nullcontext
from pathlib import Path
from typing import Any, Literal

import anyio
import anyio.abc
import anyio.lowlevel
from anyio.streams.memory import MemoryObjectSendStream

from agentkit import UserError
from agentkit._sources import serving

from ._execute import Outcome, Policy, invalid_record
from ._ledger import Ledger, LedgerState, scan
from ._limits import RateLimiter
from ._local import AgentSource, Backend, LocalBackend, build_agent
from ._manifest import agent_config, check_manifest
from ._rows import InvalidRow, Row, RowSource, count_rows, read_rows
from ._types import BatchControl, BatchProgress, BatchStopped, BatchSummary, State
from ._writer import Writer, output_error

__all__ = ["run_batch"]

ProgressCallback = Callable[[BatchProgress], object]
TICK = 1.0  # seconds between progress snapshots while no row finishes


class _Tally:
    """Counts, tokens and cost of this run, and snapshots of them."""

    def __init__(self, total: int | None, rate_limited: Callable[[], int]) -> None:
        self.total = total
        self.started = time.monotonic()
        self.skipped = self.ok = self.errors = self.invalid = self.in_flight = 0
        self.prompt_tokens = self.completion_tokens = 0
        self.cost: float | None = None
        self.fatal: str | None = None
        self._rate_limited = rate_limited

    def add(self, record: Mapping[str, Any]) -> None:
        status = record["status"]
        if status == "ok":
            self.ok += 1
        elif status == "invalid":
            self.invalid += 1
        else:
            self.errors += 1
        usage = record.get("usage") or {}
        self.prompt_tokens += usage.get("prompt_tokens", 0)
        self.completion_tokens += usage.get("completion_tokens", 0)
        if record.get("cost") is not None:
            self.cost = (self.cost or 0.0) + record["cost"]

    def lost(self, record: Mapping[str, Any]) -> None:
        """A finished row whose line could not be written: not done (its tokens were used)."""
        status = record["status"]
        if status == "ok":
            self.ok -= 1
        elif status == "invalid":
            self.invalid -= 1
        else:
            self.errors -= 1

    def snapshot(self, state: State) -> BatchProgress:
        return BatchProgress(
            total=self.total,
            skipped=self.skipped,
            done=self.ok + self.errors + self.invalid,
            ok=self.ok,
            errors=self.errors,
            invalid=self.invalid,
            in_flight=self.in_flight,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            cost=None if self.cost is None else round(self.cost, 8),
            elapsed=time.monotonic() - self.started,
            rate_limited=self._rate_limited(),
            state=state,
        )


class _Driver:
    def __init__(
        self,
        backend: Backend,
        ledger_state: LedgerState,
        tally: _Tally,
        control: BatchControl,
        *,
        concurrency: int,
        retry_errors: bool,
        progress: ProgressCallback | None,
    ) -> None:
        self.backend = backend
        self.state = ledger_state
        self.tally = tally
        self.control = control
        self.slots = anyio.Semaphore(concurrency)
        self.retry_errors = retry_errors
        self.progress = progress

    def state_name(self) -> State:
        if self.control.cancelled:
            return "cancelling"
        return "draining" if self.control.draining else "running"

    def report(self, state: State | None = None) -> None:
        if self.progress is not None:
            self.progress(self.tally.snapshot(state or self.state_name()))

    async def dispatch(self, rows: Iterator[Row | InvalidRow], send: _Send) -> None:
        async with anyio.create_task_group() as tg:
            self.control._attach(tg.cancel_scope)
            self.control._on_change.append(self.report)
            for count, row in enumerate(rows):
                if count % 256 == 255:
                    await anyio.lowlevel.checkpoint()  # a long run of skipped rows
                if self.control.draining:
                    break
                if self.state.finished(row.key, self.retry_errors):
                    self.tally.skipped += 1
                    continue
                if isinstance(row, InvalidRow):
                    record = invalid_record(row)
                    await send.send(record)
                    self.tally.add(record)
                    continue
                await self.slots.acquire()
                if self.control.draining:
                    self.slots.release()
                    break
                self.tally.in_flight += 1
                tg.start_soon(self.one, row, send)

    async def one(self, row: Row, send: _Send) -> None:
        try:
            outcome: Outcome = await self.backend.run(row)
            await send.send(outcome.record)
            self.tally.add(outcome.record)
            if outcome.fatal is not None and self.tally.fatal is None:
                self.tally.fatal = f"row {row.id!r} (line {row.line}): {outcome.fatal}"
                self.control.drain()
        finally:
            self.tally.in_flight -= 1
            self.slots.release()
        self.report()

    async def tick(self) -> None:
        while True:
            await anyio.sleep(TICK)
            self.report()


_Send = MemoryObjectSendStream[dict[str, Any]]


def _check_options(
    concurrency: int,
    rps: float | None,
    tpm: float | None,
    timeout: float | None,
    attempts: int,
    backoff: float,
) -> None:
    problems = []

    def whole(name: str, value: object) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            problems.append(f"{name} must be a whole number >= 1, got {value!r}")

    def positive(name: str, value: object, *, zero: bool = False) -> None:
        if value is None and not zero:
            return
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if (
            not number
            or not math.isfinite(value)  # type: ignore[arg-type]
            or value < 0  # type: ignore[operator]
            or (value == 0 and not zero)
        ):
            least = ">= 0" if zero else "> 0 (or None for no limit)"
            problems.append(f"{name} must be a number {least}, got {value!r}")

    whole("concurrency", concurrency)
    whole("attempts", attempts)
    positive("rps", rps)
    positive("tpm", tpm)
    positive("timeout", timeout)
    positive("backoff", backoff, zero=True)
    if problems:
        raise UserError("the batch options are not valid:", problems)


def _paths(rows: RowSource, output: str | os.PathLike[str]) -> Path:
    path = Path(output)
    if path.is_dir():
        raise UserError(f"the output {path} is a folder: give a file name, e.g. {path}/out.jsonl")
    if not path.parent.is_dir():
        raise UserError(f"the output's folder {path.parent} does not exist: create it first")
    if isinstance(rows, str | os.PathLike) and Path(rows).resolve() == path.resolve():
        raise UserError(f"the output {path} is the input file: write results to another file")
    return path


async def run_batch(
    agent: AgentSource,
    rows: RowSource,
    *,
    output: str | os.PathLike[str],
    concurrency: int = 16,
    rps: float | None = None,
    tpm: float | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 - per row, not for this call
    attempts: int = 3,
    backoff: float = 1.0,
    retry_errors: bool = False,
    force: bool = False,
    deps: Any = None,
    progress: ProgressCallback | None = None,
    control: BatchControl | None = None,
    backend: Literal["local", "ray"] = "local",
    ray_address: str | None = None,
    ray_workers: int | None = None,
    ray_runtime_env: Mapping[str, Any] | None = None,
) -> BatchSummary:
    """Run the agent on every row and append one result line per row to `output`.

    Run it again with the same output to resume: finished rows are skipped, a torn last
    line is repaired, and rows that failed are tried again only with `retry_errors`.

    Args:
        agent: The Agent, or a function that builds it. With `backend="ray"` either is
            sent to every worker (an Agent pickles as its configuration; use a function
            for an agent that does not, or that should read its key on the workers).
        rows: A JSONL file (one `{"id": ..., "prompt": ...}` per line), or Python rows
            (dicts of the same shape, or prompt strings).
        output: The output JSONL file; `OUTPUT.manifest.json` is written beside it.
        concurrency: Rows running at once.
        rps: Model requests per second, for the whole batch; None for no limit.
        tpm: Tokens (prompt + completion) per minute, for the whole batch.
        timeout: Seconds one attempt of a row may take (time waiting for rps/tpm or a
            429's Retry-After not counted); None for no limit.
        attempts: Tries per row for failures that may pass (no connection, 5xx, timeout),
            and sends per request while the endpoint answers 429.
        backoff: Seconds before the second try; doubled for each later one.
        retry_errors: Run again the rows whose last result is an error or invalid.
        force: Resume even though the output was written by another agent configuration.
        deps: `RunContext.deps` for rows that give none.
        progress: Called with a `BatchProgress` after each row and every second.
        control: Drain or cancel the batch from outside (`watch_interrupts` does it on Ctrl-C).
        backend: "local" (this process) or "ray" (`pip install agentkit-llama[ray]`).
        ray_address: An existing Ray cluster; else a local one is started (and stopped).
        ray_workers: Ray actors to start; default: one per CPU of the cluster.
        ray_runtime_env: Ray runtime environment for the workers (packages, files).

    Returns:
        The summary: counts, tokens, cost, and whether the batch stopped early.

    Raises:
        UserError: Bad options, a missing input file, an agent that cannot be built.
        ResumeRefused: The output was written by another agent configuration.
        BatchStopped: The endpoint refused a row in a way every row would be (401/403/404);
            the rows finished before are written.
    """
    _check_options(concurrency, rps, tpm, timeout, attempts, backoff)
    if backend not in ("local", "ray"):
        raise UserError(f'backend must be "local" or "ray", got {backend!r}')
    if backend == "local" and (ray_address or ray_workers or ray_runtime_env):
        raise UserError('ray_address, ray_workers and ray_runtime_env need backend="ray"')
    path = _paths(rows, output)
    source = read_rows(rows)  # checks the input file exists before anything is written
    policy = Policy(attempts=attempts, timeout=timeout, backoff=backoff, deps=deps)
    limiter = RateLimiter(rps, tpm)
    runner: Backend
    lifetime: AbstractAsyncContextManager[None] = nullcontext()
    if backend == "ray":
        from ._ray import RayBackend

        runner = RayBackend(
            agent,
            policy,
            rps=rps,
            tpm=tpm,
            concurrency=concurrency,
            address=ray_address,
            workers=ray_workers,
            runtime_env=ray_runtime_env,
        )
        config = runner.config
    else:
        built, owned = build_agent(agent)
        config = agent_config(built)
        runner = LocalBackend(built, limiter, policy, owned=owned)
        # Its MCP servers run once for every row (a run outside `async with agent:` would
        # start them for itself, and refuse the concurrent rows).
        lifetime = serving(runner.agent)
    try:
        async with lifetime:
            return await _run(
                runner,
                source,
                rows,
                path,
                config,
                control or BatchControl(),
                concurrency=concurrency,
                retry_errors=retry_errors,
                force=force,
                progress=progress,
            )
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()  # the input file, now, not whenever the collector finds it
        with anyio.CancelScope(shield=True):
            await runner.close()


async def _run(
    runner: Backend,
    source: Iterator[Row | InvalidRow],
    rows: RowSource,
    path: Path,
    config: dict[str, Any],
    control: BatchControl,
    *,
    concurrency: int,
    retry_errors: bool,
    force: bool,
    progress: ProgressCallback | None,
) -> BatchSummary:
    try:
        state = scan(path)
        manifest = check_manifest(path, config, results=len(state.statuses), force=force)
    except OSError as exc:
        raise output_error(path, exc) from None
    notes = []
    if state.torn_bytes:
        notes.append(f"cut off a torn last line ({state.torn_bytes} bytes) of {path}")
    if manifest.get("history") and force:
        notes.append(
            f"resumed with another agent configuration (force); see {path.name}.manifest.json"
        )
    await runner.start()  # the output is created once the workers are ready
    try:
        ledger = Ledger(path)
    except OSError as exc:
        raise output_error(path, exc) from None
    tally = _Tally(count_rows(rows), lambda: runner.rate_limited)
    writer = Writer(ledger, control, tally.lost)
    try:
        driver = _Driver(
            runner,
            state,
            tally,
            control,
            concurrency=concurrency,
            retry_errors=retry_errors,
            progress=progress,
        )
        send, receive = anyio.create_memory_object_stream[dict[str, Any]](
            max(1024, 4 * concurrency)
        )
        async with anyio.create_task_group() as tg:
            tg.start_soon(writer.run, receive)
            ticker = anyio.CancelScope()

            async def tick() -> None:
                with ticker:
                    await driver.tick()

            tg.start_soon(tick)
            async with send:
                await driver.dispatch(source, send)
            ticker.cancel()
    finally:
        ledger.close()
    stopped: Literal["interrupted", "cancelled", "fatal"] | None = None
    if tally.fatal is not None or writer.failure is not None:
        stopped = "fatal"
    elif control.cancelled:
        stopped = "cancelled"
    elif control.draining:
        stopped = "interrupted"
    final = tally.snapshot("done")
    driver.report("done")
    summary = BatchSummary(path, final, stopped, state.torn_bytes, runner.name, notes)
    if writer.failure is not None:
        raise writer.stopped(summary)
    if tally.fatal is not None:
        raise BatchStopped(
            f"the batch stopped: {tally.fatal}. Every other row would get the same answer: "
            f"fix the endpoint, model or key, then run again with retry_errors=True "
            f"(--retry-errors); the {final.done} rows finished are kept in {path}",
            summary,
        )
    return summary
