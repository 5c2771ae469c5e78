"""llama.cpp's refusals, as its server words them (captured from build 11549), on the fake
server: what the error says, what agentkit does about it, and that no useless retry is made.

The same cases against the real server are in tests/integration/test_agent_llama_server.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from agentkit import Agent, ModelError, ToolMessage, tool
from agentkit.events import ModelRequestRetried, ModelRequestStarted
from agentkit.models import OpenAIModel, UnparsedToolCall
from agentkit.testing import Chunks, Completion, Error, FakeRequest, FakeServer

pytestmark = pytest.mark.anyio

UNPARSED = "The model produced output that does not match the expected peg-native format"
TEMPLATE = (
    "Unable to generate parser for this template. Automatic parser generation failed: \n"
    "------------\nWhile executing CallExpression at line 71, column 32 in source:\n"
    '... == 1 %}↵            {{- raise_exception("This model only supports single tool-c...\n'
    "                                           ^\n"
    "Error: Jinja Exception: This model only supports single tool-calls at once!"
)
CALL_TEXT = '{"name": "add", "parameters": {"a": 2, "b": 3}}'
KEY = "sk-secret-0123456789"


@tool
def add(a: int, b: int) -> int:
    """Add two numbers.

    Args:
        a: The first.
        b: The second.
    """
    return a + b


def llama_error(status: int, message: str) -> Error:
    return Error(status, {"error": {"code": status, "message": message, "type": "server_error"}})


def on(server: FakeServer, **options: Any) -> Agent[Any]:
    return Agent("m", base_url=server.url, api_key=KEY, tools=[add], **options)


def results(messages: list[Any]) -> list[str]:
    return [m.content for m in messages if isinstance(m, ToolMessage)]


async def drive(bot: Agent[Any], prompt: str, stream: bool, **options: Any) -> Any:
    if not stream:
        return await bot.run(prompt, **options)
    events = [e async for e in bot.stream(prompt, **options)]
    return events[-1].result  # type: ignore[union-attr]


def both_ways(test: Any) -> Any:
    return pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])(test)


# -- HTTP 500: the server could not parse the model's call --------------------------------------


@both_ways
async def test_an_unparsed_call_is_read_from_the_raw_text_and_run(
    fake_server: FakeServer, stream: bool
) -> None:
    fake_server.add(llama_error(500, UNPARSED), Completion(CALL_TEXT), Completion("5"))
    async with on(fake_server) as bot:
        result = await drive(bot, "2+3?", stream)
    assert results(result.messages) == ["5"] and result.output == "5"
    first, raw, last = (r.body for r in fake_server.chat_requests)
    assert "tool_choice" not in first and raw["tool_choice"] == "none"
    assert not raw.get("stream")  # the raw text is read whole, never shown
    assert "tool_choice" not in last
    assert result.usage.requests == 3


async def test_the_sdk_does_not_retry_an_unparsed_call(fake_server: FakeServer) -> None:
    # A retry at the same settings writes the same output; only the loop's own ask helps.
    fake_server.add(llama_error(500, UNPARSED), Completion(CALL_TEXT), Completion("5"))
    async with on(fake_server) as bot:
        events = [e async for e in bot.stream("2+3?")]
    assert not [e for e in events if isinstance(e, ModelRequestRetried)]
    starts = [e for e in events if isinstance(e, ModelRequestStarted)]
    assert [s.settings.get("tool_choice") for s in starts] == [None, "none", None]
    assert [s.stream for s in starts] == [True, False, True]


async def test_other_500s_are_still_retried(fake_server: FakeServer) -> None:
    fake_server.add(llama_error(500, "the server is busy"), Completion("5"))
    async with on(fake_server) as bot:
        result = await bot.run("2+3?")
    assert result.output == "5" and len(fake_server.chat_requests) == 2


@both_ways
async def test_a_raw_text_without_a_call_tells_the_model_then_fails_saying_what_to_do(
    fake_server: FakeServer, stream: bool
) -> None:
    broken = '{"name": "add", "parameters": {"a": 2, "b": 3 +}}'
    fake_server.add(
        llama_error(500, UNPARSED),
        Completion(broken),
        llama_error(500, UNPARSED),
        Completion(broken),
    )
    async with on(fake_server) as bot:
        with pytest.raises(UnparsedToolCall) as caught:
            await drive(bot, "2+3?", stream)
    message = str(caught.value)
    assert message.startswith(f"model endpoint {fake_server.url} (model 'm'): ")
    assert "could not parse the model's reply as a tool call (llama.cpp, HTTP 500: " in message
    assert UNPARSED in message and 'asked again with tool_choice "none"' in message
    assert "llama-server --chat-template-file" in message and "completions:" in message
    # Between the two refusals the model was told what went wrong.
    third = fake_server.chat_requests[2].messages
    assert "rejected by the server because its tool call was not valid" in third[-1]["content"]
    assert UNPARSED in third[-1]["content"]
    assert caught.value.usage is not None and caught.value.usage.requests == 4


async def test_with_tool_choice_none_an_unparsed_call_is_not_worked_around(
    fake_server: FakeServer,
) -> None:
    fake_server.add(llama_error(500, UNPARSED))
    async with on(fake_server, model_settings={"tool_choice": "none"}) as bot:
        with pytest.raises(UnparsedToolCall, match="could not parse"):
            await bot.run("2+3?")
    assert len(fake_server.chat_requests) == 1


async def test_a_streamed_unparsed_call_ends_in_an_error_line_and_is_read_the_same_way(
    fake_server: FakeServer,
) -> None:
    partial = {"index": 0, "function": {"name": "add", "arguments": '{"a": 2, "b": '}}
    fake_server.add(
        Chunks(
            [
                {"choices": [{"index": 0, "delta": {"tool_calls": [partial]}}]},
                {"error": {"code": 500, "message": UNPARSED, "type": "server_error"}},
            ],
            done=False,
        ),
        Completion(CALL_TEXT),
        Completion("5"),
    )
    async with on(fake_server) as bot:
        result = await drive(bot, "2+3?", stream=True)
    assert results(result.messages) == ["5"]


async def test_the_model_alone_says_what_happened(fake_server: FakeServer) -> None:
    fake_server.add(llama_error(500, UNPARSED + " " + KEY))
    model = OpenAIModel("m", base_url=fake_server.url, api_key=KEY)
    with pytest.raises(UnparsedToolCall) as caught:
        await model.request([], [add.definition()], {})
    await model.aclose()
    assert caught.value.status == 500 and KEY not in str(caught.value)
    assert KEY not in caught.value.reason and "***" in caught.value.reason


# -- HTTP 400: Meta's template takes one call per assistant message ----------------------------

TWO_CALLS: list[dict[str, Any]] = [
    {"role": "user", "content": "2+3 and 1+1?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "add", "arguments": "{}"}},
            {"id": "c2", "type": "function", "function": {"name": "add", "arguments": "{}"}},
        ],
    },
    {"role": "tool", "tool_call_id": "c1", "content": "5"},
    {"role": "tool", "tool_call_id": "c2", "content": "2"},
]


def template_of_one_call(request: FakeRequest) -> Any:
    if any(len(m.get("tool_calls") or ()) > 1 for m in request.messages):
        return llama_error(400, TEMPLATE)
    return Completion("5 and 2")


@both_ways
async def test_a_template_of_one_call_per_message_gets_them_one_per_message(
    stream: bool,
) -> None:
    with FakeServer(handler=template_of_one_call) as server:
        async with on(server) as bot:
            events = [e async for e in bot.stream("thanks", messages=TWO_CALLS)] if stream else []
            result = await bot.run("thanks", messages=TWO_CALLS)
        refused, *split = [r.messages for r in server.chat_requests]
    assert result.output == "5 and 2"
    assert [len(m.get("tool_calls") or ()) for m in refused] == [0, 2, 0, 0, 0]
    # The model now knows: every later request is sent one call per message at once.
    for sent in split:
        roles = [m["role"] for m in sent]
        assert roles == ["user", "assistant", "tool", "assistant", "tool", "user"]
        assert [m.get("tool_call_id") for m in sent if m["role"] == "tool"] == ["c1", "c2"]
    assert len(split) == (2 if stream else 1)
    if stream:
        (retried,) = [e for e in events if isinstance(e, ModelRequestRetried)]
        assert retried.reason == "one_call_per_message"
    # The run's own conversation keeps the reply as it was.
    assert len(result.messages[1].tool_calls) == 2  # type: ignore[union-attr]


async def test_when_one_call_per_message_is_refused_too_the_error_says_so(
    fake_server: FakeServer,
) -> None:
    fake_server.add(llama_error(400, TEMPLATE), llama_error(400, TEMPLATE))
    async with on(fake_server) as bot:
        with pytest.raises(ModelError) as caught:
            await bot.run("thanks", messages=TWO_CALLS)
    message = str(caught.value)
    assert caught.value.status == 400
    assert "accepts one tool call per assistant message" in message
    assert "messages[1] holds 2; agentkit sent them one per message" in message
    assert message.endswith(
        "Error: Jinja Exception: This model only supports single tool-calls at once!"
    )
    assert len(fake_server.chat_requests) == 2


async def test_a_long_detail_keeps_its_reason(fake_server: FakeServer) -> None:
    detail = "Unable to apply the template:\n" + "x" * 400 + "\nError: the real reason"
    fake_server.add(llama_error(400, detail))
    async with on(fake_server) as bot:
        with pytest.raises(ModelError) as caught:
            await bot.run("hi")
    message = str(caught.value)
    assert "HTTP 400: Unable to apply the template:" in message
    assert message.endswith("Error: the real reason") and "x" * 200 not in message


async def test_a_short_detail_is_worded_as_before(fake_server: FakeServer) -> None:
    fake_server.add(llama_error(404, "model 'm' not found"))
    async with on(fake_server) as bot:
        with pytest.raises(ModelError) as caught:
            await bot.run("hi")
    assert "HTTP 404: model 'm' not found (check the model id" in str(caught.value)
