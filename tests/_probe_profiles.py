"""How real servers answer the probe's requests, as `FakeServer` handlers (one per profile).

Each profile is what its kind of server does with tool calls, as seen on the wire
(llama31-tool-calls.md, real-llama-server.md): a handler for the chat and completions
requests, and the extra routes it serves.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agentkit.testing import Completion, Error, FakeRequest, FakeServer, Raw, Reply, TextCompletion

CALL = {"name": "calculate", "arguments": {"expression": "17*23"}, "id": "call_1"}
SECOND = {"name": "calculate", "arguments": {"expression": "2+2"}, "id": "call_2"}
CALL_TEXT = '{"name": "calculate", "parameters": {"expression": "17*23"}}'
TEMPLATE_ERROR = (
    "Unable to generate parser for this template. Automatic parser generation failed: \n"
    "------------\nWhile executing CallExpression at line 71, column 32 in source:\n"
    + "... template source ...\n" * 20
    + "Error: Jinja Exception: This model only supports single tool-calls at once!"
)
UNPARSED = "The model produced output that does not match the expected peg-native format"


def error(status: int, message: str) -> Error:
    return Error(status, {"error": {"code": status, "message": message, "type": "x"}})


def _json(data: Any) -> Raw:
    return Raw(json.dumps(data), headers={"content-type": "application/json"})


def asks_twice(request: FakeRequest) -> bool:
    users = [m for m in request.messages if m.get("role") == "user"]
    return bool(users) and "twice" in str(users[-1].get("content"))


def calls_in_history(request: FakeRequest) -> int:
    return max((len(m.get("tool_calls") or ()) for m in request.messages), default=0)


def wants_json(request: FakeRequest) -> bool:
    return isinstance(request.body, dict) and "response_format" in request.body


@dataclass
class Profile:
    """A kind of server: its chat/completions handler and its other routes."""

    name: str
    handler: Callable[[FakeRequest], Reply]
    routes: dict[str, Callable[[FakeRequest], Reply]] = field(default_factory=dict)
    models: tuple[str, ...] = ("m",)

    def server(self) -> FakeServer:
        return FakeServer(handler=self.handler, routes=self.routes, models=self.models)


def _llama_cpp(request: FakeRequest) -> Reply:
    body = request.body
    if request.path.endswith("/completions") and "chat" not in request.path:
        return TextCompletion("Hi")
    if calls_in_history(request) > 1:
        return error(400, TEMPLATE_ERROR)
    if asks_twice(request):
        return error(500, UNPARSED)
    if wants_json(request):
        return Completion('{"answer": "ok"}')
    if body.get("tool_choice") == "none":
        return Completion(CALL_TEXT)
    return Completion(tool_calls=[CALL], chunk_size=4)


def _tokenize(request: FakeRequest) -> Reply:
    tokens = [9906] if not request.body.get("add_special") else [128000, 9906]
    return _json({"tokens": tokens})


def _vllm(request: FakeRequest) -> Reply:
    body = request.body
    if not request.path.startswith("/v1/chat"):
        return TextCompletion("Hi")
    if body.get("tool_choice") == "required":
        return error(400, '"required" tool_choice is not supported by this vLLM version')
    if wants_json(request):
        return Completion('{"answer": "ok"}')
    calls = [CALL, SECOND] if asks_twice(request) else [CALL]
    if body.get("tool_choice") == "none":
        return Completion("I will work it out: 391.")
    return Completion(tool_calls=calls, chunk_size=6)


def _ollama(request: FakeRequest) -> Reply:
    if not request.path.startswith("/v1/chat"):
        return TextCompletion("Hi")
    if wants_json(request):
        return Completion("Sure! The answer is ok.")  # response_format ignored
    # Ollama sends each call whole in one delta, ignores tool_choice and stream_options.
    return Completion(tool_calls=[CALL], chunk_size=10_000, usage={})


def _groq(request: FakeRequest) -> Reply:
    body = request.body
    if not request.path.startswith("/v1/chat"):
        return error(404, "Unknown request URL: POST /openai/v1/completions")
    if wants_json(request):
        return error(400, "response_format `json_schema` is not supported with this model")
    calls = [CALL, SECOND] if asks_twice(request) else [CALL]
    if body.get("tool_choice") == "none":
        return Completion("391")
    return Completion(tool_calls=calls, chunk_size=10_000)


def _text_calls(request: FakeRequest) -> Reply:
    """A server without a tool-call parser: Llama's calls stay in content."""
    body = request.body
    if not request.path.startswith("/v1/chat"):
        return TextCompletion("Hi")
    if body.get("tool_choice") not in (None, "auto", "none"):
        return error(400, f"tool_choice {body['tool_choice']!r} needs --enable-auto-tool-choice")
    if isinstance(body, dict) and body.get("stream_options"):
        return error(400, "Unrecognized request argument supplied: stream_options")
    if body.get("parallel_tool_calls") is not None:
        return error(400, "Unrecognized request argument supplied: parallel_tool_calls")
    return Completion("<|python_tag|>" + CALL_TEXT)


PROFILES = {
    "llama.cpp-like": Profile("llama.cpp-like", _llama_cpp, {"POST /tokenize": _tokenize}),
    "vllm-like": Profile("vllm-like", _vllm),
    "ollama-like": Profile("ollama-like", _ollama, models=("llama3.1",)),
    "groq-like": Profile("groq-like", _groq),
    "text-calls": Profile("text-calls", _text_calls),
}
