"""Tool sources: things that stand in an agent's `tools=[...]` and give tools when asked.

An MCP server (`agentkit.mcp.MCPServer`) is one: its tools are known only once it runs and
lists them, and they may change while it runs. The agent starts the sources that are not
running (`async with agent:` for as long as the block lasts, else for one run), lists their
tools at the start of each run (a cheap check while a listing is fresh), and stops what it
started. The protocol lives here so that the loop and the agent never import `agentkit.mcp`.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import anyio.abc

from agentkit.tools._tool import Tool

__all__ = ["ToolSource", "is_tool_source"]


@runtime_checkable
class ToolSource(Protocol):
    """What an agent needs of a tool source.

    Attributes:
        name: How messages name it (a clash of tool names names both sources).
    """

    name: str

    @property
    def running(self) -> bool:
        """Whether it is started (by anyone): the agent then leaves it to its owner."""
        ...

    async def list_tools(self) -> list[Tool]:
        """Its tools now, in a stable order; the very same objects while nothing changed."""
        ...

    async def start(self, task_group: anyio.abc.TaskGroup) -> None:
        """Start it; what keeps it running lives in `task_group` until `aclose()`."""
        ...

    async def aclose(self) -> None:
        """Stop it (from any task) and wait until it has stopped; safe to repeat."""
        ...


def is_tool_source(value: Any) -> bool:
    """Whether `value` is a tool source rather than a tool or a function."""
    return not isinstance(value, Tool) and isinstance(value, ToolSource)
