"""What the fake server can answer: scripted replies and faults, rendered as JSON or SSE."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

from agentkit.messages import ToolCall, new_call_id

__all__ = [
    "Chunks",
    "Completion",
    "Drop",
    "Error",
    "FakeRequest",
    "Hang",
    "Raw",
    "Reply",
    "TextCompletion",
    "completion_chunks",
    "completion_json",
    "error_body",
    "text_completion_json",
]


@dataclass(frozen=True)
class Completion:
    """A well-formed completion: JSON, or SSE chunks when the request streams.

    Attributes:
        content: The text.
        tool_calls: `ToolCall`s, or dicts `{"name", "arguments", "id"?}`.
        usage: The usage object; by default token counts derived from the sizes.
        finish_reason: Defaults to "tool_calls" with calls, else "stop".
        delay: Seconds to wait before answering.
        chunk_size: Characters per streamed text or arguments fragment.
    """

    content: str | None = None
    tool_calls: Sequence[ToolCall | Mapping[str, Any]] = ()
    usage: Mapping[str, Any] | None = None
    finish_reason: str | None = None
    delay: float = 0.0
    chunk_size: int = 8


@dataclass(frozen=True)
class Chunks:
    """Exactly these SSE `data:` payloads: dicts are sent as JSON, strings as they are.

    Attributes:
        chunks: The payloads, in order.
        done: Send `data: [DONE]` at the end.
        interval: Seconds between chunks (a slow drip).
        reset: End by resetting the connection instead of finishing the response.
        event: Lines `event: NAME` before each chunk, keyed by chunk position.
    """

    chunks: Sequence[Mapping[str, Any] | str]
    done: bool = True
    interval: float = 0.0
    reset: bool = False
    event: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Error:
    """An HTTP error status with a JSON body (an OpenAI-style error by default)."""

    status: int
    body: Mapping[str, Any] | str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Raw:
    """Any status and body, sent as is; with `interval`, dripped `piece` bytes at a time."""

    body: bytes | str
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=lambda: {"content-type": "text/html"})
    interval: float = 0.0
    piece: int = 1


@dataclass(frozen=True)
class Drop:
    """Close the connection without an answer (after the headers, when asked)."""

    after_headers: bool = False


@dataclass(frozen=True)
class Hang:
    """Keep the connection open and never answer (after the headers, when asked)."""

    after_headers: bool = False


@dataclass(frozen=True)
class TextCompletion:
    """An answer to `POST /v1/completions` (a raw prompt in, text out: Llama Guard's way),
    streamed in 8-character pieces when the request asks for a stream.

    Attributes:
        text: The completion's text.
        finish_reason: "stop", or "length" for a cut-off answer.
        usage: The usage object; by default token counts derived from the sizes.
        delay: Seconds to wait before answering.
    """

    text: str
    finish_reason: str = "stop"
    usage: Mapping[str, Any] | None = None
    delay: float = 0.0


Reply = Union[Completion, TextCompletion, Chunks, Error, Raw, Drop, Hang]  # noqa: UP007


@dataclass(frozen=True)
class FakeRequest:
    """A request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The chat messages sent."""
        return list(self.body.get("messages", [])) if isinstance(self.body, dict) else []

    @property
    def stream(self) -> bool:
        """Whether the request asked for a stream."""
        return isinstance(self.body, dict) and bool(self.body.get("stream"))


def error_body(status: int) -> dict[str, Any]:
    return {"error": {"message": f"fake server error {status}", "type": "fake", "code": status}}


def call_parts(call: ToolCall | Mapping[str, Any]) -> tuple[str, str, str]:
    if isinstance(call, ToolCall):
        return call.id, call.name, call.raw_arguments
    arguments = call.get("arguments", {})
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return str(call.get("id") or new_call_id()), str(call["name"]), text


def _usage(reply: Completion, request: FakeRequest) -> dict[str, Any]:
    if reply.usage is not None:
        return dict(reply.usage)
    prompt = max(1, len(json.dumps(request.body)) // 4)
    produced = len(reply.content or "") + sum(len(call_parts(c)[2]) for c in reply.tool_calls)
    completion = max(1, produced // 4)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _finish(reply: Completion) -> str:
    return reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")


def _model(request: FakeRequest) -> str:
    return str(request.body.get("model", "fake")) if isinstance(request.body, dict) else "fake"


def completion_json(reply: Completion, request: FakeRequest) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": i, "type": "function", "function": {"name": n, "arguments": a}}
            for i, n, a in map(call_parts, reply.tool_calls)
        ]
    return {
        "id": "chatcmpl-" + new_call_id()[5:],
        "object": "chat.completion",
        "created": int(time.time()),
        "model": _model(request),
        "choices": [{"index": 0, "message": message, "finish_reason": _finish(reply)}],
        "usage": _usage(reply, request),
    }


def _pieces(text: str, size: int) -> list[str]:
    size = max(1, size)
    return [text[i : i + size] for i in range(0, len(text), size)]


def completion_chunks(reply: Completion, request: FakeRequest) -> list[str]:
    base = {
        "id": "chatcmpl-" + new_call_id()[5:],
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": _model(request),
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return f"data: {json.dumps({**base, 'choices': [choice]})}\n\n"

    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": p}) for p in _pieces(reply.content or "", reply.chunk_size)]
    for index, (call_id, name, arguments) in enumerate(map(call_parts, reply.tool_calls)):
        function = {"name": name, "arguments": ""}
        events.append(
            chunk(
                {
                    "tool_calls": [
                        {"index": index, "id": call_id, "type": "function", "function": function}
                    ]
                }
            )
        )
        for piece in _pieces(arguments, reply.chunk_size):
            events.append(
                chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
            )
    events.append(chunk({}, _finish(reply)))
    options = request.body.get("stream_options") if isinstance(request.body, dict) else None
    if isinstance(options, dict) and options.get("include_usage"):
        usage = {**base, "choices": [], "usage": _usage(reply, request)}
        events.append(f"data: {json.dumps(usage)}\n\n")
    return events


def text_completion_json(reply: TextCompletion, request: FakeRequest) -> dict[str, Any]:
    if reply.usage is not None:
        usage = dict(reply.usage)
    else:
        prompt = max(1, len(str(request.body.get("prompt", ""))) // 4)
        completion = max(1, len(reply.text) // 4)
        usage = {"prompt_tokens": prompt, "completion_tokens": completion}
        usage["total_tokens"] = prompt + completion
    choice = {"index": 0, "text": reply.text, "finish_reason": reply.finish_reason}
    return {
        "id": "cmpl-" + new_call_id()[5:],
        "object": "text_completion",
        "created": int(time.time()),
        "model": _model(request),
        "choices": [choice],
        "usage": usage,
    }


def text_completion_chunks(reply: TextCompletion, request: FakeRequest) -> list[str]:
    """The SSE events of a streamed `TextCompletion`: its text in pieces, then the finish
    reason, then the usage (each in a chunk of its own, as llama.cpp and vLLM send them)."""
    whole = text_completion_json(reply, request)
    base = {key: whole[key] for key in ("id", "object", "created", "model")}

    def event(text: str, finish: str | None = None, **extra: Any) -> str:
        choice = {"index": 0, "text": text, "finish_reason": finish}
        return f"data: {json.dumps({**base, 'choices': [choice], **extra})}\n\n"

    events = [event(piece) for piece in _pieces(reply.text, 8)]
    events.append(event("", reply.finish_reason, usage=whole["usage"]))
    return events
