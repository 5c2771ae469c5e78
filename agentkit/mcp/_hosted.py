"""MCP servers kept running in an event loop of their own, usable from any other event loop.

A connection belongs to the event loop it was made in. Code that runs each step in a fresh
event loop (the CLI's chat: one `anyio.run` per turn, stdin read in between) would otherwise
start its servers again for every step. `ServerHost` runs servers in a thread's event loop
for as long as its `with` block lasts; each `HostedServer` is a tool source whose tools call
across to that loop. A call cancelled on the caller's side (a timeout, Ctrl-C) is
cancelled on the host too, so the server gets `notifications/cancelled` as for any call.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from contextlib import ExitStack
from types import TracebackType
from typing import Any, TypeVar

import anyio
import anyio.abc
import anyio.from_thread
import anyio.to_thread

from agentkit import Tool, UserError
from agentkit._sources import Lifetime

from ._server import MCPServer

__all__ = ["HostedServer", "ServerHost"]

T = TypeVar("T")


class ServerHost:
    """A thread's event loop that runs servers from `with host:` to its end.

    `host.host(servers)` starts them there (all at once) and gives one `HostedServer` each.
    """

    def __init__(self) -> None:
        self._stack: ExitStack | None = None
        self.portal: anyio.from_thread.BlockingPortal | None = None

    def __enter__(self) -> ServerHost:
        stack = ExitStack()
        self.portal = stack.enter_context(anyio.from_thread.start_blocking_portal())
        self._stack = stack
        return self

    def host(self, servers: Sequence[MCPServer]) -> list[HostedServer]:
        """Start the servers on the host now; they stop when its block ends.

        Raises:
            MCPServerError: One could not be started (the others are stopped again).
        """
        if self._stack is None or self.portal is None:
            raise RuntimeError("the host is not running: use `with ServerHost() as host:`")
        self._stack.enter_context(self.portal.wrap_async_context_manager(Lifetime(servers)))
        return [HostedServer(server, self) for server in servers]

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack, self._stack = self._stack, None
        try:
            if stack is not None:
                stack.close()
        finally:
            self.portal = None

    async def call(self, function: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """`await function(...)` on the host's event loop, from another one; cancellable."""
        portal = self.portal
        if portal is None:
            raise UserError("the MCP servers' host has stopped")
        future = portal.start_task_soon(functools.partial(function, *args, **kwargs))
        try:
            return await anyio.to_thread.run_sync(future.result, abandon_on_cancel=True)
        finally:
            future.cancel()  # done: nothing; cancelled here: the call is cancelled there


class HostedServer:
    """A tool source for a server running on a `ServerHost` (the host starts and stops it)."""

    def __init__(self, server: MCPServer, host: ServerHost) -> None:
        self.server = server
        self.name = server.name
        self._host = host
        self._listed: list[Tool] | None = None
        self._tools: list[Tool] = []

    @property
    def running(self) -> bool:
        return self.server.running

    async def list_tools(self) -> list[Tool]:
        """The server's tools, whose calls go to the host; the same objects while unchanged."""
        listed = await self._host.call(self.server.list_tools)
        before = self._listed
        if (
            before is None
            or len(before) != len(listed)
            or any(a is not b for a, b in zip(before, listed, strict=True))
        ):
            self._listed, self._tools = listed, [self._across(tool) for tool in listed]
        return list(self._tools)

    async def start(self, task_group: anyio.abc.TaskGroup) -> None:
        raise UserError(f"MCP server `{self.name}` runs on its host, which starts and stops it")

    async def aclose(self) -> None:
        """Nothing: the host stops the server when its block ends."""

    def __repr__(self) -> str:
        return f"HostedServer({self.server!r})"

    def _across(self, tool: Tool) -> Tool:
        host = self._host

        async def call_on_host(**arguments: Any) -> Any:
            return await host.call(tool.function, **arguments)

        call_on_host.__name__ = call_on_host.__qualname__ = tool.name
        return Tool.from_schema(
            name=tool.name,
            description=tool.description,
            parameters=tool.parameters,
            function=call_on_host,
            timeout=tool.timeout,
            requires_approval=tool.requires_approval,
            max_failures=tool.max_failures,
        )
