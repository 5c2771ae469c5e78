"""The token estimator, its recalibration, and the servers' tokenize endpoints.

agentkit.testing.FakeServer serves only /v1/models and /v1/chat/completions (a 404 for
/tokenize, as a server without the endpoint would answer), so the tokenize endpoints are
served here by a small loopback stub of the two shapes, vLLM's and llama.cpp's.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from agentkit.messages import AssistantMessage, Message, ToolCall, ToolMessage, UserMessage
from agentkit.sessions import LLAMA31, TokenEstimator, server_root, server_token_counter
from agentkit.testing import FakeServer

pytestmark = pytest.mark.anyio

TOOLS = [{"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}]


def test_each_message_pays_the_template_overhead() -> None:
    e = TokenEstimator()
    assert e.message_tokens(UserMessage("")) == LLAMA31.per_message
    assert e.estimate([]) == LLAMA31.per_request
    assert e.estimate([UserMessage("")] * 10) == LLAMA31.per_request + 10 * LLAMA31.per_message


def test_json_costs_more_tokens_per_character_than_prose() -> None:
    e = TokenEstimator()
    prose, data = "word " * 200, json.dumps({"k": list(range(200))})[: len("word " * 200)]
    assert e.text_tokens(data) > e.text_tokens(prose)


def test_tool_calls_and_tool_definitions_are_counted() -> None:
    e = TokenEstimator()
    bare = e.message_tokens(AssistantMessage(None))
    call = AssistantMessage(None, (ToolCall("add", {"a": 1, "b": 2}, id="c"),))
    assert e.message_tokens(call) > bare + LLAMA31.per_call
    assert e.estimate([], TOOLS) > e.estimate([]) + LLAMA31.with_tools
    assert e.tools_tokens(TOOLS) == e.tools_tokens(TOOLS)  # computed once, then cached


def test_reported_usage_recalibrates_the_estimate() -> None:
    e = TokenEstimator()
    messages: list[Message] = [UserMessage("hello there " * 50), AssistantMessage("fine " * 40)]
    truth = int(e.estimate(messages) * 1.37)
    e.observe(messages, [], truth)
    assert e.estimate(messages) == pytest.approx(truth, abs=1)
    more: list[Message] = [*messages, UserMessage("and more " * 30)]
    e.observe(more, [], int(TokenEstimator().estimate(more) * 1.37))
    assert e.scale == pytest.approx(1.37, rel=0.01)


@pytest.mark.parametrize("reported", [0, -5])
def test_reports_without_usage_are_ignored(reported: int) -> None:
    e = TokenEstimator()
    e.observe([UserMessage("x")], [], reported)
    assert (e.scale, e.observations) == (1.0, 0)


def test_the_scale_stays_within_bounds() -> None:
    e = TokenEstimator()
    e.observe([UserMessage("x")], [], 10**9)
    assert e.scale == 3.0


@pytest.mark.parametrize(
    ("url", "root"),
    [
        ("http://h:8000/v1", "http://h:8000"),
        ("http://h:8000/v1/", "http://h:8000"),
        ("http://h:8080", "http://h:8080"),
    ],
)
def test_the_tokenize_endpoints_are_at_the_servers_root(url: str, root: str) -> None:
    assert server_root(url) == root


class _Stub(BaseHTTPRequestHandler):
    """vLLM's /tokenize, or llama.cpp's /apply-template and /tokenize."""

    kind = "vllm"
    seen: ClassVar[list[tuple[str, Any, str | None]]] = []
    status = 200

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        self.seen.append((self.path, body, self.headers.get("authorization")))
        if self.status != 200:
            self._send(self.status, {"error": "no"})
        elif self.kind == "vllm" and self.path == "/tokenize":
            count = 7 * len(body["messages"]) + 3 * len(body.get("tools", []))
            self._send(200, {"count": count, "max_model_len": 8192, "tokens": [1] * count})
        elif self.kind == "llama.cpp" and self.path == "/apply-template":
            self._send(200, {"prompt": "|".join(m["content"] or "" for m in body["messages"])})
        elif self.kind == "llama.cpp" and self.path == "/tokenize":
            self._send(200, {"tokens": list(range(len(body["content"].split("|"))))})
        else:
            self._send(404, {"error": "not found"})

    def _send(self, status: int, data: object) -> None:
        raw = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[tuple[str, type[_Stub]]]:
    handler = type("Handler", (_Stub,), {"seen": [], "kind": "vllm", "status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


MESSAGES: list[Message] = [
    UserMessage("a"),
    AssistantMessage(None, (ToolCall("add", {}, id="c"),)),
    ToolMessage("c", "3", "add"),
]


async def test_vllm_counts_the_chat_with_its_template(stub: tuple[str, type[_Stub]]) -> None:
    url, handler = stub
    count = server_token_counter(url, "vllm", model="llama", api_key="k")
    assert await count(MESSAGES, TOOLS) == 7 * 3 + 3
    ((path, body, auth),) = handler.seen
    assert (path, body["model"], body["add_generation_prompt"], auth) == (
        "/tokenize",
        "llama",
        True,
        "Bearer k",
    )
    assert body["messages"][1]["tool_calls"][0]["id"] == "c" and body["tools"] == TOOLS


async def test_llama_cpp_renders_the_template_then_counts(stub: tuple[str, type[_Stub]]) -> None:
    url, handler = stub
    handler.kind = "llama.cpp"
    assert await server_token_counter(url, "llama.cpp")(MESSAGES, []) == 3
    assert [p for p, _, _ in handler.seen] == ["/apply-template", "/tokenize"]
    assert handler.seen[1][1]["parse_special"] is True


async def test_a_server_without_the_endpoint_is_asked_once(stub: tuple[str, type[_Stub]]) -> None:
    url, handler = stub
    handler.kind = "none"
    count = server_token_counter(url, "vllm")
    assert await count(MESSAGES, []) is None
    assert await count(MESSAGES, []) is None
    assert len(handler.seen) == 1


async def test_a_failing_server_gives_no_count_and_is_asked_again(
    stub: tuple[str, type[_Stub]],
) -> None:
    url, handler = stub
    handler.status = 500
    count = server_token_counter(url, "vllm")
    assert await count(MESSAGES, []) is None
    handler.status = 200
    assert await count(MESSAGES, []) == 21


async def test_an_unreachable_server_gives_no_count() -> None:
    assert (
        await server_token_counter("http://127.0.0.1:9/v1", "vllm", timeout=2)(MESSAGES, []) is None
    )


async def test_the_fake_server_has_no_tokenize_endpoint(fake_server: FakeServer) -> None:
    assert await server_token_counter(fake_server.url, "vllm")(MESSAGES, []) is None
    assert [r.path for r in fake_server.requests] == ["/tokenize"]
