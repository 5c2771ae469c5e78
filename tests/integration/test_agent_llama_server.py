"""agentkit's public API and CLI against llama.cpp's real server and the tiny Llama 3.1.

The first tests show a tool call completed end to end: `run()`, `stream()` and
`agentkit run`. The rest record what the real server found (issue 17, "Fix what it found"):
each is an `xfail(strict=True)` with the reason, so it fails loudly the day the fix lands and
the marker must go. tests/integration/INTEGRATION.md says what each fix is.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from _llama_server import LlamaServer, endpoint_free
from _tinyllama import ANSWER, TOOL_CALL

from agentkit import Agent, ToolMessage, UserError
from agentkit.events import ModelReplyFinished, TextDelta, ToolCallFinished, ToolCallStarted
from agentkit.models import UnparsedToolCall
from agentkit.tools import load_tools

pytestmark = [pytest.mark.anyio, pytest.mark.slow, pytest.mark.usefixtures("agentkit_env")]

(calculate,) = load_tools("calculator")
QUESTION = "What is 17*23?"
CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "calculate", "arguments": '{"expression": "17*23"}'},
}
WITH_RESULT: list[dict[str, Any]] = [
    {"role": "user", "content": QUESTION},
    {"role": "assistant", "content": None, "tool_calls": [CALL]},
    {"role": "tool", "tool_call_id": "call_1", "content": "391"},
]


def agent(server: LlamaServer, **options: Any) -> Agent[str]:
    return Agent(model="tiny", base_url=server.base_url, api_key="x", tools=[calculate], **options)


def tool_results(messages: list[Any]) -> list[str]:
    return [m.content for m in messages if isinstance(m, ToolMessage)]


async def test_run_completes_a_tool_call(llama_server: LlamaServer) -> None:
    async with agent(llama_server) as bot:
        result = await bot.run(QUESTION)
    assert result.output == ANSWER
    assert tool_results(result.messages) == ["391"]
    call = result.messages[1].tool_calls[0]  # type: ignore[union-attr]
    assert (call.name, call.arguments) == ("calculate", {"expression": "17*23"})
    assert result.usage.requests == 2 and result.usage.tool_calls == 1
    assert result.usage.prompt_tokens > 150  # the server's counts of the rendered prompt


async def test_stream_completes_a_tool_call(llama_server: LlamaServer) -> None:
    events = []
    async with agent(llama_server) as bot:
        async for event in bot.stream(QUESTION):
            events.append(event)
    started = [e for e in events if isinstance(e, ToolCallStarted)]
    finished = [e for e in events if isinstance(e, ToolCallFinished)]
    assert [(e.call.name, e.call.arguments) for e in started] == [
        ("calculate", {"expression": "17*23"})
    ]
    assert [(e.result, e.is_error) for e in finished] == [("391", False)]
    # Streamed call pieces never show as text: the text is the answer alone.
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == ANSWER
    assert events[-1].result.output == ANSWER  # type: ignore[union-attr]


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = endpoint_free(dict(os.environ))
    return subprocess.run(
        [sys.executable, "-m", "agentkit", "run", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_the_cli_completes_a_tool_call(llama_server: LlamaServer) -> None:
    done = run_cli(
        "--tools", "calculator", "--base-url", llama_server.base_url, "--model", "tiny", QUESTION
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ANSWER + "\n"
    assert "calculate" in done.stderr and "391" in done.stderr


# -- what the real server found --------------------------------------------------------------


async def test_tool_choice_none_runs_no_tool(llama_server: LlamaServer) -> None:
    async with agent(llama_server, model_settings={"tool_choice": "none"}) as bot:
        result = await bot.run(QUESTION)
        events = [e async for e in bot.stream(QUESTION)]
    assert result.usage.tool_calls == 0 and tool_results(result.messages) == []
    assert result.output == TOOL_CALL  # what the model wrote, as text
    assert not [e for e in events if isinstance(e, ToolCallStarted)]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == TOOL_CALL


async def test_an_answer_cut_by_max_tokens_is_reported_on_the_result(
    llama_server: LlamaServer,
) -> None:
    async with agent(llama_server, model_settings={"max_tokens": 3}) as bot:
        result = await bot.run("Thanks.", messages=WITH_RESULT)
    assert result.output == "The answer is"  # cut, as the server sent it
    assert result.truncated is True
    assert result.finish_reason == "length"


async def test_an_answer_cut_by_max_tokens_is_reported_in_events(
    llama_server: LlamaServer,
) -> None:
    async with agent(llama_server, model_settings={"max_tokens": 3}) as bot:
        events = [e async for e in bot.stream("Thanks.", messages=WITH_RESULT)]
    (reply,) = [e for e in events if isinstance(e, ModelReplyFinished)]
    assert reply.finish_reason == "length"


def test_the_cli_warns_when_the_answer_was_cut(llama_server: LlamaServer, tmp_path: Path) -> None:
    (tmp_path / "short.py").write_text(
        textwrap.dedent(
            f"""
            from agentkit import Agent
            agent = Agent(
                "tiny", base_url={llama_server.base_url!r}, api_key="x",
                model_settings={{"max_tokens": 3}},
            )
            """
        )
    )
    done = run_cli("short.py", "Say it.", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "max_tokens" in done.stderr and "cut" in done.stderr


async def test_a_call_can_be_required_in_the_first_reply_only(llama_server: LlamaServer) -> None:
    settings: Any = {"first_tool_choice": "required"}
    async with agent(llama_server, model_settings=settings) as bot:
        result = await bot.run(QUESTION)
    assert result.output == ANSWER
    assert tool_results(result.messages) == ["391"]


def test_required_on_every_request_without_an_output_type_is_refused(
    llama_server: LlamaServer,
) -> None:
    with pytest.raises(UserError, match="first_tool_choice"):
        agent(llama_server, model_settings={"tool_choice": "required"})


UNPARSED = "could not parse the model's reply as a tool call"


@pytest.mark.parametrize("streamed", [False, True], ids=["run", "stream"])
async def test_a_reply_the_server_cannot_parse_says_what_happened(
    llama_server: LlamaServer, streamed: bool
) -> None:
    async def ask(bot: Agent[str]) -> None:
        if streamed:
            async for _ in bot.stream("A broken call: 17*23?"):
                pass
        else:
            await bot.run("A broken call: 17*23?")

    async with agent(llama_server) as bot:
        with pytest.raises(UnparsedToolCall) as caught:
            await ask(bot)
    message = str(caught.value)
    assert UNPARSED in message and 'tool_choice "none"' in message
    assert "does not match the expected peg-native format" in message  # the server's reason
    assert "LlamaCompletionsModel" in message  # what to do
    # Refused, asked for the text (no call in it), told, refused again, asked again: no
    # request was retried blindly by the SDK.
    assert caught.value.usage is not None and caught.value.usage.requests == 4


@pytest.mark.parametrize("streamed", [False, True], ids=["run", "stream"])
async def test_calls_the_server_cannot_parse_are_read_from_the_text_and_run(
    llama_server: LlamaServer, streamed: bool
) -> None:
    # Two calls joined by "; ": llama.cpp's parser refuses them (HTTP 500); the raw text
    # (tool_choice "none") holds both; the conversation with both calls in one message is
    # then refused by Meta's template (HTTP 400) and sent one call per message.
    async with agent(llama_server) as bot:
        if streamed:
            events = [e async for e in bot.stream("Work it out twice: 17*23?")]
            result = events[-1].result  # type: ignore[union-attr]
        else:
            result = await bot.run("Work it out twice: 17*23?")
    assert result.output == ANSWER
    assert tool_results(result.messages) == ["391", "4"]


async def test_two_calls_in_one_message_are_sent_so_the_template_accepts_them(
    llama_server: LlamaServer,
) -> None:
    second = {**CALL, "id": "call_2"}
    history = [
        WITH_RESULT[0],
        {"role": "assistant", "content": None, "tool_calls": [CALL, second]},
        {"role": "tool", "tool_call_id": "call_1", "content": "391"},
        {"role": "tool", "tool_call_id": "call_2", "content": "391"},
    ]
    async with agent(llama_server) as bot:
        result = await bot.run("Thanks.", messages=history)
    assert result.output == ANSWER
