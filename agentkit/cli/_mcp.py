"""`--mcp` and `--mcp-config`: MCP servers' tools for `agentkit run`, `chat` and `tools`.

`--mcp "COMMAND ARGS"` runs a server over stdio, `--mcp URL` (http:// or https://) reaches
one over Streamable HTTP, `--mcp-config FILE` adds every server of an `mcpServers` JSON file;
all are repeatable and add to an agent file's tools. Each turn of `run` and `chat` has its
own event loop, so the servers (the flags' and the agent file's, its sub-agents' too) run on
the command's host, an event loop of their own, started once and stopped when the command
ends; Ctrl-C cancels a turn and its MCP calls, not the servers. `-v` shows each server's
stderr; without it, only warnings (a tool left out for its schema, a server that went down).
The host stops when the command ends (`renderer.on_exit`), however it ends.

Only click is imported at the top: the SDK (an optional extra) when a flag asks for it.
"""

from __future__ import annotations

import logging
import shlex
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from agentkit.agent import Agent
    from agentkit.cli._inspect import Inspected
    from agentkit.cli._load import Options
    from agentkit.cli._render import Renderer
    from agentkit.mcp import MCPServer
    from agentkit.mcp._hosted import ServerHost

__all__ = [
    "hosted_agent",
    "hosting",
    "mcp_flags",
    "mcp_options",
    "servers_from_flags",
    "with_servers",
]

F = TypeVar("F", bound=Callable[..., Any])

_host: ServerHost | None = None  # the command's host, from the first server it runs


def mcp_options(command: F) -> F:
    """Add the `--mcp` and `--mcp-config` options (parameters `mcp` and `mcp_config`)."""
    command = click.option(
        "--mcp-config",
        "mcp_config",
        multiple=True,
        metavar="FILE",
        help="Add the MCP servers of an mcpServers JSON file (Claude Desktop's format; "
        "${VAR} is expanded). Repeatable.",
    )(command)
    return click.option(
        "--mcp",
        "mcp",
        multiple=True,
        metavar='"COMMAND ARGS"|URL',
        help='Add the tools of an MCP server: a command run over stdio (--mcp "uvx '
        'mcp-server-time") or a Streamable HTTP URL (http://127.0.0.1:3001/mcp). Repeatable.',
    )(command)


