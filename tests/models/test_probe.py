"""`OpenAIModel.probe()`: what each kind of server answers (behaviour profiles on the fake
server), where the result is kept, and how later requests adapt to it.

The same probe against llama.cpp's real server is in tests/integration/test_probe_llama_server.py.
"""

from __future__ import annotations

import json
import pickle
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from _probe_profiles import CALL, CALL_TEXT, PROFILES, Profile

from agentkit import Agent, ToolMessage, UserError, tool
from agentkit.models import OpenAIModel
from agentkit.models.openai import Capabilities, Check, _probe
from agentkit.models.openai._capabilities import cache_path, load, save, version
from agentkit.testing import Completion, FakeServer, Hang

pytestmark = pytest.mark.anyio

KEY = "sk-probe-0123456789"

EXPECTED = {
    "llama.cpp-like": {
        "models": "listed",
        "tool_calls": "native",
        "tool_choice:auto": "accepted",
        "tool_choice:none": "accepted",
        "tool_choice:required": "accepted",
        "tool_choice:function": "accepted",
        "parallel_tool_calls": "error",
        "calls_in_history": "refused",
        "streamed_calls": "pieces",
        "stream_usage": "sent",
        "json_schema": "valid",
        "tokenize": "available",
        "completions": "available",
        "finish_reasons": "seen",
    },
    "vllm-like": {
        "models": "listed",
        "tool_calls": "native",
        "tool_choice:auto": "accepted",
        "tool_choice:none": "accepted",
        "tool_choice:required": "refused",
        "tool_choice:function": "accepted",
        "parallel_tool_calls": "supported",
        "calls_in_history": "accepted",
        "streamed_calls": "pieces",
        "stream_usage": "sent",
        "json_schema": "valid",
        "tokenize": "absent",
        "completions": "available",
        "finish_reasons": "seen",
    },
    "ollama-like": {
        "models": "listed",
        "tool_calls": "native",
        "tool_choice:auto": "accepted",
        "tool_choice:none": "ignored",
        "tool_choice:required": "accepted",
        "tool_choice:function": "accepted",
        "parallel_tool_calls": "one per reply",
        "calls_in_history": "accepted",
        "streamed_calls": "whole",
        "stream_usage": "absent",
        "json_schema": "ignored",
        "tokenize": "absent",
        "completions": "available",
        "finish_reasons": "seen",
    },
    "groq-like": {
        "models": "listed",
        "tool_calls": "native",
        "tool_choice:auto": "accepted",
        "tool_choice:none": "accepted",
        "tool_choice:required": "accepted",
        "tool_choice:function": "accepted",
        "parallel_tool_calls": "supported",
        "calls_in_history": "accepted",
        "streamed_calls": "whole",
        "stream_usage": "sent",
        "json_schema": "refused",
        "tokenize": "absent",
        "completions": "absent",
        "finish_reasons": "seen",
    },
    "text-calls": {
        "models": "listed",
        "tool_calls": "text",
        "tool_choice:auto": "accepted",
        "tool_choice:none": "accepted",
        "tool_choice:required": "refused",
        "tool_choice:function": "refused",
        "parallel_tool_calls": "refused",
        "calls_in_history": "accepted",
        "streamed_calls": "text",
        "stream_usage": "refused",
        "json_schema": "ignored",
        "tokenize": "absent",
        "completions": "available",
        "finish_reasons": "seen",
    },
}


@tool
def calculate(expression: str) -> str:
    """Evaluate an arithmetic expression.

    Args:
        expression: E.g. 2+2.
    """
    return "391" if expression == "17*23" else "4"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path


async def probed(profile: Profile, server: Any, **options: Any) -> Capabilities:
    model = OpenAIModel(profile.models[0], base_url=server.url, api_key=KEY, **options)
    try:
        return await model.probe()
    finally:
        await model.aclose()


@pytest.mark.parametrize("name", list(PROFILES))
async def test_each_kind_of_server_gets_its_own_table(name: str, cache: Path) -> None:
    profile = PROFILES[name]
    with profile.server() as server:
        found = await probed(profile, server)
        requests = list(server.requests)
    assert {c.name: c.result for c in found} == EXPECTED[name]
    assert [c.name for c in found] == list(EXPECTED[name])  # in the order shown
    # Cheap: a dozen requests, each capped, greedy, and never retried.
    assert len(requests) <= 14
    for request in requests:
        if isinstance(request.body, dict) and "messages" in request.body:
            assert request.body["max_tokens"] <= 64 and request.body["temperature"] == 0


async def test_details_say_what_was_seen(cache: Path) -> None:
    profile = PROFILES["llama.cpp-like"]
    with profile.server() as server:
        found = await probed(profile, server)
    assert found.detail("calls_in_history") == (
        "Error: Jinja Exception: This model only supports single tool-calls at once!"
    )
    assert "prepends a begin-of-text token (128000)" in found.detail("tokenize")
    assert found.detail("finish_reasons") == "stop, tool_calls"
    assert found.detail("tool_calls") == 'calculate({"expression": "17*23"})'
    assert found.advice == [
        "tool calls go one per assistant message to this endpoint (its chat template refuses more)"
    ]


