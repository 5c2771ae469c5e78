"""A fake OpenAI-compatible server on 127.0.0.1: real HTTP, scripted replies, injected faults.

It serves `GET /v1/models` and `POST /v1/chat/completions` (JSON or SSE, following the
request's `stream`), from its own thread and event loop, so sync and async code can use it.
Each chat request takes the next scripted reply, else asks the handler, else gets a 500; a
handler that raises gets a 500 naming its exception, and the server serves on. Other paths
get a 404, as from a real server, unless `routes` gives them a handler.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

import anyio
import anyio.abc
import anyio.from_thread
from anyio.streams.buffered import BufferedByteReceiveStream

from agentkit.testing._fake_replies import (
    Chunks,
    Completion,
    Error,
    FakeRequest,
    Hang,
    Raw,
    Reply,
    TextCompletion,
    completion_chunks,
    completion_json,
    error_body,
    text_completion_chunks,
    text_completion_json,
)

__all__ = ["FakeServer", "Handler"]


Handler = Callable[[FakeRequest], Reply]
_REPLY_TYPES = typing.get_args(Reply)
MODELS_PATH = "/v1/models"
CHAT_PATH = "/v1/chat/completions"
COMPLETIONS_PATH = "/v1/completions"


class FakeServer(AbstractContextManager["FakeServer"]):
    """An OpenAI-compatible server on 127.0.0.1 with scripted replies and fault injection.

    ```python
    with FakeServer([Completion(tool_calls=[ToolCall("add", {"a": 1})]), Completion("2")]) as s:
        agent = Agent("test-model", base_url=s.url, api_key="test", tools=[add])
    ```

    Args:
        replies: Replies for the chat requests (and `TextCompletion`s for the text
            completions of `POST /v1/completions`), in the order requests come.
        handler: Called for chat requests once the scripted replies are used up.
        latency: Seconds added before every chat reply.
        models: Model ids listed by `/v1/models`.
        routes: Handlers for other paths, by "METHOD /path" (e.g. "POST /tokenize", which
            llama.cpp serves beside /v1): each returns the reply to a request there.
    """

    def __init__(
        self,
        replies: Iterable[Reply] = (),
        *,
        handler: Handler | None = None,
        latency: float = 0.0,
        models: Sequence[str] = ("meta-llama/llama-3.1-70b-instruct",),
        routes: Mapping[str, Handler] | None = None,
    ) -> None:
        self._replies = list(replies)
        self.routes = dict(routes or {})
        self.handler = handler
        self.latency = latency
        self.models = list(models)
        self.requests: list[FakeRequest] = []
        self._lock = threading.Lock()
        self._portal_cm: Any = None
        self._portal: anyio.from_thread.BlockingPortal | None = None
        self._scope: anyio.CancelScope | None = None
        self._open = 0
        self.port = 0

    @property
    def url(self) -> str:
        """The base URL to give a client: `http://127.0.0.1:PORT/v1`."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def open_connections(self) -> int:
        """Connections currently open to the server."""
        return self._open

    @property
    def chat_requests(self) -> list[FakeRequest]:
        """The chat-completion requests received, in order."""
        with self._lock:
            return [r for r in self.requests if r.path.split("?", 1)[0] == CHAT_PATH]

    @property
    def completion_requests(self) -> list[FakeRequest]:
        """The text-completion requests received (`POST /v1/completions`), in order."""
        with self._lock:
            return [r for r in self.requests if r.path.split("?", 1)[0] == COMPLETIONS_PATH]

    def add(self, *replies: Reply) -> None:
        """Script more replies."""
        with self._lock:
            self._replies.extend(replies)

    @property
    def pending(self) -> int:
        """Scripted replies not used yet."""
        with self._lock:
            return len(self._replies)

    def start(self) -> FakeServer:
        """Start serving in a background thread; returns once the port is bound."""
        if self._portal is not None:
            return self
        self._portal_cm = anyio.from_thread.start_blocking_portal()
        self._portal = self._portal_cm.__enter__()
        ready: list[int] = []
        started = threading.Event()
        self._portal.start_task_soon(self._serve, ready, started)
        if not started.wait(10) or not ready:
            raise RuntimeError("the fake server did not start")
        self.port = ready[0]
        return self

    def stop(self) -> None:
        """Stop serving and close every connection."""
        if self._portal is None:
            return
        if self._scope is not None:
            self._portal.call(self._scope.cancel)
        self._portal_cm.__exit__(None, None, None)
        self._portal = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def _serve(self, ready: list[int], started: threading.Event) -> None:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        ready.append(listener.extra(anyio.abc.SocketAttribute.local_port))
        with anyio.CancelScope() as self._scope:
            started.set()
            async with listener:
                await listener.serve(self._connection)

    async def _connection(self, stream: anyio.abc.SocketStream) -> None:
        self._open += 1
        reader = BufferedByteReceiveStream(stream)
        try:
            async with stream:
                while await self._one_request(stream, reader):
                    pass
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass
        except anyio.IncompleteRead:
            pass
        finally:
            self._open -= 1

    async def _one_request(
        self, stream: anyio.abc.SocketStream, reader: BufferedByteReceiveStream
    ) -> bool:
        head = await reader.receive_until(b"\r\n\r\n", 65536)
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = [*lines[0].split(" "), "", ""][:3]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        raw = await reader.receive_exactly(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        request = FakeRequest(method, path, headers, body)
        with self._lock:
            self.requests.append(request)
        keep_alive = headers.get("connection", "").lower() != "close"
        return await self._route(stream, request) and keep_alive

    async def _route(self, stream: anyio.abc.SocketStream, request: FakeRequest) -> bool:
        path = request.path.split("?", 1)[0]
        if request.method == "GET" and path == MODELS_PATH:
            data = [{"id": m, "object": "model", "owned_by": "fake"} for m in self.models]
            await _send(stream, 200, {"object": "list", "data": data})
            return True
        if request.method == "POST" and path in (CHAT_PATH, COMPLETIONS_PATH):
            reply = self._next_reply(request)
            if (path == COMPLETIONS_PATH) != isinstance(reply, TextCompletion) and isinstance(
                reply, (Completion, TextCompletion)
            ):
                wanted = "TextCompletion" if path == COMPLETIONS_PATH else "Completion"
                reply = _mistake(f"POST {path} needs a {wanted}, the script gave {reply!r:.80}")
            if self.latency:
                await anyio.sleep(self.latency)
            return await _answer(stream, request, reply)
        route = self.routes.get(f"{request.method} {path}")
        if route is not None:
            try:
                answer: Reply = route(request)
            except Exception as exc:  # the test's own code: reported, and serving goes on
                answer = _mistake(f"the handler of {path} raised {type(exc).__name__}: {exc}")
            return await _answer(stream, request, answer)
        # As a real server would: a base URL without /v1 must fail here too.
        message = (
            f"no route {request.method} {path}: the fake server serves GET {MODELS_PATH}, "
            f"POST {CHAT_PATH} and POST {COMPLETIONS_PATH} (use FakeServer.url, which ends "
            "in /v1, as the base URL)"
        )
        await _send(stream, 404, {"error": {"message": message}})
        return True

    def _next_reply(self, request: FakeRequest) -> Reply:
        with self._lock:
            if self._replies:
                return self._replies.pop(0)
        completions = request.path.split("?", 1)[0] == COMPLETIONS_PATH
        number = len(self.completion_requests if completions else self.chat_requests)
        kind = "text-completion" if completions else "chat"
        if self.handler is None:
            return _mistake(
                f"no reply scripted for {kind} request #{number} "
                "(add more with FakeServer.add, or give a handler)"
            )
        # The handler is the test's own code: its failure is reported to the client, and the
        # server goes on serving.
        try:
            reply: object = self.handler(request)
        except Exception as exc:
            return _mistake(f"the handler raised {type(exc).__name__}: {exc} (request #{number})")
        if not isinstance(reply, _REPLY_TYPES):
            return _mistake(
                f"the handler returned {reply!r:.80} for request #{number}; return a Completion, "
                "TextCompletion, Chunks, Error, Raw, Drop or Hang"
            )
        return typing.cast(Reply, reply)


def _mistake(what: str) -> Error:
    """A 500 for a test's own mistake; not retried by the SDK, since it is no fault to ride out."""
    body = {"error": {"message": f"fake server: {what}", "type": "fake_server"}}
    return Error(500, body, {"x-should-retry": "false"})


_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}


