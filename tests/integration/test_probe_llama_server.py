"""`agentkit probe` against llama.cpp's real server and the tiny Llama 3.1: what it finds is
what tests/integration/test_llama_server_wire.py pins, and later requests adapt to it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _llama_server import LlamaServer, endpoint_free
from _tinyllama import ANSWER

from agentkit import Agent
from agentkit.models import OpenAIModel
from agentkit.tools import load_tools

pytestmark = [pytest.mark.anyio, pytest.mark.slow, pytest.mark.usefixtures("agentkit_env")]

EXPECTED = {
    "models": "not listed",  # llama.cpp lists the model by its file
    "tool_calls": "native",
    "tool_choice:auto": "accepted",
    "tool_choice:none": "accepted",
    "tool_choice:required": "accepted",
    "tool_choice:function": "accepted",
    "parallel_tool_calls": "error",  # two calls in one reply: its parser refuses (HTTP 500)
    "calls_in_history": "refused",  # Meta's template: HTTP 400
    "streamed_calls": "pieces",
    "stream_usage": "sent",
    "json_schema": "valid",
    "tokenize": "available",
    "completions": "available",
    "finish_reasons": "seen",
}


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path


async def test_the_probe_finds_what_the_server_does(llama_server: LlamaServer, cache: Path) -> None:
    model = OpenAIModel("tiny", base_url=llama_server.base_url, api_key="x")
    try:
        found = await model.probe()
    finally:
        await model.aclose()
    assert {c.name: c.result for c in found} == EXPECTED
    assert "does not match the expected" in found.detail("parallel_tool_calls")
    assert "only supports single tool-calls at once" in found.detail("calls_in_history")
    assert "begin-of-text token (128000)" in found.detail("tokenize")
    assert found.detail("tool_calls") == 'calculate({"expression": "17*23"})'
    assert set(found.detail("finish_reasons").split(", ")) >= {"stop", "tool_calls"}


async def test_after_the_probe_two_calls_in_history_go_one_per_message_at_once(
    llama_server: LlamaServer, cache: Path
) -> None:
    (calculate,) = load_tools("calculator")
    call: dict[str, Any] = {"type": "function", "function": {"name": "calculate"}}
    history = [
        {"role": "user", "content": "What is 17*23?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {**call, "id": "a", "function": {**call["function"], "arguments": "{}"}},
                {**call, "id": "b", "function": {**call["function"], "arguments": "{}"}},
            ],
        },
        {"role": "tool", "tool_call_id": "a", "content": "391"},
        {"role": "tool", "tool_call_id": "b", "content": "391"},
    ]
    probing = OpenAIModel("tiny", base_url=llama_server.base_url, api_key="x")
    await probing.probe()
    await probing.aclose()
    bot = Agent("tiny", base_url=llama_server.base_url, api_key="x", tools=[calculate])
    async with bot:
        events = [e async for e in bot.stream("Thanks.", messages=history)]
    assert not [e for e in events if e.type == "model_request_retried"]  # no 400 first
    assert events[-1].result.output == ANSWER  # type: ignore[union-attr]


def test_the_cli_prints_the_table(llama_server: LlamaServer, cache: Path) -> None:
    env = endpoint_free(dict(os.environ))
    command = [sys.executable, "-m", "agentkit", "probe"]
    command += ["--base-url", llama_server.base_url, "--model", "tiny"]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**env, "XDG_CACHE_HOME": str(cache), "COLUMNS": "160"},
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in done.stdout.splitlines()
        if line.count("│") == 4
    }
    assert rows == {name.replace(":", " "): result for name, result in EXPECTED.items()}
    assert "tool calls go one per assistant message" in done.stderr