async def test_text_calls_advise_recovery_and_the_completions_prefix(cache: Path) -> None:
    profile = PROFILES["text-calls"]
    with profile.server() as server:
        found = await probed(profile, server)
    assert found.advice[0].startswith("calls come back as text; they are recovered from it")
    assert "--model completions:m" in found.advice[1]
    assert found.advice[2] == (
        'left out of requests, as refused: tool_choice "required", tool_choice naming a '
        "function, parallel_tool_calls, stream_options"
    )


# -- kept, and reused ------------------------------------------------------------------------


async def test_the_probe_is_kept_per_endpoint_and_model_and_reused(cache: Path) -> None:
    profile = PROFILES["vllm-like"]
    with profile.server() as server:
        first = await probed(profile, server)
        asked = len(server.requests)
        again = await probed(profile, server)
        assert len(server.requests) == asked  # no request: the saved probe
        model = OpenAIModel("m", base_url=server.url, api_key=KEY)
        fresh = await model.probe(refresh=True)
        await model.aclose()
        assert len(server.requests) == 2 * asked
    assert again == first and fresh.probed_at > first.probed_at
    (saved,) = (cache / "agentkit" / "probe").glob("*.json")
    assert saved == cache_path(server.url, "m")
    text = saved.read_text()
    assert KEY not in text and json.loads(text)["checks"]["tool_choice:required"] == {
        "result": "refused",
        "detail": '"required" tool_choice is not supported by this vLLM version',
    }
    assert cache_path(server.url, "other") != saved


def test_credentials_in_the_url_are_not_part_of_the_key(cache: Path) -> None:
    plain = OpenAIModel("m", base_url="http://127.0.0.1:9/v1", api_key=KEY)
    with_user = OpenAIModel("m", base_url="http://user:pw@127.0.0.1:9/v1", api_key=KEY)
    assert plain.endpoint == with_user.endpoint
    assert cache_path(plain.endpoint, "m").parent == cache / "agentkit" / "probe"


def _saved(endpoint: str, **changes: Any) -> Capabilities:
    checks = (Check("tool_choice:required", "refused", "no"), Check("stream_usage", "refused"))
    values: dict[str, Any] = {
        "endpoint": endpoint,
        "model": "m",
        "checks": checks,
        "probed_at": time.time(),
        "version": version(),
    }
    values.update(changes)
    found = Capabilities(**values)
    save(found)
    return found


@pytest.mark.parametrize(
    "changes",
    [{"probed_at": time.time() - 8 * 86400}, {"version": "0.0.1"}, {"model": "other"}],
    ids=["a-week-old", "another-version", "another-model"],
)
def test_a_stale_or_foreign_probe_is_not_used(cache: Path, changes: dict[str, Any]) -> None:
    endpoint = "http://127.0.0.1:9/v1"
    found = _saved(endpoint, **changes)
    if "model" in changes:  # saved under its own key: copy it where "m"'s would be
        cache_path(endpoint, "m").write_text(cache_path(endpoint, "other").read_text())
    assert load(endpoint, "m") is None
    assert found.fresh == ("model" in changes)


def test_an_unreadable_probe_is_no_error(cache: Path) -> None:
    path = cache_path("http://127.0.0.1:9/v1", "m")
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    assert load("http://127.0.0.1:9/v1", "m") is None
    path.write_text(json.dumps({"format": 1, "checks": []}))
    assert load("http://127.0.0.1:9/v1", "m") is None


async def test_an_endpoint_that_answers_nothing_is_neither_kept_nor_applied(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_probe, "SECONDS", 0.3)
    with socket.socket() as silent:  # connections are made (the backlog), never answered
        silent.bind(("127.0.0.1", 0))
        silent.listen(32)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1"
        model = OpenAIModel("m", base_url=url, api_key=KEY)
        found = await model.probe()
        await model.aclose()
    assert {c.result for c in found} == {"error", "unknown"} and not found.unreachable
    assert found.detail("models") == "no answer within 0.3 s"
    assert not (cache / "agentkit").exists() and model._adapt.capabilities is None


