"""The API key never leaves: not in errors, log records, events, nor anything sent to the model.

A recognisable key (`_reliability.KEY`) is set, tools leak it every way a tool can (raising,
returning it as text, bytes, JSON, behind terminal escapes, across the result cut), servers
echo it in errors; then every exception message, log record (DEBUG, every logger: `openai`,
`httpx2`, `httpcore2`, `agentkit`), event (`event_to_dict`), message of the run and request
body the server received is searched for it. Only the `Authorization` header carries it.
"""

from __future__ import annotations

import itertools
import json
import logging
from typing import Any

import anyio
import pytest
from _reliability import (
    BOUND,
    FAST,
    KEY,
    assert_connections_closed,
    assert_valid_history,
    chunk,
    error_on_server,
    server_agent,
)
from hypothesis import given, strategies as st

from agentkit import Agent, ModelError, ModelRetry, RunError, ToolRetriesExceeded
from agentkit._hygiene import MIN_FRAGMENT, StreamRedactor, redact
from agentkit.events import RunFinished, event_to_dict
from agentkit.messages import messages_to_wire
from agentkit.models import OpenAIModel
from agentkit.testing import Chunks, Completion, Error, FakeServer, Raw

pytestmark = pytest.mark.anyio

LIMIT = 2_000  # max_result_chars of these runs
HALF = KEY[: len(KEY) // 2]  # not even half of the key may show


def leaky_raise() -> str:
    """Fails with the key in its message."""
    raise PermissionError(f"upstream refused key {KEY}")


def leaky_return() -> str:
    """Returns the key as text."""
    return f"the token is {KEY}"


def leaky_retry() -> str:
    """Asks the model to retry, quoting the key."""
    raise ModelRetry(f"retry with Authorization: Bearer {KEY}")


def leaky_bytes() -> bytes:
    """Returns the key as bytes."""
    return b"raw " + KEY.encode()


def leaky_object() -> dict[str, Any]:
    """Returns the key inside a JSON object."""
    return {"config": {"api_key": KEY, "retries": 2}}


def leaky_ansi() -> str:
    """Returns the key with a terminal escape in its middle (cleaning puts it back together)."""
    return f"{KEY[:10]}\x1b[1m{KEY[10:]}"


def leaky_straddle() -> str:
    """Returns the key right across the place where the result is cut."""
    return "x" * (LIMIT - len(HALF)) + KEY + "y" * 100


LEAKY = [leaky_raise, leaky_return, leaky_retry, leaky_bytes, leaky_object, leaky_ansi]
LEAKY += [leaky_straddle]


def assert_no_key(text: str, where: str) -> None:
    assert KEY not in text, f"the key leaked into {where}: {text[:300]!r}"
    assert HALF not in text, f"half of the key leaked into {where}: {text[:300]!r}"


def assert_requests_clean(server: FakeServer) -> None:
    for request in server.requests:
        assert_no_key(json.dumps(request.body), "a request body")
        for name, value in request.headers.items():
            if name != "authorization":
                assert_no_key(value, f"the {name} header")
        assert request.headers["authorization"] == f"Bearer {KEY}"  # where it belongs


def assert_logs_clean(caplog: pytest.LogCaptureFixture) -> None:
    assert caplog.records, "nothing was logged: the capture is not working"
    for record in caplog.records:
        assert_no_key(record.getMessage(), f"a log record of {record.name}")
        assert_no_key(repr(record.args), f"log arguments of {record.name}")
        assert_no_key(record.exc_text or "", f"a logged traceback of {record.name}")
    assert_no_key(caplog.text, "the formatted log")


@pytest.fixture
def caplog_debug(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    for name in ("openai", "httpx2", "httpcore2", "agentkit"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def _all_calls() -> Completion:
    calls = [{"name": fn.__name__, "arguments": "{}"} for fn in LEAKY]
    return Completion(tool_calls=calls)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_key_leaked_by_tools_reaches_no_event_message_request_or_log(
    fake_server: FakeServer, caplog_debug: pytest.LogCaptureFixture, stream: bool
) -> None:
    fake_server.add(Error(429, headers=FAST), _all_calls(), Completion("done"))
    with anyio.fail_after(BOUND):
        async with server_agent(fake_server, tools=LEAKY, max_result_chars=LIMIT) as agent:
            if stream:
                events = [e async for e in agent.stream("leak it")]
                finished = events[-1]
                assert isinstance(finished, RunFinished)
                result = finished.result
            else:
                events, result = [], await agent.run("leak it")
    await assert_connections_closed(fake_server)
    assert result.output == "done"
    for event in events:  # run() drains the same events; stream() shows them
        assert_no_key(json.dumps(event_to_dict(event)), f"event {event.type}")
        assert_no_key(repr(event), f"the repr of event {event.type}")
    assert_no_key(repr(result), "the result's repr")
    messages = result.messages
    assert_valid_history(messages)
    assert_no_key(json.dumps(messages_to_wire(messages)), "the run's messages")
    results = [m.content for m in messages if m.role == "tool"]
    assert results[1] == "the token is ***"
    assert results[5] == "***"
    assert results[6].startswith("x" * (LIMIT - len(HALF)) + "***")  # redacted before the cut
    assert_requests_clean(fake_server)
    assert len(fake_server.chat_requests) == 3
    assert_logs_clean(caplog_debug)


async def test_key_in_tool_failures_is_not_in_the_error_that_stops_the_run(
    fake_server: FakeServer, caplog_debug: pytest.LogCaptureFixture
) -> None:
    fake_server.add(*[Completion(tool_calls=[{"name": "leaky_raise", "arguments": "{}"}])] * 2)
    error = await error_on_server(fake_server, ToolRetriesExceeded, tools=[leaky_raise])
    assert_no_key(str(error), "the error")
    assert_no_key(json.dumps(messages_to_wire(error.messages)), "the error's messages")
    assert_requests_clean(fake_server)
    assert len(fake_server.chat_requests) == 2
    assert_logs_clean(caplog_debug)


ECHOES = [
    pytest.param(
        Error(401, {"error": {"message": f"Incorrect API key provided: {KEY}"}}),
        False,
        id="401-body",
    ),
    pytest.param(Error(400, f"bad key {KEY}"), False, id="400-text-body"),
    pytest.param(Raw(f"<html>key {KEY} rejected</html>"), False, id="200-html"),
    pytest.param(
        Raw(json.dumps({"error": {"message": f"key {KEY}"}}), headers={"content-type": "x/json"}),
        False,
        id="200-error-object",
    ),
    pytest.param(
        Chunks([chunk("a"), {"error": {"message": f"expired key {KEY}"}}]), True, id="stream-error"
    ),
    pytest.param(Chunks([chunk("a"), f"not json {KEY}"]), True, id="stream-malformed"),
    pytest.param(Chunks([chunk("a"), {"choices": f"{KEY}"}]), True, id="stream-wrong-shape"),
]


async def drive(server: FakeServer, stream: bool) -> None:
    """One run (streamed or not) on the server, without retries, in bounded time."""
    with anyio.fail_after(BOUND):
        async with server_agent(server, max_retries=0) as agent:
            if stream:
                async for _ in agent.stream("go"):
                    pass
            else:
                await agent.run("go")


@pytest.mark.parametrize(("reply", "stream"), ECHOES)
async def test_key_echoed_by_the_server_is_not_in_the_model_error(
    fake_server: FakeServer, caplog_debug: pytest.LogCaptureFixture, reply: Any, stream: bool
) -> None:
    fake_server.add(reply)

    with pytest.raises(ModelError) as info:
        await drive(fake_server, stream)
    error = info.value
    assert "***" in str(error)  # the echo is there, redacted
    assert_no_key(str(error), "the error message")
    assert_no_key(repr(error), "the error's repr")
    assert_no_key(repr(vars(error)), "the error's attributes")
    assert error.__cause__ is None and error.__suppress_context__
    assert len(fake_server.chat_requests) == 1
    assert_logs_clean(caplog_debug)


async def test_key_is_not_in_reprs_or_connection_errors(
    caplog_debug: pytest.LogCaptureFixture,
) -> None:
    model = OpenAIModel(
        "m",
        base_url="http://deploy:hunter2-password@127.0.0.1:9/v1?token=abc",
        api_key=KEY,
        max_retries=0,
    )
    agent = Agent(model)
    for text in (repr(agent), repr(model), model.endpoint):
        assert_no_key(text, "a repr")
        assert "hunter2" not in text and "token=abc" not in text

    async def run() -> None:
        with anyio.fail_after(BOUND):
            async with agent:
                await agent.run("go")

    with pytest.raises(RunError) as info:
        await run()
    assert "cannot connect" in str(info.value)
    assert_no_key(str(info.value), "the connection error")
    assert "hunter2" not in str(info.value) and "token=abc" not in str(info.value)
    assert_logs_clean(caplog_debug)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_key_echoed_in_tool_use_failed_reaches_neither_model_nor_error(
    fake_server: FakeServer, stream: bool
) -> None:
    # Groq's refusal quotes the server's reason, and the reason goes back to the model.
    body = {
        "error": {
            "code": "tool_use_failed",
            "message": f"tool call rejected for key {KEY}",
            "failed_generation": f"no call here, but {KEY}",
        }
    }
    refusal: Any = Chunks([body]) if stream else Error(400, body)
    fake_server.add(refusal, refusal)

    with pytest.raises(ModelError) as info:
        await drive(fake_server, stream)
    assert_no_key(str(info.value), "the error")
    for message in info.value.messages:
        assert_no_key(repr(message), "the conversation")
    second = fake_server.chat_requests[1]
    assert "***" in json.dumps(second.messages)  # the reason was shown, redacted
    assert_no_key(json.dumps(second.body), "the retry request")


def echo(text: str) -> str:
    """Return the text.

    Args:
        text: Any text.
    """
    return "echoed"


@pytest.mark.parametrize("chunk_size", [0, 1, 3], ids=["json", "stream-1", "stream-3"])
async def test_key_echoed_by_the_model_is_in_no_event_message_or_request(
    fake_server: FakeServer, chunk_size: int
) -> None:
    # A model can only echo what it saw, but a server may put anything in a reply.
    call = {"name": "echo", "arguments": json.dumps({"text": f"model says {KEY}"})}
    fake_server.add(
        Completion(f"calling with {KEY}", tool_calls=[call], chunk_size=chunk_size or 8),
        Completion(f"The key is {KEY}, and {KEY[:5]} is not it.", chunk_size=chunk_size or 8),
    )
    with anyio.fail_after(BOUND):
        async with server_agent(fake_server, tools=[echo]) as agent:
            if chunk_size:
                events = [e async for e in agent.stream("go")]
                finished = events[-1]
                assert isinstance(finished, RunFinished)
                result = finished.result
                deltas = "".join(e.text for e in events if e.type == "text_delta")
                assert deltas.endswith(f"The key is ***, and {KEY[:5]} is not it.")
            else:
                events, result = [], await agent.run("go")
    for event in events:
        assert_no_key(json.dumps(event_to_dict(event)), f"event {event.type}")
    assert result.output == f"The key is ***, and {KEY[:5]} is not it."
    assert result.messages[1].tool_calls[0].arguments == {"text": "model says ***"}
    assert_no_key(json.dumps(messages_to_wire(result.messages)), "the run's messages")
    assert_requests_clean(fake_server)


@given(
    text=st.text(alphabet="ab-*", max_size=40),
    cuts=st.lists(st.integers(min_value=0, max_value=40), max_size=8),
)
def test_redacting_a_stream_in_any_pieces_equals_redacting_the_whole(
    text: str, cuts: list[int]
) -> None:
    secrets = ("abab-a", "b-*b")
    redactor = StreamRedactor(secrets)
    points = sorted({0, len(text), *(min(c, len(text)) for c in cuts)})
    out = "".join(redactor.feed(text[a:b]) for a, b in itertools.pairwise(points))
    out += redactor.finish()
    assert out == redact(text, secrets)


# ---------------------------------------------------------------------------- pieces of a key


def pieces_of(secret: str, size: int = MIN_FRAGMENT) -> list[str]:
    return [secret[i : i + size] for i in range(len(secret) - size + 1)]


def assert_no_piece(text: str, where: str) -> None:
    for piece in pieces_of(KEY):
        assert piece not in text, f"{piece!r} of the key leaked into {where}: {text[:300]!r}"


def leaky_offset() -> str:
    """Returns the key minus its first character (a file read from an offset)."""
    return f"{KEY[1:]}\n"


def leaky_middle() -> str:
    """Returns the middle of the key, and its two ends apart."""
    return f"{KEY[4:-4]} / {KEY[:12]} ... {KEY[-12:]}"


async def test_pieces_of_the_key_are_redacted_too(fake_server: FakeServer) -> None:
    # Item 4: `read_file(".env", offset=18)` returned the key minus one character, unredacted.
    calls = [{"name": fn.__name__, "arguments": "{}"} for fn in (leaky_offset, leaky_middle)]
    fake_server.add(Completion(tool_calls=calls), Completion("done"))
    with anyio.fail_after(BOUND):
        async with server_agent(fake_server, tools=[leaky_offset, leaky_middle]) as agent:
            result = await agent.run("leak a piece")
    results = [m.content for m in result.messages if m.role == "tool"]
    assert results == ["***\n", "*** / *** ... ***"]
    for request in fake_server.chat_requests:
        assert_no_piece(json.dumps(request.body), "a request body")


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_a_key_echoed_across_the_cut_of_an_error_is_redacted_before_the_cut(
    fake_server: FakeServer, stream: bool
) -> None:
    # Item 9: the message is cut at 300 characters; a key across the cut showed 16 of 17.
    message = "x" * (300 - 16) + KEY
    body = {"error": {"message": message}}
    fake_server.add(Chunks([chunk("a"), body]) if stream else Error(401, body))
    with pytest.raises(ModelError) as info:
        await drive(fake_server, stream)
    assert "***" in str(info.value)
    assert_no_piece(str(info.value), "the error message")


def test_pieces_shorter_than_the_minimum_stay() -> None:
    secret = "sk-0123456789abcdef"
    assert redact(f"prefix {secret[: MIN_FRAGMENT - 1]} and {secret[-5:]}", [secret]) == (
        f"prefix {secret[: MIN_FRAGMENT - 1]} and {secret[-5:]}"
    )
    assert redact(f"a{secret[2:12]}b{secret}", [secret]) == "a***b***"
    text = "nothing to hide here"
    assert redact(text, [secret]) is text


@given(
    text=st.text(alphabet="abcd-", max_size=60),
    cuts=st.lists(st.integers(min_value=0, max_value=60), max_size=8),
)
def test_redacting_pieces_in_a_stream_equals_redacting_the_whole(
    text: str, cuts: list[int]
) -> None:
    secrets = ("abcdabcd-ab", "dcba-dcbadd")
    redactor = StreamRedactor(secrets)
    points = sorted({0, len(text), *(min(c, len(text)) for c in cuts)})
    out = "".join(redactor.feed(text[a:b]) for a, b in itertools.pairwise(points))
    out += redactor.finish()
    assert out == redact(text, secrets)
