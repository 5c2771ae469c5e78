"""The event types and `RunResult` (read about them in `agentkit.events`, their public home)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar, Union

from agentkit.messages import AssistantMessage, Message, ToolCall
from agentkit.usage import Usage

OutputT = TypeVar("OutputT")

__all__ = [
    "AgentEvent",
    "ContextTrimmed",
    "Event",
    "GuardrailChecked",
    "ModelReplyFinished",
    "ModelRequestRetried",
    "ModelRequestStarted",
    "RunFailed",
    "RunFinished",
    "RunResult",
    "RunStarted",
    "TextDelta",
    "ToolCallFinished",
    "ToolCallStarted",
]


@dataclass(frozen=True, slots=True)
class RunStarted:
    """A run begins: which agent, on which model and server, for what prompt.

    Attributes:
        agent: The agent's `name`.
        model: The model id.
        prompt: The user's prompt.
        run_id: This run's id ("run_" and 16 hex digits), on every event of the run.
        parent_run_id: For a sub-agent, the run whose tool call started it.
        parent_call_id: For a sub-agent, the id of that tool call.
        server_address: The endpoint's host (None for the offline and test models).
        server_port: The endpoint's port.
        stream: Whether the run streams its requests.
    """

    agent: str
    model: str
    prompt: str
    run_id: str = ""
    parent_run_id: str | None = None
    parent_call_id: str | None = None
    server_address: str | None = None
    server_port: int | None = None
    stream: bool = False
    type: Literal["run_started"] = field(default="run_started", init=False)


@dataclass(frozen=True, slots=True)
class ModelRequestStarted:
    """A request to the model is about to be sent (turn counts from 1).

    Attributes:
        turn: The model turn.
        run_id: The run's id.
        messages: The conversation sent.
        settings: The request settings (the agent's and the run's, merged).
        stream: Whether the request streams.
    """

    turn: int
    run_id: str = ""
    messages: tuple[Message, ...] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)
    stream: bool = False
    type: Literal["model_request_started"] = field(default="model_request_started", init=False)


@dataclass(frozen=True, slots=True)
class ModelRequestRetried:
    """The request of this turn is being sent again.

    Hooks get it as the retry starts; `stream()` yields it once the request has ended
    (its text deltas come after it).

    Attributes:
        turn: The model turn.
        attempt: 1 for the first retry, 2 for the second...
        reason: Why: the HTTP status of the attempt before ("429", "503"), "connection"
            (no answer: refused, reset or timed out), or agentkit's own re-send of a request
            adapted to the endpoint ("stream_options", "one_call_per_message").
        delay: Seconds from the answer of the attempt before (from its start, when it got
            none) to this one: the backoff, `Retry-After` honoured.
        run_id: The run's id.
    """

    turn: int
    attempt: int
    reason: str
    delay: float
    run_id: str = ""
    type: Literal["model_request_retried"] = field(default="model_request_retried", init=False)


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of answer text, as it streams. Text that turns out to be a tool call is not sent."""

    text: str
    run_id: str = ""
    type: Literal["text_delta"] = field(default="text_delta", init=False)


@dataclass(frozen=True, slots=True)
class ModelReplyFinished:
    """The model's reply is complete: its message (tool calls recovered) and its usage.

    Attributes:
        turn: The model turn.
        message: The reply, as recorded in the conversation.
        usage: What the reply used.
        run_id: The run's id.
        finish_reason: As the server reported it (informative only).
        response_model: The model id the server says answered.
        response_id: The server's id of the reply.
    """

    turn: int
    message: AssistantMessage
    usage: Usage
    run_id: str = ""
    finish_reason: str | None = None
    response_model: str | None = None
    response_id: str | None = None
    type: Literal["model_reply_finished"] = field(default="model_reply_finished", init=False)


@dataclass(frozen=True, slots=True)
class ToolCallStarted:
    """A tool call is about to run; `call` has its id and arguments."""

    call: ToolCall
    run_id: str = ""
    type: Literal["tool_call_started"] = field(default="tool_call_started", init=False)

    @property
    def name(self) -> str:
        """The tool's name."""
        return self.call.name

    @property
    def arguments(self) -> dict[str, Any] | None:
        """The decoded arguments (None when the model sent no JSON object)."""
        return self.call.arguments


