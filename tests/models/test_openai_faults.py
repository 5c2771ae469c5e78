"""Endpoint faults, through the real `openai` client against the fake server.

Each scenario asserts the outcome (an answer or a `ModelError` that names the endpoint and
the model, never the key), that it ends in bounded time, how many requests the server saw,
that the conversation stays valid, and that no connection is left open once the agent closed.
Retry sleeps are the SDK's: `retry-after-ms: 1` keeps them short where the test is not about
the header itself.
"""

from __future__ import annotations

import email.utils
import json
import re
import socket
import time
from typing import Any

import anyio
import pytest
from _reliability import (
    BOUND,
    FAST,
    KEY,
    MODEL_ID,
    assert_connections_closed,
    chunk,
    error_on_server,
    run_on_server,
    server_agent,
)

from agentkit import ModelError, ToolMessage
from agentkit.events import RunFinished, TextDelta
from agentkit.testing import Chunks, Completion, Drop, Error, FakeServer, Hang, Raw, Reply

pytestmark = pytest.mark.anyio

JSON = {"content-type": "application/json"}
HTML_FAST = {"content-type": "text/html", **FAST}


async def fails(server: FakeServer, *, stream: bool = False, **kwargs: Any) -> ModelError:
    """One run that must end in a `ModelError`; checks what every such error must say."""
    error = await error_on_server(server, ModelError, stream=stream, **kwargs)
    assert server.url in str(error) and repr(MODEL_ID) in str(error), str(error)
    assert error.endpoint == server.url and error.model == MODEL_ID
    assert KEY not in str(error) and KEY not in repr(vars(error))
    assert "Traceback" not in str(error)
    return error


# -- retried statuses -------------------------------------------------------------------------

RETRIED = [408, 409, 429, 500, 502, 503, 504]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("status", RETRIED)
async def test_retried_status_then_success(
    fake_server: FakeServer, status: int, stream: bool
) -> None:
    fake_server.add(Error(status, headers=FAST), Error(status, headers=FAST), Completion("5"))
    result = await run_on_server(fake_server, stream=stream)
    assert result.output == "5"
    assert len(fake_server.chat_requests) == 3
    assert result.usage.requests == 1  # the SDK's retries are one request of the run


@pytest.mark.parametrize("status", RETRIED)
async def test_retried_status_until_retries_are_spent_is_a_model_error(
    fake_server: FakeServer, status: int
) -> None:
    fake_server.add(*[Error(status, headers=FAST)] * 3)
    error = await fails(fake_server, max_retries=2)
    assert error.status == status
    assert f"HTTP {status}: fake server error {status}" in str(error)
    assert len(fake_server.chat_requests) == 3


async def test_retried_status_with_html_body_then_success(fake_server: FakeServer) -> None:
    fake_server.add(Raw("<html><h1>502 Bad Gateway</h1></html>", 502, HTML_FAST), Completion("5"))
    assert (await run_on_server(fake_server)).output == "5"
    assert len(fake_server.chat_requests) == 2


async def test_retried_status_with_html_body_spent_shows_the_body(fake_server: FakeServer) -> None:
    fake_server.add(*[Raw("<html>nginx: 502 Bad Gateway</html>", 502, HTML_FAST)] * 2)
    error = await fails(fake_server, max_retries=1)
    assert error.status == 502 and "nginx: 502 Bad Gateway" in str(error)
    assert len(fake_server.chat_requests) == 2


# -- 429 and its Retry-After forms --------------------------------------------------------------


async def test_429_retry_after_in_seconds_is_honoured(fake_server: FakeServer) -> None:
    # The SDK reads fractional seconds too; 0.3 s keeps the test short and still measurable.
    fake_server.add(Error(429, headers={"retry-after": "0.3"}), Completion("5"))
    start = time.perf_counter()
    assert (await run_on_server(fake_server)).output == "5"
    assert time.perf_counter() - start >= 0.25  # it waited as told (a lower bound only)
    assert len(fake_server.chat_requests) == 2


async def test_429_retry_after_ms_is_honoured(fake_server: FakeServer) -> None:
    fake_server.add(Error(429, headers={"retry-after-ms": "300"}), Completion("5"))
    start = time.perf_counter()
    assert (await run_on_server(fake_server)).output == "5"
    assert time.perf_counter() - start >= 0.25
    assert len(fake_server.chat_requests) == 2


