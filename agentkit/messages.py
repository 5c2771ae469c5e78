"""Typed chat messages and tool calls, format-neutral, and agentkit's own JSON of them.

Messages are small frozen dataclasses; a model adapter converts them to its wire format only
at the edge, when a request is sent (OpenAI's: `agentkit.models.openai`).

For storage, `to_json`/`from_json` (and `message_to_json`/`message_from_json` per message)
write agentkit's own versioned format: it keeps everything a typed message holds (the model's
raw argument text, the tool name of a result) and is read back by every later version.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Union

from agentkit.usage import PRICES, Usage, estimate_cost

__all__ = [
    "JSON_VERSION",
    "PRICES",
    "AssistantMessage",
    "Message",
    "SystemMessage",
    "ToolCall",
    "ToolMessage",
    "Usage",
    "UserMessage",
    "estimate_cost",
    "from_json",
    "message_from_json",
    "message_to_json",
    "new_call_id",
    "parse_arguments",
    "to_json",
]


def new_call_id() -> str:
    """Return a fresh tool-call id, for calls whose id the server left out."""
    return "call_" + os.urandom(12).hex()


def parse_arguments(raw: object) -> dict[str, Any] | None:
    """Decode a tool call's `arguments` as sent on the wire; None when it is not a JSON object.

    Servers send a JSON string (the standard), an object, or a JSON string holding a JSON
    string of an object (double encoding, seen with Llama). An empty string means no arguments.
    """
    if isinstance(raw, dict):
        return raw
    if raw is None:
        return {}
    if not isinstance(raw, str):
        return None
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            return None
    return value if isinstance(value, dict) else None


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One tool call the model asked for.

    Attributes:
        name: The tool's name as the model gave it (it may name no tool).
        arguments: The decoded arguments, or None when the model's text was not a JSON object.
        id: The call id; generated when the server sent none.
        raw_arguments: The arguments text as the model sent it.
    """

    name: str
    arguments: dict[str, Any] | None
    id: str = field(default_factory=new_call_id)
    raw_arguments: str = ""

    def __post_init__(self) -> None:
        if not self.raw_arguments and self.arguments is not None:
            object.__setattr__(self, "raw_arguments", json.dumps(self.arguments))


@dataclass(frozen=True, slots=True)
class SystemMessage:
    """Instructions for the model."""

    content: str
    role: Literal["system"] = field(default="system", init=False)


@dataclass(frozen=True, slots=True)
class UserMessage:
    """What the user said."""

    content: str
    role: Literal["user"] = field(default="user", init=False)


@dataclass(frozen=True, slots=True)
class AssistantMessage:
    """A model reply: text, tool calls, or both."""

    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    role: Literal["assistant"] = field(default="assistant", init=False)


@dataclass(frozen=True, slots=True)
class ToolMessage:
    """The result of one tool call, sent back under the call's id."""

    tool_call_id: str
    content: str
    name: str | None = None
    role: Literal["tool"] = field(default="tool", init=False)


Message = Union[SystemMessage, UserMessage, AssistantMessage, ToolMessage]  # noqa: UP007


# agentkit's own message format: bump on an incompatible change, and keep reading the old ones.
JSON_VERSION = 1


def message_to_json(message: Message) -> dict[str, Any]:
    """One message as a JSON-ready dict in agentkit's own versioned format (`"v": 1`)."""
    data: dict[str, Any] = {"v": JSON_VERSION, "role": message.role}
    if isinstance(message, AssistantMessage):
        data["content"] = message.content
        if message.tool_calls:
            data["tool_calls"] = [
                {
                    "id": c.id,
                    "name": c.name,
                    "arguments": c.arguments,
                    "raw_arguments": c.raw_arguments,
                }
                for c in message.tool_calls
            ]
    elif isinstance(message, ToolMessage):
        data.update(tool_call_id=message.tool_call_id, content=message.content)
        if message.name is not None:
            data["name"] = message.name
    else:
        data["content"] = message.content
    return data


def _field(data: Mapping[str, Any], key: str, kinds: tuple[type, ...], where: str) -> Any:
    value = data.get(key)
    if not isinstance(value, kinds):
        names = " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
        raise ValueError(f"{where}: {key!r} must be {names}, got {value!r:.80}")
    return value


def message_from_json(data: Mapping[str, Any], where: str = "message") -> Message:
    """The message `message_to_json` wrote (any version this agentkit knows).

    Raises:
        ValueError: Not a stored message, or one written by a newer agentkit; says which field.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: expected a JSON object, got {type(data).__name__}")
    version = data.get("v")
    if version != JSON_VERSION:
        newer = isinstance(version, int) and version > JSON_VERSION
        hint = " (written by a newer agentkit: upgrade to read it)" if newer else ""
        raise ValueError(f"{where}: unknown message format version {version!r}{hint}")
    role = data.get("role")
    if role == "system":
        return SystemMessage(_field(data, "content", (str,), where))
    if role == "user":
        return UserMessage(_field(data, "content", (str,), where))
    if role == "tool":
        return ToolMessage(
            _field(data, "tool_call_id", (str,), where),
            _field(data, "content", (str,), where),
            _field(data, "name", (str, type(None)), where),
        )
    if role != "assistant":
        raise ValueError(f"{where}: unknown role {role!r}")
    calls = []
    for i, raw in enumerate(_field(data, "tool_calls", (list, type(None)), where) or ()):
        at = f"{where}.tool_calls[{i}]"
        if not isinstance(raw, Mapping):
            raise ValueError(f"{at}: expected a JSON object, got {raw!r:.80}")
        calls.append(
            ToolCall(
                name=_field(raw, "name", (str,), at),
                arguments=_field(raw, "arguments", (dict, type(None)), at),
                id=_field(raw, "id", (str,), at),
                raw_arguments=_field(raw, "raw_arguments", (str,), at),
            )
        )
    return AssistantMessage(_field(data, "content", (str, type(None)), where), tuple(calls))


def to_json(messages: Iterable[Message]) -> str:
    """A conversation as JSON text in agentkit's own versioned format (see `from_json`)."""
    return json.dumps(
        {"agentkit_messages": JSON_VERSION, "messages": [message_to_json(m) for m in messages]},
        ensure_ascii=False,
    )


def from_json(text: str | bytes) -> list[Message]:
    """The conversation `to_json` wrote.

    Raises:
        ValueError: The text is not JSON, or not a stored conversation; says where.
    """
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(data, dict) or "messages" not in data:
        raise ValueError('not an agentkit conversation: expected {"agentkit_messages": 1, ...}')
    items = data["messages"]
    if not isinstance(items, list):
        raise ValueError(f"messages must be a list, got {type(items).__name__}")
    return [message_from_json(item, f"messages[{i}]") for i, item in enumerate(items)]


# Before 0.2 the OpenAI wire conversions lived here; `from agentkit.messages import
# messages_to_wire` keeps working, loaded from their home on first use.
_MOVED_TO_WIRE = frozenset(
    {
        "message_from_wire",
        "message_to_wire",
        "messages_from_wire",
        "messages_to_wire",
        "tool_calls_from_wire",
    }
)


def __getattr__(name: str) -> Any:
    if name in _MOVED_TO_WIRE:
        from agentkit.models.openai import _wire

        return getattr(_wire, name)
    raise AttributeError(f"module 'agentkit.messages' has no attribute {name!r}")
