"""Assemble streamed chat-completion chunks into one reply: text, tool calls, usage.

Chunks are the decoded JSON dicts of the SSE `data:` lines. Servers disagree on the details
(see llama31-tool-calls.md), so the accumulator decides from what arrives, never from
`finish_reason`:

- a tool call is identified by its `index`; when the index is missing, a lone entry continues
  the current call and entries of a list go by position; a new non-empty `id` (or, without
  ids, a different name, or the same name opening another object after a whole one) starts
  a new call even under the same index, and the same whole call sent again is taken once;
  an id that is a number is taken as its text;
- empty `id` and `name` strings count as absent; `arguments` may be null, split anywhere, or
  sent as an object; an entry without `function` carries `name` and `arguments` itself;
- content that arrives after a tool call is held: JSON residue (braces, quotes, commas,
  special tokens) is dropped at the end, real prose is appended to the text.

Only the first choice is read (agentkit never asks for several).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agentkit.llama._recovery import strip_special_tokens
from agentkit.messages import ToolCall, new_call_id
from agentkit.models.openai._wire import call_from_wire, id_text

__all__ = ["StreamAccumulator", "StreamedReply"]

_RESIDUE_CHARS = " \t\r\n{}[]\"',:"


@dataclass(frozen=True, slots=True)
class StreamedReply:
    """A streamed reply, assembled.

    Attributes:
        content: The text of the reply; None when there was none.
        tool_calls: The tool calls, in the order they started.
        usage: The raw `usage` object of the stream (the last one sent), if any.
        finish_reason: What the server said ended the reply; informative only.
        model: The model id the first chunk named, if any.
        id: The reply's id the first chunk gave, if any.
    """

    content: str | None
    tool_calls: tuple[ToolCall, ...]
    usage: dict[str, Any] | None
    finish_reason: str | None
    model: str | None = None
    id: str | None = None


class _PartialCall:
    __slots__ = ("fragments", "id", "name")

    def __init__(self) -> None:
        self.id = ""
        self.name = ""
        self.fragments: list[str] = []

    def build(self) -> ToolCall:
        arguments = "".join(self.fragments)
        try:
            return call_from_wire(self.id or None, self.name, arguments)
        except RecursionError:
            # Absurdly nested arguments: not an object we can use; the loop says so.
            return ToolCall(self.name, None, self.id or new_call_id(), arguments)


class StreamAccumulator:
    """Collect the chunks of one streamed reply; `finish` returns the assembled reply.

    A tool call that never got a name is dropped when it also got no arguments (an empty
    leftover entry); with arguments it is kept with name "" so the loop can tell the model
    that its call had no name.

    ```python
    acc = StreamAccumulator()
    async for chunk in stream:
        print(acc.feed(chunk), end="")
    reply = acc.finish()
    ```
    """

    def __init__(self) -> None:
        self._text: list[str] = []
        self._after_calls: list[str] = []
        self._calls: list[_PartialCall] = []
        self._by_index: dict[int, _PartialCall] = {}
        self._current = 0
        self._usage: dict[str, Any] | None = None
        self._finish_reason: str | None = None
        self._first: Mapping[str, Any] | None = None

    def feed(self, chunk: Mapping[str, Any]) -> str:
        """Add one chunk; return the text it carries ("" if none, or if it follows a call).

        Raises:
            ValueError: The chunk is not a chat-completion chunk; the message says what is wrong.
        """
        if not isinstance(chunk, Mapping):
            raise ValueError(f"stream chunk must be a JSON object, got {_show(chunk)}")
        if self._first is None:
            self._first = chunk  # its model and id name the reply
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self._usage = usage
        choices = chunk.get("choices")
        if choices is None:
            return ""  # a usage-only or keep-alive chunk
        if not isinstance(choices, list):
            raise ValueError(f"stream chunk `choices` must be a list, got {_show(choices)}")
        if not choices:
            return ""
        choice = choices[0]
        if not isinstance(choice, Mapping):
            raise ValueError(f"stream chunk `choices[0]` must be an object, got {_show(choice)}")
        reason = choice.get("finish_reason")
        if isinstance(reason, str):
            self._finish_reason = reason
        delta = choice.get("delta")
        if delta is None:
            return ""
        if not isinstance(delta, Mapping):
            raise ValueError(
                f"stream chunk `choices[0].delta` must be an object, got {_show(delta)}"
            )
        text = self._add_text(delta.get("content"))
        if (entries := delta.get("tool_calls")) is not None:
            self._add_calls(entries)
        return text

    def finish(self) -> StreamedReply:
        """The assembled reply. Call once, after the last chunk."""
        text = "".join(self._text)
        late = "".join(self._after_calls)
        if strip_special_tokens(late).strip(_RESIDUE_CHARS):
            text += late  # real prose after the calls, not JSON residue
        calls = tuple(
            call.build() for call in self._calls if call.name or _has_text(call.fragments)
        )
        first = self._first or {}
        model, id_ = first.get("model"), first.get("id")
        return StreamedReply(
            text or None,
            calls,
            self._usage,
            self._finish_reason,
            model if isinstance(model, str) and model else None,
            id_ if isinstance(id_, str) and id_ else None,
        )

    def _add_text(self, content: object) -> str:
        if content is None or content == "":
            return ""
        if not isinstance(content, str):
            raise ValueError(f"stream chunk `delta.content` must be a string, got {_show(content)}")
        if self._calls:
            self._after_calls.append(content)
            return ""
        self._text.append(content)
        return content

    def _add_calls(self, entries: object) -> None:
        if not isinstance(entries, list):
            raise ValueError(
                f"stream chunk `delta.tool_calls` must be a list, got {_show(entries)}"
            )
        for position, entry in enumerate(entries):
            if not isinstance(entry, Mapping):
                raise ValueError(
                    f"`delta.tool_calls[{position}]` must be an object, got {_show(entry)}"
                )
            function = entry.get("function")
            if function is None:
                function = entry  # flat {name, arguments} (llama.cpp's docs), or neither
            elif not isinstance(function, Mapping):
                where = f"`delta.tool_calls[{position}].function`"
                raise ValueError(f"{where} must be an object, got {_show(function)}")
            call_id = id_text(entry.get("id"))
            if call_id is None:
                where = f"`delta.tool_calls[{position}].id`"
                raise ValueError(f"{where} must be a string, got {_show(entry.get('id'))}")
            name = _text_field(function.get("name"), position, "function.name")
            arguments = function.get("arguments")
            index = _index(entry, position, len(entries), self._current)
            call = self._by_index.get(index)
            self._current = index
            follows = _follows(call, call_id, name, arguments) if call is not None else "new"
            if follows == "repeat":
                continue  # the whole call sent again (in a final chunk, say): taken once
            if call is None or follows == "new":
                call = self._by_index[index] = _PartialCall()
                self._calls.append(call)
            call.id = call.id or call_id
            call.name = call.name or name
            _add_arguments(call, arguments, position)


def _index(entry: Mapping[str, Any], position: int, count: int, current: int) -> int:
    """The index that identifies an entry's call; see the module docstring."""
    index = entry.get("index")
    if isinstance(index, int) and not isinstance(index, bool):
        return index
    return current if count == 1 else position