async def test_429_retry_after_as_http_date_is_honoured(fake_server: FakeServer) -> None:
    # An HTTP date has whole seconds: one second ahead means a wait of at most one second.
    date = email.utils.formatdate(time.time() + 1, usegmt=True)
    fake_server.add(Error(429, headers={"retry-after": date}), Completion("5"))
    assert (await run_on_server(fake_server)).output == "5"
    assert len(fake_server.chat_requests) == 2


async def test_429_retry_after_beyond_the_sdk_cap_is_not_retried(fake_server: FakeServer) -> None:
    # The SDK honours up to 120 s; past that it does not retry at all (and does not sleep).
    fake_server.add(Error(429, headers={"retry-after": "3600"}), Completion("unused"))
    error = await fails(fake_server, max_retries=2)
    assert error.status == 429
    assert len(fake_server.chat_requests) == 1
    assert fake_server.pending == 1


@pytest.mark.parametrize(
    "value", ["-5", "soon", "", "NaN"], ids=["negative", "garbage", "empty", "nan"]
)
async def test_429_retry_after_unusable_falls_back_to_backoff(
    fake_server: FakeServer, value: str
) -> None:
    # An unusable header is ignored: the SDK's own backoff (about 0.5 s for one retry) applies.
    fake_server.add(Error(429, headers={"retry-after": value}), Completion("5"))
    assert (await run_on_server(fake_server, max_retries=1)).output == "5"
    assert len(fake_server.chat_requests) == 2


async def test_429_without_retries_is_a_model_error_at_once(fake_server: FakeServer) -> None:
    fake_server.add(Error(429, {"error": {"message": "Rate limit reached"}}, FAST))
    error = await fails(fake_server, max_retries=0)
    assert error.status == 429 and "Rate limit reached" in str(error)
    assert len(fake_server.chat_requests) == 1


# -- statuses that are not retried ----------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "hint"),
    [
        (400, ""),
        (401, "check the API key"),
        (403, "not allowed to use this model"),
        (404, "check the model id and the base URL"),
        (422, ""),
    ],
)
async def test_client_error_is_not_retried_and_names_endpoint_and_model(
    fake_server: FakeServer, status: int, hint: str
) -> None:
    body = {"error": {"message": f"request refused ({status})", "type": "invalid_request"}}
    fake_server.add(Error(status, body, FAST), Completion("unused"))
    error = await fails(fake_server)
    assert error.status == status
    assert f"HTTP {status}: request refused ({status})" in str(error)
    assert hint in str(error)
    assert len(fake_server.chat_requests) == 1


async def test_client_error_echoing_the_key_does_not_leak_it(fake_server: FakeServer) -> None:
    body = {"error": {"message": f"Incorrect API key provided: {KEY}", "code": "invalid_api_key"}}
    fake_server.add(Error(401, body))
    error = await fails(fake_server)  # checks KEY is not in the message
    assert "Incorrect API key provided: ***" in str(error)
    assert len(fake_server.chat_requests) == 1


# -- connections that fail ----------------------------------------------------------------------


def _refused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again: nothing listens there


async def test_connection_refused_is_retried_then_a_model_error() -> None:
    port = _refused_port()
    server = FakeServer()  # not started: only its URL shape is used
    server.port = port
    with pytest.raises(ModelError, match=r"cannot connect \(") as info:
        await run_on_server(server, max_retries=1)
    assert info.value.status is None
    assert info.value.endpoint == f"http://127.0.0.1:{port}/v1"
    assert KEY not in str(info.value)


async def test_dropped_connection_is_retried_then_success(fake_server: FakeServer) -> None:
    fake_server.add(Drop(), Completion("5"))
    assert (await run_on_server(fake_server, max_retries=1)).output == "5"
    assert len(fake_server.chat_requests) == 2


async def test_dropped_connections_until_retries_are_spent(fake_server: FakeServer) -> None:
    fake_server.add(Drop(), Drop())
    error = await fails(fake_server, max_retries=1)
    assert "cannot connect" in str(error) and error.status is None
    assert len(fake_server.chat_requests) == 2


@pytest.mark.slow
async def test_server_that_never_answers_times_out_per_read(fake_server: FakeServer) -> None:
    fake_server.add(Hang(), Hang())
    error = await fails(fake_server, max_retries=1, timeout=0.2)
    assert "no answer within 0.2 s" in str(error)
    assert len(fake_server.chat_requests) == 2  # a timeout is retried


