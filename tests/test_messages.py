"""Typed messages, tool calls and usage, and their OpenAI wire dicts."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import pytest

from agentkit import (
    AssistantMessage,
    SystemMessage,
    ToolCall,
    ToolMessage,
    Usage,
    UserMessage,
)
from agentkit.messages import (
    PRICES,
    Message,
    estimate_cost,
    message_from_wire,
    message_to_wire,
    messages_from_wire,
    messages_to_wire,
    new_call_id,
    parse_arguments,
)
from agentkit.models.openai import call_from_wire, call_to_wire

CONVERSATION: list[Message] = [
    SystemMessage("You are helpful."),
    UserMessage("Weather in Paris and Rome?"),
    AssistantMessage(
        content=None,
        tool_calls=(
            ToolCall("get_weather", {"city": "Paris"}, id="call_1"),
            ToolCall("get_weather", {"city": "Rome", "unit": "c"}, id="call_2"),
        ),
    ),
    ToolMessage("call_1", "18C, sunny"),
    ToolMessage("call_2", "24C, clear"),
    AssistantMessage("Paris: 18C and sunny. Rome: 24C and clear."),
]

CONVERSATION_WIRE: list[dict[str, Any]] = [
    {"role": "system", "content": "You are helpful."},
    {"role": "user", "content": "Weather in Paris and Rome?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            },
            {
                "id": "call_2",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Rome", "unit": "c"}'},
            },
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "18C, sunny"},
    {"role": "tool", "tool_call_id": "call_2", "content": "24C, clear"},
    {"role": "assistant", "content": "Paris: 18C and sunny. Rome: 24C and clear."},
]


# --------------------------------------------------------------------------------------------
# Round trips


def test_messages_to_wire() -> None:
    assert messages_to_wire(CONVERSATION) == CONVERSATION_WIRE


def test_messages_from_wire() -> None:
    assert messages_from_wire(CONVERSATION_WIRE) == CONVERSATION


def test_round_trip_through_json_text() -> None:
    saved = json.dumps(messages_to_wire(CONVERSATION))
    assert messages_from_wire(json.loads(saved)) == CONVERSATION


def test_typed_messages_pass_through_from_wire() -> None:
    mixed: list[Any] = [CONVERSATION[0], CONVERSATION_WIRE[1]]
    result = messages_from_wire(mixed)
    assert result == CONVERSATION[:2]
    assert result[0] is CONVERSATION[0]


def test_tool_message_name_is_kept_in_python_but_not_sent() -> None:
    # The chat-completions tool message has no `name` field; strict servers reject one.
    message = ToolMessage("call_1", "ok", name="get_weather")
    assert messages_to_wire([message]) == [
        {"role": "tool", "tool_call_id": "call_1", "content": "ok"}
    ]
    assert message_from_wire({**messages_to_wire([message])[0], "name": "get_weather"}) == message


def test_assistant_with_text_and_tool_calls() -> None:
    message = AssistantMessage("Let me check.", (ToolCall("clock", {}, id="c"),))
    wire = messages_to_wire([message])
    assert wire == [
        {
            "role": "assistant",
            "content": "Let me check.",
            "tool_calls": [
                {"id": "c", "type": "function", "function": {"name": "clock", "arguments": "{}"}}
            ],
        }
    ]
    assert messages_from_wire(wire) == [message]


def test_other_roles_openai_and_llama_use() -> None:
    assert messages_from_wire(
        [
            {"role": "developer", "content": "Be brief."},
            {"role": "ipython", "tool_call_id": "c1", "content": "42"},
        ]
    ) == [SystemMessage("Be brief."), ToolMessage("c1", "42")]


def test_text_content_parts_are_joined() -> None:
    wire = {
        "role": "user",
        "content": [{"type": "text", "text": "Hello, "}, {"type": "text", "text": "world"}],
    }
    assert message_from_wire(wire) == UserMessage("Hello, world")


def test_missing_content_is_empty_text_but_stays_none_for_the_assistant() -> None:
    assert message_from_wire({"role": "user"}) == UserMessage("")
    assert message_from_wire({"role": "assistant", "content": None}) == AssistantMessage()


def test_messages_are_frozen() -> None:
    message = UserMessage("hi")
    with pytest.raises(dataclasses.FrozenInstanceError):
        message.content = "changed"  # type: ignore[misc]
    assert message.role == "user"


# --------------------------------------------------------------------------------------------
# Bad dicts: ValueError naming the message and the field


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        ("just text", "messages[1]: expected a message dict, got str"),
        ({"content": "no role"}, "messages[1]: unknown role None; expected system, user, "),
        ({"role": "robot", "content": "x"}, "messages[1]: unknown role 'robot'; expected "),
        ({"role": "tool", "content": "x"}, "messages[1]: a tool message needs a string "),
        ({"role": "user", "content": 42}, "messages[1]: content must be a string or a list "),
        (
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]},
            "messages[1]: only text content parts are supported, got {'type': 'image_url'",
        ),
        (
            {"role": "assistant", "tool_calls": {"id": "c"}},
            "messages[1]: tool_calls must be a list, got {'id': 'c'}",
        ),
        (
            {"role": "assistant", "tool_calls": [{"id": "c", "function": {"arguments": "{}"}}]},
            "messages[1]: tool_calls[0] needs a function with a name, got ",
        ),
        (
            {"role": "assistant", "tool_calls": ["get_weather"]},
            "messages[1]: tool_calls[0] needs a function with a name, got 'get_weather'",
        ),
    ],
)
def test_bad_dicts_raise_value_error_saying_what_is_wrong(wire: Any, message: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        messages_from_wire([{"role": "user", "content": "ok"}, wire])


def test_long_bad_values_are_shortened() -> None:
    with pytest.raises(ValueError, match="content must be") as info:
        message_from_wire({"role": "user", "content": {"text": "x" * 1000}})
    assert len(str(info.value)) < 200


# --------------------------------------------------------------------------------------------
# ToolCall and its arguments


def test_tool_call_keeps_the_models_text_when_it_is_an_object() -> None:
    raw = '{ "city" :  "Paris" }'
    call = call_from_wire("c1", "get_weather", raw)
    assert (call.arguments, call.raw_arguments) == ({"city": "Paris"}, raw)
    assert call_to_wire(call)["function"]["arguments"] == raw


def test_tool_call_arguments_sent_as_an_object() -> None:
    # Some servers (Ollama, for one) send the arguments as an object, not a JSON string.
    call = call_from_wire("c1", "get_weather", {"city": "Paris"})
    assert call.arguments == {"city": "Paris"}
    assert json.loads(call_to_wire(call)["function"]["arguments"]) == {"city": "Paris"}


def test_tool_call_that_was_not_json() -> None:
    call = call_from_wire("c1", "get_weather", "city=Paris")
    assert (call.arguments, call.raw_arguments) == (None, "city=Paris")
    # Servers re-parse the arguments of earlier calls: send an object instead of the text.
    assert call_to_wire(call) == {
        "id": "c1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": "{}"},
    }
    (message,) = messages_from_wire(messages_to_wire([AssistantMessage(tool_calls=(call,))]))
    assert isinstance(message, AssistantMessage)
    assert message.tool_calls[0].arguments == {}


@pytest.mark.parametrize("raw", ["[1, 2]", "42", '"text"', "null", '"[1]"'])
def test_json_that_is_not_an_object(raw: str) -> None:
    call = call_from_wire("c1", "f", raw)
    assert call.arguments is None
    assert call.raw_arguments == raw
    assert call_to_wire(call)["function"]["arguments"] == "{}"


def test_double_encoded_arguments() -> None:
    raw = json.dumps(json.dumps({"city": "Paris", "days": 2}))
    call = call_from_wire("c1", "get_weather", raw)
    assert call.arguments == {"city": "Paris", "days": 2}
    assert call.raw_arguments == raw
    sent = call_to_wire(call)["function"]["arguments"]
    assert json.loads(sent) == {"city": "Paris", "days": 2}  # decoded once: an object
    (back,) = messages_from_wire(messages_to_wire([AssistantMessage(tool_calls=(call,))]))
    assert isinstance(back, AssistantMessage)
    assert back.tool_calls[0].arguments == call.arguments


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_no_arguments_mean_an_empty_object(raw: str | None) -> None:
    call = call_from_wire("c1", "clock", raw)
    assert call.arguments == {}
    assert call_to_wire(call)["function"]["arguments"] == "{}"


def test_tool_call_without_id_gets_a_fresh_one() -> None:
    first = call_from_wire(None, "clock", "{}")
    second = call_from_wire("", "clock", "{}")
    assert re.fullmatch(r"call_[0-9a-f]{24}", first.id)
    assert re.fullmatch(r"call_[0-9a-f]{24}", second.id)
    assert first.id != second.id
    assert new_call_id() != new_call_id()


@pytest.mark.parametrize(("raw", "expected"), [(7, "7"), (3.5, "3.5"), ("  ", None), (True, None)])
def test_tool_call_ids_in_other_formats(raw: object, expected: str | None) -> None:
    call = call_from_wire(raw, "clock", "{}")
    if expected is None:
        assert re.fullmatch(r"call_[0-9a-f]{24}", call.id)
    else:
        assert call.id == expected
    # The saved conversation loads back: the result answers the call by the same text id.
    wire = messages_to_wire([AssistantMessage(None, (call,)), ToolMessage(call.id, "12:00")])
    assert messages_from_wire(wire)[0] == AssistantMessage(None, (call,))


def test_an_empty_assistant_reply_goes_back_with_empty_text_not_null() -> None:
    assert message_to_wire(AssistantMessage()) == {"role": "assistant", "content": ""}
    with_calls = message_to_wire(AssistantMessage(None, (ToolCall("f", {}, id="c"),)))
    assert with_calls["content"] is None


def test_tool_call_built_in_python_encodes_its_arguments() -> None:
    call = ToolCall("get_weather", {"city": "Zürich"}, id="c")
    assert call.raw_arguments == json.dumps({"city": "Zürich"})
    assert json.loads(call_to_wire(call)["function"]["arguments"]) == {"city": "Zürich"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ({"a": 1}, {"a": 1}),
        (None, {}),
        ("", {}),
        ('"{\\"a\\": 1}"', {"a": 1}),
        ("{not json", None),
        ('"not json inside"', None),
        ("[1]", None),
        (42, None),
    ],
)
def test_parse_arguments(raw: object, expected: dict[str, Any] | None) -> None:
    assert parse_arguments(raw) == expected


# --------------------------------------------------------------------------------------------
# Usage and cost


def test_usage_addition() -> None:
    first = Usage(requests=1, prompt_tokens=100, completion_tokens=20, tool_calls=2, cost=0.5)
    second = Usage(requests=2, prompt_tokens=50, completion_tokens=5, tool_calls=1, cost=0.25)
    assert first + second == Usage(
        requests=3, prompt_tokens=150, completion_tokens=25, tool_calls=3, cost=0.75
    )
    assert (first + second).total_tokens == 175


@pytest.mark.parametrize(
    ("left", "right", "cost"), [(None, None, None), (None, 0.5, 0.5), (0.25, None, 0.25)]
)
def test_usage_cost_is_none_only_when_no_side_has_one(
    left: float | None, right: float | None, cost: float | None
) -> None:
    assert (Usage(cost=left) + Usage(cost=right)).cost == cost


def test_usage_sums_from_an_empty_usage() -> None:
    parts = [Usage(requests=1, prompt_tokens=i) for i in range(1, 4)]
    assert sum(parts, Usage()) == Usage(requests=3, prompt_tokens=6)


def test_estimate_cost() -> None:
    input_price, output_price = PRICES["meta-llama/llama-3.1-70b-instruct"]
    expected = (1_000_000 * input_price + 500_000 * output_price) / 1_000_000
    assert estimate_cost("meta-llama/llama-3.1-70b-instruct", 1_000_000, 500_000) == expected
    assert estimate_cost("Meta-Llama/Llama-3.1-70B-Instruct", 1_000_000, 500_000) == expected
    assert estimate_cost("unknown/model", 1000, 1000) is None
    assert estimate_cost("meta-llama/llama-3.1-70b-instruct", 0, 0) == 0


def test_prices_can_be_extended(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PRICES, "my-model", (1.0, 2.0))
    assert estimate_cost("my-model", 2_000, 1_000) == pytest.approx(0.004)


def test_usage_to_dict() -> None:
    usage = Usage(requests=2, prompt_tokens=10, completion_tokens=5, tool_calls=1, cost=0.25)
    assert usage.to_dict() == {
        "requests": 2,
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "total_tokens": 15,
        "tool_calls": 1,
        "cost": 0.25,
    }


# agentkit's own JSON format (what sessions store).


def test_own_json_round_trips_everything_a_message_holds() -> None:
    from agentkit.messages import from_json, message_from_json, message_to_json, to_json

    odd = ToolCall("lookup", None, id="7", raw_arguments="{not json")
    conversation = [*CONVERSATION, AssistantMessage(None, (odd,)), ToolMessage("7", "bad", "x")]
    assert from_json(to_json(conversation)) == conversation
    assert [message_from_json(message_to_json(m)) for m in conversation] == conversation
    assert all(message_to_json(m)["v"] == 1 for m in conversation)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"v": 2, "role": "user", "content": "x"}, "version 2 (written by a newer agentkit"),
        ({"role": "user", "content": "x"}, "unknown message format version None"),
        ({"v": 1, "role": "robot", "content": "x"}, "unknown role 'robot'"),
        ({"v": 1, "role": "user", "content": 3}, "'content' must be str, got 3"),
        (
            {"v": 1, "role": "assistant", "content": None, "tool_calls": [{"id": "a"}]},
            "message.tool_calls[0]: 'name' must be str",
        ),
    ],
)
def test_own_json_says_what_is_wrong(data: dict[str, object], error: str) -> None:
    from agentkit.messages import message_from_json

    with pytest.raises(ValueError, match=re.escape(error)):
        message_from_json(data)


def test_own_json_text_errors() -> None:
    from agentkit.messages import from_json

    with pytest.raises(ValueError, match="not JSON"):
        from_json("{")
    with pytest.raises(ValueError, match="not an agentkit conversation"):
        from_json("[]")