def _follows(call: _PartialCall, call_id: str, name: str, arguments: object) -> str:
    """How an entry under a known index relates to its call: "more", "new" or "repeat"."""
    if call_id and call.id:
        return "more" if call_id == call.id else "new"
    # Without ids to tell calls apart, a different name is a new call. The same name again
    # continues the call (some servers repeat it on every delta), unless the call's arguments
    # are already a whole object and these start another one: a new call, or the same call
    # sent again whole.
    if not (name and call.name):
        return "more"
    if name != call.name:
        return "new"
    starts_object = isinstance(arguments, dict) or (
        isinstance(arguments, str) and arguments.lstrip().startswith("{")
    )
    whole = _whole_object(call.fragments) if starts_object else None
    if whole is None:
        return "more"
    again = arguments if isinstance(arguments, dict) else _whole_object([str(arguments)])
    return "repeat" if again == whole else "new"


def _whole_object(fragments: list[str]) -> dict[str, Any] | None:
    """The object the fragments spell out, when they already form a whole one."""
    text = "".join(fragments).strip()
    if not text.endswith("}"):
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _add_arguments(call: _PartialCall, arguments: object, position: int) -> None:
    if isinstance(arguments, str):
        if arguments:
            call.fragments.append(arguments)
    elif arguments is not None:
        try:
            call.fragments.append(json.dumps(arguments))  # sent as an object, not as text
        except (TypeError, ValueError, RecursionError) as exc:
            raise ValueError(
                f"`delta.tool_calls[{position}].function.arguments` is not JSON: {exc}"
            ) from None


def _text_field(value: object, position: int, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(
            f"`delta.tool_calls[{position}].{field}` must be a string, got {_show(value)}"
        )
    return value


def _has_text(fragments: list[str]) -> bool:
    return any(fragment.strip() for fragment in fragments)


def _show(value: object) -> str:
    return f"{type(value).__name__} {value!r:.80}"
