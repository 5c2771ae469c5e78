"""Typed chat messages, tool calls and usage; agentkit's own JSON of them; OpenAI wire dicts.

Messages are small frozen dataclasses; the loop converts them to wire dicts only at the edge,
when a request is sent. `messages_from_wire` accepts what `messages_to_wire` produced (and what
the OpenAI chat-completions API documents), so a conversation can be saved and resumed.

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
    "call_id",
    "estimate_cost",
    "from_json",
    "id_text",
    "message_from_json",
    "message_from_wire",
    "message_to_json",
    "message_to_wire",
    "messages_from_wire",
    "messages_to_wire",
    "new_call_id",
    "parse_arguments",
    "to_json",
    "tool_calls_from_wire",
]


def new_call_id() -> str:
    """Return a fresh tool-call id, for calls whose id the server left out."""
    return "call_" + os.urandom(12).hex()


def id_text(raw: object) -> str | None:
    """A server's call id as text: "" when absent or blank, None when it is no id at all.

    Ids come in any format: a number is kept as its text, so the tool result answers it.
    """
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw if raw.strip() else ""
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return str(raw)
    return None


def call_id(raw: object) -> str:
    """The id a server gave a call, as text (`id_text`); a fresh one when it gave none."""
    return id_text(raw) or new_call_id()


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

    @classmethod
    def from_wire(cls, id: object, name: str, arguments: object) -> ToolCall:
        """Build a call from the wire fields, decoding `arguments` once (see `call_id`)."""
        if isinstance(arguments, str):
            raw = arguments
        else:  # an object some servers send, or nothing at all (not the text "null")
            raw = "" if arguments is None else json.dumps(arguments)
        return cls(
            name=name,
            arguments=parse_arguments(arguments),
            id=call_id(id),
            raw_arguments=raw,
        )

    def to_wire(self) -> dict[str, Any]:
        """The call as an OpenAI `tool_calls` entry.

        Arguments that were not a JSON object go back as `{}`, and double-encoded ones as the
        object they held: several servers re-parse them to render the prompt and reject the
        whole request otherwise. The tool result tells the model what was wrong with what it
        sent. The model's own text is kept whenever it already is a JSON object.
        """
        if self.arguments is None:
            raw = "{}"
        elif self.raw_arguments.lstrip().startswith("{"):
            # It decoded to an object, and only an object's text starts with "{": send the
            # model's own text back (a double-encoded one starts with a quote).
            raw = self.raw_arguments
        else:
            raw = json.dumps(self.arguments)
        function = {"name": self.name, "arguments": raw}
        return {"id": self.id, "type": "function", "function": function}


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


def message_to_wire(message: Message) -> dict[str, Any]:
    """Convert one typed message to an OpenAI chat-completions message dict."""
    if isinstance(message, AssistantMessage):
        if not message.tool_calls:
            # Content may be null only beside tool calls; an empty reply goes back as "".
            return {"role": "assistant", "content": message.content or ""}
        return {
            "role": "assistant",
            "content": message.content,
            "tool_calls": [call.to_wire() for call in message.tool_calls],
        }
    if isinstance(message, ToolMessage):
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    return {"role": message.role, "content": message.content}


def messages_to_wire(messages: Iterable[Message]) -> list[dict[str, Any]]:
    """Convert typed messages to OpenAI chat-completions message dicts."""
    return [message_to_wire(m) for m in messages]


def _text(content: object, where: str) -> str:
    """Content as text: a string, or the text parts of a content-part list."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, Mapping) and part.get("type") == "text":
                parts.append(str(part.get("text", "")))
            else:
                raise ValueError(
                    f"{where}: only text content parts are supported, got {part!r:.80}"
                )
        return "".join(parts)
    raise ValueError(
        f"{where}: content must be a string or a list of text parts, got {content!r:.80}"
    )