async def test_server_that_never_answers_trips_the_deadline(fake_server: FakeServer) -> None:
    # A long read timeout, a short total deadline: agentkit's deadline ends the request.
    fake_server.add(Hang())
    error = await fails(fake_server, max_retries=2, timeout=60, deadline=0.3)
    assert "no complete reply within the 0.3 s deadline" in str(error)
    assert len(fake_server.chat_requests) == 1


async def test_headers_then_silence_in_a_stream_times_out(fake_server: FakeServer) -> None:
    fake_server.add(Hang(after_headers=True))
    error = await fails(fake_server, stream=True, max_retries=1, timeout=0.2)
    assert "the stream stalled: no data within 0.2 s" in str(error)
    assert len(fake_server.chat_requests) == 1  # a stream that began is not sent again


async def test_stream_that_stalls_after_its_first_chunk_times_out(
    fake_server: FakeServer,
) -> None:
    first = f"data: {json.dumps(chunk('The answer'))}\n\n"
    rest = f"data: {json.dumps(chunk(' is 5'))}\n\ndata: [DONE]\n\n"
    sse = {"content-type": "text/event-stream"}
    fake_server.add(Raw(first + rest, headers=sse, interval=2.0, piece=len(first)))
    error = await fails(fake_server, stream=True, timeout=0.2)
    assert "the stream stalled: no data within 0.2 s" in str(error)
    assert len(fake_server.chat_requests) == 1


async def test_headers_then_silence_trips_the_deadline(fake_server: FakeServer) -> None:
    fake_server.add(Hang(after_headers=True))
    error = await fails(fake_server, stream=True, timeout=60, deadline=0.3)
    assert "deadline" in str(error)
    assert len(fake_server.chat_requests) == 1


async def test_headers_then_close_without_a_body(fake_server: FakeServer) -> None:
    fake_server.add(Drop(after_headers=True))
    error = await fails(fake_server, max_retries=1)
    assert "not JSON" in str(error)
    assert len(fake_server.chat_requests) == 1


async def test_slow_drip_of_a_json_reply_trips_the_deadline(fake_server: FakeServer) -> None:
    # Every byte arrives well within the read timeout; only the total deadline can stop it.
    body = json.dumps({"choices": [{"message": {"role": "assistant", "content": "x" * 500}}]})
    fake_server.add(Raw(body, headers=JSON, interval=0.02, piece=4))
    error = await fails(fake_server, timeout=1.0, deadline=0.4)
    assert "no complete reply within the 0.4 s deadline" in str(error)
    assert len(fake_server.chat_requests) == 1


async def test_slow_drip_of_a_stream_trips_the_deadline(fake_server: FakeServer) -> None:
    fake_server.add(Chunks([chunk("x")] * 200, interval=0.02))
    error = await fails(fake_server, stream=True, timeout=1.0, deadline=0.4)
    assert "no complete reply within the 0.4 s deadline" in str(error)
    assert len(fake_server.chat_requests) == 1


async def test_connection_reset_mid_stream(fake_server: FakeServer) -> None:
    fake_server.add(Chunks([chunk("The answer"), chunk(" is")], reset=True))
    error = await fails(fake_server, stream=True)
    # httpx reports the reset; aiohttp ends the body early: either way, no partial answer.
    assert "the stream broke off" in str(error) or "ended without [DONE]" in str(error)
    assert len(fake_server.chat_requests) == 1


# -- a 200 that is not a usable reply ---------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Raw("<html><body>Welcome to nginx!</body></html>"), "body that is not JSON (text/html)"),
        (Raw('{"choices": [{"message": ', headers=JSON), "body that is not JSON"),
        (Raw('{"id": "x", "object": "chat.completion"}', headers=JSON), "the reply has no choices"),
        (Raw('{"error": {"message": "model overloaded"}}', headers=JSON), "model overloaded"),
        (Raw('{"choices": [{"message": {"content": 7}}]}', headers=JSON), "message is malformed"),
        (Raw("", headers=JSON), "body that is not JSON"),
    ],
    ids=["html", "invalid-json", "no-choices", "error-object", "bad-content", "empty-body"],
)
@pytest.mark.parametrize("stream", [False, True], ids=["run", "stream"])
async def test_unusable_200_reply_is_a_model_error(
    fake_server: FakeServer, reply: Raw, message: str, stream: bool
) -> None:
    fake_server.add(reply, Completion("unused"))
    error = await fails(fake_server, stream=stream)
    assert message in str(error)
    assert error.status is None
    assert len(fake_server.chat_requests) == 1  # garbage is not retried: it may cost money


