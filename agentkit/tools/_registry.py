"""An agent's tools by name: functions made tools, duplicates refused, definitions once.

A tool whose name the OpenAI format refuses (`github.create_issue`) is offered to the model
by its wire name (`github_create_issue`); a call by either name finds it.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterable
from typing import Any

from agentkit.errors import UserError
from agentkit.tools._callables import where
from agentkit.tools._schema import wire_name
from agentkit.tools._tool import Tool

__all__ = ["ToolRegistry", "as_tool"]


def as_tool(obj: Tool | Callable[..., Any]) -> Tool:
    """A `Tool` as is; a plain function described as a tool."""
    if isinstance(obj, Tool):
        return obj
    return Tool.from_function(obj)


class ToolRegistry:
    """One agent's tools by name, with their wire definitions computed once."""

    __slots__ = ("_by_wire", "_tools", "definitions")

    def __init__(self, tools: Iterable[Tool | Callable[..., Any]] = ()) -> None:
        problems: list[str] = []
        built: list[Tool] = []
        for item in tools:
            try:
                built.append(as_tool(item))
            except UserError as exc:
                problems.append(str(exc))
        seen: dict[str, Tool] = {}
        for t in built:
            first = seen.get(t.name)
            if first is not None and first.function is t.function:
                problems.append(f"tool `{t.name}` ({where(t.function)}) is listed twice")
            elif first is not None:
                problems.append(
                    f"two tools are named `{t.name}` ({where(first.function)} and "
                    f"{where(t.function)}); pass name=... to tell them apart"
                )
            seen[t.name] = t
        if problems:
            raise UserError("the agent's tools are not valid:", problems)
        self._tools = seen
        self._by_wire: dict[str, Tool] = {}
        self.definitions = [self._offered(t) for t in seen.values()]

    def _offered(self, tool: Tool) -> dict[str, Any]:
        """The tool's definition, under a wire name no other tool of the agent has."""
        name, salt = tool.wire_name, 0
        while name in self._by_wire or (name in self._tools and name != tool.name):
            salt += 1
            name = wire_name(tool.name, salt=str(salt))
        self._by_wire[name] = tool
        if name == tool.wire_name:
            return tool._definition
        return {**tool._definition, "function": {**tool._definition["function"], "name": name}}

    def get(self, name: str) -> Tool | None:
        """The tool called `name` (its name, or the wire name the model was told), or None."""
        return self._tools.get(name) or self._by_wire.get(name)

    @property
    def names(self) -> list[str]:
        """The tool names, in registration order."""
        return list(self._tools)

    def __iter__(self) -> typing.Iterator[Tool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools
