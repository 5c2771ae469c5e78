"""LlamaCompletionsModel on the fake server's `/v1/completions`: chosen by a `completions:`
model id, the prompt it sends (Meta's format, its stops), the calls it reads back, streamed
or not, and its errors worded as the chat adapter words them.

Golden renderings are in tests/llama/test_native_prompt.py; the real llama.cpp server's
completions endpoint in tests/integration/test_native_completions.py.
"""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest

from agentkit import Agent, ModelError, ToolMessage, UserError, tool
from agentkit.events import TextDelta
from agentkit.llama import STOP, PromptOptions
from agentkit.models import LlamaCompletionsModel, OpenAIModel
from agentkit.models._resolve import resolve_model, with_model_id
from agentkit.testing import Chunks, Error, FakeServer, Raw, TextCompletion

pytestmark = pytest.mark.anyio

# Random-looking, as real keys are: redaction cuts out every 8-character piece of the key, so
# a key spelt with the word "completions" would cut that word out of the messages tested here.
KEY = "sk-cmpl-7d41f09e2b86c5a3"
CALL_TEXT = '{"name": "add", "parameters": {"a": 2, "b": 3}}'


@tool
def add(a: int, b: int) -> int:
    """Add two numbers.

    Args:
        a: The first.
        b: The second.
    """
    return a + b


def test_a_completions_prefix_chooses_the_completions_model() -> None:
    model = resolve_model("completions:llama3.1", base_url="http://127.0.0.1:9/v1", api_key=KEY)
    assert isinstance(model, LlamaCompletionsModel) and model.name == "llama3.1"
    plain = resolve_model("llama3.1", base_url="http://127.0.0.1:9/v1", api_key=KEY)
    assert type(plain) is OpenAIModel
    agent = Agent("completions:llama3.1", base_url="http://127.0.0.1:9/v1", api_key=KEY)
    assert isinstance(agent.model, LlamaCompletionsModel)


def test_it_travels_and_is_replaced_as_itself() -> None:
    options = PromptOptions(knowledge_cutoff="March 2024")
    model = LlamaCompletionsModel("m", base_url="http://127.0.0.1:9/v1", options=options)
    copy = pickle.loads(pickle.dumps(model))
    assert isinstance(copy, LlamaCompletionsModel) and copy.options == options
    other = model.replace(model="n")
    assert isinstance(other, LlamaCompletionsModel) and other.options == options
    assert repr(model) == "LlamaCompletionsModel('m', base_url='http://127.0.0.1:9/v1')"


def test_a_chat_model_given_a_completions_id_becomes_one_and_replace_refuses_it() -> None:
    chat = OpenAIModel("m", base_url="http://127.0.0.1:9/v1", api_key=KEY, timeout=7.0)
    raw = with_model_id(chat, "completions:n")
    assert type(raw) is LlamaCompletionsModel and raw.name == "n"
    assert (raw.base_url, raw.timeout) == (chat.base_url, 7.0)  # the settings kept
    again = with_model_id(raw, "completions:o")
    assert type(again) is LlamaCompletionsModel and again.name == "o"
    assert type(with_model_id(chat, "other")) is OpenAIModel
    with pytest.raises(UserError, match=r"'completions:' id names the raw completions API"):
        chat.replace(model="completions:n")  # it would send "completions:n" as a chat model


def test_a_bad_configuration_is_refused_like_the_chat_models() -> None:
    with pytest.raises(UserError, match="base_url must start with http"):
        LlamaCompletionsModel("m", base_url="localhost:8080")


async def test_a_run_sends_llamas_prompt_and_runs_the_call_it_reads_back(
    fake_server: FakeServer,
) -> None:
    fake_server.add(TextCompletion(CALL_TEXT), TextCompletion("It is 5."))
    async with Agent("completions:m", base_url=fake_server.url, api_key=KEY, tools=[add]) as bot:
        result = await bot.run("What is 2+3?")
    assert result.output == "It is 5."
    assert [m.content for m in result.messages if isinstance(m, ToolMessage)] == ["5"]
    first, second = (r.body for r in fake_server.completion_requests)
    assert not fake_server.chat_requests
    assert first["model"] == "m" and first["stop"] == list(STOP)
    assert first["prompt"].startswith("<|start_header_id|>system<|end_header_id|>\n\n")
    assert '"name": "add"' in first["prompt"]  # the tool, as JSON in the first user message
    assert first["prompt"].endswith("<|start_header_id|>assistant<|end_header_id|>\n\n")
    assert "<|start_header_id|>ipython<|end_header_id|>\n\n5<|eot_id|>" in second["prompt"]
    assert result.usage.requests == 2 and result.usage.prompt_tokens > 0


