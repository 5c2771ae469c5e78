"""The Ray backend: rows run on Ray actors, results come back to the driver's one ledger.

Each actor (`BatchWorker`) gets the agent once and runs many rows at once on its own event
loop, with its own share of the rate limits. What travels to the actors is the Agent itself
(it pickles as its configuration: tools of tool files as "import this file by its path",
functions of modules by reference, so such a module must be importable on the workers;
each worker makes its own connections), or a recipe: a picklable function that returns the
Agent, for an agent that does not pickle (a model on your own `client=`) or that should read
its key from the workers' environment. The key travels with an agent that was given one
(`api_key=`, or inside an `OpenAIModel`); an agent given none reads it on each worker.

Every worker reports the configuration it built, and the batch refuses to run when one
differs from the driver's (a tool file that is not the same on a node). The driver alone
reads rows and writes the output, so resuming is the same as locally.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
import math
import os
import sys
import time
from collections.abc import Mapping
from typing import Any

import anyio
import sniffio

from agentkit import Agent, UserError

from ._chunks import Lane, RateGauge
from ._execute import Outcome, Policy, error_record
from ._limits import RateLimiter
from ._local import AgentSource, LocalBackend, build_agent
from ._manifest import agent_config, differences, fingerprint
from ._rows import Row

__all__ = ["BatchWorker", "RayBackend"]

INSTALL = 'the Ray backend needs Ray: pip install "agentkit-llama[ray]"'
# Rows share a call (up to CHUNK_MAX of them) only while rows finish at CHUNK_RATE per second
# or more: there the driver's CPU per call is the limit; below it, a chunk would only make
# fast rows wait for slow ones (see `_chunks`).
CHUNK_MAX = 8
CHUNK_RATE = 250.0


def import_ray() -> Any:
    """The `ray` module, or a UserError saying how to install it."""
    try:
        return importlib.import_module("ray")
    except ImportError:
        raise UserError(INSTALL) from None


class BatchWorker:
    """A Ray actor's state: the agent built once, rows run concurrently on its loop.

    Args:
        source: The Agent (unpickled here: this worker's own copy) or a recipe for it.
        policy: Attempts, timeout, backoff, default deps.
        rps: This worker's share of the requests-per-second limit.
        tpm: This worker's share of the tokens-per-minute limit.
    """

    def __init__(
        self, source: AgentSource, policy: Policy, rps: float | None, tpm: float | None
    ) -> None:
        self.source = source
        self.policy = policy
        self.rps = rps
        self.tpm = tpm
        self.backend: LocalBackend | None = None

    async def ready(self) -> dict[str, Any]:
        """Build the agent; its configuration, for the driver to compare."""
        agent, _ = build_agent(self.source)
        limiter = RateLimiter(self.rps, self.tpm)
        self.backend = LocalBackend(agent, limiter, self.policy, owned=True)
        return agent_config(agent)

    async def run(self, rows: list[Row]) -> list[Outcome]:
        """Run the rows at once; their outcomes, in order, when the last is done."""
        backend = self.backend
        assert backend is not None, "ready() builds the agent first"
        outcomes: list[Outcome | None] = [None] * len(rows)

        async def one(index: int) -> None:
            outcomes[index] = await backend.run(rows[index])

        async with anyio.create_task_group() as tg:
            for index in range(len(rows)):
                tg.start_soon(one, index)
        limited = backend.rate_limited
        return [Outcome(o.record, o.fatal, limited) for o in outcomes if o is not None]

    async def close(self) -> None:
        if self.backend is not None:
            await self.backend.close()


class _NoSigtermNotice(logging.Filter):
    """Ray says it set no SIGTERM handler when started off the main thread: on purpose here.

    Its handler would exit the process on SIGTERM; the batch drains on SIGTERM instead, so
    Ray is started from a worker thread, where it leaves the handler alone.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "SIGTERM handler is not set" not in record.getMessage()


_QUIET = _NoSigtermNotice()


def _driver_path(runtime_env: Mapping[str, Any] | None) -> dict[str, Any]:
    """The runtime env for a local cluster: the driver's sys.path on the workers too.

    The workers of a local cluster share this machine's files, so whatever the driver can
    import (the module of the recipe, the tests' helpers) they can import the same way.
    """
    env = dict(runtime_env or {})
    variables = dict(env.get("env_vars") or {})
    if "PYTHONPATH" not in variables:
        folders = [p for p in sys.path if p and os.path.isdir(p)]
        variables["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(folders))
    env["env_vars"] = variables
    return env


class RayBackend:
    """Rows on Ray actors; see the module docstring.

    Args:
        source: The Agent, or a picklable function that returns it.
        policy: Attempts, timeout, backoff, default deps.
        rps: Requests per second for the whole batch (split evenly between the workers).
        tpm: Tokens per minute for the whole batch (split the same way).
        concurrency: Rows in flight in all; each worker runs up to its share at once.
        address: An existing cluster ("auto" for the one `ray start` began on this
            machine or RAY_ADDRESS, "HOST:PORT", "ray://HOST:PORT"); None starts a new local
            one, stopped at the end (unless this process already called `ray.init`).
        workers: Actors to start; default one per CPU of the cluster.
        runtime_env: Ray runtime environment for the workers.
    """

    name = "ray"

    def __init__(
        self,
        source: AgentSource,
        policy: Policy,
        *,
        rps: float | None,
        tpm: float | None,
        concurrency: int,
        address: str | None,
        workers: int | None,
        runtime_env: Mapping[str, Any] | None,
    ) -> None:
        if workers is not None and (not isinstance(workers, int) or workers < 1):
            raise UserError(f"ray_workers must be a whole number >= 1, got {workers!r}")
        self.ray = import_ray()
        # A recipe is built here once, before a cluster starts, so that it fails early.
        agent = source if isinstance(source, Agent) else build_agent(source)[0]
        self.config = agent_config(agent)
        what = "the agent" if isinstance(source, Agent) else "the agent recipe"
        fix = (
            "pass a function that builds it instead (`run_batch(make_agent, ...)`)"
            if isinstance(source, Agent)
            else "define it as a plain function at module level"
        )
        for name, value, remedy in (
            (what, source, fix),
            ("deps", policy.deps, "give each row its own JSON deps instead"),
        ):
            try:
                self.ray.cloudpickle.dumps(value)
            except Exception as exc:
                raise UserError(
                    f"{name} {value!r:.80} cannot be sent to Ray workers "
                    f"({type(exc).__name__}: {exc}); {remedy}"
                ) from None
        self.source = source
        self.policy = policy
        self.rps, self.tpm = rps, tpm
        self.concurrency = concurrency
        self.address = address
        self.workers = workers
        self.runtime_env = runtime_env
        self.started_ray = False
        self.actors: list[Any] = []
        self.lanes: list[Lane] = []
        self.load: list[int] = []
        self.limited: list[int] = []
        self.finished = RateGauge()

    def _init(self) -> None:
        ray = self.ray
        if ray.is_initialized():
            return
        options: dict[str, Any] = {
            "include_dashboard": False,
            "logging_level": logging.WARNING,
            "log_to_driver": False,
        }
        if self.address is None:
            # "local": a new cluster of this process, never one someone else started here.
            options["address"] = "local"
            options["runtime_env"] = _driver_path(self.runtime_env)
        else:
            options["address"] = self.address
            if self.runtime_env:
                options["runtime_env"] = dict(self.runtime_env)
        ray_logger = logging.getLogger("ray._private.worker")
        if _QUIET not in ray_logger.filters:
            ray_logger.addFilter(_QUIET)
        try:
            ray.init(**options)
        except Exception as exc:
            where = self.address or "a local cluster"
            raise UserError(f"cannot start Ray ({where}): {type(exc).__name__}: {exc}") from exc
        self.started_ray = True

    async def start(self) -> None:
        if sniffio.current_async_library() != "asyncio":
            raise UserError('backend="ray" runs on asyncio (anyio\'s default backend)')
        await anyio.to_thread.run_sync(self._init)
        ray = self.ray
        count = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        share = math.ceil(self.concurrency / count)
        actor = ray.remote(BatchWorker).options(
            max_concurrency=share,
            num_cpus=1,
            scheduling_strategy="SPREAD",
            max_restarts=2,
            max_task_retries=2,
        )
        rps = self.rps / count if self.rps else None
        tpm = self.tpm / count if self.tpm else None
        self.actors = [actor.remote(self.source, self.policy, rps, tpm) for _ in range(count)]
        self.lanes = [
            Lane(functools.partial(self._send, index), self._chunk_limit) for index in range(count)
        ]
        self.load = [0] * count
        self.limited = [0] * count
        expected = fingerprint(self.config)
        for index, handle in enumerate(self.actors):
            try:
                config = await handle.ready.remote()
            except Exception as exc:
                raise UserError(
                    f"Ray worker {index} could not build the agent: {_cause(exc)}"
                ) from None
            if fingerprint(config) != expected:
                raise UserError(
                    f"Ray worker {index} built a different agent from the driver's (is the "
                    "agent's file the same on every node?):",
                    differences(self.config, config),
                )

    def _chunk_limit(self) -> int:
        return CHUNK_MAX if self.finished.per_second() >= CHUNK_RATE else 1

    async def run(self, row: Row) -> Outcome:
        index = min(range(len(self.actors)), key=self.load.__getitem__)
        self.load[index] += 1
        try:
            outcome = await self.lanes[index].run(row)
        finally:
            self.load[index] -= 1
        self.finished.tick()
        self.limited[index] = max(self.limited[index], outcome.rate_limited)
        return outcome

    async def _send(self, index: int, rows: list[Row]) -> list[Outcome]:
        """One call to worker `index` with these rows; their outcomes."""
        started = time.monotonic()
        ref = self.actors[index].run.remote(rows)
        try:
            outcomes: list[Outcome] = await ref
        except Exception as exc:  # the worker died for good (after Ray's restarts) or failed
            error = RuntimeError(f"the Ray worker running this row failed: {_cause(exc)}")
            return [Outcome(error_record(row, error, 1, started)) for row in rows]
        except BaseException:
            self.ray.cancel(ref)  # cancelled here: stop it there too
            raise
        return outcomes

    async def close(self) -> None:
        await anyio.to_thread.run_sync(self._close)

    def _close(self) -> None:
        ray = self.ray
        for handle in self.actors:
            # A worker already gone has nothing left to close.
            with contextlib.suppress(Exception):
                ray.get(handle.close.remote(), timeout=10)
            ray.kill(handle)
        self.actors = []
        if self.started_ray:
            ray.shutdown()
            self.started_ray = False

    @property
    def rate_limited(self) -> int:
        return sum(self.limited)


def _cause(exc: BaseException) -> str:
    """The first line of a Ray error, which names the remote exception."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
