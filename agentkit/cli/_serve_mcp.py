"""`agentkit serve-mcp FILE_OR_NAME...`: tools and agents served to any MCP client.

Each argument is a tool file or a built-in module (as for `--tools`), or an agent: an agent
file whose module defines `agent` (or one Agent), `FILE.py:NAME` or `package.module:NAME`.
An agent is served as one tool, named after the agent, that takes a prompt; it runs on the
model its file and the environment give it (as `agentkit run FILE` would), and its own MCP
servers run for as long as it is served. A `.py` file is imported once to see what it holds,
and an agent file once more to build its agent with the CLI's model rules.

Over stdio (the default) stdout carries only the protocol: whatever else is said goes to
stderr. `--http HOST:PORT` serves Streamable HTTP at `http://HOST:PORT/mcp` instead.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from agentkit.agent import Agent
    from agentkit.cli._load import Options
    from agentkit.cli._render import Renderer
    from agentkit.messages import ToolCall
    from agentkit.tools import Tool

__all__ = ["serve_mcp_command"]

DEFAULT_HOST = "127.0.0.1"


def _address(text: str) -> tuple[str, int]:
    """HOST:PORT (`127.0.0.1:8000`, `:8000`, `[::1]:8000`) as (host, port)."""
    host, colon, port = text.rpartition(":")
    if not colon or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise click.BadParameter(
            f"{text!r} is not HOST:PORT: give e.g. 127.0.0.1:8000, or :8000 for 127.0.0.1",
            param_hint="--http",
        )
    return host.removeprefix("[").removesuffix("]") or DEFAULT_HOST, int(port)


def serve_mcp_command(
    execute: Callable[[Options, Callable[[Renderer], int]], NoReturn],
) -> click.Command:
    """The `serve-mcp` command; `execute` runs its body as every command's (`_main`)."""

    @click.command("serve-mcp")
    @click.argument("specs", nargs=-1, required=True, metavar="FILE_OR_NAME...")
    @click.option(
        "--http",
        "address",
        metavar="HOST:PORT",
        help="Serve Streamable HTTP at http://HOST:PORT/mcp instead of stdio (:8000 is "
        "127.0.0.1:8000).",
    )
    @click.option("--name", default="agentkit", show_default=True, help="The server's name.")
    @click.option(
        "-v", "--verbose", is_flag=True, help="Tracebacks of failures; MCP servers' stderr."
    )
    def serve_mcp(specs: tuple[str, ...], address: str | None, name: str, verbose: bool) -> None:
        """Serve tools, and agents (each as one tool), to any MCP client.

        FILE_OR_NAME is a tool file or built-in module (calculator, clock, ...), as for
        --tools, or an agent: an agent file (its `agent`), FILE.py:NAME or
        package.module:NAME, served as one tool that takes a prompt. Schemas, validation and
        approvals are agentkit's: a tool that needs approval asks the client's user (an MCP
        elicitation), and is refused by a client that cannot ask. Stops at Ctrl-C, or over
        stdio when the client closes stdin.

        \b
        agentkit serve-mcp calculator my_tools.py
        agentkit serve-mcp --http 127.0.0.1:8000 examples/weather.py
        {"mcpServers": {"agentkit": {"command": "agentkit", "args": ["serve-mcp", "calculator"]}}}
        """
        from agentkit.cli._load import Options

        where = _address(address) if address is not None else None
        options = Options(verbose=verbose)
        execute(options, lambda renderer: _body(renderer, specs, options, name, where))

    return serve_mcp


def _body(
    renderer: Renderer,
    specs: tuple[str, ...],
    options: Options,
    name: str,
    where: tuple[str, int] | None,
) -> int:
    import anyio

    from agentkit.cli._mcp import _mcp, hosting

    served = _mcp()  # the SDK, or a usage error that names the extra
    with contextlib.redirect_stdout(sys.stderr):  # what the files print while loading
        tools, agents = _load(specs, options, renderer)
    with hosting(options.verbose):
        anyio.run(_serve, served, tools, agents, name, where)
    return 0


def _load(
    specs: tuple[str, ...], options: Any, renderer: Renderer
) -> tuple[list[Tool], list[Agent[Any]]]:
    """The tools and the agents the arguments name."""
    from agentkit.cli._target import split_target
    from agentkit.tools._loader import load_tool_module

    tools: list[Tool] = []
    agents: list[Agent[Any]] = []
    for spec in specs:
        location, _ = split_target(spec)
        path = Path(spec).expanduser()
        if location != spec or (spec.endswith(".py") and path.is_file() and _has_agent(path)):
            agents.append(_agent(spec, options, renderer))
            continue
        loaded = load_tool_module(spec)
        for note in loaded.skipped:
            renderer.notice(f"agentkit: {spec}: skipped {note}")
        tools.extend(loaded.tools)
    return tools, agents


def _has_agent(path: Path) -> bool:
    """Whether the file defines an Agent (imported on the offline model: no key needed)."""
    from agentkit import _env
    from agentkit.agent import Agent
    from agentkit.cli._target import import_error
    from agentkit.models._resolve import offline_override
    from agentkit.tools import import_path

    with _env.overridden({"AGENTKIT_MODEL": "offline"}), offline_override("forced"):
        try:
            module = import_path(path, "agentkit_serve_probe")
        except Exception as exc:
            raise import_error(str(path), exc) from exc
    return any(isinstance(value, Agent) for value in vars(module).values())


def _declined(call: ToolCall) -> bool:
    """A served agent's tools that need approval: nobody at this end can give it."""
    return False


def _agent(spec: str, options: Any, renderer: Renderer) -> Agent[Any]:
    """The agent of TARGET, on the model `agentkit run TARGET` would use."""
    import dataclasses

    from agentkit.cli._load import load_agent

    loaded = load_agent(dataclasses.replace(options, target=spec), _declined)
    for line in loaded.notices:
        renderer.notice(line)
    return loaded.agent


async def _serve(
    served: Any,
    tools: list[Tool],
    agents: list[Agent[Any]],
    name: str,
    where: tuple[str, int] | None,
) -> None:
    """Serve until stdin closes (stdio) or Ctrl-C; the agents' MCP servers run meanwhile."""
    import anyio

    from agentkit.errors import UserError

    async with contextlib.AsyncExitStack() as stack:
        for agent in agents:
            await stack.enter_async_context(agent)
        offered = [
            *tools,
            *(
                served.agent_tool(a, name=a.config.name, description=a.config.description)
                for a in agents
            ),
        ]
        if where is None:
            click.echo(f"agentkit: serving {_count(offered)} over MCP on stdio", err=True)
            await served.serve_stdio(offered, name=name)
            return
        host, port = where
        async with anyio.create_task_group() as group:
            try:
                url = await group.start(_http, served, offered, name, host, port)
            except OSError as exc:
                raise UserError(f"cannot serve at {host}:{port}: {exc.strerror or exc}") from None
            click.echo(f"agentkit: serving {_count(offered)} over MCP at {url}", err=True)


async def _http(
    served: Any,
    offered: list[Any],
    name: str,
    host: str,
    port: int,
    *,
    task_status: Any,
) -> None:
    await served.serve_http(offered, name=name, host=host, port=port, task_status=task_status)


def _count(offered: list[Any]) -> str:
    return f"{len(offered)} tool{'' if len(offered) == 1 else 's'}"
