"""The model interface, and its one real adapter: OpenAI-compatible chat completions.

A `Model` answers a list of messages with one assistant message (`request`), or streams
it (`request_stream`: text deltas, then the complete response). `OpenAIModel` speaks to any
OpenAI-compatible endpoint through `openai.AsyncOpenAI`, which brings the transport, retries
with backoff, timeouts and typed HTTP errors. It sends the request body as ready JSON and
reads the raw response, skipping the SDK's per-request parameter transformation and
response-model construction: most of the SDK's CPU cost per turn, and none of its safety.
"""

from __future__ import annotations

import json
import os
import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict, cast
from urllib.parse import urlsplit, urlunsplit

import anyio
import anyio.lowlevel

from ._stream import StreamAccumulator
from .errors import ModelError, UserError
from .messages import (
    AssistantMessage,
    Message,
    ToolCall,
    Usage,
    estimate_cost,
    messages_to_wire,
)

if TYPE_CHECKING:
    import openai

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MODEL",
    "ENDPOINT_VARIABLES",
    "Model",
    "ModelResponse",
    "ModelSettings",
    "OpenAIModel",
    "ToolUseFailed",
    "check_settings",
    "model_from_env",
    "resolve_model",
]

DEFAULT_BASE_URL = "https://api.haimaker.ai/v1"
DEFAULT_MODEL = "meta-llama/llama-3.1-70b-instruct"
# Any of these set means an endpoint is configured.
ENDPOINT_VARIABLES = ("AGENTKIT_API_KEY", "OPENAI_API_KEY", "AGENTKIT_BASE_URL", "OPENAI_BASE_URL")


def model_from_env(default: str = DEFAULT_MODEL) -> str:
    """The model id for demos and scripts that should run anywhere.

    AGENTKIT_MODEL when set; else `default` when an endpoint is configured (an API key or a
    base URL in the environment); else "offline", the built-in offline model.
    """
    chosen = os.environ.get("AGENTKIT_MODEL")
    if chosen:
        return chosen
    return default if any(os.environ.get(v) for v in ENDPOINT_VARIABLES) else "offline"


_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


class ModelSettings(TypedDict, total=False):
    """Request settings passed through to the endpoint. All are optional."""

    temperature: float
    top_p: float
    max_tokens: int
    seed: int
    stop: str | list[str]
    tool_choice: str | dict[str, Any]
    parallel_tool_calls: bool
    extra_body: dict[str, Any]


SETTING_NAMES = frozenset(ModelSettings.__annotations__)


def check_settings(settings: Mapping[str, Any]) -> ModelSettings:
    """The settings, checked for unknown names (a typo must not be silently sent or dropped).

    Raises:
        UserError: An unknown setting; the message lists the known ones.
    """
    unknown = [k for k in settings if k not in SETTING_NAMES]
    if unknown:
        raise UserError(
            f"unknown model settings: {', '.join(unknown)} (known: "
            f"{', '.join(sorted(SETTING_NAMES))}; put anything else in extra_body)"
        )
    return cast(ModelSettings, dict(settings))


@dataclass(frozen=True, slots=True)
class ModelResponse:
    """One complete model reply.

    Attributes:
        message: The assistant message (tool calls as the server sent them).
        usage: What this reply used (one request, tokens, estimated cost).
        finish_reason: As reported by the server; informative only, never trusted.
    """

    message: AssistantMessage
    usage: Usage = field(default_factory=lambda: Usage(requests=1))
    finish_reason: str | None = None


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
    def secrets(self) -> tuple[str, ...]:
        """Strings that must never reach the model, an event or an error (API keys)."""
        return ()

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most models hold nothing
        """Release connections held for the current event loop."""


