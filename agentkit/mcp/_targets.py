"""Where a server is: a command to run (stdio), a URL (Streamable HTTP), an SDK server object.

Each target opens one connection's transport at a time, in the task that owns the
connection, and can say how its last connection ended.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from typing import Any, Protocol

import httpx2
from mcp.client.streamable_http import streamable_http_client
from mcp.server.lowlevel.server import Server

from ._stdio import StdioProcess, exit_text

__all__ = ["HttpTarget", "InProcessTarget", "StdioTarget", "Target"]

_CONNECT_TIMEOUT = 30.0
_READ_TIMEOUT = 300.0  # a Streamable HTTP response may be a long-lived event stream
_EXIT_WAIT = 1.0


class Target(Protocol):
    """How to reach one server."""

    label: str  # how errors show it: the command line, the URL

    async def open(self, stack: AsyncExitStack) -> Any:
        """What `mcp.Client` connects to for a new connection; resources go on `stack`."""
        ...

    async def ended(self) -> str | None:
        """How the last connection's server ended ("it exited with status 1"), if known."""
        ...

    def stderr_tail(self) -> str:
        """The last lines the server wrote to stderr ("" when none, or not a process)."""
        ...

    @property
    def pid(self) -> int | None:
        """The process id of the running server, for stdio targets."""
        ...


class StdioTarget:
    """A server run as a child process, spoken to over its stdin and stdout."""

    def __init__(
        self,
        command: str,
        args: Sequence[str],
        env: Mapping[str, str] | None,
        cwd: str | None,
        grace: float,
    ) -> None:
        self.command = command
        self.args = list(args)
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.grace = grace
        self.label = shlex.join([command, *args])
        self.process: StdioProcess | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        return (StdioTarget, (self.command, self.args, self.env, self.cwd, self.grace))

    async def open(self, stack: AsyncExitStack) -> Any:
        self.process = StdioProcess(self.command, self.args, self.env, self.cwd, self.grace)
        return self.process

    @property
    def pid(self) -> int | None:
        process = self.process
        return process.pid if process is not None and process.returncode is None else None

    async def ended(self) -> str | None:
        process = self.process
        if process is None:
            return None
        code = await process.wait_exit(_EXIT_WAIT)  # the status lags stdout's end a little
        return f"it {exit_text(code)}" if code is not None else "it closed its stdout"

    def stderr_tail(self) -> str:
        return self.process.stderr_tail() if self.process is not None else ""


class HttpTarget:
    """A server at a Streamable HTTP URL."""

    def __init__(self, url: str, headers: Mapping[str, str] | None) -> None:
        self.url = url
        self.headers = dict(headers or {})
        self.label = url
        self.pid = None

    def __reduce__(self) -> tuple[Any, ...]:
        return (HttpTarget, (self.url, self.headers))

    async def open(self, stack: AsyncExitStack) -> Any:
        client = httpx2.AsyncClient(
            headers=self.headers, timeout=httpx2.Timeout(_CONNECT_TIMEOUT, read=_READ_TIMEOUT)
        )
        await stack.enter_async_context(client)
        return streamable_http_client(self.url, http_client=client)

    async def ended(self) -> str | None:
        return None

    def stderr_tail(self) -> str:
        return ""


class InProcessTarget:
    """An SDK `Server` object in this process (your own server, or a test's)."""

    def __init__(self, server: Server[Any]) -> None:
        self.server = server
        self.label = f"in-process server {server.name!r}"
        self.pid = None

    def __reduce__(self) -> tuple[Any, ...]:
        raise TypeError(
            f"MCP server {self.label} cannot be pickled: it lives in this process (run it "
            "over stdio or HTTP to send an agent that uses it elsewhere)"
        )

    async def open(self, stack: AsyncExitStack) -> Any:
        return self.server

    async def ended(self) -> str | None:
        return None

    def stderr_tail(self) -> str:
        return ""
