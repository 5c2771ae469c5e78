"""Run the guardrails of one check together, and stop the run when one trips or fails."""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Sequence

import anyio
import anyio.to_thread

from ._types import (
    Guardrail,
    GuardrailCheck,
    GuardrailError,
    GuardrailTripped,
    Verdict,
    guardrail_name,
)

__all__ = ["run_guardrails"]


async def run_guardrails(guardrails: Sequence[Guardrail], check: GuardrailCheck) -> list[Verdict]:
    """Run every guardrail on `check` at once; all must pass.

    Sync guardrails run in worker threads, so a blocking one does not stall the loop.
    Outcomes are read in the order the guardrails are given: the first that tripped or
    failed decides, whichever finished first.

    Returns:
        The verdicts, in order, each naming its guardrail (all passed).

    Raises:
        GuardrailTripped: A guardrail tripped; carries its verdict.
        GuardrailError: A guardrail raised, returned something that is no verdict, or its
            classifier failed. An undecided check never passes.
    """
    outcomes: list[Verdict | BaseException | None] = [None] * len(guardrails)

    async def judge(index: int, guardrail: Guardrail) -> None:
        try:
            outcomes[index] = await _verdict(guardrail, check)
        except Exception as exc:  # reported below, in order, as the run's error
            outcomes[index] = exc

    if len(guardrails) == 1:
        await judge(0, guardrails[0])
    else:
        async with anyio.create_task_group() as group:
            for index, guardrail in enumerate(guardrails):
                group.start_soon(judge, index, guardrail)
    verdicts = []
    for guardrail, outcome in zip(guardrails, outcomes, strict=True):
        name = guardrail_name(guardrail)
        if isinstance(outcome, GuardrailTripped):
            raise outcome  # a guardrail may raise it itself
        if isinstance(outcome, BaseException):
            raise _as_error(outcome, name, check) from outcome
        assert outcome is not None
        if outcome.tripped:
            raise GuardrailTripped(outcome, check.kind, check.call)
        verdicts.append(outcome)
    return verdicts


async def _verdict(guardrail: Guardrail, check: GuardrailCheck) -> Verdict:
    name = guardrail_name(guardrail)
    if _is_async(guardrail):
        result = await guardrail(check)  # type: ignore[misc]
    else:
        result = await anyio.to_thread.run_sync(functools.partial(guardrail, check))
        if inspect.isawaitable(result):  # a callable object whose __call__ is async
            result = await result
    if result is None:
        return dataclasses.replace(Verdict.ok(), guardrail=name)
    if not isinstance(result, Verdict):
        raise GuardrailError(
            f"the guardrail {name!r} returned {result!r:.80}: return a Verdict "
            "(Verdict.trip(reason) to stop the run), or None to let the content pass",
            guardrail=name,
        )
    return result if result.guardrail else dataclasses.replace(result, guardrail=name)


def _is_async(guardrail: object) -> bool:
    call = getattr(guardrail, "__call__", None)  # noqa: B004 - an object's async __call__
    return inspect.iscoroutinefunction(guardrail) or inspect.iscoroutinefunction(call)


def _as_error(exc: BaseException, name: str, check: GuardrailCheck) -> GuardrailError:
    if isinstance(exc, GuardrailError):
        exc.guardrail = exc.guardrail or name
        exc.kind = check.kind
        return exc
    detail = str(exc)[:300] or "no message"
    return GuardrailError(
        f"the {check.kind.replace('_', '-')} guardrail {name!r} raised "
        f"{type(exc).__name__}: {detail}",
        guardrail=name,
        kind=check.kind,
    )