def _head(status: int, headers: Mapping[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _send(
    stream: anyio.abc.SocketStream,
    status: int,
    body: Any,
    headers: Mapping[str, str] | None = None,
) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    all_headers = {"content-type": "application/json", **(headers or {})}
    all_headers["content-length"] = str(len(data))
    await stream.send(_head(status, all_headers) + data)


async def _complete(
    stream: anyio.abc.SocketStream, request: FakeRequest, reply: Completion | TextCompletion
) -> None:
    """A chat or text completion, whole or streamed as the request asks."""
    if reply.delay:
        await anyio.sleep(reply.delay)
    if request.stream:
        events = (
            completion_chunks(reply, request)
            if isinstance(reply, Completion)
            else text_completion_chunks(reply, request)
        )
        await _send_sse(stream, events, True, 0.0)
        return
    body = (
        completion_json(reply, request)
        if isinstance(reply, Completion)
        else text_completion_json(reply, request)
    )
    await _send(stream, 200, body)


async def _answer(stream: anyio.abc.SocketStream, request: FakeRequest, reply: Reply) -> bool:
    """Send the reply; False when the connection must not be reused."""
    if isinstance(reply, (Completion, TextCompletion)):
        await _complete(stream, request, reply)
        return True
    if isinstance(reply, Chunks):
        return await _send_chunks(stream, reply)
    if isinstance(reply, Error):
        body = reply.body if reply.body is not None else error_body(reply.status)
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        await _send(stream, reply.status, data, reply.headers)
        return True
    if isinstance(reply, Raw):
        return await _send_raw(stream, reply)
    if reply.after_headers:
        await stream.send(_head(200, {"content-type": "text/event-stream"}))
    if isinstance(reply, Hang):
        while True:  # until the client gives up and closes the connection
            await stream.receive()
    return False


async def _send_raw(stream: anyio.abc.SocketStream, reply: Raw) -> bool:
    data = reply.body.encode() if isinstance(reply.body, str) else reply.body
    headers = {**reply.headers, "content-length": str(len(data))}
    if not reply.interval:
        await stream.send(_head(reply.status, headers) + data)
        return True
    await stream.send(_head(reply.status, headers))
    pieces = [data[i : i + reply.piece] for i in range(0, len(data), reply.piece)]
    await _drip(stream, pieces, reply.interval)
    return True


async def _drip(stream: anyio.abc.SocketStream, pieces: list[bytes], interval: float) -> None:
    """Send the pieces `interval` apart; stop as soon as the client closes the connection.

    A client that gave up must not find the connection held open for the rest of the drip.
    The client sends nothing while it waits for this response, so reading here loses nothing.
    """

    async def until_closed() -> None:
        with contextlib.suppress(
            anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError
        ):
            await stream.receive()
        tg.cancel_scope.cancel()

    async with anyio.create_task_group() as tg:
        tg.start_soon(until_closed)
        for piece in pieces:
            await stream.send(piece)
            await anyio.sleep(interval)
        tg.cancel_scope.cancel()


async def _send_chunks(stream: anyio.abc.SocketStream, reply: Chunks) -> bool:
    events = []
    for i, chunk in enumerate(reply.chunks):
        payload = chunk if isinstance(chunk, str) else json.dumps(chunk)
        prefix = f"event: {reply.event[i]}\n" if i in reply.event else ""
        events.append(f"{prefix}data: {payload}\n\n")
    if reply.reset:
        await stream.send(_head(200, {"content-type": "text/event-stream"}))
        for event in events:
            await stream.send(event.encode())
        _reset(stream)
        return False
    await _send_sse(stream, events, reply.done, reply.interval)
    return True


def _reset(stream: anyio.abc.SocketStream) -> None:
    """Abort the connection with a TCP reset, as a crashed server would."""
    sock = stream.extra(anyio.abc.SocketAttribute.raw_socket)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()


async def _send_sse(
    stream: anyio.abc.SocketStream, events: list[str], done: bool, interval: float
) -> None:
    await stream.send(
        _head(200, {"content-type": "text/event-stream", "transfer-encoding": "chunked"})
    )
    if done:
        events = [*events, "data: [DONE]\n\n"]
    if not interval:
        await stream.send(b"".join(_http_chunk(e) for e in events) + b"0\r\n\r\n")
        return
    await _drip(stream, [_http_chunk(event) for event in events], interval)
    await stream.send(b"0\r\n\r\n")


def _http_chunk(text: str) -> bytes:
    data = text.encode()
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"
