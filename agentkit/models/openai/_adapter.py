"""OpenAIModel: the adapter for OpenAI-compatible chat-completions endpoints.

It speaks through `openai.AsyncOpenAI`, which brings the transport, retries with backoff,
timeouts and typed HTTP errors. It posts the request body as ready JSON and reads the raw
response, skipping the SDK's per-request parameter transformation and response-model
construction: most of the SDK's CPU cost per turn, and none of its safety. Under asyncio it
uses the SDK's aiohttp transport when installed, which costs far less under concurrency.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel

from agentkit import _env
from agentkit._env import DEFAULT_BASE_URL, DEFAULT_MODEL
from agentkit._hygiene import LONE_SURROGATE, redact
from agentkit.errors import ModelError, UserError
from agentkit.messages import Message, Usage, estimate_cost
from agentkit.models._base import (
    Model,
    ModelResponse,
    ModelSettings,
    ToolUseFailed,
    limit_problems,
)
from agentkit.models.openai._adapt import Adaptation, ProbeUse, send
from agentkit.models.openai._capabilities import Capabilities
from agentkit.models.openai._clients import Clients, Transport
from agentkit.models.openai._hints import known_status_error
from agentkit.models.openai._reach import hint, root_cause, timed_out
from agentkit.models.openai._responses import (
    STATUS_HINTS,
    decode_reply,
    display_url,
    error_detail,
    failed_generation,
    first,
    non_negative_int,
    retries_note,
    server_of,
)
from agentkit.models.openai._retry_after import retry_after
from agentkit.models.openai._sse import read_stream
from agentkit.models.openai._wire import messages_to_wire

if TYPE_CHECKING:
    import openai

__all__ = ["OpenAIModel"]


def _utf8(text: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError:
        # Lone surrogates (from a reply's `\ud800` escape, say) are not UTF-8; they can only
        # sit inside JSON strings, where U+FFFD stands in for them.
        return LONE_SURROGATE.sub("\ufffd", text).encode()


def _looks_like_offline(model: object) -> bool:
    return isinstance(model, str) and bool(
        difflib.get_close_matches(model.lower(), ["offline"], n=1, cutoff=0.7)
    )


_NO_KEY = "not-needed"


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
        transport: "auto" uses aiohttp under asyncio when it is installed (the SDK's own
            aiohttp transport: less CPU per request, far less under heavy concurrency), else
            the SDK's default; "aiohttp" or "httpx" choose one.
        probe: "cached" adapts requests to the probe saved for this endpoint and model
            (`agentkit probe`, `await model.probe()`), if there is one; "never" ignores it.
            No probe request is ever sent unless asked for.
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
        transport: Transport = "auto",
        probe: ProbeUse = "cached",
    ) -> None:
        problems = []
        if probe not in ("cached", "never"):
            problems.append(f'probe must be "cached" or "never", got {probe!r}')
        if transport not in ("auto", "aiohttp", "httpx"):
            problems.append(f'transport must be "auto", "aiohttp" or "httpx", got {transport!r}')
        if not isinstance(model, str) or not model.strip():
            problems.append(f"model must be a non-empty model id, got {model!r}")
        problems += limit_problems(max_retries, timeout, deadline)
        url = first(base_url, _env.base_url())
        key = first(api_key, _env.api_key())
        if client is not None:
            url, key = str(client.base_url), client.api_key
        url = url or DEFAULT_BASE_URL
        if not url.startswith(("http://", "https://")):
            problems.append(f"base_url must start with http:// or https://, got {url!r}")
        if key is None and url.rstrip("/") == DEFAULT_BASE_URL:
            typo = " (did you mean model='offline'?)" if _looks_like_offline(model) else ""
            problems.append(
                f"no API key for the haimaker endpoint (model {model!r}){typo}: set "
                "AGENTKIT_API_KEY (or OPENAI_API_KEY), pass api_key=..., point base_url at your "
                "own server, or use model='offline'"
            )
        if problems:
            raise UserError("the model configuration is not valid:", problems)
        self.name = model
        self.base_url = url.rstrip("/")
        self.endpoint = display_url(self.base_url)
        self._api_key = key or _NO_KEY
        self.max_retries = max_retries
        self.timeout = float(timeout)
        self.deadline = float(deadline)
        self._given_client = client
        self._clients = Clients(
            api_key=self._api_key,
            base_url=self.base_url,
            max_retries=max_retries,
            timeout=self.timeout,
            transport=transport,
            given=client,
        )
        self._adapt = Adaptation(self.endpoint, model, probe)
        self._tools_cache: tuple[Sequence[Mapping[str, Any]], int, str] | None = None
        self.transport = transport

    def __repr__(self) -> str:
        return f"OpenAIModel({self.name!r}, base_url={self.endpoint!r})"

    def replace(self, **changes: Any) -> OpenAIModel:
        """The same model with some settings changed: `model.replace(model="other/id")`.

        Takes the constructor's arguments. A new `base_url` or `api_key` means a client of
        their own: a `client=` given before is not kept then.
        """
        settings = {"model": self.name, **self._settings(), "client": self._given_client}
        unknown = sorted(set(changes) - set(settings))
        if unknown:
            name = type(self).__name__
            raise UserError(f"{name}.replace() got unknown setting(s) {', '.join(unknown)}")
        if "base_url" in changes or "api_key" in changes:
            settings["client"] = None
        new_id = changes.get("model")
        if isinstance(new_id, str) and new_id.startswith("completions:"):
            raise UserError(
                f"{type(self).__name__}.replace(model={new_id!r}): a 'completions:' id names "
                "the raw completions API, another model class; give the id to Agent(...) or "
                "Agent.replace(model=...), or build LlamaCompletionsModel(ID, base_url=...)"
            )
        return type(self)(**{**settings, **changes})

    def _settings(self) -> dict[str, Any]:
        """The constructor's arguments that make this model again (but model and client)."""
        return {
            "base_url": self.base_url,
            "api_key": self._api_key,
            "max_retries": self.max_retries,
            "timeout": self.timeout,
            "deadline": self.deadline,
            "transport": self.transport,
            "probe": self._adapt.use,
        }

    def __reduce__(self) -> tuple[Any, ...]:
        # Its connections belong to this process; the settings are enough to make them anew.
        if self._given_client is not None:
            raise TypeError(
                f"an {type(self).__name__} built on your own client= cannot be sent to another "
                "process: give base_url and api_key instead"
            )
        return (_rebuilt, (self.name, self._settings(), type(self)))

    async def aclose(self) -> None:
        """Close the connections of the running event loop (other loops' are their own)."""
        await self._clients.aclose()

    @property
    def secrets(self) -> tuple[str, ...]:
        key = self._api_key
        # The placeholder sent to servers that need no key is no secret.
        return (key,) if len(key) >= 8 and key != _NO_KEY else ()

    def snippet(self, text: str, length: int) -> str:
        """At most `length` characters of `text`, redacted first (a cut can split a key)."""
        return redact(text, self.secrets)[:length]

    @property
    def capabilities(self) -> Capabilities | None:
        """The saved probe of this endpoint and model (`agentkit probe`); None without one."""
        self._adapt.ready()
        return self._adapt.capabilities

    @property
    def server(self) -> tuple[str | None, int | None]:
        return server_of(self.base_url)

    def _body(
        self,
        messages: Sequence[Message],
        tools: Sequence[Mapping[str, Any]],
        settings: ModelSettings,
        stream: bool,
    ) -> bytes:
        adapt = self._adapt
        body: dict[str, Any] = {
            "model": self.name,
            "messages": messages_to_wire(adapt.messages(messages)),
        }
        body.update(adapt.settings(settings, bool(tools)))
        if stream:
            body["stream"] = True
            if adapt.stream_usage:
                body["stream_options"] = {"include_usage": True}
        extra = settings.get("extra_body")
        if extra:
            body.update(adapt.extra(extra))
        if tools and "tools" not in body:
            # The definitions are the same every turn: encode them once, splice them in.
            text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
            text = f'{text[:-1]},"tools":{self._tools_json(tools)}}}'
            return _utf8(text)
        return _utf8(json.dumps(body, ensure_ascii=False, separators=(",", ":")))

    def _tools_json(self, tools: Sequence[Mapping[str, Any]]) -> str:
        cached = self._tools_cache
        if cached is None or cached[0] is not tools or cached[1] != len(tools):
            text = json.dumps(list(tools), ensure_ascii=False, separators=(",", ":"))
            cached = self._tools_cache = (tools, len(tools), text)
        return cached[2]

    async def _post(self, body: bytes, stream: bool) -> Any:
        import httpx2
        import openai

        client = self._clients.get()
        try:
            return await client.post(
                "/chat/completions",
                cast_to=httpx2.Response,
                content=body,
                stream=stream,
            )
        except openai.APIStatusError as exc:
            error = self._status_error(exc)
            error.retry_after = retry_after(exc.status_code, exc.response.headers)
            raise error from None
        except openai.APIConnectionError as exc:  # APITimeoutError too
            raise self._connection_error(exc) from None
        except (OSError, ValueError, RuntimeError) as exc:
            # A transport that raises outside the SDK's mapping must not crash the run.
            raise self._error(f"the request failed ({type(exc).__name__}: {exc})") from None

    def _connection_error(self, exc: Exception) -> ModelError:
        """Say whether the endpoint could not be reached or did not answer in time: the root
        cause decides, not the SDK's exception class (`_reach`)."""
        root = root_cause(exc)
        retries = f"after {self.max_retries} {'retry' if self.max_retries == 1 else 'retries'}"
        if timed_out(root):
            return self._error(f"no answer within {self.timeout:g} s ({retries})")
        if isinstance(root, OSError):
            detail = root.strerror or str(root) or type(root).__name__
            check = f": {hint(root)}" if hint(root) else ""
            return self._error(f"cannot connect ({type(root).__name__}: {detail}) {retries}{check}")
        what = f"{type(root).__name__}: {root}" if str(root) else type(root).__name__
        return self._error(f"cannot connect, or the connection broke ({what}) {retries}")

    def _error(self, what: str, status: int | None = None) -> ModelError:
        message = redact(
            f"model endpoint {self.endpoint} (model {self.name!r}): {what}", self.secrets
        )
        return ModelError(message, status=status, endpoint=self.endpoint, model=self.name)

    def _tool_use_failed(self, detail: str, generation: str, status: int | None) -> ToolUseFailed:
        """Groq's refusal of a bad tool call; everything in it may reach the model: redact."""
        where = "HTTP 400" if status is not None else "in the stream"
        reason = redact(detail, self.secrets)
        return ToolUseFailed(
            f"model endpoint {self.endpoint} (model {self.name!r}): tool_use_failed {where}: "
            f"{reason}",
            redact(generation, self.secrets),
            reason=reason,
            status=status,
            endpoint=self.endpoint,
            model=self.name,
        )

    def _status_error(self, exc: openai.APIStatusError) -> ModelError:
        if (known := known_status_error(self, exc)) is not None:  # llama.cpp's, see _hints
            return known
        status = exc.status_code
        detail = self.snippet(error_detail(exc.body) or exc.response.text, 300)
        failed = failed_generation(exc.body)
        if status == 400 and failed is not None:
            return self._tool_use_failed(detail, failed, status)
        hint = STATUS_HINTS.get(status, "")
        retried = retries_note(status, exc.response, self.max_retries)
        return self._error(f"HTTP {status}: {detail}{hint}{retried}", status=status)

    async def request(
        self,
        messages: Sequence[Message],
        tools: Sequence[Mapping[str, Any]],
        settings: ModelSettings,
    ) -> ModelResponse:
        with anyio.move_on_after(self.deadline) as scope:
            response = await send(self, messages, tools, settings, stream=False)
        if scope.cancelled_caught:
            raise self._error(f"no complete reply within the {self.deadline:g} s deadline")
        return decode_reply(self, response)

    def _usage(self, raw: object) -> Usage:
        if not isinstance(raw, dict) or not raw:
            return Usage(requests=1)  # tokens not reported: the cost is unknown, not zero
        usage = raw
        prompt = non_negative_int(usage.get("prompt_tokens"))
        completion = non_negative_int(usage.get("completion_tokens"))
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
        async for item in read_stream(self, response, deadline):
            yield item

    async def _open_stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[Mapping[str, Any]],
        settings: ModelSettings,
        deadline: float,
    ) -> Any:
        with anyio.move_on_after(deadline - anyio.current_time()):
            return await send(self, messages, tools, settings, stream=True)
        raise self._error(f"no reply within the {self.deadline:g} s deadline")

    async def probe(self, *, refresh: bool = False) -> Capabilities:
        """What this endpoint and model can do, checked live with a few cheap requests, saved
        in the user's cache folder, and used from now on to adapt requests (a saved probe
        younger than a week is returned without a request unless `refresh`)."""
        from agentkit.models.openai._probe import probe

        return await probe(self, refresh=refresh)


def _rebuilt(
    model: str, settings: dict[str, Any], cls: type[OpenAIModel] = OpenAIModel
) -> OpenAIModel:
    """An `OpenAIModel` (or a subclass) unpickled: made anew from its settings."""
    return cls(model, **settings)