# -- broken streams ---------------------------------------------------------------------------

BROKEN_STREAMS: list[Any] = [
    pytest.param(
        Chunks([chunk("The answer is")], done=False), "ended without [DONE]", id="no-done"
    ),
    pytest.param(
        Chunks([chunk("The answer"), "{not json"]),
        "malformed stream chunk (not JSON)",
        id="malformed-chunk",
    ),
    pytest.param(
        Chunks([chunk("a"), {"choices": {"0": "x"}}]), "malformed stream chunk", id="wrong-shape"
    ),
    pytest.param(
        Chunks([chunk("a"), {"error": {"message": "overloaded"}}]),
        "error in the stream: overloaded",
        id="error-object",
    ),
    pytest.param(
        Chunks([chunk("a"), {"message": "upstream died"}], event={1: "error"}),
        "error in the stream: upstream died",
        id="error-event",
    ),
    pytest.param(Chunks([], done=False), "ended without [DONE]", id="empty-no-done"),
]


@pytest.mark.parametrize(("reply", "message"), BROKEN_STREAMS)
async def test_broken_stream_is_a_model_error(
    fake_server: FakeServer, reply: Reply, message: str
) -> None:
    fake_server.add(reply, Completion("unused"))
    error = await fails(fake_server, stream=True)
    assert message in str(error)
    assert len(fake_server.chat_requests) == 1


async def test_text_already_streamed_before_a_break_is_not_an_answer(
    fake_server: FakeServer,
) -> None:
    fake_server.add(Chunks([chunk("The answer is 4")], done=False))
    seen: list[str] = []

    async def consume() -> None:
        with anyio.fail_after(BOUND):
            async with server_agent(fake_server) as agent:
                async for event in agent.stream("2+3?"):
                    if isinstance(event, TextDelta):
                        seen.append(event.text)
                    assert not isinstance(event, RunFinished)

    with pytest.raises(ModelError, match=re.escape("ended without [DONE]")):
        await consume()
    await assert_connections_closed(fake_server)
    assert "".join(seen) == "The answer is 4"  # shown as it came; the run still failed
    assert len(fake_server.chat_requests) == 1


# -- a reply cut off inside a tool call's arguments ---------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_length_cut_inside_tool_arguments_goes_back_to_the_model(
    fake_server: FakeServer, stream: bool
) -> None:
    cut = {"id": "call_cut", "name": "add", "arguments": '{"a": 2, "b'}
    fake_server.add(Completion(tool_calls=[cut], finish_reason="length"), Completion("5"))
    result = await run_on_server(fake_server, stream=stream)
    assert result.output == "5"
    tool_result = result.messages[-2]
    assert isinstance(tool_result, ToolMessage) and tool_result.tool_call_id == "call_cut"
    assert "cut off (finish_reason=length)" in tool_result.content
    assert len(fake_server.chat_requests) == 2
    # The broken call goes back as `{}` so the server can render the prompt again.
    sent = fake_server.chat_requests[1].messages[-2]["tool_calls"][0]["function"]["arguments"]
    assert sent == "{}"


# -- a stream request answered with one JSON body -----------------------------------------------


async def test_stream_request_answered_with_a_whole_json_reply(fake_server: FakeServer) -> None:
    # Some servers ignore `stream: true`: the whole reply is still the reply.
    message = {"role": "assistant", "content": "5"}
    body = json.dumps({"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]})
    fake_server.add(Raw(body, headers=JSON))
    result = await run_on_server(fake_server, stream=True)
    assert result.output == "5"
    assert len(fake_server.chat_requests) == 1


async def test_stream_request_answered_with_a_json_error_object(fake_server: FakeServer) -> None:
    fake_server.add(Raw('{"error": {"message": "model is loading"}}', headers=JSON))
    error = await fails(fake_server, stream=True)
    assert "the reply is an error: model is loading" in str(error)
    assert len(fake_server.chat_requests) == 1
