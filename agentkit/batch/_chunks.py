"""Rows that leave for the same worker at the same moment share one call: a `Lane`.

A remote call costs the driver about half a millisecond of CPU whatever it carries, so at
hundreds of rows per second the calls themselves become the driver's limit. A lane gathers
the rows handed to it within `GATHER` seconds (the slots freed by rows that finished
together) and sends up to `limit()` of them in one call; each row's caller gets
its own outcome. A chunk returns when its slowest row is done, which holds the slots of the
faster ones, so the backend asks for chunks only when rows finish fast enough for the
calls to matter (`RateGauge`); below that, every row is its own call.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio
import anyio.lowlevel

from ._execute import Outcome
from ._rows import Row

__all__ = ["Lane", "RateGauge"]

Send = Callable[[list[Row]], Awaitable[list[Outcome]]]
GATHER = 0.002  # seconds a row waits for others to share its call, when calls are shared


@dataclass(eq=False)
class _Slot:
    row: Row
    taken: bool = False
    outcome: Outcome | None = None
    done: anyio.Event = field(default_factory=anyio.Event)


class Lane:
    """The rows bound for one worker.

    Args:
        send: Runs a list of rows remotely; their outcomes in the same order.
        limit: The most rows one call may carry now.
    """

    def __init__(self, send: Send, limit: Callable[[], int]) -> None:
        self._send = send
        self._limit = limit
        self._waiting: list[_Slot] = []
        self.calls = 0

    async def run(self, row: Row) -> Outcome:
        """Send the row (with others that arrive at the same moment); its outcome."""
        slot = _Slot(row)
        while True:
            self._waiting.append(slot)
            try:
                # The other rows of this moment join the list (the driver starts them one by
                # one, a few microseconds apart); rows sent one per call go at once.
                await anyio.sleep(GATHER if self._limit() > 1 else 0)
            except BaseException:
                if not slot.taken:
                    self._waiting.remove(slot)  # cancelled before it left: it never goes
                raise
            if not slot.taken:
                return await self._lead(slot)
            await slot.done.wait()
            if slot.outcome is not None:
                return slot.outcome
            # The row that sent this one's chunk was cancelled (its call with it): go again.
            slot.taken, slot.done = False, anyio.Event()

    async def _lead(self, slot: _Slot) -> Outcome:
        """Send this slot's row and the rows waiting behind it, up to the limit."""
        self._waiting.remove(slot)
        others = self._waiting[: max(0, self._limit() - 1)]
        del self._waiting[: len(others)]
        chunk = [slot, *others]
        for member in chunk:
            member.taken = True
        self.calls += 1
        try:
            outcomes = await self._send([member.row for member in chunk])
        except BaseException:
            for member in others:
                member.done.set()  # no outcome: each goes again on its own
            raise
        for member, outcome in zip(chunk, outcomes, strict=True):
            member.outcome = outcome
            member.done.set()
        assert slot.outcome is not None
        return slot.outcome


class RateGauge:
    """Rows finished per second, over the last whole second (or longer, when none finish)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._start = clock()
        self._count = 0
        self._rate = 0.0

    def _roll(self) -> None:
        now = self._clock()
        if now - self._start >= 1.0:
            self._rate = self._count / (now - self._start)
            self._start, self._count = now, 0

    def tick(self, rows: int = 1) -> None:
        """Count rows that finished now."""
        self._roll()
        self._count += rows

    def per_second(self) -> float:
        self._roll()
        return self._rate
