"""The channel between callers and a connection's owner task: calls, the inbox, sessions.

The inbox is an anyio memory object stream. A cancelled owner never loses a call in it:
anyio hands an item only to a receiver without a pending cancellation, and does not cancel
a receiver that has been handed one before it runs. The owner is never cancelled to stop
serving, either: a lost connection `wake()`s it with a `None` in the stream, and a stop
closes the stream. Whatever is still in it when the owner stops is failed (`take`, `fail`).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp import Client

__all__ = ["Call", "Inbox", "Run", "Session", "fail"]

Run = Callable[[Client], Awaitable[Any]]


class Inbox:
    """Calls waiting for the owner (see the module docstring)."""

    def __init__(self) -> None:
        self._send, self._receive = anyio.create_memory_object_stream["Call | None"](math.inf)
        self._taken: list[Call] = []
        self.closed = False

    def put(self, call: Call) -> None:
        """Queue a call for the owner.

        Raises:
            anyio.ClosedResourceError: The inbox is closed.
        """
        self._send.send_nowait(call)

    def wake(self) -> None:
        """End the owner's current `wait` even without a call (the connection was lost)."""
        if not self.closed:
            self._send.send_nowait(None)

    def close(self) -> None:
        """No more calls: `take` still gives the ones waiting, then `dispose`."""
        self.closed = True
        self._send.close()

    def dispose(self) -> None:
        self._receive.close()

    def take(self) -> list[Call]:
        """Every call waiting now, in order."""
        calls, self._taken = self._taken, []
        while True:
            try:
                item = self._receive.receive_nowait()
            except (anyio.WouldBlock, anyio.EndOfStream):
                return calls
            if item is not None:
                calls.append(item)

    async def wait(self) -> None:
        """Until there are calls, the inbox is closed, or `wake()` was called."""
        if self._taken or self.closed or self._receive.statistics().current_buffer_used:
            return
        try:
            item = await self._receive.receive()
        except anyio.EndOfStream:
            return
        if item is not None:
            self._taken.append(item)


@dataclass(eq=False)
class Session:
    """One connection: from its handshake to its end."""

    inbox: Inbox
    ended: anyio.Event = field(default_factory=anyio.Event)
    reason: str | None = None  # why it was lost; None while up, or when it was stopped

    def lose(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        self.inbox.wake()


@dataclass(eq=False)
class Call:
    """One request for the owner: `run(client)`, under `scope` (the caller may cancel it)."""

    run: Run
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    done: anyio.Event = field(default_factory=anyio.Event)
    value: Any = None
    has_value: bool = False
    error: BaseException | None = None
    session: Session | None = None


def fail(calls: list[Call], error: BaseException) -> None:
    """End calls that will not run, with `error`."""
    for call in calls:
        call.error = error
        call.done.set()
