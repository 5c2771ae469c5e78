"""`MCPServer`: the tools of one MCP server, as agentkit tools, with the connection's lifetime."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from types import TracebackType
from typing import Any

import anyio
import anyio.abc
import mcp_types
from mcp import Client
from mcp.server.lowlevel.server import Server
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError
from typing_extensions import Unpack

from agentkit import ModelRetry, Tool, UserError

from ._config import read_config
from ._connection import Connection
from ._errors import ConnectionLost, MCPServerError
from ._options import ServerOptions, parse_options
from ._results import result_text
from ._targets import HttpTarget, InProcessTarget, StdioTarget, Target
from ._tools import build_tools

__all__ = ["MCPServer", "ServerOptions"]

_MAX_PAGES = 100


class MCPServer:
    """The tools of an MCP server as agentkit tools; one connection, owned by one task.

    Make one with `MCPServer.stdio(...)`, `MCPServer.http(...)`, `MCPServer.from_config(...)`
    or `MCPServer.in_process(...)`; run it with `async with server:` (or
    `await server.start(task_group)` and `await server.aclose()`, from any task); then
    `await server.list_tools()` gives `Tool`s for `Agent(tools=[...])`.

    Options (keyword arguments of every constructor):
        name: How messages name the server (default: from the command or the URL).
        prefix: Put before every tool name (`"time_"` gives `time_get_current_time`).
        allow: Only these tools (MCP names; `fnmatch` patterns such as `"get_*"` work).
        deny: Never these tools.
        timeout: Seconds one call may take (None: no limit); 60 by default.
        start_timeout: Seconds the handshake (and a tool listing) may take; 30 by default.
        restarts: Times a server that stopped is started again, on the next call; 1.
        require_approval: "destructive" (default: tools annotated `destructiveHint` and
            not `readOnlyHint`), "always", "never", or a function of the MCP tool.
        protocol: "auto" (negotiates: revision 2026-07-28 or the `initialize` handshake of
            2024-11-05 to 2025-11-25) or "legacy" (the `initialize` handshake only).

    Attributes:
        name: The server's name.
        rejected_tools: MCP tool name -> why it was left out (a schema agentkit refused).
    """

    def __init__(self, target: Target, **options: Unpack[ServerOptions]) -> None:
        settings = parse_options(target, options)
        self._given = dict(options)
        self.name = settings.name
        self.rejected_tools: dict[str, str] = {}
        self._options = settings.tools
        self._connection = Connection(
            settings.name,
            target,
            start_timeout=settings.start_timeout,
            restarts=settings.restarts,
            protocol=settings.protocol,
            on_tools_changed=self._tools_changed,
        )
        self._tools: list[Tool] | None = None
        self._changes = 0
        self._listed_at_change = -1
        self._expires = math.inf
        self._list_lock = anyio.Lock()
        self._exit_stack: AsyncExitStack | None = None
        self._entries = 0
        self._entered_by: int | None = None

    # -- construction -----------------------------------------------------------------------

    @classmethod
    def stdio(
        cls,
        command: str,
        args: Sequence[str] = (),
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        shutdown_grace: float = 2.0,
        **options: Unpack[ServerOptions],
    ) -> MCPServer:
        """A server run as a child process, over its stdin and stdout.

        Args:
            command: The executable (`"uvx"`, `"npx"`, a path...).
            args: Its arguments.
            env: Environment variables for it, on top of PATH, HOME, USER, LOGNAME, SHELL and
                TERM (nothing else of agentkit's environment, API keys included, is passed).
            cwd: Its working folder.
            shutdown_grace: Seconds it has to exit after its stdin closes, before SIGTERM
                (then SIGKILL, 2 s later) go to its whole process group.
        """
        problems = []
        if not isinstance(command, str) or not command:
            problems.append(f"command must be a non-empty string: {command!r}")
        if isinstance(args, str) or not all(isinstance(a, str) for a in args):
            problems.append(f"args must be a list of strings: {args!r}")
        if env is not None and not all(
            isinstance(k, str) and isinstance(v, str) for k, v in dict(env).items()
        ):
            problems.append("env must map names to string values")
        if not isinstance(shutdown_grace, (int, float)) or shutdown_grace < 0:
            problems.append(f"shutdown_grace must be a number of seconds >= 0: {shutdown_grace!r}")
        if problems:
            raise UserError(f"MCP server {command!r} is not valid:", problems)
        target = StdioTarget(command, args, env, os.fspath(cwd) if cwd else None, shutdown_grace)
        return cls(target, **options)

    @classmethod
    def http(
        cls,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        **options: Unpack[ServerOptions],
    ) -> MCPServer:
        """A server at a Streamable HTTP endpoint (`http://127.0.0.1:3001/mcp`).

        Args:
            url: The endpoint.
            headers: Sent with every request (`{"Authorization": "Bearer ..."}`).
        """
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise UserError(f"MCP server URL must start with http:// or https://: {url!r}")
        return cls(HttpTarget(url, headers), **options)

    @classmethod
    def in_process(cls, server: Server[Any], **options: Unpack[ServerOptions]) -> MCPServer:
        """An SDK `mcp.server.lowlevel.Server` in this process (see `agentkit.mcp.mcp_server`)."""
        if not isinstance(server, Server):
            raise UserError(f"in_process() takes an mcp.server.lowlevel.Server, got {server!r:.80}")
        return cls(InProcessTarget(server), **options)

    @classmethod
    def from_config(
        cls, path: str | os.PathLike[str], **options: Unpack[ServerOptions]
    ) -> list[MCPServer]:
        """The servers of an `mcpServers` JSON file, in its order (see `agentkit.mcp`).

        `options` apply to every server; the file's own `prefix`, `allow`, `deny` and
        `timeout` keys win.

        Raises:
            UserError: The file or one of its servers is not valid; each problem names the
                server and the field.
        """
        servers = []
        problems = []
        for entry in read_config(path):
            merged: dict[str, Any] = {**options, **entry.options, "name": entry.name}
            try:
                if entry.command is not None:
                    servers.append(
                        cls.stdio(entry.command, entry.args, env=entry.env, cwd=entry.cwd, **merged)
                    )
                elif entry.url is not None:
                    servers.append(cls.http(entry.url, headers=entry.headers, **merged))
            except UserError as exc:
                problems.append(f"server {entry.name!r}: {exc}")
        if problems:
            raise UserError(f"MCP config {Path(path)} is not valid:", problems)
        return servers

    # -- lifetime ---------------------------------------------------------------------------

    async def start(self, task_group: anyio.abc.TaskGroup) -> None:
        """Connect; the task that owns the connection runs in `task_group` until `aclose()`.

        Raises:
            MCPServerError: The server could not be started (named, with why).
            UserError: It is running already.
        """
        if self._connection.state != "stopped":
            raise UserError(f"MCP server `{self.name}` is running already")
        await task_group.start(self._run_owner)

    async def _run_owner(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        await self._connection.run(task_status=task_status)

    async def aclose(self) -> None:
        """Stop the server (from any task) and wait until it has stopped; safe to repeat."""
        if self._connection.state == "stopped":
            return
        self._connection.close()
        await self._connection.wait_stopped()

    async def __aenter__(self) -> MCPServer:
        task = anyio.get_current_task().id
        if self._entries:
            if task != self._entered_by:
                raise UserError(
                    f"MCP server `{self.name}` is running in another task already: start it "
                    "once where both can use it (`await server.start(task_group)`)"
                )
            self._entries += 1
            return self
        if self._connection.state != "stopped":
            raise UserError(f"MCP server `{self.name}` is running already")
        stack = AsyncExitStack()
        group = await stack.enter_async_context(anyio.create_task_group())
        try:
            await group.start(self._run_owner)
        except BaseException:
            await stack.aclose()
            raise
        self._exit_stack, self._entries, self._entered_by = stack, 1, task
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._entries -= 1
        if self._entries > 0:
            return
        stack, self._exit_stack, self._entered_by = self._exit_stack, None, None
        self._connection.close()
        if stack is not None:
            # The body's own exception is left to propagate as it is: handed to the task
            # group, it would come out wrapped in an ExceptionGroup.
            await stack.aclose()

    # -- state ------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the server is started (it may be restarting or unavailable)."""
        return self._connection.state != "stopped"

    @property
    def state(self) -> str:
        """One of stopped, starting, running, down (restarts on the next call), unavailable."""
        return self._connection.state

    @property
    def pid(self) -> int | None:
        """The server's process id while a stdio server runs, else None."""
        return self._connection.target.pid

    @property
    def protocol_version(self) -> str | None:
        """The protocol revision spoken with the server while connected."""
        client = self._connection.client
        return client.protocol_version if client is not None else None

    @property
    def server_info(self) -> mcp_types.Implementation | None:
        """The server's name and version as it gave them, while connected."""
        client = self._connection.client
        return client.server_info if client is not None else None

    def __repr__(self) -> str:
        return f"MCPServer(name={self.name!r}, {self._connection.target.label!r}, {self.state})"

    def __reduce__(self) -> tuple[Any, ...]:
        # A server travels as its settings (an agent's configuration holds it): where it
        # lands it is a new server, stopped. An in-process server's SDK object does not.
        return (_remade, (self._connection.target, self._given))

    # -- tools ------------------------------------------------------------------------------

    async def list_tools(self) -> list[Tool]:
        """The server's tools as agentkit tools, sorted by name.

        Listed once and kept: listed again after the server says its tools changed, after
        a restart, and when the listing's `ttlMs` (revision 2026-07-28) has passed.

        Raises:
            MCPServerError: The server is not running, or could not be listed (when it is
                unavailable after a first listing, that listing is kept).
        """
        if self._fresh():
            assert self._tools is not None
            return list(self._tools)
        async with self._list_lock:
            if not self._fresh():
                await self._relist()
        assert self._tools is not None
        return list(self._tools)

    def _fresh(self) -> bool:
        return (
            self._tools is not None
            and self._listed_at_change == self._changes
            and anyio.current_time() < self._expires
        )

    async def _relist(self) -> None:
        change = self._changes
        timeout = self._connection.start_timeout
        try:
            listing, ttl_ms = await self._connection.submit(lambda c: _list_all(c, limit=timeout))
        except ConnectionLost as exc:
            if self._tools is not None:
                return  # calls will say it is unavailable
            raise MCPServerError(
                f"MCP server `{self.name}` could not list its tools: {exc.reason}", server=self.name
            ) from None
        except TimeoutError:
            raise MCPServerError(
                f"MCP server `{self.name}` did not list its tools within {timeout:g} s",
                server=self.name,
            ) from None
        except (MCPError, ValidationError) as exc:
            raise MCPServerError(
                f"MCP server `{self.name}` could not list its tools: {exc}", server=self.name
            ) from None
        self._tools, self.rejected_tools = build_tools(
            self.name, listing, self._options, self._call_for_tool
        )
        self._listed_at_change = change
        self._expires = anyio.current_time() + ttl_ms / 1000 if ttl_ms > 0 else math.inf

    def _tools_changed(self) -> None:
        self._changes += 1

    async def call_tool(self, name: str, arguments: Mapping[str, Any] | None = None) -> str:
        """Call a tool by its MCP name; the result as the text the model would read.

        Raises:
            ModelRetry: The call failed: the tool reported an error (`isError`), the server
                answered an error, stopped during the call, or is unavailable. The message
                says which, for the model.
            MCPServerError: The server is not running.
        """
        return await self._call_for_tool(name, name, dict(arguments or {}))

    async def _call_for_tool(self, mcp_name: str, shown: str, arguments: dict[str, Any]) -> str:
        try:
            result = await self._connection.submit(lambda c: c.call_tool(mcp_name, arguments))
        except ConnectionLost as exc:
            raise ModelRetry(self._lost_text(shown, exc)) from None
        except MCPError as exc:
            raise ModelRetry(f"`{shown}` failed: the MCP server answered: {exc.message}") from None
        except ValidationError:
            raise ModelRetry(
                f"`{shown}` failed: the MCP server `{self.name}` sent an answer that is not a "
                "valid tool result"
            ) from None
        text = result_text(result)
        if result.is_error:
            raise ModelRetry(f"`{shown}` failed: {text}")
        return text

    def _lost_text(self, shown: str, lost: ConnectionLost) -> str:
        if lost.unavailable:
            return (
                f"`{shown}` is unavailable: the MCP server `{self.name}` is down "
                f"({lost.reason}). Continue without it."
            )
        after = (
            "It is restarted for the next call."
            if self._connection.restarts_left > 0
            else "It will not be restarted."
        )
        return (
            f"`{shown}` failed: the MCP server `{self.name}` stopped during the call "
            f"({lost.reason}). {after}"
        )


def _remade(target: Target, options: dict[str, Any]) -> MCPServer:
    return MCPServer(target, **options)


async def _list_all(client: Client, *, limit: float) -> tuple[list[mcp_types.Tool], int]:
    """Every page of the listing, and the first page's `ttlMs` (0 when not given)."""
    tools: list[mcp_types.Tool] = []
    ttl_ms = 0
    cursor: str | None = None
    with anyio.fail_after(limit):
        for page_number in range(_MAX_PAGES):
            page = await client.list_tools(cursor=cursor)
            if page_number == 0:
                ttl_ms = page.ttl_ms
            tools.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                break
    return tools, ttl_ms