@dataclass(frozen=True, slots=True)
class ToolCallFinished:
    """A tool call ended: `result` is the text sent back to the model.

    Attributes:
        call: The call.
        result: The tool-result text the model receives (the value, or what went wrong).
        is_error: Whether the call failed (unknown tool, bad arguments, exception, timeout,
            `ModelRetry`, declined by the user).
        duration: Seconds from start to end of the call.
        run_id: The run's id.
        error_type: Why it failed: "unknown_tool", "invalid_arguments", "timeout",
            "model_retry", "declined" (no approval), "not_run", "guardrail", or the class
            name of the tool's exception ("ValueError"); None when it did not fail.
    """

    call: ToolCall
    result: str
    is_error: bool
    duration: float
    run_id: str = ""
    error_type: str | None = None
    type: Literal["tool_call_finished"] = field(default="tool_call_finished", init=False)


@dataclass(frozen=True, slots=True)
class GuardrailChecked:
    """A guardrail judged the prompt, the answer or a tool result.

    Attributes:
        kind: "input", "output" or "tool_result".
        guardrail: The guardrail's name.
        tripped: Whether it stopped the run (a guardrail that failed has `tripped` False and
            stops the run too: see the `RunFailed` that follows).
        duration: Seconds the check took.
        run_id: The run's id.
        categories: The policy categories of a verdict that tripped ("S1", ...).
        call_id: For a tool result, the call it answers.
    """

    kind: str
    guardrail: str
    tripped: bool
    duration: float
    run_id: str = ""
    categories: tuple[str, ...] = ()
    call_id: str | None = None
    type: Literal["guardrail_checked"] = field(default="guardrail_checked", init=False)


@dataclass(frozen=True, slots=True)
class ContextTrimmed:
    """The history sent was trimmed to fit `max_input_tokens` (the stored one is unchanged).

    Said when the cuts are decided; the next requests keep them (so the prompt's start stays
    the same for the server's prefix cache) without a new event, until the budget is passed
    again. Token counts are agentkit's estimates.

    Attributes:
        turn: The model turn about to be requested.
        tokens_before: The estimate for the whole history.
        tokens: The estimate for what is sent.
        budget: `max_input_tokens`.
        dropped_turns: Oldest user turns left out, each with all its calls and results.
        dropped_messages: Messages left out.
        cut_results: Old tool results shortened to their head and tail, with a marker.
        cut_chars: Characters cut from them.
        run_id: The run's id.
    """

    turn: int
    tokens_before: int
    tokens: int
    budget: int
    dropped_turns: int
    dropped_messages: int
    cut_results: int
    cut_chars: int
    run_id: str = ""
    type: Literal["context_trimmed"] = field(default="context_trimmed", init=False)


@dataclass(frozen=True, slots=True)
class RunResult(Generic[OutputT]):
    """What a finished run produced.

    Attributes:
        output: The final answer: text, or a validated `output_type` instance.
        messages: The whole conversation, typed; pass it as `messages=` to continue.
        usage: Requests, tokens, tool calls and estimated cost of this run (sub-agents'
            included).
        finish_reason, truncated: Why the last reply ended; whether at the token limit.
    """

    output: OutputT
    messages: list[Message] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class RunFinished:
    """The run ended with a final answer."""

    result: RunResult[Any]
    run_id: str = ""
    type: Literal["run_finished"] = field(default="run_finished", init=False)


@dataclass(frozen=True, slots=True)
class RunFailed:
    """The run stopped without an answer; `error` is raised next.

    `stream()` yields it before raising a failure; hooks also get it for a cancellation, or
    when the reader of the stream stopped reading (`error` is then that `GeneratorExit`).

    Attributes:
        error: The exception.
        usage: What the run had used.
        run_id: The run's id.
    """

    error: BaseException
    usage: Usage
    run_id: str = ""
    type: Literal["run_failed"] = field(default="run_failed", init=False)


@dataclass(frozen=True, slots=True)
class AgentEvent:
    """An event of a sub-agent (an agent used as a tool), passed up to its caller.

    Attributes:
        path: The agent names from the top run to the one the event is from.
        event: That agent's own event, with its own `run_id` (never an `AgentEvent`).
        run_id: The id of the run whose stream carries it.
    """

    path: tuple[str, ...]
    event: Event
    run_id: str = ""
    type: Literal["agent_event"] = field(default="agent_event", init=False)


Event = Union[  # noqa: UP007 - a runtime alias users can pass to isinstance-free match
    RunStarted,
    ModelRequestStarted,
    ModelRequestRetried,
    TextDelta,
    ModelReplyFinished,
    ToolCallStarted,
    ToolCallFinished,
    GuardrailChecked,
    RunFinished,
    RunFailed,
    AgentEvent,
    ContextTrimmed,
]
