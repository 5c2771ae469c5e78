"""Retries of a model request, seen as they happen: each attempt after the first is told.

The `openai` SDK retries inside its client, out of sight. The loop opens a `RequestAttempts`
around each model request (a context variable, so concurrent runs each have their own); the
adapter's HTTP client reports every attempt it makes to it (`openai/_retries.py`), and each
attempt after the first reaches the loop's listener, with the reason and the wait.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar, Token

__all__ = ["RequestAttempts", "RetryListener", "current_attempts", "unwatch", "watch"]

# (attempt, reason, delay): attempt 1 is the first retry.
RetryListener = Callable[[int, str, float], Awaitable[None]]


class RequestAttempts:
    """The attempts of one model request; tells `listener` of each one after the first."""

    __slots__ = ("_answered", "_retry_count", "_started", "_status", "attempts", "listener")

    def __init__(self, listener: RetryListener) -> None:
        self.listener = listener
        self.attempts = 0
        self._retry_count = -1
        self._started = 0.0
        self._answered: float | None = None
        self._status: str | None = None

    async def started(self, retry_count: int | None = None) -> None:
        """An attempt is being sent; `retry_count` is the client's own count, when it has one
        (the same count again is a redirect of one attempt, not a new attempt)."""
        if self.attempts and retry_count is not None and retry_count == self._retry_count:
            return
        now = time.perf_counter()
        if self.attempts:
            reason = self._status or "connection"
            since = self._answered if self._answered is not None else self._started
            await self.listener(self.attempts, reason, now - since)
        self.attempts += 1
        self._retry_count = -1 if retry_count is None else retry_count
        self._started, self._answered, self._status = now, None, None

    def answered(self, status: int) -> None:
        """The attempt got an HTTP answer (its status line and headers)."""
        self._answered = time.perf_counter()
        self._status = str(status)

    def resending(self, reason: str) -> None:
        """The adapter sends the request again of its own accord, for `reason`."""
        self._status = reason
        self._retry_count = -1


_current: ContextVar[RequestAttempts | None] = ContextVar("agentkit_attempts", default=None)


def current_attempts() -> RequestAttempts | None:
    """The attempts of the model request in flight in this task, if anyone watches them."""
    return _current.get()


def watch(listener: RetryListener) -> Token[RequestAttempts | None]:
    """Watch the attempts of the next request in this task; `unwatch(token)` after it."""
    return _current.set(RequestAttempts(listener))


def unwatch(token: Token[RequestAttempts | None]) -> None:
    _current.reset(token)
