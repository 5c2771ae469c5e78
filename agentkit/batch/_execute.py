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

from ._limits import MAX_RETRY_AFTER, backoff, row_scope
from ._model import UsageMeter, attempt_meter
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


class _TimedOut(Exception):
    """An attempt cut off by the row timeout, with the usage of the replies it had got."""

    def __init__(self, usage: Usage) -> None:
        self.usage = usage


async def _attempt(agent: Agent[Any], row: Row, policy: Policy) -> Any:
    timeout = policy.timeout if policy.timeout is not None else math.inf
    meter = UsageMeter()
    with anyio.CancelScope(deadline=anyio.current_time() + timeout) as scope:
        scope_token, meter_token = row_scope.set(scope), attempt_meter.set(meter)
        try:
            result = await agent.run(
                row.prompt,
                messages=row.messages,
                deps=row.deps if row.deps is not None else policy.deps,
                model_settings=row.settings,  # type: ignore[arg-type]
            )
        finally:
            attempt_meter.reset(meter_token)
            row_scope.reset(scope_token)
    if scope.cancelled_caught:
        raise _TimedOut(meter.usage)
    return result


def _wait_before_retry(exc: Exception, attempt: int, policy: Policy) -> float | None:
    """Seconds to wait before the next attempt, or None when the failure is for good."""
    if not _transient(exc) or attempt >= policy.attempts:
        return None
    asked = exc.retry_after if isinstance(exc, ModelError) else None
    if asked is None:
        return backoff(attempt, policy.backoff)
    return asked if asked <= MAX_RETRY_AFTER else None


async def execute_row(agent: Agent[Any], row: Row, policy: Policy) -> Outcome:
    """Run a row until it succeeds, fails for good, or has used its attempts.

    The usage recorded is that of every attempt: a failed run's own, a timed-out attempt's
    finished replies (the request cut off mid-way never reported its tokens).
    """
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
        except Exception as raised:
            failure: Exception = raised
            if isinstance(failure, _TimedOut):
                usage = usage + failure.usage
                failure = RowTimeout(
                    f"the row took longer than the {policy.timeout:g} s timeout (time waiting "
                    "for the rate limits not counted)"
                )
            elif isinstance(failure, RunError) and failure.usage is not None:
                usage = usage + failure.usage  # a failed attempt's tokens were paid for too
            wait = _wait_before_retry(failure, attempt, policy)
            if wait is not None:
                await anyio.sleep(wait)
                continue
            record = _record(row, "error", usage, attempt, started)
            record["error"] = _error(failure)
            fatal = isinstance(failure, ModelError) and failure.status in FATAL_STATUSES
            return Outcome(record, str(failure) if fatal else None)
        usage = usage + result.usage
        record = _record(row, "ok", usage, attempt, started)
        record["output"] = output_json(result.output)
        return Outcome(record)
