"""Ctrl-C for batches (the first drains, the second cancels), and `run_batch_sync`."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Literal

import anyio
import anyio.abc
import sniffio

from agentkit import Agent, UserError

from ._local import AgentSource
from ._rows import RowSource
from ._run import ProgressCallback, run_batch
from ._types import BatchControl, BatchSummary

__all__ = ["run_batch_sync", "watch_interrupts"]

SIGNALS = (signal.SIGINT, signal.SIGTERM)


async def _watch(
    control: BatchControl, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
) -> None:
    with anyio.open_signal_receiver(*SIGNALS) as signals:
        task_status.started()
        async for _ in signals:
            if control.draining:
                control.cancel()
                return
            control.drain()


@asynccontextmanager
async def watch_interrupts(control: BatchControl) -> AsyncIterator[BatchControl]:
    """While inside, the first SIGINT (Ctrl-C) or SIGTERM drains the batch, the second cancels.

    Draining starts no new row and lets those in flight finish and be written; cancelling
    drops those in flight (they run again on the next resume). Must run in the main thread.

    ```python
    control = BatchControl()
    async with watch_interrupts(control):
        summary = await run_batch(agent, "in.jsonl", output="out.jsonl", control=control)
    ```
    """
    failure: BaseException | None = None
    async with anyio.create_task_group() as tg:
        await tg.start(_watch, control)
        try:
            yield control
        except BaseException as exc:  # raised below, outside the task group: not in a group
            failure = exc
        finally:
            tg.cancel_scope.cancel()
    if failure is not None:
        raise failure


def run_batch_sync(
    agent: AgentSource,
    rows: RowSource,
    *,
    output: str | os.PathLike[str],
    concurrency: int = 16,
    rps: float | None = None,
    tpm: float | None = None,
    timeout: float | None = None,
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
    interrupts: bool = False,
) -> BatchSummary:
    """`run_batch` from synchronous code, in a fresh event loop (see `run_batch` for the rest).

    Args:
        interrupts: Handle Ctrl-C and SIGTERM: the first drains, the second cancels
            (`summary.stopped` says which); for scripts and the CLI, main thread only.

    Raises:
        UserError: Called where an event loop is already running: `await run_batch(...)`.
    """
    try:
        sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        pass
    else:
        raise UserError(
            "run_batch_sync() cannot start an event loop inside a running one (async code, "
            "Jupyter): use `await run_batch(...)` instead"
        )
    handle = control or BatchControl()

    async def batch() -> BatchSummary:
        return await run_batch(
            agent,
            rows,
            output=output,
            concurrency=concurrency,
            rps=rps,
            tpm=tpm,
            timeout=timeout,
            attempts=attempts,
            backoff=backoff,
            retry_errors=retry_errors,
            force=force,
            deps=deps,
            progress=progress,
            control=handle,
            backend=backend,
            ray_address=ray_address,
            ray_workers=ray_workers,
            ray_runtime_env=ray_runtime_env,
        )

    async def main() -> BatchSummary:
        try:
            if not interrupts:
                return await batch()
            async with watch_interrupts(handle):
                return await batch()
        finally:
            if isinstance(agent, Agent):
                with anyio.CancelScope(shield=True):
                    await agent.aclose()  # its connections die with this event loop

    return anyio.run(main)
