"""One task owns a server's connection; every other task reaches it through a channel.

The SDK's client enters task groups and cancel scopes, which anyio requires to be left in
the task that entered them. So one owner task opens the connection, serves it and closes it,
and nothing else touches it: a call is a `Call` put on the owner's inbox, run by a worker
in the owner's task group, under a cancel scope the caller may cancel from its own task.
Cancelling a caller cancels its request (the SDK then sends `notifications/cancelled`);
no scope is ever entered in one task and left in another.

The inbox, an anyio memory object stream, is in `_calls`.

The owner, in turn: connect (under a handshake deadline), serve until the inbox closes or the
connection is lost, and after a loss wait for the next call, then reconnect once more (up to
`restarts` times in all) or fail calls as unavailable until it is stopped.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any, Literal

import anyio
import anyio.abc
import httpx2
import mcp_types
from mcp import Client
from mcp.client.session import IncomingMessage
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

import agentkit

from ._calls import Call, Inbox, Run, Session, fail
from ._errors import ConnectionLost, MCPServerError, describe
from ._targets import Target

__all__ = ["Connection"]

logger = logging.getLogger("agentkit.mcp")

_CANCEL_WAIT = 2.0  # seconds a cancelled caller waits for its request to be cancelled
_END_WAIT = 5.0  # seconds a caller waits to learn why its connection ended
_EXIT_WAIT = 1.0  # seconds a lost stdio server has to show it exited

State = Literal["stopped", "starting", "running", "down", "unavailable"]


class Connection:
    """The owner of one MCP server's connection (see the module docstring).

    Args:
        name: The server's name, for messages.
        target: Where the server is.
        start_timeout: Seconds the handshake may take.
        restarts: Times a lost connection is made again, on the call after the loss.
        protocol: "auto" (the newest revision the server speaks) or "legacy" (the
            `initialize` handshake only).
        on_tools_changed: Called when the server says its tools changed, and after each
            reconnection.
    """

    def __init__(
        self,
        name: str,
        target: Target,
        *,
        start_timeout: float,
        restarts: int,
        protocol: Literal["auto", "legacy"],
        on_tools_changed: Callable[[], None],
    ) -> None:
        self.name = name
        self.target = target
        self.start_timeout = start_timeout
        self.restarts = restarts
        self.protocol = protocol
        self.on_tools_changed = on_tools_changed
        self.state: State = "stopped"
        self.client: Client | None = None
        self.unavailable_reason: str | None = None
        self._restarts_left = restarts
        self._inbox: Inbox | None = None
        self._session_scope: anyio.CancelScope | None = None
        self._closing = False
        self._stopped = anyio.Event()

    # -- any task ---------------------------------------------------------------------------

    async def submit(self, run: Run) -> Any:
        """Run `run(client)` in the owner's task group and return its result.

        Raises:
            ConnectionLost: The connection ended during the call, or the server is
                unavailable.
            MCPServerError: The server is not started, or is stopping.
            Exception: Whatever `run` raised (an `MCPError` the server answered, ...).
        """
        inbox = self._inbox
        if inbox is None or inbox.closed:
            raise MCPServerError(self._not_running(), server=self.name)
        call = Call(run)
        try:
            inbox.put(call)
        except anyio.ClosedResourceError:
            raise MCPServerError(self._not_running(), server=self.name) from None
        try:
            await call.done.wait()
        except anyio.get_cancelled_exc_class():
            call.scope.cancel()  # a CancelScope may be cancelled from any task
            with anyio.CancelScope(shield=True), anyio.move_on_after(_CANCEL_WAIT):
                await call.done.wait()
            raise
        if call.has_value:
            return call.value
        if call.error is not None and not _is_lost(call.error):
            raise call.error
        session = call.session
        if session is not None:
            with anyio.CancelScope(shield=True), anyio.move_on_after(_END_WAIT):
                await session.ended.wait()
        if session is not None and session.reason is not None:
            raise ConnectionLost(session.reason)
        if call.error is not None:
            raise call.error
        raise MCPServerError(self._not_running(), server=self.name)

    @property
    def restarts_left(self) -> int:
        return self._restarts_left

    def close(self) -> None:
        """Ask the owner to stop: the inbox closes and the current connection is cancelled."""
        self._closing = True
        if self._inbox is not None:
            self._inbox.close()
        if self._session_scope is not None and self.state == "starting":
            self._session_scope.cancel()  # serving ends by itself once the inbox is closed

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    def _stopped_error(self) -> MCPServerError:
        return MCPServerError(f"MCP server `{self.name}` was stopped", server=self.name)

    def _not_running(self) -> str:
        if self.state == "stopped":
            return f"MCP server `{self.name}` is not running: start it first (`async with server:`)"
        return f"MCP server `{self.name}` was stopped"

    # -- the owner task ---------------------------------------------------------------------

    async def run(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        """The owner task: returns once stopped. Raises `MCPServerError` if it cannot start."""
        inbox = self._inbox = Inbox()
        self._closing = False
        self._stopped = anyio.Event()
        self._restarts_left = self.restarts
        self.unavailable_reason = None
        try:
            self.state = "starting"
            lost = await self._session(task_status.started, [])
            while lost is not None:
                lost = await self._after_loss(lost)
        finally:
            self.state = "stopped"
            self.client = None
            inbox.close()
            fail(inbox.take(), self._stopped_error())
            inbox.dispose()
            self._stopped.set()

    async def _after_loss(self, reason: str) -> str | None:
        """Wait for calls, then reconnect for them; why that connection was lost, or None."""
        assert self._inbox is not None
        if self._restarts_left <= 0:
            await self._unavailable([], f"{reason}, and its restarts are used up")
            return None
        self.state = "down"
        calls: list[Call] = []
        while not calls:
            await self._inbox.wait()
            if self._inbox.closed:
                return None
            calls = self._inbox.take()
        self._restarts_left -= 1
        self.state = "starting"
        try:
            return await self._session(None, calls)
        except MCPServerError as exc:
            if self._closing:
                fail(calls, exc)
                return None
            await self._unavailable(calls, f"restarting it failed: {exc}")
            return None

    async def _unavailable(self, calls: list[Call], reason: str) -> None:
        """Fail these calls and every later one until the server is stopped."""
        assert self._inbox is not None
        self.state = "unavailable"
        self.unavailable_reason = reason
        logger.warning("MCP server %s is unavailable: %s", self.name, reason)
        while True:
            fail(calls, ConnectionLost(reason, unavailable=True))
            if self._inbox.closed:
                return
            await self._inbox.wait()
            calls = self._inbox.take()

    async def _session(self, started: Callable[[], None] | None, first: list[Call]) -> str | None:
        """Connect, serve, disconnect; why the connection was lost, or None when stopped.

        Raises:
            MCPServerError: The handshake failed, timed out, or was stopped.
        """
        assert self._inbox is not None
        session = Session(self._inbox)
        up = False
        failure: Exception | None = None
        try:
            # The deadline scope encloses the whole connection (and is lifted once it is up):
            # a `fail_after` around the handshake alone would be left before the client's
            # own scopes, which anyio refuses.
            with anyio.CancelScope(deadline=anyio.current_time() + self.start_timeout) as limit:
                self._session_scope = limit
                if self._closing:
                    limit.cancel()
                try:
                    async with AsyncExitStack() as stack:
                        client = Client(
                            await self.target.open(stack),
                            mode=self.protocol,
                            cache=None,  # one tool cache, MCPServer's
                            message_handler=self._on_message,
                            client_info=_CLIENT_INFO,
                        )
                        await stack.enter_async_context(client)
                        limit.deadline = math.inf
                        up = True
                        self.client = client
                        self.state = "running"
                        self.on_tools_changed()
                        if started is not None:
                            started()
                        await self._serve(client, session, first)
                except Exception as exc:  # the transport failed under the session
                    if up:
                        session.lose(describe(exc))
                    else:
                        failure = exc
        finally:
            self.client = None
            self._session_scope = None
            session.ended.set()
        if not up:
            if self._closing:
                text = f"MCP server `{self.name}` was stopped while starting"
                raise MCPServerError(text, server=self.name)
            raise await self._start_error(failure or TimeoutError())
        return session.reason

    async def _serve(self, client: Client, session: Session, first: list[Call]) -> None:
        inbox = session.inbox
        process = getattr(self.target, "process", None)
        async with anyio.create_task_group() as tg:
            if process is not None:
                tg.start_soon(self._watch_exit, process, session)
            if _listens(client):
                tg.start_soon(self._listen, client)
            calls = first
            while True:
                for call in calls:
                    tg.start_soon(self._work, call, client, session)
                if session.reason is not None or inbox.closed:
                    break
                await inbox.wait()
                calls = inbox.take() if not inbox.closed else []
            if session.reason is not None and process is not None:
                # Lost: say how the process ended, before it is stopped for good.
                with anyio.move_on_after(_EXIT_WAIT):
                    await process.stdout_closed.wait()
                if process.stdout_closed.is_set():
                    session.reason = (await self.target.ended()) or session.reason
            tg.cancel_scope.cancel()  # stopped or lost: calls still running end now

    async def _work(self, call: Call, client: Client, session: Session) -> None:
        call.session = session
        try:
            with call.scope:
                call.value = await call.run(client)
                call.has_value = True
        except Exception as exc:
            call.error = exc
            if _is_lost(exc):
                session.lose(f"the connection closed ({describe(exc)})")
        finally:
            if not call.has_value and call.error is None and session.reason is None:
                # Cancelled by the owner, not by the caller: the server is being stopped.
                call.error = MCPServerError(
                    f"MCP server `{self.name}` was stopped", server=self.name
                )
            call.done.set()

    async def _watch_exit(self, process: Any, session: Session) -> None:
        await process.stdout_closed.wait()
        session.lose("it closed its stdout")

    async def _listen(self, client: Client) -> None:
        """Revision 2026-07-28 sends list changes only on a `subscriptions/listen` stream."""
        try:
            async with client.listen(tools_list_changed=True) as subscription:
                async for _event in subscription:
                    self.on_tools_changed()
        except Exception as exc:  # the server may not serve it; changes then go unseen
            logger.debug("MCP server %s: no tool-change stream (%s)", self.name, describe(exc))

    async def _on_message(self, message: IncomingMessage) -> None:
        if isinstance(message, mcp_types.ToolListChangedNotification):
            self.on_tools_changed()
        elif isinstance(message, Exception):
            logger.debug("MCP server %s sent garbage: %s", self.name, describe(message))

    async def _start_error(self, exc: BaseException) -> MCPServerError:
        where = f"MCP server `{self.name}` ({self.target.label})"
        spawned = getattr(self.target, "process", None) is not None
        ended = None
        if isinstance(exc, FileNotFoundError):
            text = f"could not start {where}: {exc.filename or 'the command'} was not found"
        elif isinstance(exc, PermissionError):
            text = f"could not start {where}: {exc.filename or 'the command'} is not executable"
        elif isinstance(exc, TimeoutError):
            text = f"{where} did not finish its handshake within {self.start_timeout:g} s"
        elif isinstance(exc, MCPError) and exc.code != mcp_types.CONNECTION_CLOSED:
            text = f"{where} refused the handshake: {exc.message}"
        elif isinstance(exc, MCPError) or spawned:
            text = f"{where} stopped before its handshake finished"
            ended = await self.target.ended()
        else:
            text = f"could not connect to {where}: {describe(exc)}"
        if ended is not None:
            text += f": {ended}"
        tail = self.target.stderr_tail()
        if tail and not isinstance(exc, (FileNotFoundError, PermissionError)):
            text += f"\nIts stderr ended with:\n{tail}"
        return MCPServerError(text, server=self.name)


def _is_lost(exc: BaseException) -> bool:
    """Whether an error means the connection itself is gone (not just this call failed)."""
    if isinstance(exc, MCPError):
        return exc.code == mcp_types.CONNECTION_CLOSED
    lost = (ConnectionLost, OSError, httpx2.TransportError, anyio.BrokenResourceError)
    return isinstance(exc, lost)


def _listens(client: Client) -> bool:
    tools = client.server_capabilities.tools
    return (
        client.protocol_version in MODERN_PROTOCOL_VERSIONS
        and tools is not None
        and bool(tools.list_changed)
    )


_CLIENT_INFO = mcp_types.Implementation(name="agentkit", version=agentkit.__version__)
