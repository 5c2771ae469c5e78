"""Rate limits shared by the rows of a batch: requests per second, tokens per minute, 429s.

Both limits are token buckets: `rps` holds a second's worth of requests, `tpm` a minute's
worth of tokens. Tokens are known only after a reply, so each request reserves the mean
size of the replies so far and the difference is settled when its usage arrives. A 429
answer pauses every request of the batch until its `Retry-After` has passed (the limit is
the endpoint's, not one row's).

Time spent waiting here is not the row's own work: it is added to the row's deadline
(`deadline_paused`), so a tight limit delays rows without timing them out.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import anyio

__all__ = ["MAX_RETRY_AFTER", "RateLimiter", "TokenBucket", "deadline_paused", "row_scope"]

MAX_RETRY_AFTER = 600.0  # a longer wait is a server's mistake or a ban: give up instead

Clock = Callable[[], float]

# The cancel scope of the row attempt running in this task (its timeout), if any.
row_scope: contextvars.ContextVar[anyio.CancelScope | None] = contextvars.ContextVar(
    "agentkit_batch_row_scope", default=None
)


@contextlib.contextmanager
def deadline_paused() -> Iterator[None]:
    """Stop the running row's timeout clock inside the block (a wait for a limit)."""
    scope = row_scope.get()
    if scope is None or not math.isfinite(scope.deadline):
        yield
        return
    saved, started = scope.deadline, anyio.current_time()
    scope.deadline = math.inf
    try:
        yield
    finally:
        scope.deadline = saved + (anyio.current_time() - started)


def backoff(attempt: int, initial: float, ceiling: float = 60.0) -> float:
    """Exponential backoff with jitter: about initial, 2x, 4x ... up to the ceiling."""
    base: float = min(ceiling, initial * 2.0 ** (attempt - 1))
    return base * (0.75 + 0.5 * random.random())


class TokenBucket:
    """`rate` units per second, at most `capacity` saved up; a level below zero is a debt."""

    def __init__(self, rate: float, capacity: float, clock: Clock = time.monotonic) -> None:
        self.rate = rate
        self.capacity = capacity
        self.level = capacity
        self._clock = clock
        self._stamp = clock()

    def _refill(self) -> None:
        now = self._clock()
        self.level = min(self.capacity, self.level + (now - self._stamp) * self.rate)
        self._stamp = now

    def wait_for(self, amount: float) -> float:
        """Seconds until `amount` may be taken (amounts over the capacity need it full)."""
        self._refill()
        need = min(amount, self.capacity) - self.level
        return max(0.0, need / self.rate)

    def take(self, amount: float) -> None:
        self._refill()
        self.level -= amount

    def give_back(self, amount: float) -> None:
        """Settle a reservation: positive returns units, negative takes more."""
        self._refill()
        self.level = min(self.capacity, self.level + amount)


@dataclass
class LimiterStats:
    waited: float = 0.0
    rate_limited: int = 0


class RateLimiter:
    """The batch's shared gate before each model request.

    Args:
        rps: Requests per second, or None.
        tpm: Tokens (prompt + completion) per minute, or None.
        clock: The clock (tests give a fake one with `sleep`).
        sleep: The async sleep.
    """

    def __init__(
        self,
        rps: float | None = None,
        tpm: float | None = None,
        *,
        clock: Clock = time.monotonic,
        sleep: Callable[[float], Any] = anyio.sleep,
    ) -> None:
        self.requests = TokenBucket(rps, max(1.0, rps), clock) if rps else None
        self.tokens = TokenBucket(tpm / 60.0, tpm, clock) if tpm else None
        self._clock = clock
        self._sleep = sleep
        self._lock = anyio.Lock()
        self._not_before = 0.0
        self._token_mean = 0.0
        self._replies = 0
        self.stats = LimiterStats()

    def cool_down(self, seconds: float) -> None:
        """No request before `seconds` from now (a 429 answer asked for it)."""
        self.stats.rate_limited += 1
        self._not_before = max(self._not_before, self._clock() + seconds)

    def _delay(self, reserve: float) -> float:
        delay = max(0.0, self._not_before - self._clock())
        if self.requests is not None:
            delay = max(delay, self.requests.wait_for(1))
        if self.tokens is not None:
            delay = max(delay, self.tokens.wait_for(reserve))
        return delay

    async def acquire(self) -> tuple[float, float]:
        """Wait for a request slot; (tokens reserved, seconds waited)."""
        started = self._clock()
        reserve = self._token_mean
        # One waiter at a time, in arrival order: the lock is fair, so no row starves.
        async with self._lock:
            while (delay := self._delay(reserve)) > 0:
                await self._sleep(delay)
            if self.requests is not None:
                self.requests.take(1)
            if self.tokens is not None:
                self.tokens.take(reserve)
        waited = self._clock() - started
        self.stats.waited += waited
        return reserve, waited

    def settle(self, reserved: float, used: int | None) -> None:
        """Record the tokens a request really used (None: it got no reply)."""
        if used is not None:
            self._replies += 1
            self._token_mean += (used - self._token_mean) / self._replies
        if self.tokens is not None:
            self.tokens.give_back(reserved - (used or 0))
