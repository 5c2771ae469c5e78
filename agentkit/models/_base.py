"""The model interface: a complete reply or a streamed one, its settings, a refused call."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict, cast

from agentkit.errors import ModelError, UserError
from agentkit.messages import AssistantMessage, Message, Usage

__all__ = [
    "OUTPUT_TOOL_NAME",
    "Model",
    "ModelResponse",
    "ModelSettings",
    "ToolUseFailed",
    "UnparsedToolCall",
    "limit_problems",
]

# The tool through which a model gives a structured answer (see `Agent(output_type=...)`).
OUTPUT_TOOL_NAME = "final_result"


class ModelSettings(TypedDict, total=False):
    """Request settings passed through to the endpoint. All are optional.

    `tool_choice` applies to every request of a run; `first_tool_choice` is the first
    request's instead (agentkit's own: "required" makes the first reply call a tool, and
    the run can still end in a text answer).
    """

    temperature: float
    top_p: float
    max_tokens: int
    seed: int
    stop: str | list[str]
    tool_choice: str | dict[str, Any]
    first_tool_choice: str | dict[str, Any]
    parallel_tool_calls: bool
    extra_body: dict[str, Any]


SETTING_NAMES = frozenset(ModelSettings.__annotations__)


_SETTING_TYPES: dict[str, tuple[type, ...]] = {
    "temperature": (int, float),
    "top_p": (int, float),
    "max_tokens": (int,),
    "seed": (int,),
    "stop": (str, list),
    "tool_choice": (str, dict),
    "first_tool_choice": (str, dict),
    "parallel_tool_calls": (bool,),
    "extra_body": (dict,),
}


def check_settings(settings: Mapping[str, Any]) -> ModelSettings:
    """The settings, checked for unknown names and wrong types (a typo must not be sent).

    Raises:
        UserError: Every unknown setting and every value of the wrong type.
    """
    problems = []
    for key, value in settings.items():
        expected = _SETTING_TYPES.get(key)
        if expected is None:
            problems.append(
                f"unknown model setting {key!r} (known: {', '.join(sorted(SETTING_NAMES))}; "
                "put anything else in extra_body)"
            )
        elif value is not None and (
            not isinstance(value, expected) or (isinstance(value, bool) and bool not in expected)
        ):
            kinds = " or ".join(t.__name__ for t in expected)
            problems.append(f"model setting {key!r} must be {kinds}, got {value!r:.60}")
    if problems:
        raise UserError("the model settings are not valid:", problems)
    return cast(ModelSettings, dict(settings))


def request_settings(settings: ModelSettings, first: bool) -> ModelSettings:
    """The settings one request of a run is sent with: on the first, `first_tool_choice`
    stands in for `tool_choice`; it never reaches the endpoint itself."""
    if "first_tool_choice" not in settings:
        return settings
    sent = dict(settings)
    choice = sent.pop("first_tool_choice")
    if first and choice is not None:
        sent["tool_choice"] = choice
    return cast(ModelSettings, sent)


@dataclass(frozen=True, slots=True)
class ModelResponse:
    """One complete model reply.

    Attributes:
        message: The assistant message (tool calls as the server sent them).
        usage: What this reply used (one request, tokens, estimated cost).
        finish_reason: As reported by the server; informative only, never trusted.
        response_model: The model id the server says answered, when it says.
        response_id: The server's id of the reply, when it gives one.
    """

    message: AssistantMessage
    usage: Usage = field(default_factory=lambda: Usage(requests=1))
    finish_reason: str | None = None
    response_model: str | None = None
    response_id: str | None = None


class ToolUseFailed(ModelError):
    """The server refused the model's reply because its tool call failed the server's checks.

    Groq answers HTTP 400 `tool_use_failed` with the raw generation; the loop tries to recover
    calls from `failed_generation` before asking the model again.
    """

    def __init__(
        self, message: str, failed_generation: str, reason: str = "", **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.failed_generation = failed_generation
        self.reason = reason


class UnparsedToolCall(ModelError):
    """The server could not parse the model's reply as a tool call (llama.cpp's HTTP 500
    "does not match the expected ... format"): a retry at the same settings cannot help.

    The loop asks once more with `tool_choice: "none"`, which makes such a server return the
    model's raw text, and recovers the calls from it with agentkit's own parser.
    """

    def __init__(self, message: str, reason: str = "", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.reason = reason

    def unrecovered(self) -> UnparsedToolCall:
        """This error once the raw text held no call either: what happened and what to do."""
        return UnparsedToolCall(
            f'{self}; asked again with tool_choice "none", the reply held no call agentkit '
            "could read either. The model writes calls its chat template does not describe: "
            "serve it with a matching template (llama-server --chat-template-file) or use "
            'LlamaCompletionsModel (model id "completions:..."), which parses the text itself',
            self.reason,
            status=self.status,
            endpoint=self.endpoint,
            model=self.model,
        )


class Model(ABC):
    """A chat model that can call tools.

    Implement `request`; `request_stream` defaults to one delta with the whole text.
    """

    name: str = "model"

    @abstractmethod
    async def request(
        self,
        messages: Sequence[Message],
        tools: Sequence[Mapping[str, Any]],
        settings: ModelSettings,
    ) -> ModelResponse:
        """Send the conversation and the tool definitions; return the complete reply."""

    async def request_stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[Mapping[str, Any]],
        settings: ModelSettings,
    ) -> AsyncIterator[str | ModelResponse]:
        """Stream the reply: text deltas (str) as they arrive, then the `ModelResponse`."""
        response = await self.request(messages, tools, settings)
        if response.message.content:
            yield response.message.content
        yield response

    @property
    def server(self) -> tuple[str | None, int | None]:
        """The endpoint's host and port, for traces; (None, None) when there is no server."""
        return None, None

    @property
    def secrets(self) -> tuple[str, ...]:
        """Strings that must never reach the model, an event or an error (API keys)."""
        return ()

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most models hold nothing
        """Release connections held for the current event loop."""


def limit_problems(max_retries: object, timeout: object, deadline: object) -> list[str]:
    """What is wrong with a model's retries and time limits (also checked for the offline
    model, which has no use for them, so that a bad value never waits for a real endpoint)."""
    problems = []
    if not isinstance(max_retries, int) or max_retries < 0:
        problems.append(f"max_retries must be a whole number >= 0, got {max_retries!r}")
    for label, value in (("timeout", timeout), ("deadline", deadline)):
        if not isinstance(value, (int, float)) or value <= 0:
            problems.append(f"{label} must be a positive number of seconds, got {value!r}")
    return problems
