"""llama.cpp's refusals that agentkit knows: worded so the user can act, the reason kept whole.

- HTTP 500 "The model produced output that does not match the expected ... format": the
  server's parser could not read the model's tool call. A retry at the same settings writes
  the same output, so the SDK is told not to retry (a response hook on the HTTP client), and
  the error is an `UnparsedToolCall`: the loop asks once more with `tool_choice: "none"`,
  which makes llama.cpp return the raw text, and parses the calls itself. A stream ends the
  same way, with a `data: {"error": ...}` line instead of `[DONE]`.
- HTTP 400 "This model only supports single tool-calls at once!": Meta's Llama 3.1 template
  refuses an assistant message holding several calls. `SingleCallTemplate`: the adapter
  sends the conversation one call per assistant message and asks once more (`_adapt`).
- A detail longer than agentkit shows whose reason is its last `Error: ...` line (llama.cpp
  quotes the template before it): the reason is kept, not cut off.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from agentkit._hygiene import redact
from agentkit.errors import ModelError
from agentkit.messages import AssistantMessage, Message
from agentkit.models._base import UnparsedToolCall

if TYPE_CHECKING:
    import openai

    from agentkit.models.openai._adapter import OpenAIModel

__all__ = [
    "SingleCallTemplate",
    "error_message",
    "known_status_error",
    "known_stream_error",
    "no_retry_for_unparsed",
    "reason_of",
    "single_call_refused",
]

UNPARSED = "does not match the expected"
SINGLE_CALLS = "only supports single tool-calls"
_SHOWN = 300  # characters of a detail agentkit shows


class SingleCallTemplate(ModelError):
    """The chat template accepts one tool call per assistant message (Meta's Llama 3.1)."""

    def __init__(self, message: str, reason: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.reason = reason


def error_message(body: object) -> str:
    """The error message of an error body, whole."""
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            message = error.get("message") or error.get("detail")
            return str(message) if message else ""
        if isinstance(error, str):
            return error
    return ""


def reason_of(detail: str) -> str:
    """The last line beginning `Error:` (llama.cpp's reason, after the template it quotes)."""
    lines = [line.strip() for line in detail.splitlines() if line.strip().startswith("Error:")]
    return lines[-1] if lines else ""


def known_status_error(model: OpenAIModel, exc: openai.APIStatusError) -> ModelError | None:
    """llama.cpp's known refusal in an HTTP error, worded; None for any other error."""
    status = exc.status_code
    detail = redact(error_message(exc.body) or exc.response.text, model.secrets)
    if status == 500 and UNPARSED in detail:
        return _unparsed(model, detail, status)
    if status == 400 and SINGLE_CALLS in detail:
        reason = reason_of(detail) or detail[-_SHOWN:]
        return SingleCallTemplate(
            str(model._error(f"HTTP 400: {reason}")),
            reason,
            status=400,
            endpoint=model.endpoint,
            model=model.name,
        )
    reason = reason_of(detail)
    if len(detail) > _SHOWN and reason:
        head = detail.splitlines()[0][:120]
        return model._error(f"HTTP {status}: {head} … {reason[:_SHOWN]}", status=status)
    return None


def known_stream_error(model: OpenAIModel, data: object) -> ModelError | None:
    """llama.cpp's known refusal in a stream's error event; None for any other."""
    detail = redact(error_message(data), model.secrets)
    return _unparsed(model, detail, None) if UNPARSED in detail else None


def _unparsed(model: OpenAIModel, detail: str, status: int | None) -> UnparsedToolCall:
    where = f"HTTP {status}" if status is not None else "in the stream"
    reason = detail[:_SHOWN]
    what = f"the server could not parse the model's reply as a tool call (llama.cpp, {where}: "
    return UnparsedToolCall(
        str(model._error(f"{what}{reason})")),
        reason,
        status=status,
        endpoint=model.endpoint,
        model=model.name,
    )


def single_call_refused(
    model: OpenAIModel, exc: SingleCallTemplate, messages: Sequence[Message]
) -> ModelError:
    """The template still refused, with the conversation sent one call per message."""
    many = [
        (i, len(m.tool_calls))
        for i, m in enumerate(messages)
        if isinstance(m, AssistantMessage) and len(m.tool_calls) > 1
    ]
    if many:
        where = f"messages[{many[0][0]}] holds {many[0][1]}"
        tried = "agentkit sent them one per message and the server still refused"
    else:
        where, tried = "no message holds more than one", "the server refused all the same"
    return model._error(
        "HTTP 400: the endpoint's chat template accepts one tool call per assistant message "
        '(Meta\'s Llama 3.1 template: "This model only supports single tool-calls at once!"), '
        f"and {where}; {tried}: {exc.reason}",
        status=400,
    )


async def no_retry_for_unparsed(response: Any) -> None:
    """An httpx response hook: the SDK must not retry a 500 no retry can cure (see above)."""
    if response.status_code != 500:
        return
    await response.aread()
    if UNPARSED in response.text:
        response.headers["x-should-retry"] = "false"
