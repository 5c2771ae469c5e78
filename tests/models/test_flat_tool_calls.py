"""Tool-call entries without the `function` wrapper (llama.cpp's documented shape), read as
calls in a reply and in a stream; a saved conversation must still use the standard shape."""

from __future__ import annotations

import pytest

from agentkit.messages import messages_from_wire
from agentkit.models.openai import tool_calls_from_wire
from agentkit.models.openai._chunks import StreamAccumulator


def test_a_flat_entry_of_a_reply_is_a_call_with_a_fresh_id() -> None:
    (call,) = tool_calls_from_wire(
        [{"name": "calculate", "arguments": '{"expression": "17*23"}'}], "the reply", lenient=True
    )
    assert (call.name, call.arguments) == ("calculate", {"expression": "17*23"})
    assert call.id.startswith("call_")


def test_a_flat_entry_keeps_its_id_and_object_arguments() -> None:
    (call,) = tool_calls_from_wire(
        [{"id": "c7", "name": "calculate", "arguments": {"expression": "1"}}], "r", lenient=True
    )
    assert (call.id, call.arguments, call.raw_arguments) == (
        "c7",
        {"expression": "1"},
        '{"expression": "1"}',
    )


def test_a_saved_conversation_needs_the_function_wrapper() -> None:
    flat = {"role": "assistant", "content": None, "tool_calls": [{"name": "f", "arguments": "{}"}]}
    with pytest.raises(ValueError, match=r"tool_calls\[0\] needs a function with a name"):
        messages_from_wire([flat])


def test_streamed_flat_entries_are_assembled_as_calls() -> None:
    stream = StreamAccumulator()
    for delta in (
        {"role": "assistant", "content": None},
        {"tool_calls": [{"index": 0, "name": "calculate", "arguments": '{"expression": '}]},
        {"tool_calls": [{"index": 0, "arguments": '"17*23"}'}]},
        {"tool_calls": [{"index": 1, "id": "c2", "name": "clock", "arguments": "{}"}]},
    ):
        stream.feed({"choices": [{"index": 0, "delta": delta}]})
    stream.feed({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool"}]})
    reply = stream.finish()
    assert [(c.name, c.arguments) for c in reply.tool_calls] == [
        ("calculate", {"expression": "17*23"}),
        ("clock", {}),
    ]
    assert reply.tool_calls[1].id == "c2" and reply.finish_reason == "tool"
