"""Run the guardrails of one check together, and stop the run when one trips or fails."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import time
from collections.abc import Sequence
from dataclasses import dataclass

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

__all__ = ["Judged", "decide", "judge", "run_guardrails"]


@dataclass(frozen=True, slots=True)
class Judged:
    """One guardrail's outcome on one check.

    Attributes:
        guardrail: Its name.
        verdict: Its verdict; None when it failed (or raised `GuardrailTripped` itself).
        error: What it raised, when it did.
        duration: Seconds it took.
    """

    guardrail: str
    verdict: Verdict | None
    error: BaseException | None
    duration: float

    @property
    def tripped(self) -> bool:
        """Whether it stops the run by tripping (not by failing)."""
        if isinstance(self.error, GuardrailTripped):
            return True
        return self.verdict is not None and self.verdict.tripped

    @property
    def categories(self) -> tuple[str, ...]:
        """The categories of the verdict that tripped, if any."""
        verdict = self.error.verdict if isinstance(self.error, GuardrailTripped) else self.verdict
        return verdict.categories if verdict is not None else ()


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
    return decide(await judge(guardrails, check), check)


async def judge(guardrails: Sequence[Guardrail], check: GuardrailCheck) -> list[Judged]:
    """Every guardrail's outcome on `check`, in the order given; they run at once."""
    outcomes: list[Judged | None] = [None] * len(guardrails)

    async def one(index: int, guardrail: Guardrail) -> None:
        name = guardrail_name(guardrail)
        start = time.perf_counter()
        try:
            verdict = await _verdict(guardrail, check)
        except Exception as exc:  # reported by `decide`, in order, as the run's error
            outcomes[index] = Judged(name, None, exc, time.perf_counter() - start)
        else:
            outcomes[index] = Judged(name, verdict, None, time.perf_counter() - start)

    if len(guardrails) == 1:
        await one(0, guardrails[0])
    else:
        async with anyio.create_task_group() as group:
            for index, guardrail in enumerate(guardrails):
                group.start_soon(one, index, guardrail)
    return [outcome for outcome in outcomes if outcome is not None]


def decide(judged: Sequence[Judged], check: GuardrailCheck) -> list[Verdict]:
    """The verdicts when all passed; else raise for the first, in order, that did not.

    Raises:
        GuardrailTripped: The first that tripped (or raised it).
        GuardrailError: The first that failed.
    """
    verdicts = []
    for outcome in judged:
        error = outcome.error
        if isinstance(error, GuardrailTripped):
            raise error  # a guardrail may raise it itself
        if error is not None:
            raise _as_error(error, outcome.guardrail, check) from error
        assert outcome.verdict is not None
        if outcome.verdict.tripped:
            raise GuardrailTripped(outcome.verdict, check.kind, check.call)
        verdicts.append(outcome.verdict)
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
