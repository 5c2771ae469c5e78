"""One row, start to result line: attempts, the per-row timeout, backoff, error records.

Shared by the local backend and the Ray workers, so a row behaves the same wherever it runs.
What is tried again: failures that may pass (no connection, no answer, 408/409/5xx, a
row timeout). What is not: what would fail the same way again (a 400, the model looping
past `max_turns`, a tool that keeps failing, a bad row). 401/403/404 stop the whole batch:
every other row would get the same answer.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import anyio

from agentkit import Agent, AgentkitError, ModelError, RunError, Usage, UserError

from ._limits import backoff, retry_after, row_scope
from ._rows import InvalidRow, Row

__all__ = ["Outcome", "Policy", "error_record", "execute_row", "invalid_record"]

TRANSIENT_STATUSES = frozenset({408, 409, 500, 502, 503, 504})
FATAL_STATUSES = frozenset({401, 403, 404})


@dataclass(frozen=True, slots=True)
class Policy:
    """How a row is tried: attempts, seconds per attempt, first backoff wait, default deps."""

    attempts: int = 3
    timeout: float | None = None
    backoff: float = 1.0
    deps: Any = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """A row's result line, and the error that must stop the batch, if it was one."""

    record: dict[str, Any]
    fatal: str | None = None
    rate_limited: int = 0  # 429s waited out by the worker so far (Ray: one limiter per worker)


class RowTimeout(AgentkitError):
    """A row attempt ran past the per-row timeout."""


def _error(exc: BaseException) -> dict[str, Any]:
    error: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    status = getattr(exc, "status", None)
    if isinstance(status, int):
        error["status"] = status
    return error


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, RowTimeout):
        return True
    if isinstance(exc, ModelError):
        # No status: no connection, no answer in time, or a garbled reply; all may pass.
        return exc.status is None or exc.status in TRANSIENT_STATUSES
    return False


def output_json(output: Any) -> Any:
    """A run's output as a JSON value: structured output dumped by pydantic, text as is."""
    if output is None or isinstance(output, str | int | float | bool):
        return output
    from pydantic import TypeAdapter

    try:
        return TypeAdapter(type(output)).dump_python(output, mode="json")
    except Exception:
        return str(output)


def _record(row: Row, status: str, usage: Usage, attempts: int, started: float) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": row.id,
        "line": row.line,
        "status": status,
        "output": None,
        "usage": {
            "requests": usage.requests,
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
            "tool_calls": usage.tool_calls,
        },
        "cost": None if usage.cost is None else round(usage.cost, 8),
        "attempts": attempts,
        "duration": round(time.monotonic() - started, 4),
        "error": None,
    }
    if row.meta is not None:
        record["meta"] = row.meta
    return record


def error_record(row: Row, error: BaseException, attempts: int, started: float) -> dict[str, Any]:
    """The result line of a row that failed outside its run (a backend failure)."""
    record = _record(row, "error", Usage(), attempts, started)
    record["error"] = _error(error)
    return record


def invalid_record(row: InvalidRow) -> dict[str, Any]:
    """The result line of a row that cannot run: status "invalid", the problem, its line."""
    return {
        "id": row.id,
        "line": row.line,
        "status": "invalid",
        "output": None,
        "usage": None,
        "cost": None,
        "attempts": 0,
        "duration": 0.0,
        "error": {"type": "InvalidRow", "message": row.problem},
    }


async def _attempt(agent: Agent[Any], row: Row, policy: Policy) -> Any:
    timeout = policy.timeout if policy.timeout is not None else math.inf
    with anyio.CancelScope(deadline=anyio.current_time() + timeout) as scope:
        token = row_scope.set(scope)
        try:
            result = await agent.run(
                row.prompt,
                messages=row.messages,
                deps=row.deps if row.deps is not None else policy.deps,
                model_settings=row.settings,  # type: ignore[arg-type]
            )
        finally:
            row_scope.reset(token)
    if scope.cancelled_caught:
        raise RowTimeout(
            f"the row took longer than the {policy.timeout:g} s timeout (time waiting for the "
            "rate limits not counted)"
        )
    return result


async def execute_row(agent: Agent[Any], row: Row, policy: Policy) -> Outcome:
    """Run a row until it succeeds, fails for good, or has used its attempts."""
    started = time.monotonic()
    usage = Usage()
    attempt = 0
    while True:
        attempt += 1
        try:
            result = await _attempt(agent, row, policy)
        except UserError as exc:  # the row's settings or messages: the row is at fault
            record = _record(row, "invalid", usage, attempt, started)
            record["error"] = _error(exc)
            return Outcome(record)
        except Exception as exc:
            if isinstance(exc, RunError) and exc.usage is not None:
                usage = usage + exc.usage  # a failed attempt's tokens were paid for too
            if _transient(exc) and attempt < policy.attempts:
                wait = retry_after(exc) if isinstance(exc, ModelError) else None
                await anyio.sleep(wait if wait is not None else backoff(attempt, policy.backoff))
                continue
            record = _record(row, "error", usage, attempt, started)
            record["error"] = _error(exc)
            fatal = isinstance(exc, ModelError) and exc.status in FATAL_STATUSES
            return Outcome(record, str(exc) if fatal else None)
        usage = usage + result.usage
        record = _record(row, "ok", usage, attempt, started)
        record["output"] = output_json(result.output)
        return Outcome(record)
