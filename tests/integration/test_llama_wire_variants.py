"""Reply shapes llama.cpp documents but its current server no longer sends, on the fake server.

llama.cpp's function-calling docs show a reply whose `tool_calls` entries are flat
(`{"name", "arguments"}`: no `function` wrapper, no id, no type) with `finish_reason: "tool"`;
older builds and servers copying those docs send that. agentkit reads it as a call, plain and
streamed.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from agentkit import Agent, ToolMessage
from agentkit.testing import Chunks, Completion, FakeServer, Raw
from agentkit.tools import load_tools

pytestmark = pytest.mark.anyio

(calculate,) = load_tools("calculator")
ARGUMENTS = json.dumps({"expression": "17*23"})


def reply_json(message: dict[str, Any], finish_reason: str) -> Raw:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "tiny",
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }
    return Raw(json.dumps(body), headers={"content-type": "application/json"})


def agent(server: FakeServer) -> Agent[str]:
    return Agent("tiny", base_url=server.url, api_key="x", tools=[calculate])


async def test_wrapped_calls_with_finish_reason_tool_are_run(fake_server: FakeServer) -> None:
    call = {
        "id": "c1",
        "type": "function",
        "function": {"name": "calculate", "arguments": ARGUMENTS},
    }
    fake_server.add(
        reply_json({"role": "assistant", "content": None, "tool_calls": [call]}, "tool"),
        Completion("The answer is 391."),
    )
    async with agent(fake_server) as bot:
        result = await bot.run("What is 17*23?")
    assert result.output == "The answer is 391."
    assert [m.content for m in result.messages if isinstance(m, ToolMessage)] == ["391"]


async def test_flat_calls_with_finish_reason_tool_are_run(fake_server: FakeServer) -> None:
    flat = {"name": "calculate", "arguments": ARGUMENTS}
    fake_server.add(
        reply_json({"role": "assistant", "content": None, "tool_calls": [flat]}, "tool"),
        Completion("The answer is 391."),
    )
    async with agent(fake_server) as bot:
        result = await bot.run("What is 17*23?")
    assert result.output == "The answer is 391."
    assert [m.content for m in result.messages if isinstance(m, ToolMessage)] == ["391"]
    # The call got an id, and the result answers it.
    call = result.messages[1].tool_calls[0]  # type: ignore[union-attr]
    assert call.id and result.messages[2].tool_call_id == call.id  # type: ignore[union-attr]


async def test_streamed_flat_calls_are_run(fake_server: FakeServer) -> None:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    fake_server.add(
        Chunks(
            [
                chunk({"role": "assistant", "content": None}),
                chunk({"tool_calls": [{"index": 0, "name": "calculate", "arguments": ARGUMENTS}]}),
                chunk({}, "tool"),
            ]
        ),
        Completion("The answer is 391."),
    )
    async with agent(fake_server) as bot:
        events = [event async for event in bot.stream("What is 17*23?")]
    result = events[-1].result  # type: ignore[union-attr]
    assert [m.content for m in result.messages if isinstance(m, ToolMessage)] == ["391"]
