"""The native Llama 3.1 prompt on llama.cpp's real server: `/v1/completions` end to end, and
agentkit's rendering against llama.cpp's rendering of Meta's template."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date
from typing import Any

import pytest
from _llama_server import LlamaServer, endpoint_free
from _tinyllama import ANSWER

from agentkit import Agent, AssistantMessage, SystemMessage, ToolCall, ToolMessage, UserMessage
from agentkit.events import TextDelta, ToolCallFinished
from agentkit.llama import PromptOptions, render_prompt
from agentkit.models import LlamaCompletionsModel
from agentkit.models.openai import call_to_wire
from agentkit.tools import load_tools

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("agentkit_env")]

(calculate,) = load_tools("calculator")
TODAY = date(2024, 7, 26)


def native(server: LlamaServer) -> LlamaCompletionsModel:
    return LlamaCompletionsModel("tiny", base_url=server.base_url, api_key="x")


async def test_run_completes_a_tool_call_on_the_completions_endpoint(
    llama_server: LlamaServer,
) -> None:
    async with Agent(native(llama_server), tools=[calculate]) as bot:
        result = await bot.run("What is 17*23?")
    assert result.output == ANSWER
    assert [m.content for m in result.messages if isinstance(m, ToolMessage)] == ["391"]
    assert result.usage.requests == 2 and result.usage.prompt_tokens > 150


async def test_stream_completes_a_tool_call_on_the_completions_endpoint(
    llama_server: LlamaServer,
) -> None:
    async with Agent(native(llama_server), tools=[calculate]) as bot:
        events = [event async for event in bot.stream("What is 17*23?")]
    assert [e.result for e in events if isinstance(e, ToolCallFinished)] == ["391"]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == ANSWER


def test_the_server_adds_the_one_begin_of_text(llama_server: LlamaServer) -> None:
    prompt = render_prompt([UserMessage("What is 17*23?")], [calculate.definition()])
    status, body = llama_server.post("/v1/completions", {"prompt": prompt, "max_tokens": 1})
    assert status == 200
    counted = json.loads(body)["usage"]["prompt_tokens"]
    tokens = llama_server.tokenize(prompt)
    assert tokens[0] != 128000 and counted == len(tokens) + 1  # special tokens parsed, one BOS


def _same_day(prompt: str) -> str:
    return re.sub(r"Today Date: [^\n]*", "Today Date: <today>", prompt)


def test_the_rendering_matches_llama_cpps_rendering_of_metas_template(
    llama_server: LlamaServer,
) -> None:
    call = ToolCall("calculate", {"expression": "17*23"}, id="call_1")
    messages = [
        SystemMessage("You are a calculator."),
        UserMessage("What is 17*23?"),
        AssistantMessage(None, (call,)),
        ToolMessage("call_1", "391"),
    ]
    wire: list[dict[str, Any]] = [
        {"role": "system", "content": "You are a calculator."},
        {"role": "user", "content": "What is 17*23?"},
        {"role": "assistant", "content": None, "tool_calls": [call_to_wire(call)]},
        {"role": "tool", "tool_call_id": "call_1", "content": "391"},
    ]
    tools = [calculate.definition()]
    status, body = llama_server.post("/apply-template", {"messages": wire, "tools": tools})
    assert status == 200
    theirs = _same_day(json.loads(body)["prompt"])
    ours = _same_day(render_prompt(messages, tools, PromptOptions(today=TODAY)))
    # The one difference on purpose: the template JSON-quotes a string tool result.
    assert theirs == ours.replace(
        "<|end_header_id|>\n\n391<|eot_id|>", '<|end_header_id|>\n\n"391"<|eot_id|>'
    )


@pytest.mark.slow
def test_the_cli_runs_on_the_completions_endpoint_by_the_model_ids_prefix(
    llama_server: LlamaServer,
) -> None:
    env = endpoint_free(dict(os.environ))
    command = [sys.executable, "-m", "agentkit", "run", "--tools", "calculator"]
    command += ["--base-url", llama_server.base_url, "--model", "completions:tiny"]
    done = subprocess.run(
        [*command, "What is 17*23?"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ANSWER + "\n" and "391" in done.stderr
