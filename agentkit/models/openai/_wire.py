"""OpenAI chat-completions wire dicts: typed messages and tool calls to them, and back.

`messages_from_wire` accepts what `messages_to_wire` produced (and what the OpenAI
chat-completions API documents), so a conversation saved as wire dicts can be resumed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from agentkit.messages import (
    AssistantMessage,
    Message,
    SystemMessage,
    ToolCall,
    ToolMessage,
    UserMessage,
    new_call_id,
    parse_arguments,
)

__all__ = [
    "call_from_wire",
    "call_id",
    "call_to_wire",
    "id_text",
    "message_from_wire",
    "message_to_wire",
    "messages_from_wire",
    "messages_to_wire",
    "tool_calls_from_wire",
]


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


def call_from_wire(id: object, name: str, arguments: object) -> ToolCall:
    """Build a call from the wire fields, decoding `arguments` once (see `call_id`)."""
    if isinstance(arguments, str):
        raw = arguments
    else:  # an object some servers send, or nothing at all (not the text "null")
        raw = "" if arguments is None else json.dumps(arguments)
    return ToolCall(
        name=name,
        arguments=parse_arguments(arguments),
        id=call_id(id),
        raw_arguments=raw,
    )


def call_to_wire(call: ToolCall) -> dict[str, Any]:
    """The call as an OpenAI `tool_calls` entry.

    Arguments that were not a JSON object go back as `{}`, and double-encoded ones as the
    object they held: several servers re-parse them to render the prompt and reject the
    whole request otherwise. The tool result tells the model what was wrong with what it
    sent. The model's own text is kept whenever it already is a JSON object.
    """
    if call.arguments is None:
        raw = "{}"
    elif call.raw_arguments.lstrip().startswith("{"):
        # It decoded to an object, and only an object's text starts with "{": send the
        # model's own text back (a double-encoded one starts with a quote).
        raw = call.raw_arguments
    else:
        raw = json.dumps(call.arguments)
    function = {"name": call.name, "arguments": raw}
    return {"id": call.id, "type": "function", "function": function}


def message_to_wire(message: Message) -> dict[str, Any]:
    """Convert one typed message to an OpenAI chat-completions message dict."""
    if isinstance(message, AssistantMessage):
        if not message.tool_calls:
            # Content may be null only beside tool calls; an empty reply goes back as "".
            return {"role": "assistant", "content": message.content or ""}
        return {
            "role": "assistant",
            "content": message.content,
            "tool_calls": [call_to_wire(call) for call in message.tool_calls],
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
            model), and a flat entry without the `function` wrapper; a saved conversation
            must name every call.

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
        if function is None and lenient and isinstance(item, Mapping) and "name" in item:
            function = item  # flat {name, arguments}, as llama.cpp's docs show a reply
        name = function.get("name") if isinstance(function, Mapping) else None
        if not isinstance(function, Mapping) or not (isinstance(name, str) or lenient):
            raise ValueError(
                f"{where}: tool_calls[{i}] needs a function with a name, got {item!r:.80}"
            )
        name = name if isinstance(name, str) else ""
        calls.append(call_from_wire(item.get("id"), name, function.get("arguments")))
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
