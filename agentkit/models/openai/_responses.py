"""Reading what OpenAI-compatible endpoints send: replies, error bodies, URLs to show."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from agentkit.messages import AssistantMessage
from agentkit.models._base import ModelResponse
from agentkit.models.openai._wire import tool_calls_from_wire

if TYPE_CHECKING:
    from agentkit.models.openai._adapter import OpenAIModel

__all__ = [
    "RETRIED_STATUSES",
    "STATUS_HINTS",
    "assistant_message",
    "decode_reply",
    "display_url",
    "error_detail",
    "failed_generation",
    "first",
    "is_json",
    "non_negative_int",
    "server_of",
    "text_or_none",
]


def display_url(url: str) -> str:
    """The URL without user info or query, safe to show in messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def server_of(url: str) -> tuple[str | None, int | None]:
    """The host and port of an endpoint URL (for traces), never its credentials."""
    parts = urlsplit(url)
    if not parts.hostname:
        return None, None
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None and parts.scheme in ("http", "https"):
        port = 443 if parts.scheme == "https" else 80
    return parts.hostname, port


def text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def first(*values: str | None) -> str | None:
    return next((v for v in values if v), None)


# The statuses the `openai` SDK retries (with 408, 409 and 429, every 5xx).
RETRIED_STATUSES = frozenset({408, 409, 429})

STATUS_HINTS = {
    401: " (check the API key: AGENTKIT_API_KEY or api_key=...)",
    403: " (the key is not allowed to use this model or endpoint)",
    404: " (check the model id and the base URL; the URL usually ends in /v1)",
}


def retries_note(status: int, response: Any, max_retries: int) -> str:
    """For a status the SDK retries: how many retries it made before this answer."""
    if status not in RETRIED_STATUSES and status < 500:
        return ""
    # The SDK numbers each attempt in this header of the request it sends.
    try:
        made = int(response.request.headers.get("x-stainless-retry-count", ""))
    except (AttributeError, RuntimeError, TypeError, ValueError):
        made = max_retries
    if made == 0 and max_retries > 0:
        return " (not retried: the server said not to, or asked to wait too long)"
    return f" (after {made} {'retry' if made == 1 else 'retries'})"


def media_type(response: Any) -> str:
    """The response's content type without parameters, lower case ("" when absent)."""
    return str(response.headers.get("content-type", "")).split(";")[0].strip().lower()


def is_json(response: Any) -> bool:
    return media_type(response) == "application/json"


def non_negative_int(value: object) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


def error_detail(body: object) -> str | None:
    """The message of an error body, whole: redact it before cutting it to a length."""
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            message = error.get("message") or error.get("detail") or error.get("code")
            return str(message) if message else None
        if isinstance(error, str):
            return error
    return None


def failed_generation(body: object) -> str | None:
    if not isinstance(body, dict):
        return None
    error = body.get("error", body)
    if not isinstance(error, dict) or error.get("code") != "tool_use_failed":
        return None
    failed = error.get("failed_generation")
    return failed if isinstance(failed, str) else ""


def assistant_message(raw: dict[str, Any]) -> AssistantMessage:
    content = raw.get("content")
    if isinstance(content, list):
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    elif content is not None and not isinstance(content, str):
        raise TypeError(f"content must be text, got {type(content).__name__}")
    calls = tool_calls_from_wire(raw.get("tool_calls"), "the reply", lenient=True)
    return AssistantMessage(content or None, calls)


def decode_reply(model: OpenAIModel, response: Any) -> ModelResponse:
    """The reply in a read JSON response body; a `ModelError` saying what is wrong with it."""
    content = response.content
    try:
        data = json.loads(content)
    except ValueError:
        kind = response.headers.get("content-type", "no content type")
        raise model._error(
            f"answered HTTP {response.status_code} with a body that is not JSON "
            f"({kind}): {model.snippet(repr(content[:4000]), 200)}"
        ) from None
    if not isinstance(data, dict):
        raise model._error(f"the reply is not a JSON object: {model.snippet(str(data), 200)!r}")
    if "error" in data and not data.get("choices"):
        detail = error_detail(data) or str(data["error"])
        raise model._error(f"the reply is an error: {model.snippet(detail, 300)}")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise model._error(f"the reply has no choices: {model.snippet(json.dumps(data), 200)}")
    choice = choices[0]
    raw = choice.get("message")
    if not isinstance(raw, dict):
        shown = model.snippet(json.dumps(choice), 200)
        raise model._error(f"the reply's choice has no message: {shown}")
    try:
        message = assistant_message(raw)
    except (TypeError, ValueError) as exc:
        raise model._error(f"the reply's message is malformed: {exc}") from None
    return ModelResponse(
        message,
        model._usage(data.get("usage")),
        choice.get("finish_reason"),
        text_or_none(data.get("model")),
        text_or_none(data.get("id")),
    )
