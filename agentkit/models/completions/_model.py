"""LlamaCompletionsModel: Meta's Llama 3.1 prompt sent to `/v1/completions`, calls parsed here.

It is an `OpenAIModel` in all but the request: the same endpoint settings, client pool,
retries, deadline and error wording; the conversation goes out as one prompt string in Llama
3.1's format, and the reply is read with agentkit's Llama recovery. The model's end tokens
(`<|eom_id|>`, `<|eot_id|>`) are the stops.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import anyio

from agentkit.errors import ModelError
from agentkit.llama import STOP, PromptOptions, parse_reply, render_prompt
from agentkit.messages import Message
from agentkit.models._base import ModelResponse, ModelSettings
from agentkit.models.openai import OpenAIModel

if TYPE_CHECKING:
    pass

__all__ = ["PREFIX", "LlamaCompletionsModel"]

# `Agent("completions:MODEL", ...)` and `--model completions:MODEL` choose this model.
PREFIX = "completions:"

_PASSED = ("temperature", "top_p", "max_tokens", "seed")


class LlamaCompletionsModel(OpenAIModel):
    """A Llama 3.1 model behind an OpenAI-compatible `/v1/completions` endpoint.

    Takes `OpenAIModel`'s arguments (model id, base_url, api_key, retries, timeouts), and:

    Args:
        options: The prompt's dates and begin-of-text token (see `PromptOptions`).

    `tool_choice` "auto" and "none" work ("none" offers no tools); "required" or a named
    tool cannot be enforced on a raw prompt and fail the request with a `ModelError`.
    """

    def __init__(self, model: str, *, options: PromptOptions | None = None, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self.options = options or PromptOptions()

    def __repr__(self) -> str:
        return f"LlamaCompletionsModel({self.name!r}, base_url={self.endpoint!r})"

    def _settings(self) -> dict[str, Any]:
        return {**super()._settings(), "options": self.options}

    def _arguments(
        self,
        messages: Sequence[Message],
        tools: Sequence[Mapping[str, Any]],
        settings: ModelSettings,
    ) -> dict[str, Any]:
        choice = settings.get("tool_choice")
        if choice not in (None, "auto", "none"):
            raise self._error(
                f"tool_choice {choice!r} cannot be enforced with a raw completions prompt: "
                'use "auto" or "none", or a chat endpoint (a model id without "completions:")'
            )
        offered = () if choice == "none" else tools
        try:
            prompt = render_prompt(messages, offered, self.options)
        except ValueError as exc:
            raise self._error(str(exc)) from None
        stop = list(STOP)
        extra = settings.get("stop")
        stop += [extra] if isinstance(extra, str) else list(extra or ())
        arguments: dict[str, Any] = {"model": self.name, "prompt": prompt, "stop": stop}
        arguments.update({k: settings[k] for k in _PASSED if settings.get(k) is not None})  # type: ignore[literal-required]
        if settings.get("extra_body"):
            arguments["extra_body"] = settings["extra_body"]
        return arguments

    def _failure(self, exc: Exception) -> ModelError:
        """The SDK's error, worded as the chat adapter words it."""
        import openai

        if isinstance(exc, openai.APIStatusError):
            return self._status_error(exc)
        if isinstance(exc, openai.APIConnectionError):
            return self._connection_error(exc)
        message = exc.message if isinstance(exc, openai.APIError) else str(exc)
        return self._error(f"error in the completions stream: {message[:300]}")

    def _reply(self, text: str, usage: Any, finish: str | None, data: Any) -> ModelResponse:
        message, _ = parse_reply(text)
        raw_usage = usage.model_dump() if usage is not None else None
        model, id_ = getattr(data, "model", None), getattr(data, "id", None)
        return ModelResponse(message, self._usage(raw_usage), finish, model or None, id_ or None)

    async def request(
        self,
        messages: Sequence[Message],
        tools: Sequence[Mapping[str, Any]],
        settings: ModelSettings,
    ) -> ModelResponse:
        import openai

        arguments = self._arguments(messages, tools, settings)
        with anyio.move_on_after(self.deadline) as scope:
            try:
                completion = await self._clients.get().completions.create(**arguments)
            except openai.APIError as exc:
                raise self._failure(exc) from None
        if scope.cancelled_caught:
            raise self._error(f"no complete reply within the {self.deadline:g} s deadline")
        if not completion.choices:
            raise self._error("the completion has no choices")
        choice = completion.choices[0]
        return self._reply(choice.text or "", completion.usage, choice.finish_reason, completion)

    async def request_stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[Mapping[str, Any]],
        settings: ModelSettings,
    ) -> AsyncIterator[str | ModelResponse]:
        arguments = self._arguments(messages, tools, settings)
        arguments.update(stream=True, stream_options={"include_usage": True})
        pieces: list[str] = []
        last: list[Any] = [None, None, None]  # usage, finish_reason, first chunk
        deadline = anyio.current_time() + self.deadline
        stream = await self._open(arguments, deadline)
        try:
            while True:
                with anyio.move_on_after(deadline - anyio.current_time()) as scope:
                    chunk = await self._next(stream)
                if scope.cancelled_caught:
                    raise self._error(f"no complete reply within the {self.deadline:g} s deadline")
                if chunk is None:
                    break
                last[0] = chunk.usage or last[0]
                last[2] = last[2] or chunk
                for choice in chunk.choices[:1]:
                    last[1] = choice.finish_reason or last[1]
                    if choice.text:
                        pieces.append(choice.text)
                        yield choice.text
        finally:
            with anyio.CancelScope(shield=True):
                await stream.close()
        yield self._reply("".join(pieces), last[0], last[1], last[2])

    async def _open(self, arguments: dict[str, Any], deadline: float) -> Any:
        import openai

        with anyio.move_on_after(deadline - anyio.current_time()):
            try:
                return await self._clients.get().completions.create(**arguments)
            except openai.APIError as exc:
                raise self._failure(exc) from None
        raise self._error(f"no reply within the {self.deadline:g} s deadline")

    async def _next(self, stream: Any) -> Any:
        import openai

        try:
            return await stream.__anext__()
        except StopAsyncIteration:
            return None
        except (openai.APIError, ValueError) as exc:
            raise self._failure(exc) from None
