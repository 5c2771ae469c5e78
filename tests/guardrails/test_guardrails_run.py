"""Running guardrails: sync or async, together, in order; trip or fail, never pass silently."""

from __future__ import annotations

import threading

import anyio
import pytest

from agentkit import RunError, ToolCall, UserMessage
from agentkit.guardrails import (
    GuardrailCheck,
    GuardrailError,
    GuardrailTripped,
    Verdict,
    run_guardrails,
)

CHECK = GuardrailCheck("input", "hello", (UserMessage("earlier"),))


def allow(check: GuardrailCheck) -> None:
    """A sync guardrail that lets everything pass (None)."""


async def no_hello(check: GuardrailCheck) -> Verdict:
    if "hello" in check.content:
        return Verdict.trip("says hello", categories=("H1",))
    return Verdict.ok()


class Counting:
    """A guardrail object with an async __call__ and a name."""

    name = "counting"

    def __init__(self) -> None:
        self.seen: list[GuardrailCheck] = []

    async def __call__(self, check: GuardrailCheck) -> Verdict:
        self.seen.append(check)
        return Verdict.ok()


@pytest.mark.anyio
async def test_passing_guardrails_return_their_verdicts_named() -> None:
    counting = Counting()
    verdicts = await run_guardrails([allow, counting], CHECK)
    assert [(v.tripped, v.guardrail) for v in verdicts] == [(False, "allow"), (False, "counting")]
    assert counting.seen == [CHECK]


@pytest.mark.anyio
async def test_a_tripped_guardrail_stops_the_run_with_its_verdict() -> None:
    with pytest.raises(GuardrailTripped) as info:
        await run_guardrails([allow, no_hello], CHECK)
    error = info.value
    assert isinstance(error, RunError)
    assert error.kind == "input"
    assert error.verdict.categories == ("H1",)
    assert error.verdict.guardrail == "no_hello"
    assert str(error) == "the input guardrail 'no_hello' stopped the run: says hello"


@pytest.mark.anyio
async def test_a_tool_result_trip_names_the_call() -> None:
    call = ToolCall("fetch", {"url": "http://x"}, id="c7")
    check = GuardrailCheck("tool_result", "hello page", call=call)
    with pytest.raises(GuardrailTripped) as info:
        await run_guardrails([no_hello], check)
    assert info.value.call is call
    assert "the result of 'fetch', call c7" in str(info.value)


@pytest.mark.anyio
async def test_the_first_in_order_decides_not_the_first_to_finish() -> None:
    async def slow_trip(check: GuardrailCheck) -> Verdict:
        await anyio.sleep(0.05)
        return Verdict.trip("slow")

    async def fast_trip(check: GuardrailCheck) -> Verdict:
        return Verdict.trip("fast")

    with pytest.raises(GuardrailTripped, match="slow"):
        await run_guardrails([slow_trip, fast_trip], CHECK)


@pytest.mark.anyio
async def test_sync_guardrails_run_in_threads_at_the_same_time() -> None:
    barrier = threading.Barrier(2, timeout=10)  # each waits for the other: only if concurrent

    def first(check: GuardrailCheck) -> None:
        barrier.wait()

    def second(check: GuardrailCheck) -> None:
        barrier.wait()

    verdicts = await run_guardrails([first, second], CHECK)
    assert [v.guardrail for v in verdicts] == ["first", "second"]


@pytest.mark.anyio
async def test_a_guardrail_that_raises_fails_the_check_closed() -> None:
    def broken(check: GuardrailCheck) -> None:
        raise KeyError("policy")

    with pytest.raises(GuardrailError) as info:
        await run_guardrails([allow, broken], CHECK)
    assert info.value.guardrail == "broken"
    assert info.value.kind == "input"
    assert isinstance(info.value.__cause__, KeyError)
    assert "the input guardrail 'broken' raised KeyError: 'policy'" in str(info.value)


@pytest.mark.anyio
async def test_an_answer_that_is_no_verdict_fails_the_check() -> None:
    def yes(check: GuardrailCheck) -> bool:
        return True

    with pytest.raises(GuardrailError, match=r"returned True: return a Verdict"):
        await run_guardrails([yes], CHECK)  # type: ignore[list-item]


@pytest.mark.anyio
async def test_a_guardrail_may_raise_guardrail_tripped_itself() -> None:
    def strict(check: GuardrailCheck) -> None:
        raise GuardrailTripped(Verdict.trip("no", categories=("X1",)), "input")

    with pytest.raises(GuardrailTripped) as info:
        await run_guardrails([strict], CHECK)
    assert info.value.verdict.categories == ("X1",)
