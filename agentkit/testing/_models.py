"""Test models: `ScriptedModel` replays scripted replies, `FunctionModel` asks a function."""

from __future__ import annotations

import inspect
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Union

from agentkit.messages import AssistantMessage, Message, ToolCall, Usage
from agentkit.models import Model, ModelResponse, ModelSettings

__all__ = ["FunctionModel", "ModelRequest", "ScriptedModel", "ScriptedReply", "call"]

ScriptedReply = Union[  # noqa: UP007
    str, ToolCall, Sequence[ToolCall], AssistantMessage, ModelResponse, BaseException
]


def call(name: str, /, **arguments: Any) -> ToolCall:
    """A tool call for a script: `call("get_weather", city="Paris")`."""
    return ToolCall(name=name, arguments=arguments)


@dataclass(frozen=True)
class ModelRequest:
    """What the loop sent to a test model: the messages, tool definitions and settings."""

    messages: list[Message]
    tools: list[dict[str, Any]]
    settings: ModelSettings

    @property
    def tool_names(self) -> list[str]:
        """The names of the tools offered."""
        return [t["function"]["name"] for t in self.tools]


def _to_response(reply: ScriptedReply) -> ModelResponse:
    if isinstance(reply, BaseException):
        raise reply
    if isinstance(reply, ModelResponse):
        return reply
    if isinstance(reply, AssistantMessage):
        message = reply
    elif isinstance(reply, str):
        message = AssistantMessage(reply)
    elif isinstance(reply, ToolCall):
        message = AssistantMessage(None, (reply,))
    elif isinstance(reply, Sequence) and all(isinstance(c, ToolCall) for c in reply):
        message = AssistantMessage(None, tuple(c for c in reply if isinstance(c, ToolCall)))
    else:
        raise TypeError(
            f"cannot use {reply!r} as a model reply: give a str, ToolCall, list of ToolCalls, "
            "AssistantMessage, ModelResponse or an exception"
        )
    return ModelResponse(message, Usage(requests=1))


_PIECE = re.compile(r"\S+\s*|\s+")


class _WordStreamModel(Model):
    """Streams a test model's reply word by word, as a server would in pieces."""

    async def request_stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[Mapping[str, Any]],
        settings: ModelSettings,
    ) -> AsyncIterator[str | ModelResponse]:
        response = await self.request(messages, tools, settings)
        for piece in _PIECE.findall(response.message.content or ""):
            yield piece
        yield response


class ScriptedModel(_WordStreamModel):
    """A model that gives the scripted replies in order and records what it was sent.

    Use it as a context manager (or call `assert_done()`) so the test fails when the run
    used fewer replies than scripted.
    """

    def __init__(self, replies: Iterable[ScriptedReply], *, name: str = "scripted") -> None:
        self._replies = list(replies)
        self._given = len(self._replies)
        self.name = name
        self.requests: list[ModelRequest] = []

    @property
    def remaining(self) -> int:
        """Replies not used yet."""
        return len(self._replies)

    def assert_done(self) -> None:
        """Fail when scripted replies are left over."""
        if self._replies:
            raise AssertionError(
                f"ScriptedModel: {len(self._replies)} of {self._given} scripted replies were "
                f"not used; next unused: {self._replies[0]!r:.200}"
            )

    def __enter__(self) -> ScriptedModel:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.assert_done()

    async def request(
        self,
        messages: Sequence[Message],
        tools: Sequence[Mapping[str, Any]],
        settings: ModelSettings,
    ) -> ModelResponse:
        self.requests.append(ModelRequest(list(messages), [dict(t) for t in tools], settings))
        if not self._replies:
            raise AssertionError(
                f"ScriptedModel: the run asked for reply #{len(self.requests)} but only "
                f"{self._given} were scripted; last message sent: {messages[-1]!r:.300}"
            )
        return _to_response(self._replies.pop(0))


ReplyFunction = Callable[[list[Message], ModelRequest], "ScriptedReply | Awaitable[ScriptedReply]"]


class FunctionModel(_WordStreamModel):
    """A model whose every reply comes from `function(messages, request)`, sync or async.

    `request` is the `ModelRequest` (messages, tool definitions, settings) for inspection.
    """

    def __init__(self, function: ReplyFunction, *, name: str = "function") -> None:
        self.function = function
        self.name = name
        self.requests: list[ModelRequest] = []

    async def request(
        self,
        messages: Sequence[Message],
        tools: Sequence[Mapping[str, Any]],
        settings: ModelSettings,
    ) -> ModelResponse:
        request = ModelRequest(list(messages), [dict(t) for t in tools], settings)
        self.requests.append(request)
        reply = self.function(list(messages), request)
        if inspect.isawaitable(reply):
            reply = await reply
        return _to_response(reply)
