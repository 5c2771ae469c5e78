"""Llama 3.1 on a raw completions endpoint (`/v1/completions`), prompted in its own format.

Some servers offer only text completions, and on others the chat template is wrong or
missing. `LlamaCompletionsModel` renders Meta's Llama 3.1 prompt itself
(`agentkit._native_prompt`), sends it through the `openai` SDK's completions API (retries,
timeouts and typed HTTP errors are the SDK's), and reads the calls out of the completion with
agentkit's Llama recovery. The model's end tokens (`<|eom_id|>`, `<|eot_id|>`) are the stops.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import anyio.lowlevel

from ._native_prompt import STOP, PromptOptions, parse_reply, render_prompt
from .errors import ModelError, UserError
from .messages import Message, Usage, estimate_cost
from .models import Model, ModelResponse, ModelSettings

if TYPE_CHECKING:
    import openai

__all__ = ["LlamaCompletionsModel"]

_PASSED = ("temperature", "top_p", "max_tokens", "seed")


class LlamaCompletionsModel(Model):
    """A Llama 3.1 model behind an OpenAI-compatible `/v1/completions` endpoint.

    Args:
        model: The model id the server knows.
        base_url: The endpoint, ending in /v1.
        api_key: The key; local servers need none.
        options: Dates and the begin-of-text token of the prompt (see `PromptOptions`).
        max_retries: Retries of the SDK for connection errors, 408, 409, 429 and 5xx.
        timeout: Seconds the SDK waits to connect and between bytes of a reply.
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str,
        api_key: str | None = None,
        options: PromptOptions | None = None,
        max_retries: int = 2,
        timeout: float = 60.0,
    ) -> None:
        if not isinstance(model, str) or not model.strip():
            raise UserError(f"model must be a non-empty model id, got {model!r}")
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise UserError(f"base_url must start with http:// or https://, got {base_url!r}")
        self.name = model
        self.base_url = base_url.rstrip("/")
        self.options = options or PromptOptions()
        self._api_key = api_key or "not-needed"
        self.max_retries = max_retries
        self.timeout = timeout
        self._clients: dict[int, tuple[weakref.ref[Any], openai.AsyncOpenAI]] = {}

    def __repr__(self) -> str:
        return f"LlamaCompletionsModel({self.name!r}, base_url={self.base_url!r})"

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self._api_key,) if len(self._api_key) >= 8 else ()

    def _client(self) -> openai.AsyncOpenAI:
        """One client per event loop: a connection pool belongs to the loop that opened it."""
        loop = anyio.lowlevel.current_token().native_token
        entry = self._clients.get(id(loop))
        if entry is not None and entry[0]() is loop:
            return entry[1]
        import openai

        client = openai.AsyncOpenAI(
            api_key=self._api_key,
            base_url=self.base_url,
            max_retries=self.max_retries,
            timeout=self.timeout,
        )
        self._clients[id(loop)] = (weakref.ref(loop), client)
        return client

    async def aclose(self) -> None:
        entry = self._clients.pop(id(anyio.lowlevel.current_token().native_token), None)
        if entry is not None:
            await entry[1].close()

    def _arguments(
        self,
        messages: Sequence[Message],
        tools: Sequence[Mapping[str, Any]],
        settings: ModelSettings,
    ) -> dict[str, Any]:
        choice = settings.get("tool_choice")
        if choice not in (None, "auto", "none"):
            raise ModelError(
                f"model {self.name!r} on a completions endpoint: tool_choice {choice!r} cannot "
                "be enforced with a raw prompt; use 'auto' or 'none' (or a chat endpoint)",
                endpoint=self.base_url,
                model=self.name,
            )
        offered = () if choice == "none" else tools
        try:
            prompt = render_prompt(messages, offered, self.options)
        except ValueError as exc:
            raise ModelError(f"model {self.name!r}: {exc}", model=self.name) from None
        stop = list(STOP)
        extra = settings.get("stop")
        stop += [extra] if isinstance(extra, str) else list(extra or ())
        arguments: dict[str, Any] = {"model": self.name, "prompt": prompt, "stop": stop}
        arguments.update({k: settings[k] for k in _PASSED if settings.get(k) is not None})  # type: ignore[literal-required]
        if settings.get("extra_body"):
            arguments["extra_body"] = settings["extra_body"]
        return arguments

    def _error(self, exc: openai.APIError) -> ModelError:
        import openai

        where = f"model endpoint {self.base_url} (model {self.name!r})"
        if isinstance(exc, openai.APIStatusError):
            detail = exc.response.text[:300]
            return ModelError(
                f"{where}: HTTP {exc.status_code} from /completions: {detail}",
                status=exc.status_code,
                endpoint=self.base_url,
                model=self.name,
            )
        if isinstance(exc, openai.APIConnectionError):
            what = f"cannot connect, or the connection broke ({type(exc).__name__}: {exc})"
        else:  # an error event in the stream
            what = f"error in the stream: {exc.message[:300]}"
        return ModelError(f"{where}: {what}", endpoint=self.base_url, model=self.name)

    def _usage(self, usage: Any) -> Usage:
        if usage is None:
            return Usage(requests=1)
        prompt, completion = usage.prompt_tokens or 0, usage.completion_tokens or 0
        cost = estimate_cost(self.name, prompt, completion)
        return Usage(requests=1, prompt_tokens=prompt, completion_tokens=completion, cost=cost)

    async def request(
        self,
        messages: Sequence[Message],
        tools: Sequence[Mapping[str, Any]],
        settings: ModelSettings,
    ) -> ModelResponse:
        import openai

        arguments = self._arguments(messages, tools, settings)
        try:
            completion = await self._client().completions.create(**arguments)
        except openai.APIError as exc:
            raise self._error(exc) from None
        if not completion.choices:
            raise ModelError(
                f"model endpoint {self.base_url} (model {self.name!r}): the completion has no "
                "choices",
                endpoint=self.base_url,
                model=self.name,
            )
        choice = completion.choices[0]
        message, _ = parse_reply(choice.text or "")
        return ModelResponse(message, self._usage(completion.usage), choice.finish_reason)

    async def request_stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[Mapping[str, Any]],
        settings: ModelSettings,
    ) -> AsyncIterator[str | ModelResponse]:
        import openai

        arguments = self._arguments(messages, tools, settings)
        arguments.update(stream=True, stream_options={"include_usage": True})
        pieces: list[str] = []
        usage: Any = None
        finish: str | None = None
        try:
            stream = await self._client().completions.create(**arguments)
            async for chunk in stream:
                usage = chunk.usage or usage
                for choice in chunk.choices[:1]:
                    finish = choice.finish_reason or finish
                    if choice.text:
                        pieces.append(choice.text)
                        yield choice.text
        except openai.APIError as exc:
            raise self._error(exc) from None
        message, _ = parse_reply("".join(pieces))
        yield ModelResponse(message, self._usage(usage), finish)
