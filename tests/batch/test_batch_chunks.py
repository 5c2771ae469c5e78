"""Rows bound for one worker at the same moment share a call; each still gets its own outcome."""

from __future__ import annotations

import anyio
import pytest

from agentkit.batch._chunks import Lane, RateGauge
from agentkit.batch._execute import Outcome
from agentkit.batch._rows import Row

pytestmark = pytest.mark.anyio


def row(n: int) -> Row:
    return Row(id=n, line=n + 1, prompt=f"q{n}")


class Worker:
    """A stand-in for the remote call: records each call's rows, answers each row by id."""

    def __init__(self, hold: anyio.Event | None = None) -> None:
        self.calls: list[list[int]] = []
        self.hold = hold

    async def send(self, rows: list[Row]) -> list[Outcome]:
        self.calls.append([r.id for r in rows])  # type: ignore[misc]
        if self.hold is not None:
            await self.hold.wait()
        return [Outcome({"id": r.id, "output": f"answer: {r.prompt}"}) for r in rows]


async def run_all(lane: Lane, count: int) -> dict[int, object]:
    results: dict[int, object] = {}

    async def one(n: int) -> None:
        results[n] = (await lane.run(row(n))).record["output"]

    async with anyio.create_task_group() as tg:
        for n in range(count):
            tg.start_soon(one, n)
    return results


async def test_rows_that_arrive_together_share_calls_up_to_the_limit() -> None:
    worker = Worker()
    lane = Lane(worker.send, lambda: 4)
    results = await run_all(lane, 10)
    assert results == {n: f"answer: q{n}" for n in range(10)}
    assert sorted(len(c) for c in worker.calls) == [2, 4, 4]
    assert sorted(n for call in worker.calls for n in call) == list(range(10))
    assert lane.calls == 3


async def test_with_a_limit_of_one_every_row_is_its_own_call() -> None:
    worker = Worker()
    results = await run_all(Lane(worker.send, lambda: 1), 5)
    assert len(results) == 5 and all(len(c) == 1 for c in worker.calls)


async def test_rows_whose_call_was_cancelled_with_its_sender_go_again() -> None:
    hold = anyio.Event()
    worker = Worker(hold)
    lane = Lane(worker.send, lambda: 8)
    results: dict[int, object] = {}

    async def one(n: int, scope: anyio.CancelScope | None = None) -> None:
        if scope is None:
            results[n] = (await lane.run(row(n))).record["output"]
            return
        with scope:
            await lane.run(row(n))

    leader = anyio.CancelScope()
    async with anyio.create_task_group() as tg:
        tg.start_soon(one, 0, leader)  # first in: it sends the chunk
        for n in (1, 2):
            tg.start_soon(one, n)
        while not worker.calls:
            await anyio.sleep(0)
        assert worker.calls == [[0, 1, 2]]
        leader.cancel()
        while len(worker.calls) < 2:
            await anyio.sleep(0)
        hold.set()
    assert worker.calls[1] == [1, 2]  # the two left go again together
    assert results == {1: "answer: q1", 2: "answer: q2"}


def test_the_gauge_counts_rows_per_second_and_forgets_when_none_finish() -> None:
    now = [0.0]
    gauge = RateGauge(clock=lambda: now[0])
    for _ in range(300):
        gauge.tick()
    assert gauge.per_second() == 0.0  # no whole second yet
    now[0] = 1.0
    assert gauge.per_second() == 300.0
    now[0] = 6.0  # five seconds without a finished row
    assert gauge.per_second() == 0.0