def tool_calls_from_wire(raw: object, where: str, *, lenient: bool = False) -> tuple[ToolCall, ...]:
    """Typed calls from a wire `tool_calls` list.

    Args:
        raw: The list.
        where: Where it comes from, for the error message.
        lenient: Accept a call without a name (a server's reply: the loop then tells the
            model); a saved conversation must name every call.

    Raises:
        ValueError: The list or one of its calls has the wrong shape.
    """
    if not raw:
        return ()
    if not isinstance(raw, list):
        raise ValueError(f"{where}: tool_calls must be a list, got {raw!r:.80}")
    calls = []
    for i, item in enumerate(raw):
        function = item.get("function") if isinstance(item, Mapping) else None
        name = function.get("name") if isinstance(function, Mapping) else None
        if not isinstance(function, Mapping) or not (isinstance(name, str) or lenient):
            raise ValueError(
                f"{where}: tool_calls[{i}] needs a function with a name, got {item!r:.80}"
            )
        name = name if isinstance(name, str) else ""
        calls.append(ToolCall.from_wire(item.get("id"), name, function.get("arguments")))
    return tuple(calls)


def message_from_wire(data: Mapping[str, Any] | Message, index: int = 0) -> Message:
    """Convert one OpenAI message dict (or an already typed message) to a typed message.

    Raises:
        ValueError: The dict is not a chat message; the text says which field is wrong.
    """
    if isinstance(data, (SystemMessage, UserMessage, AssistantMessage, ToolMessage)):
        return data
    where = f"messages[{index}]"
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: expected a message dict, got {type(data).__name__}")
    role = data.get("role")
    if role in ("system", "developer"):
        return SystemMessage(_text(data.get("content"), where))
    if role == "user":
        return UserMessage(_text(data.get("content"), where))
    if role == "assistant":
        content = data.get("content")
        return AssistantMessage(
            content=None if content is None else _text(content, where),
            tool_calls=tool_calls_from_wire(data.get("tool_calls"), where),
        )
    if role in ("tool", "ipython"):
        call_id = data.get("tool_call_id")
        if not isinstance(call_id, str):
            raise ValueError(f"{where}: a tool message needs a string tool_call_id")
        return ToolMessage(call_id, _text(data.get("content"), where), data.get("name"))
    raise ValueError(f"{where}: unknown role {role!r}; expected system, user, assistant or tool")


def messages_from_wire(data: Iterable[Mapping[str, Any] | Message]) -> list[Message]:
    """Convert OpenAI message dicts (typed messages pass through) to typed messages."""
    return [message_from_wire(item, i) for i, item in enumerate(data)]


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


# US dollars per million tokens, (input, output). Extend it for your provider:
# `agentkit.messages.PRICES["my-model"] = (0.1, 0.2)`.
PRICES: dict[str, tuple[float, float]] = {
    "meta-llama/llama-3.1-70b-instruct": (0.40, 0.40),
}


def estimate_cost(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """Estimated cost in US dollars of the tokens, or None when the model has no known price."""
    price = PRICES.get(model) or PRICES.get(model.lower())
    if price is None:
        return None
    return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1_000_000


@dataclass(frozen=True, slots=True)
class Usage:
    """What a run (or one model reply) used.

    Attributes:
        requests: Model requests that returned a reply.
        prompt_tokens: Input tokens, as the server reported them.
        completion_tokens: Output tokens, as the server reported them.
        tool_calls: Tool calls executed.
        cost: Estimated cost in US dollars from `PRICES`; None when the model has no price.
    """

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tool_calls: int = 0
    cost: float | None = None

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable dict, with `total_tokens`."""
        return {
            "requests": self.requests,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "tool_calls": self.tool_calls,
            # Rounded to a millionth of a cent: sums of float prices carry binary noise.
            "cost": None if self.cost is None else round(self.cost, 8),
        }

    def __add__(self, other: Usage) -> Usage:
        if self.cost is None and other.cost is None:
            cost = None
        else:
            cost = (self.cost or 0.0) + (other.cost or 0.0)
        return Usage(
            self.requests + other.requests,
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.tool_calls + other.tool_calls,
            cost,
        )
