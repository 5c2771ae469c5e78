"""The exceptions of agentkit.mcp."""

from __future__ import annotations

from agentkit.errors import RunError

__all__ = ["ConnectionLost", "MCPServerError", "describe"]


class MCPServerError(RunError):
    """An MCP server could not be started or reached, or was used while stopped.

    A run that needs it stops before its first request (the command line exits with 1).

    Attributes:
        server: The server's name.
    """

    def __init__(self, message: str, *, server: str) -> None:
        super().__init__(message)
        self.server = server


class ConnectionLost(Exception):
    """The connection a call went over ended before the call did (internal)."""

    def __init__(self, reason: str, *, unavailable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.unavailable = unavailable


def describe(exc: BaseException) -> str:
    """`Type: message` of an exception, the first leaf of an exception group; no traceback."""
    while isinstance(getattr(exc, "exceptions", None), tuple) and exc.exceptions:  # type: ignore[attr-defined]
        exc = exc.exceptions[0]  # type: ignore[attr-defined]
    try:
        message = str(exc).strip()
    except Exception:
        message = ""
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
