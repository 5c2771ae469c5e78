"""The options every kind of MCP server takes, checked all at once."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

from agentkit import UserError

from ._targets import HttpTarget, InProcessTarget, StdioTarget, Target
from ._tools import ApprovalPolicy, ToolOptions, option_problems

__all__ = ["ServerOptions", "Settings", "parse_options"]

# Commands that run the server named by one of their arguments (the name to show).
_LAUNCHERS = {"uvx", "uv", "npx", "bunx", "pipx", "node", "deno", "docker", "bun", "pnpm"}


class ServerOptions(TypedDict, total=False):
    """Options every kind of server takes (see `MCPServer`)."""

    name: str
    prefix: str
    allow: Sequence[str]
    deny: Sequence[str]
    timeout: float | None
    start_timeout: float
    restarts: int
    require_approval: ApprovalPolicy
    protocol: Literal["auto", "legacy"]


@dataclass(frozen=True)
class Settings:
    """The checked options of one server."""

    name: str
    tools: ToolOptions
    start_timeout: float
    restarts: int
    protocol: Literal["auto", "legacy"]


def parse_options(target: Target, options: Mapping[str, Any]) -> Settings:
    """The options, checked.

    Raises:
        UserError: Naming the server, with every problem.
    """
    tools = ToolOptions(
        prefix=options.get("prefix", ""),
        allow=_patterns(options.get("allow")),
        deny=_patterns(options.get("deny")) or (),
        timeout=options.get("timeout", 60.0),
        require_approval=options.get("require_approval", "destructive"),
    )
    unknown = sorted(set(options) - set(ServerOptions.__annotations__))
    problems = [f"unknown option {name!r}" for name in unknown]
    problems += option_problems(tools)
    start_timeout = options.get("start_timeout", 30.0)
    restarts = options.get("restarts", 1)
    protocol = options.get("protocol", "auto")
    if not isinstance(start_timeout, (int, float)) or not start_timeout > 0:
        problems.append(f"start_timeout must be a positive number of seconds: {start_timeout!r}")
    if isinstance(restarts, bool) or not isinstance(restarts, int) or restarts < 0:
        problems.append(f"restarts must be a whole number >= 0: {restarts!r}")
    if protocol not in ("auto", "legacy"):
        problems.append(f"protocol must be 'auto' or 'legacy': {protocol!r}")
    name = options.get("name") or default_name(target)
    if problems:
        raise UserError(f"MCP server `{name}` is not valid:", problems)
    return Settings(name, tools, float(start_timeout), restarts, protocol)


def default_name(target: Target) -> str:
    """A short name from the command (`uvx mcp-server-time` -> `mcp-server-time`) or URL."""
    if isinstance(target, StdioTarget):
        for word in [target.command, *target.args]:
            base = os.path.basename(word)
            launcher = base.split(".")[0] in _LAUNCHERS or base.startswith("python")
            if base and not base.startswith("-") and not launcher:
                return base.removesuffix(".py").removesuffix(".js")
        return os.path.basename(target.command) or "mcp"
    if isinstance(target, HttpTarget):
        return target.url.split("://", 1)[-1].split("/", 1)[0]
    if isinstance(target, InProcessTarget):
        return target.server.name
    return "mcp"


def _patterns(value: Sequence[str] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    return tuple(value)