def mcp_flags(flags: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """The `Options` fields of the two options."""
    return {"mcp": flags["mcp"], "mcp_config": flags["mcp_config"]}


def _mcp() -> Any:
    """The `agentkit.mcp` package; a usage error naming the extra when the SDK is missing."""
    from agentkit.errors import UserError

    try:
        import agentkit.mcp
    except ImportError as exc:
        raise UserError(f"--mcp needs the MCP SDK: {exc}") from None
    return agentkit.mcp


def servers_from_flags(mcp: Sequence[str], configs: Sequence[str]) -> list[MCPServer]:
    """The servers the flags name, in their order.

    Raises:
        UserError: A flag names no valid server (every problem listed).
    """
    from agentkit.errors import UserError

    if not mcp and not configs:
        return []
    server_class = _mcp().MCPServer
    servers: list[MCPServer] = []
    problems: list[str] = []
    for spec in mcp:
        try:
            if spec.strip().startswith(("http://", "https://")):
                servers.append(server_class.http(spec.strip()))
                continue
            words = shlex.split(spec)
            if not words:
                problems.append(
                    '--mcp is empty: give a command (--mcp "uvx mcp-server-time") or a URL'
                )
                continue
            servers.append(server_class.stdio(words[0], words[1:]))
        except ValueError as exc:  # shlex: an unclosed quote
            problems.append(f"--mcp {spec}: {exc}")
        except UserError as exc:
            problems.append(f"--mcp {spec}: {exc}")
    for path in configs:
        try:
            servers.extend(server_class.from_config(path))
        except UserError as exc:
            problems.append(f"--mcp-config {path}: {exc}")
    if problems:
        raise UserError("the MCP servers are not valid:", problems)
    return servers


@contextmanager
def hosting(verbose: bool) -> Iterator[None]:
    """The lifetime of the MCP servers a block starts (the command's host), and their log."""
    close = _log(verbose)
    try:
        yield
    finally:
        try:
            _close_host()
        finally:
            close()


def _log(verbose: bool) -> Callable[[], None]:
    """Servers' stderr lines (DEBUG, with -v) and warnings on stderr; the undo."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("agentkit: %(message)s"))
    logger = logging.getLogger("agentkit.mcp")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING)
    logger.propagate = False
    return lambda: logger.removeHandler(handler)


def _close_host() -> None:
    global _host
    host, _host = _host, None
    if host is not None:
        host.__exit__(None, None, None)


def _started_host(verbose: bool, renderer: Renderer) -> ServerHost:
    """The command's host; stopped, with its servers, when the command ends."""
    global _host
    if _host is None:
        from agentkit.mcp._hosted import ServerHost

        close = _log(verbose)
        _host = ServerHost().__enter__()

        def stop() -> None:
            try:
                _close_host()
            finally:
                close()

        renderer.on_exit(stop)
    return _host


def hosted_agent(agent: Agent[Any], options: Options, renderer: Renderer) -> Agent[Any]:
    """The agent with the flags' servers added, and every MCP server it (or a sub-agent)
    has running on the command's host; its tools listed, so a clash shows now.

    Raises:
        UserError: A flag is not valid, or two tools share a name.
        MCPServerError: A server could not be started or listed.
    """
    import anyio

    extra = servers_from_flags(options.mcp, options.mcp_config)
    found: dict[int, Any] = {}
    _collect(agent, found)
    for server in extra:
        found[id(server)] = server
    if not found:
        return agent
    server_class = _mcp().MCPServer
    servers = [s for s in found.values() if isinstance(s, server_class) and not s.running]
    hosted: dict[int, Any] = {}
    if servers:
        host = _started_host(options.verbose, renderer)
        hosted = dict(zip(map(id, servers), host.host(servers), strict=True))
    agent = _swapped(agent, hosted)
    if extra:
        agent = agent.replace(tools=(*agent.config.tools, *(hosted[id(s)] for s in extra)))

    async def listed() -> None:
        async with agent:  # lists the tools now: a clash or a dead server shows at once
            pass

    anyio.run(listed)
    return agent


def _collect(agent: Agent[Any], found: dict[int, Any]) -> None:
    """The tool sources of an agent and of the agents it uses as tools."""
    from agentkit._loop.nested import AgentTool
    from agentkit.tools import is_tool_source

    for item in agent.config.tools:
        if is_tool_source(item):
            found[id(item)] = item
        elif isinstance(item, AgentTool):
            _collect(item.agent, found)


def _swapped(agent: Agent[Any], hosted: dict[int, Any]) -> Agent[Any]:
    """The agent (and its sub-agents) with each hosted server in place of the server."""
    from agentkit._loop.nested import AgentTool

    tools: list[Any] = []
    for item in agent.config.tools:
        if isinstance(item, AgentTool):
            inner = _swapped(item.agent, hosted)
            item = item if inner is item.agent else inner.as_tool(**item._options)
        tools.append(hosted.get(id(item), item))
    if all(a is b for a, b in zip(tools, agent.config.tools, strict=True)):
        return agent
    return agent.replace(tools=tuple(tools))


def with_servers(
    out: Inspected, verbose: bool, mcp: Sequence[str] = (), mcp_config: Sequence[str] = ()
) -> Inspected:
    """`agentkit tools --mcp ...`: `out` with the definitions the model gets from the
    servers, and notes on the tools left out and those that ask for approval."""
    if not mcp and not mcp_config:
        return out
    import anyio

    from agentkit.agent import Agent

    servers = servers_from_flags(mcp, mcp_config)

    async def listed() -> list[dict[str, Any]]:
        agent: Agent[Any] = Agent("offline", tools=servers)
        async with agent:
            for tool in agent.tools:
                if tool.requires_approval:
                    out.notes.append(f"note: `{tool.name}` asks for approval before each call")
            return agent.tool_definitions()

    with hosting(verbose):
        out.definitions.extend(anyio.run(listed))
    for server in servers:
        for name, why in server.rejected_tools.items():
            first = why.splitlines()[0]
            out.notes.append(
                f"warning: MCP server `{server.name}`: tool `{name}` left out: {first}"
            )
    return out