@pytest.fixture(params=["aiohttp", "httpx"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_a_closed_port_is_told_as_such_and_stops_the_probe(
    cache: Path, transport: str
) -> None:
    # The SDK's aiohttp transport calls a refused connection "Request timed out.".
    url = f"http://127.0.0.1:{closed_port()}/v1"
    model = OpenAIModel("m", base_url=url, api_key=KEY, transport=transport)  # type: ignore[arg-type]
    found = await model.probe()
    await model.aclose()
    said = f"nothing is listening at {url}: is the server running? check the URL"
    assert found.unreachable == said and not found.answered
    results = [c.result for c in found]
    # Stopped at once: only the requests already under way were made (four at a time).
    assert 1 <= results.count("unreachable") <= 4
    assert results.count("unknown") == len(results) - results.count("unreachable")
    assert {c.detail for c in found} == {said, "not tried"}
    assert not (cache / "agentkit").exists() and model._adapt.capabilities is None


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again: nothing listens there


async def test_a_server_that_does_not_answer_is_told_as_a_timeout(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_probe, "SECONDS", 0.3)
    with FakeServer(handler=lambda request: Hang()) as server:
        found = await probed(PROFILES["vllm-like"], server)
    assert found.result("models") == "not listed" and not found.unreachable
    assert found.result("tool_calls") == "error" == found.result("json_schema")
    assert found.detail("tool_calls") == "no answer within 0.3 s"
    assert found.detail("completions") == "no answer within 0.3 s"


# -- later requests adapt --------------------------------------------------------------------


def scripted(server: Any, *replies: Any) -> None:
    """After the probe: the server answers the run from a script."""
    server.handler = None
    server.requests.clear()
    server.add(*replies)


async def test_a_refused_tool_choice_is_left_out_with_one_warning(cache: Path) -> None:
    profile = PROFILES["vllm-like"]
    with profile.server() as server:
        await probed(profile, server)
        call = Completion(tool_calls=[CALL])
        scripted(server, call, Completion("391"), call, Completion("391"))
        settings: Any = {"first_tool_choice": "required"}
        bot = Agent("m", base_url=server.url, api_key=KEY, tools=[calculate])
        async with bot:
            with pytest.warns(UserWarning, match="refused tool_choice='required' when probed"):
                await bot.run("17*23?", model_settings=settings)
            await bot.run("17*23?", model_settings=settings)  # warned once per model
        bodies = [r.body for r in server.chat_requests]
    assert len(bodies) == 4 and all("tool_choice" not in body for body in bodies)


async def test_probe_never_ignores_the_saved_probe(cache: Path) -> None:
    profile = PROFILES["vllm-like"]
    with profile.server() as server:
        await probed(profile, server)
        scripted(server, Completion(tool_calls=[CALL]), Completion("391"))
        model = OpenAIModel("m", base_url=server.url, api_key=KEY, probe="never")
        bot = Agent(model, tools=[calculate], model_settings={"first_tool_choice": "required"})
        async with bot:
            await bot.run("17*23?")
    assert server.chat_requests[0].body["tool_choice"] == "required"


def _call(id_: str) -> dict[str, Any]:
    return {"id": id_, "type": "function", "function": {"name": "calculate", "arguments": "{}"}}


async def test_a_template_of_one_call_per_message_is_known_before_the_first_request(
    cache: Path,
) -> None:
    profile = PROFILES["llama.cpp-like"]
    history: list[dict[str, Any]] = [
        {"role": "user", "content": "17*23 and 2+2?"},
        {"role": "assistant", "content": None, "tool_calls": [_call("a"), _call("b")]},
        {"role": "tool", "tool_call_id": "a", "content": "391"},
        {"role": "tool", "tool_call_id": "b", "content": "4"},
    ]
    with profile.server() as server:
        await probed(profile, server)
        scripted(server, Completion("391 and 4"))
        async with Agent("m", base_url=server.url, api_key=KEY, tools=[calculate]) as bot:
            result = await bot.run("Thanks.", messages=history)
        (sent,) = server.chat_requests  # no refusal first: sent one call per message at once
    assert [len(m.get("tool_calls") or ()) for m in sent.messages] == [0, 1, 0, 1, 0, 0]
    assert result.output == "391 and 4"


async def test_refused_stream_options_are_not_sent_and_text_calls_still_run(
    cache: Path,
) -> None:
    profile = PROFILES["text-calls"]
    with profile.server() as server:
        await probed(profile, server)
        scripted(server, Completion("<|python_tag|>" + CALL_TEXT), Completion("391"))
        async with Agent("m", base_url=server.url, api_key=KEY, tools=[calculate]) as bot:
            events = [e async for e in bot.stream("17*23?")]
        bodies = [r.body for r in server.chat_requests]
    result = events[-1].result  # type: ignore[union-attr]
    assert [m.content for m in result.messages if isinstance(m, ToolMessage)] == ["391"]
    assert len(bodies) == 2 and all("stream_options" not in b for b in bodies)


async def test_a_refused_response_format_is_left_out(cache: Path) -> None:
    profile = PROFILES["groq-like"]
    with profile.server() as server:
        await probed(profile, server)
        scripted(server, Completion("hi"))
        extra = {"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}}
        async with Agent("m", base_url=server.url, api_key=KEY) as bot:
            with pytest.warns(UserWarning, match="refused response_format='json_schema'"):
                await bot.run("hi", model_settings={"extra_body": extra})
        (sent,) = server.chat_requests
    assert "response_format" not in sent.body


def test_the_probe_setting_travels_with_the_model() -> None:
    model = OpenAIModel("m", base_url="http://127.0.0.1:9/v1", api_key=KEY, probe="never")
    assert pickle.loads(pickle.dumps(model))._adapt.use == "never"
    assert model.replace(model="n")._adapt.use == "never"
    with pytest.raises(UserError, match='probe must be "cached" or "never"'):
        OpenAIModel("m", base_url="http://127.0.0.1:9/v1", probe="always")  # type: ignore[arg-type]