def _display_url(url: str) -> str:
    """The URL without user info or query, safe to show in messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _first(*values: str | None) -> str | None:
    return next((v for v in values if v), None)


class OpenAIModel(Model):
    """A model behind an OpenAI-compatible chat-completions endpoint.

    Args:
        model: The model id, e.g. "meta-llama/llama-3.1-70b-instruct".
        base_url: The endpoint; else AGENTKIT_BASE_URL, else OPENAI_BASE_URL, else haimaker.
        api_key: The key; else AGENTKIT_API_KEY, else OPENAI_API_KEY. Local servers that need
            none get a placeholder when a base URL is set.
        max_retries: Retries of the SDK for connection errors, 408, 409, 429 and 5xx.
        timeout: Seconds the SDK waits to connect and between bytes of a reply.
        deadline: Seconds one request may take in all, retries and streaming included (a slow
            drip never trips the read timeout, this does).
        client: A ready `openai.AsyncOpenAI` to use instead (then base_url/api_key are its).
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        max_retries: int = 2,
        timeout: float = 60.0,
        deadline: float = 600.0,
        client: openai.AsyncOpenAI | None = None,
    ) -> None:
        problems = []
        if not isinstance(model, str) or not model.strip():
            problems.append(f"model must be a non-empty model id, got {model!r}")
        if not isinstance(max_retries, int) or max_retries < 0:
            problems.append(f"max_retries must be a whole number >= 0, got {max_retries!r}")
        for label, value in (("timeout", timeout), ("deadline", deadline)):
            if not isinstance(value, (int, float)) or value <= 0:
                problems.append(f"{label} must be a positive number of seconds, got {value!r}")
        env = os.environ
        url = _first(base_url, env.get("AGENTKIT_BASE_URL"), env.get("OPENAI_BASE_URL"))
        key = _first(api_key, env.get("AGENTKIT_API_KEY"), env.get("OPENAI_API_KEY"))
        if client is not None:
            url, key = str(client.base_url), client.api_key
        url = url or DEFAULT_BASE_URL
        if not url.startswith(("http://", "https://")):
            problems.append(f"base_url must start with http:// or https://, got {url!r}")
        if key is None and url.rstrip("/") == DEFAULT_BASE_URL:
            problems.append(
                "no API key for the haimaker endpoint: set AGENTKIT_API_KEY (or OPENAI_API_KEY), "
                "pass api_key=..., point base_url at your own server, or use model='offline'"
            )
        if problems:
            raise UserError("the model configuration is not valid:", problems)
        self.name = model
        self.base_url = url.rstrip("/")
        self.endpoint = _display_url(self.base_url)
        self._api_key = key or "not-needed"
        self.max_retries = max_retries
        self.timeout = float(timeout)
        self.deadline = float(deadline)
        self._given_client = client
        self._client: openai.AsyncOpenAI | None = client
        self._client_loop: object = None
        self._stream_usage = True

    def __repr__(self) -> str:
        return f"OpenAIModel({self.name!r}, base_url={self.endpoint!r})"

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self._api_key,) if len(self._api_key) >= 8 else ()

    def _get_client(self) -> openai.AsyncOpenAI:
        if self._given_client is not None:
            return self._given_client
        # An HTTP connection pool belongs to one event loop; run_sync starts a new loop each
        # time, so keep one client per running loop.
        loop = anyio.lowlevel.current_token().native_token
        if self._client is None or self._client_loop is not loop:
            import openai

            self._client = openai.AsyncOpenAI(
                api_key=self._api_key,
                base_url=self.base_url,
                max_retries=self.max_retries,
                timeout=self.timeout,
            )
            self._client_loop = loop
        return self._client

    async def aclose(self) -> None:
        if self._client is not None and self._given_client is None:
            client, self._client = self._client, None
            await client.close()

    def _body(
        self,
        messages: Sequence[Message],
        tools: Sequence[Mapping[str, Any]],
        settings: ModelSettings,
        stream: bool,
    ) -> bytes:
        body: dict[str, Any] = {"model": self.name, "messages": messages_to_wire(messages)}
        if tools:
            body["tools"] = tools
        for key, value in settings.items():
            if key != "extra_body" and value is not None:
                body[key] = value
        if stream:
            body["stream"] = True
            if self._stream_usage:
                body["stream_options"] = {"include_usage": True}
        extra = settings.get("extra_body")
        if extra:
            body.update(extra)
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        try:
            return text.encode()
        except UnicodeEncodeError:
            # Lone surrogates (from a reply's `\ud800` escape, say) are not UTF-8; they can
            # only sit inside JSON strings, where U+FFFD stands in for them.
            return _LONE_SURROGATE.sub("\ufffd", text).encode()

    async def _post(self, body: bytes, stream: bool) -> Any:
        import httpx2
        import openai

        client = self._get_client()
        try:
            return await client.post(
                "/chat/completions",
                cast_to=httpx2.Response,
                content=body,
                stream=stream,
            )
        except openai.APIStatusError as exc:
            raise self._status_error(exc) from None
        except openai.APITimeoutError:
            raise self._error(
                f"no answer within {self.timeout:g} s (after {self.max_retries} retries)"
            ) from None
        except openai.APIConnectionError as exc:
            cause = exc.__cause__ or exc
            raise self._error(
                f"cannot connect ({type(cause).__name__}: {cause}) after {self.max_retries} retries"
            ) from None

    def _error(self, what: str, status: int | None = None) -> ModelError:
        message = f"model endpoint {self.endpoint} (model {self.name!r}): {what}"
        for secret in self.secrets:
            message = message.replace(secret, "***")
        return ModelError(message, status=status, endpoint=self.endpoint, model=self.name)

    def _status_error(self, exc: openai.APIStatusError) -> ModelError:
        status = exc.status_code
        detail = _error_detail(exc.body) or exc.response.text[:300]
        failed = _failed_generation(exc.body)
        if status == 400 and failed is not None:
            return ToolUseFailed(
                f"model endpoint {self.endpoint} (model {self.name!r}): HTTP 400 "
                f"tool_use_failed: {detail}",
                failed,
                reason=detail,
                status=status,
                endpoint=self.endpoint,
                model=self.name,
            )
        hint = _STATUS_HINTS.get(status, "")
        return self._error(f"HTTP {status}: {detail}{hint}", status=status)

    async def request(
        self,
        messages: Sequence[Message],
        tools: Sequence[Mapping[str, Any]],
        settings: ModelSettings,
    ) -> ModelResponse:
        body = self._body(messages, tools, settings, stream=False)
        with anyio.move_on_after(self.deadline) as scope:
            response = await self._post(body, stream=False)
        if scope.cancelled_caught:
            raise self._error(f"no complete reply within the {self.deadline:g} s deadline")
        return self._decode(response)

    def _decode(self, response: Any) -> ModelResponse:
        """The reply in a read JSON response body."""
        content = response.content
        try:
            data = json.loads(content)
        except ValueError:
            kind = response.headers.get("content-type", "no content type")
            raise self._error(
                f"answered HTTP {response.status_code} with a body that is not JSON "
                f"({kind}): {content[:200]!r}"
            ) from None
        return self._response(data)

    def _response(self, data: Any) -> ModelResponse:
        if not isinstance(data, dict):
            raise self._error(f"the reply is not a JSON object: {str(data)[:200]!r}")
        if "error" in data and not data.get("choices"):
            raise self._error(f"the reply is an error: {_error_detail(data) or data['error']}")
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise self._error(f"the reply has no choices: {json.dumps(data)[:200]}")
        choice = choices[0]
        raw = choice.get("message")
        if not isinstance(raw, dict):
            raise self._error(f"the reply's choice has no message: {json.dumps(choice)[:200]}")
        try:
            message = _assistant_message(raw)
        except (TypeError, ValueError) as exc:
            raise self._error(f"the reply's message is malformed: {exc}") from None
        return ModelResponse(message, self._usage(data.get("usage")), choice.get("finish_reason"))

    def _usage(self, raw: object) -> Usage:
        usage = raw if isinstance(raw, dict) else {}
        prompt = _int(usage.get("prompt_tokens"))
        completion = _int(usage.get("completion_tokens"))
        cost = estimate_cost(self.name, prompt, completion)
        return Usage(requests=1, prompt_tokens=prompt, completion_tokens=completion, cost=cost)

    async def request_stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[Mapping[str, Any]],
        settings: ModelSettings,
    ) -> AsyncIterator[str | ModelResponse]:
        deadline = anyio.current_time() + self.deadline
        response = await self._open_stream(messages, tools, settings, deadline)
        if _is_json(response):
            whole = await self._read_whole(response, deadline)
            if whole.message.content:
                yield whole.message.content
            yield whole
            return
        accumulator = StreamAccumulator()
        try:
            lines = response.aiter_lines()
            while True:
                # The deadline guards each read, never a yield: a cancel scope must not stay
                # open while the caller runs between events.
                with anyio.move_on_after(deadline - anyio.current_time()) as scope:
                    data = await self._next_data(lines)
                if scope.cancelled_caught:
                    raise self._error(f"no complete reply within the {self.deadline:g} s deadline")
                if data is None:
                    break
                text = self._feed(accumulator, data)
                if text:
                    yield text
        finally:
            with anyio.CancelScope(shield=True):
                await response.aclose()
        reply = accumulator.finish()
        message = AssistantMessage(reply.content, reply.tool_calls)
        yield ModelResponse(message, self._usage(reply.usage), reply.finish_reason)

    async def _read_whole(self, response: Any, deadline: float) -> ModelResponse:
        """A JSON body answering a stream request: a server that ignores `stream`, or an error."""
        import httpx2

        try:
            with anyio.move_on_after(deadline - anyio.current_time()) as scope:
                await response.aread()
        except httpx2.HTTPError as exc:
            raise self._error(f"the reply broke off: {type(exc).__name__}: {exc}") from None
        finally:
            with anyio.CancelScope(shield=True):
                await response.aclose()
        if scope.cancelled_caught:
            raise self._error(f"no complete reply within the {self.deadline:g} s deadline")
        return self._decode(response)

    async def _open_stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[Mapping[str, Any]],
        settings: ModelSettings,
        deadline: float,
    ) -> Any:
        for attempt in (1, 2):
            body = self._body(messages, tools, settings, stream=True)
            with anyio.move_on_after(deadline - anyio.current_time()) as scope:
                try:
                    return await self._post(body, stream=True)
                except ModelError as exc:
                    # Some servers reject `stream_options`; ask once more without it.
                    rejected = exc.status in (400, 422) and "stream_options" in str(exc)
                    if attempt == 2 or not (rejected and self._stream_usage):
                        raise
                    self._stream_usage = False
            if scope.cancelled_caught:
                break
        raise self._error(f"no reply within the {self.deadline:g} s deadline")

    async def _next_data(self, lines: AsyncIterator[str]) -> Any:
        """The next decoded SSE `data:` payload; None at `[DONE]`."""
        import httpx2

        event = ""
        try:
            async for line in lines:
                if not line:
                    event = ""
                    continue
                if line.startswith("event:"):
                    event = line[6:].strip()
                    continue
                if not line.startswith("data:"):
                    continue  # comments (":") and fields we do not use
                payload = line[5:].strip()
                if payload == "[DONE]":
                    return None
                return self._decode_chunk(payload, event)
        except httpx2.TimeoutException:
            # Its text is empty: say what happened instead of "ReadTimeout: ".
            raise self._error(f"the stream stalled: no data within {self.timeout:g} s") from None
        except httpx2.HTTPError as exc:
            raise self._error(f"the stream broke off: {type(exc).__name__}: {exc}") from None
        raise self._error("the stream ended without [DONE]; the reply may be incomplete")

    def _decode_chunk(self, payload: str, event: str) -> Any:
        try:
            data = json.loads(payload)
        except ValueError:
            raise self._error(f"malformed stream chunk (not JSON): {payload[:200]!r}") from None
        if event == "error" or (isinstance(data, dict) and "error" in data):
            detail = _error_detail(data) or payload[:200]
            failed = _failed_generation(data)
            if failed is not None:
                raise ToolUseFailed(
                    f"model endpoint {self.endpoint} (model {self.name!r}): tool_use_failed "
                    f"in the stream: {detail}",
                    failed,
                    reason=detail,
                    endpoint=self.endpoint,
                    model=self.name,
                )
            raise self._error(f"error in the stream: {detail}")
        return data

    def _feed(self, accumulator: StreamAccumulator, data: Any) -> str:
        try:
            return accumulator.feed(data)
        except ValueError as exc:
            raise self._error(f"malformed stream chunk: {exc}") from None


