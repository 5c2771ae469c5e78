"""The MCP SDK is an optional dependency: say how to install it when it is missing."""

from __future__ import annotations

from importlib import metadata

__all__ = ["MINIMUM", "require_sdk"]

MINIMUM = (2, 3)
INSTALL = "pip install 'agentkit-llama[mcp]'"
UPGRADE = "pip install -U 'agentkit-llama[mcp]'"


def require_sdk() -> None:
    """Raise `ImportError` with the fix when the `mcp` SDK is absent or too old."""
    try:
        import mcp  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"agentkit.mcp needs the MCP SDK (the `mcp` package), which is not installed: {INSTALL}"
        ) from exc
    try:
        version = metadata.version("mcp")
    except metadata.PackageNotFoundError:
        return  # an unpackaged checkout: trust it
    if _parse(version) < MINIMUM:
        wanted = ".".join(map(str, MINIMUM))
        raise ImportError(f"agentkit.mcp needs mcp>={wanted}, found mcp {version}: {UPGRADE}")


def _parse(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)
