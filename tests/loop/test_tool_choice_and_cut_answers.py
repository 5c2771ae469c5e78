"""tool_choice "none" runs nothing; first_tool_choice applies to the first request only; a
tool_choice that could never let a run end is refused; an answer cut at the token limit says
so on the result, in events, in `--json` and as a CLI warning.

Through the fake server (the real adapter, real HTTP) wherever the request body matters.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from pydantic import BaseModel

from agentkit import Agent, ToolCall, ToolMessage, UserError, tool
from agentkit.cli import main
from agentkit.events import RunFinished, TextDelta
from agentkit.testing import Completion, FakeServer, ScriptedModel, call

pytestmark = pytest.mark.anyio

CALL_TEXT = '{"name": "add", "parameters": {"a": 2, "b": 3}}'


@tool
def add(a: int, b: int) -> int:
    """Add two numbers.

    Args:
        a: The first.
        b: The second.
    """
    return a + b


class Sum(BaseModel):
    total: int


def on(server: FakeServer, **options: Any) -> Agent[Any]:
    return Agent("m", base_url=server.url, api_key="k", tools=[add], **options)


def results(messages: list[Any]) -> list[str]:
    return [m.content for m in messages if isinstance(m, ToolMessage)]


# -- tool_choice "none" ---------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["run", "stream"])
async def test_with_none_a_call_left_as_text_is_the_answer_not_a_run(
    fake_server: FakeServer, stream: bool
) -> None:
    fake_server.add(Completion("<|python_tag|>" + CALL_TEXT + "<|eom_id|>"))
    async with on(fake_server, model_settings={"tool_choice": "none"}) as bot:
        if stream:
            events = [e async for e in bot.stream("2+3?")]
            result = events[-1].result  # type: ignore[union-attr]
            assert "".join(e.text for e in events if isinstance(e, TextDelta)) == CALL_TEXT
        else:
            result = await bot.run("2+3?")
    assert result.output == CALL_TEXT and result.usage.tool_calls == 0
    assert results(result.messages) == []
    assert fake_server.chat_requests[0].body["tool_choice"] == "none"


async def test_with_none_native_calls_a_server_sent_anyway_are_written_not_run() -> None:
    reply = [ToolCall("add", {"a": 2, "b": 3}, id="c1")]
    with ScriptedModel([reply]) as model:
        bot = Agent(model, tools=[add], model_settings={"tool_choice": "none"})
        result = await bot.run("2+3?")
    assert result.output == CALL_TEXT and results(result.messages) == []
    assert result.messages[-1].tool_calls == ()  # type: ignore[union-attr]


async def test_without_none_the_same_text_is_recovered_and_run(fake_server: FakeServer) -> None:
    fake_server.add(Completion(CALL_TEXT), Completion("5"))
    async with on(fake_server) as bot:
        result = await bot.run("2+3?")
    assert results(result.messages) == ["5"] and result.output == "5"


# -- first_tool_choice ----------------------------------------------------------------------------


@pytest.mark.parametrize("later", [None, "auto"])
async def test_first_tool_choice_is_the_first_requests_tool_choice_only(
    fake_server: FakeServer, later: str | None
) -> None:
    fake_server.add(Completion(tool_calls=[call("add", a=2, b=3)]), Completion("5"))
    settings: Any = {"first_tool_choice": "required"}
    if later is not None:
        settings["tool_choice"] = later
    async with on(fake_server, model_settings=settings) as bot:
        result = await bot.run("2+3?")
    assert result.output == "5"
    first, second = (r.body for r in fake_server.chat_requests)
    assert first["tool_choice"] == "required" and "first_tool_choice" not in first
    assert second.get("tool_choice") == later and "first_tool_choice" not in second


async def test_first_tool_choice_can_name_a_tool_per_run(fake_server: FakeServer) -> None:
    fake_server.add(Completion(tool_calls=[call("add", a=1, b=1)]), Completion("2"))
    named = {"type": "function", "function": {"name": "add"}}
    async with on(fake_server) as bot:
        await bot.run("1+1?", model_settings={"first_tool_choice": named})
    assert [r.body.get("tool_choice") for r in fake_server.chat_requests] == [named, None]


@pytest.mark.parametrize(
    ("choice", "fragment"),
    [
        ("required", 'use first_tool_choice="required"'),
        ({"type": "function", "function": {"name": "add"}}, "tool_choice naming `add`"),
    ],
    ids=["required", "named"],
)
def test_a_tool_choice_that_can_never_end_a_run_is_refused(choice: Any, fragment: str) -> None:
    with pytest.raises(UserError) as caught:
        Agent("offline", tools=[add], model_settings={"tool_choice": choice})
    assert fragment in str(caught.value)
    assert "can only end at max_turns or the token cap" in str(caught.value)


async def test_the_refusal_holds_for_a_runs_own_settings_too() -> None:
    bot = Agent("offline", tools=[add])
    with pytest.raises(UserError, match="first_tool_choice"):
        await bot.run("2+3?", model_settings={"tool_choice": "required"})


def test_required_is_fine_when_the_answer_comes_through_the_output_tool() -> None:
    Agent("offline", tools=[add], output_type=Sum, model_settings={"tool_choice": "required"})
    final = {"type": "function", "function": {"name": "final_result"}}
    Agent("offline", tools=[add], output_type=Sum, model_settings={"tool_choice": final})
    named = {"type": "function", "function": {"name": "add"}}
    with pytest.raises(UserError, match="naming `add`"):
        Agent("offline", tools=[add], output_type=Sum, model_settings={"tool_choice": named})


def test_first_tool_choice_is_checked_like_tool_choice() -> None:
    with pytest.raises(UserError, match="'first_tool_choice' must be str or dict, got 3"):
        Agent("offline", model_settings={"first_tool_choice": 3})  # type: ignore[typeddict-item]


# -- an answer cut at the token limit --------------------------------------------------------------


async def test_a_cut_answer_says_so_on_the_result(fake_server: FakeServer) -> None:
    fake_server.add(Completion("The answer is", finish_reason="length"))
    async with on(fake_server) as bot:
        events = [e async for e in bot.stream("2+3?")]
    finished = events[-1]
    assert isinstance(finished, RunFinished)
    assert finished.result.truncated and finished.result.finish_reason == "length"
    assert finished.result.output == "The answer is"


async def test_a_whole_answer_is_not_truncated(fake_server: FakeServer) -> None:
    fake_server.add(Completion("5"))
    async with on(fake_server) as bot:
        result = await bot.run("2+3?")
    assert (result.truncated, result.finish_reason) == (False, "stop")


@pytest.mark.parametrize("json_output", [False, True], ids=["text", "json"])
def test_the_cli_warns_on_stderr_when_the_answer_was_cut(
    fake_server: FakeServer, monkeypatch: pytest.MonkeyPatch, json_output: bool
) -> None:
    for name in ("AGENTKIT_API_KEY", "OPENAI_API_KEY", "AGENTKIT_MODEL", "AGENTKIT_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    fake_server.add(Completion("The answer is", finish_reason="length"))
    flags = ["--json"] if json_output else []
    args = ["run", *flags, "--base-url", fake_server.url, "--model", "m", "2+3?"]
    done = CliRunner().invoke(main, args)
    assert done.exit_code == 0, done.output
    assert 'warning: the answer was cut off at the token limit (finish_reason "length")' in (
        done.stderr
    )
    # Said so that a CLI user knows where the limit is set: the agent file, not a flag.
    said = " ".join(done.stderr.split())
    assert 'in the agent file (Agent(..., model_settings={"max_tokens": 4096}), then' in said
    assert "agentkit run FILE) or in code (the same model_settings)" in said
    if json_output:
        last = json.loads(done.stdout.strip().splitlines()[-1])
        assert last["type"] == "run_finished" and last["truncated"] is True
        assert last["finish_reason"] == "length"


async def test_a_model_asked_directly_never_sends_first_tool_choice(
    fake_server: FakeServer,
) -> None:
    from agentkit.models import OpenAIModel

    fake_server.add(Completion("5"))
    model = OpenAIModel("m", base_url=fake_server.url, api_key="k")
    settings: Any = {"first_tool_choice": "required"}
    await model.request([], [add.definition()], settings)
    await model.aclose()
    assert "first_tool_choice" not in fake_server.chat_requests[0].body