_STATUS_HINTS = {
    401: " (check the API key: AGENTKIT_API_KEY or api_key=...)",
    403: " (the key is not allowed to use this model or endpoint)",
    404: " (check the model id and the base URL; the URL usually ends in /v1)",
}


def _is_json(response: Any) -> bool:
    kind = str(response.headers.get("content-type", ""))
    return kind.split(";")[0].strip().lower() == "application/json"


def _int(value: object) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


def _error_detail(body: object) -> str | None:
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            message = error.get("message") or error.get("detail") or error.get("code")
            return str(message)[:300] if message else None
        if isinstance(error, str):
            return error[:300]
    return None


def _failed_generation(body: object) -> str | None:
    if not isinstance(body, dict):
        return None
    error = body.get("error", body)
    if not isinstance(error, dict) or error.get("code") != "tool_use_failed":
        return None
    failed = error.get("failed_generation")
    return failed if isinstance(failed, str) else ""


def _assistant_message(raw: dict[str, Any]) -> AssistantMessage:
    content = raw.get("content")
    if isinstance(content, list):
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    elif content is not None and not isinstance(content, str):
        raise TypeError(f"content must be text, got {type(content).__name__}")
    calls = []
    for item in raw.get("tool_calls") or ():
        function = item.get("function") if isinstance(item, dict) else None
        if not isinstance(function, dict):
            raise TypeError(f"a tool call has no function object: {json.dumps(item)[:200]}")
        name = function.get("name")
        calls.append(
            ToolCall.from_wire(
                item.get("id") or None,
                name if isinstance(name, str) else "",
                function.get("arguments"),
            )
        )
    return AssistantMessage(content or None, tuple(calls))


def resolve_model(
    model: str | Model,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    max_retries: int = 2,
    timeout: float = 60.0,
) -> Model:
    """A `Model` for a model id ("offline" is the built-in offline model) or a `Model`.

    Raises:
        UserError: The configuration is not valid.
    """
    if isinstance(model, Model):
        if base_url is not None or api_key is not None:
            raise UserError("base_url and api_key configure a model id; give them to your Model")
        return model
    if model == "offline":
        from ._offline import OfflineModel

        return OfflineModel()
    if not isinstance(model, str):
        raise UserError(f"model must be a model id or a Model instance, got {model!r}")
    return OpenAIModel(
        model, base_url=base_url, api_key=api_key, max_retries=max_retries, timeout=timeout
    )