async def test_settings_and_stops_are_passed_on(fake_server: FakeServer) -> None:
    fake_server.add(TextCompletion("hi"))
    settings: Any = {"temperature": 0.2, "max_tokens": 7, "stop": "END", "seed": 1}
    async with Agent("completions:m", base_url=fake_server.url, api_key=KEY) as bot:
        await bot.run("hi", model_settings=settings)
    (body,) = (r.body for r in fake_server.completion_requests)
    assert (body["temperature"], body["max_tokens"], body["seed"]) == (0.2, 7, 1)
    assert body["stop"] == [*STOP, "END"]


async def test_a_stream_shows_the_answer_and_hides_the_call(fake_server: FakeServer) -> None:
    def chunk(text: str, finish: str | None = None) -> dict[str, Any]:
        return {"id": "c", "object": "text_completion", "model": "m",
                "choices": [{"index": 0, "text": text, "finish_reason": finish}]}  # fmt: skip

    fake_server.add(
        Chunks([chunk('{"name": "add", '), chunk('"parameters": {"a": 2, "b": 3}}', "stop")]),
        Chunks([chunk("It is "), chunk("5.", "stop")]),
    )
    async with Agent("completions:m", base_url=fake_server.url, api_key=KEY, tools=[add]) as bot:
        events = [e async for e in bot.stream("What is 2+3?")]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "It is 5."
    result = events[-1].result  # type: ignore[union-attr]
    assert [m.content for m in result.messages if isinstance(m, ToolMessage)] == ["5"]
    assert fake_server.completion_requests[0].body["stream"] is True


async def test_with_tool_choice_none_no_tool_is_offered(fake_server: FakeServer) -> None:
    fake_server.add(TextCompletion("5"))
    settings: Any = {"tool_choice": "none"}
    async with Agent("completions:m", base_url=fake_server.url, api_key=KEY, tools=[add]) as bot:
        await bot.run("2+3?", model_settings=settings)
    assert '"name": "add"' not in fake_server.completion_requests[0].body["prompt"]


async def test_a_call_cannot_be_required_of_a_raw_prompt(fake_server: FakeServer) -> None:
    settings: Any = {"first_tool_choice": "required"}
    bot = Agent("completions:m", base_url=fake_server.url, api_key=KEY, tools=[add])
    async with bot:
        with pytest.raises(ModelError, match="cannot be enforced with a raw completions prompt"):
            await bot.run("2+3?", model_settings=settings)
    assert not fake_server.requests


async def test_errors_are_worded_as_the_chat_adapter_words_them(fake_server: FakeServer) -> None:
    fake_server.add(Error(404, {"error": {"message": "no completions here"}}))
    async with Agent("completions:m", base_url=fake_server.url, api_key=KEY) as bot:
        with pytest.raises(ModelError) as caught:
            await bot.run("hi")
    message = str(caught.value)
    assert message.startswith(f"model endpoint {fake_server.url} (model 'm'): HTTP 404")
    assert "no completions here" in message and caught.value.status == 404


async def test_an_error_in_the_stream_is_redacted_before_it_is_cut(
    fake_server: FakeServer,
) -> None:
    # The key straddles the 300th character: cut first, its first 7 characters would show (a
    # piece too short to be redacted on its own).
    echoed = "x" * 293 + KEY
    event = json.dumps({"error": {"message": echoed}})
    fake_server.add(Raw(f"data: {event}\n\n", headers={"content-type": "text/event-stream"}))
    async with Agent("completions:m", base_url=fake_server.url, api_key=KEY) as bot:
        with pytest.raises(ModelError) as caught:
            async for _ in bot.stream("hi"):
                pass
    message = str(caught.value)
    assert "error in the completions stream" in message
    assert message.endswith("x***"), message[-40:]
    assert KEY[:7] not in message


async def test_an_unreachable_endpoint_says_so() -> None:
    bot = Agent("completions:m", base_url="http://127.0.0.1:9/v1", api_key=KEY, max_retries=0)
    async with bot:
        with pytest.raises(ModelError, match="cannot connect"):
            await bot.run("hi")


async def test_custom_tools_need_a_user_message_first(fake_server: FakeServer) -> None:
    model = LlamaCompletionsModel("m", base_url=fake_server.url, api_key=KEY)
    with pytest.raises(ModelError, match="first user message"):
        await model.request([], [add.definition()], {})
    await model.aclose()
