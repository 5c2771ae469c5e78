"""agentkit tools to serve over MCP in the tests; run as a script, it serves them over stdio.

`python served_tools.py` serves them over stdio.
"""

from __future__ import annotations

from typing import Any

import anyio
from pydantic import BaseModel

from agentkit import ModelRetry, tool


class Point(BaseModel):
    """A point on the plane."""

    x: int
    y: int


@tool
def add(a: int, b: int) -> int:
    """Add two numbers.

    Args:
        a: The first.
        b: The second.
    """
    return a + b


@tool
def distance(p: Point, q: Point) -> float:
    """The distance between two points.

    Args:
        p: One point.
        q: The other.
    """
    return float(((p.x - q.x) ** 2 + (p.y - q.y) ** 2) ** 0.5)


@tool(requires_approval=True)
def delete_file(path: str) -> str:
    """Delete a file.

    Args:
        path: Which file.
    """
    return f"deleted {path}"


@tool(timeout=0.2)
async def slow() -> str:
    """Take far too long."""
    await anyio.sleep(30)
    return "finally"


@tool
def boom() -> str:
    """Fail with an exception."""
    raise RuntimeError("kaput")


@tool
def even_only(x: int) -> str:
    """Only even numbers.

    Args:
        x: A number.
    """
    if x % 2:
        raise ModelRetry("x must be even: try again with an even number")
    return "even"


@tool
def info() -> dict[str, Any]:
    """Some structured data."""
    return {"a": 1, "b": [2, 3]}


@tool
def chatty() -> str:
    """Print to stdout while serving (must not break the protocol)."""
    print("this goes to stderr when serving over stdio")
    return "said"


if __name__ == "__main__":
    from agentkit.mcp import serve_stdio

    tools = [add, distance, delete_file, slow, boom, even_only, info, chatty]
    anyio.run(serve_stdio, tools)
