"""An MCP tool result as the text the model reads.

Text blocks are kept as they are; structured content is added as compact JSON unless a text
block already carries the same value (servers often send both). Images, audio and resources
are described in one line each (type, size, address), never dropped without a word: Llama
3.1 reads text only, and base64 would only cost tokens.
"""

from __future__ import annotations

import json
from typing import Any

import mcp_types

__all__ = ["result_text"]

NO_CONTENT = "(the tool returned no content)"


def result_text(result: mcp_types.CallToolResult) -> str:
    """The model's view of a tool result (an error result's text too)."""
    parts = [_block_text(block) for block in result.content]
    structured = result.structured_content
    if structured is not None and not _already_shown(structured, result.content):
        parts.append(_json(structured))
    text = "\n".join(part for part in parts if part)
    return text or NO_CONTENT


def _block_text(block: Any) -> str:
    if isinstance(block, mcp_types.TextContent):
        return block.text
    if isinstance(block, (mcp_types.ImageContent, mcp_types.AudioContent)):
        kind = "image" if isinstance(block, mcp_types.ImageContent) else "audio"
        return f"[{kind}: {block.mime_type}, {_size(_base64_bytes(block.data))}, not shown]"
    if isinstance(block, mcp_types.ResourceLink):
        return _link_text(block)
    if isinstance(block, mcp_types.EmbeddedResource):
        return _resource_text(block.resource)
    kind = getattr(block, "type", type(block).__name__)
    return f"[{kind} content, not shown]"


def _link_text(link: mcp_types.ResourceLink) -> str:
    text = f"[resource link: {link.name} <{link.uri}>"
    if link.mime_type:
        text += f" ({link.mime_type})"
    if link.description:
        text += f": {link.description}"
    return text + "]"


def _resource_text(
    resource: mcp_types.TextResourceContents | mcp_types.BlobResourceContents,
) -> str:
    mime = f", {resource.mime_type}" if resource.mime_type else ""
    if isinstance(resource, mcp_types.TextResourceContents):
        return f"[resource <{resource.uri}>{mime}]\n{resource.text}"
    size = _size(_base64_bytes(resource.blob))
    return f"[resource <{resource.uri}>{mime}, {size} of binary data, not shown]"


def _already_shown(structured: Any, content: list[Any]) -> bool:
    for block in content:
        if isinstance(block, mcp_types.TextContent):
            try:
                if json.loads(block.text) == structured:
                    return True
            except ValueError:
                continue
    return False


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _base64_bytes(data: str) -> int:
    stripped = data.rstrip("=")
    return len(stripped) * 3 // 4


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} bytes"
    if count < 1024 * 1024:
        return f"{count / 1024:.1f} KiB"
    return f"{count / (1024 * 1024):.1f} MiB"
