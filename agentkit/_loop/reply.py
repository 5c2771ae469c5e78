"""One model turn: request the reply (streamed or not) and make it a well-formed message.

Tool calls left as text are recovered, call ids made unique, leaked special tokens removed;
in a stream, text that turns out to be a call is never shown. A Groq `tool_use_failed`
refusal is recovered from its failed generation, or the model is asked once more; a call
llama.cpp could not parse (its HTTP 500) is recovered from the raw text it sends when asked
again with tool_choice "none", or the model is told and asked once more. Each
request is announced by a `ModelRequestStarted`; the well-formed reply is recorded in the
run and announced by a `ModelReplyFinished`; each retry of a request, by a
`ModelRequestRetried`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextvars import Token
from typing import TYPE_CHECKING, Any

from agentkit._hygiene import StreamRedactor, redact
from agentkit._loop import notes
from agentkit._loop.state import RunState
from agentkit._loop.window import observe
from agentkit.errors import ModelError, RunError
from agentkit.events import (
    Event,
    ModelReplyFinished,
    ModelRequestRetried,
    ModelRequestStarted,
    TextDelta,
)
from agentkit.llama import TextGate, extract_tool_calls, strip_special_tokens
from agentkit.messages import AssistantMessage, Message, ToolCall, new_call_id, parse_arguments
from agentkit.models import Model, ModelResponse, ModelSettings, ToolUseFailed, UnparsedToolCall
from agentkit.models._base import request_settings
from agentkit.models._retries import unwatch, watch
from agentkit.usage import Usage, priced

if TYPE_CHECKING:
    from agentkit._loop.window import RunWindow

__all__ = ["Notify", "ReplyStep"]

# Hands an event to the hooks at once (a retry, heard while the request is in flight).
Notify = Callable[[Event], Awaitable[None]]


class ReplyStep:
    """Gets one well-formed reply from the model for a run.

    Args:
        model: The model.
        definitions: The tool definitions sent with each request (the output tool included).
        price: The agent's own price, (input, output) dollars per million tokens, if any.
    """

    def __init__(
        self,
        model: Model,
        definitions: Sequence[Mapping[str, Any]],
        price: tuple[float, float] | None = None,
    ) -> None:
        self.model = model
        self.definitions = definitions
        self.price = price

    async def reply(
        self,
        run: RunState,
        settings: ModelSettings,
        stream: bool,
        turn: int,
        notify: Notify | None = None,
        window: RunWindow | None = None,
    ) -> AsyncIterator[Event]:
        """Get the model's reply (text deltas first when streaming) and record it in the run.

        Each retry of a request is handed to `notify` as it starts (the hooks), and yielded
        once the request has ended. With a `window` (a context budget, a history processor),
        each request sends its view of the conversation, and a `ContextTrimmed` says when
        that view was newly trimmed. The first turn's requests use `first_tool_choice`; with
        `tool_choice` "none" no call is recovered from text, so none can run.
        """
        settings = request_settings(settings, first=turn == 1)
        recover = settings.get("tool_choice") != "none"
        while True:
            run.check_requests()
            messages: Sequence[Message] = run.messages
            trimmed = None
            if window is not None:  # the context budget: see `_loop.window`
                messages, trimmed = await window.view(run, turn)
            if trimmed is not None:
                yield trimmed
            yield ModelRequestStarted(turn, run.run_id, tuple(messages), settings, stream)
            retries = _Retries(turn, run.run_id, notify)
            try:
                if stream:
                    async for event in self._streamed(run, messages, settings, retries, recover):
                        yield event
                else:
                    token = watch(retries.heard)
                    try:
                        response = await self.model.request(messages, self.definitions, settings)
                    finally:
                        unwatch(token)
                    for event in retries.take():
                        yield event
                    reply = self._recovered(self._redacted(response), recover)
                    run.add_reply(self._priced(reply))
            except (ToolUseFailed, UnparsedToolCall) as exc:
                again: list[bool] = []
                refused = self._refused(run, messages, settings, exc, recover, retries, again)
                async for told in refused:
                    yield told
                if again:
                    continue  # the model is asked once more
            except RunError as exc:
                for event in retries.take():
                    yield event
                raise run.fail(exc) from exc.__cause__
            # A usable reply: a later tool_use_failed gets its own second chance.
            run.asked_after_tool_use_failed = False
            reply = run.last_reply()
            observe(window, messages, reply.usage)
            yield ModelReplyFinished(
                turn,
                reply.message,
                reply.usage,
                run.run_id,
                reply.finish_reason,
                reply.response_model,
                reply.response_id,
            )
            return

    def _from_failed_generation(self, run: RunState, exc: ToolUseFailed, recover: bool) -> bool:
        """Record the calls the refused generation holds; else ask the model once more."""
        prose, calls = extract_tool_calls(exc.failed_generation) if recover else ("", [])
        if calls:
            message = AssistantMessage(prose or None, tuple(calls))
            run.add_reply(self._recovered(ModelResponse(message)))
            return True
        run.add_usage(Usage(requests=1))  # the rejected request counts
        if run.asked_after_tool_use_failed:
            raise run.fail(exc)
        run.asked_after_tool_use_failed = True
        run.add_note(notes.tool_use_failed(exc.reason))
        return False

    async def _refused(
        self,
        run: RunState,
        messages: Sequence[Message],
        settings: ModelSettings,
        exc: ToolUseFailed | UnparsedToolCall,
        recover: bool,
        retries: _Retries,
        again: list[bool],
    ) -> AsyncIterator[Event]:
        """The server refused the reply for its tool call: record the calls agentkit can read
        in it, or tell the model and ask once more (`again`); a second time, the run fails.

        Groq's refusal holds the generation; llama.cpp's 500 does not, so the model is asked
        again with tool_choice "none", which makes llama.cpp send the raw text.
        """
        for retried in retries.take():  # the refused request's
            yield retried
        if isinstance(exc, ToolUseFailed):
            if not self._from_failed_generation(run, exc, recover):
                again.append(True)
            return
        run.add_usage(Usage(requests=1))  # the refused request counts
        if not recover:
            raise run.fail(exc)
        run.check_requests()
        sent: ModelSettings = {**settings, "tool_choice": "none"}
        yield ModelRequestStarted(retries.turn, run.run_id, tuple(messages), sent, False)
        retries = _Retries(retries.turn, run.run_id, retries.notify)
        token = watch(retries.heard)
        try:
            response = await self.model.request(messages, self.definitions, sent)
        except RunError as error:
            for retried in retries.take():
                yield retried
            failed = exc.unrecovered() if isinstance(error, UnparsedToolCall) else error
            raise run.fail(failed) from None
        finally:
            unwatch(token)
        for retried in retries.take():
            yield retried
        response = self._redacted(response)
        prose, calls = extract_tool_calls(response.message.content or "")
        if calls:
            message = AssistantMessage(prose or None, unique_ids(tuple(calls)))
            run.add_reply(self._priced(_with_message(response, message)))
            return
        run.add_usage(response.usage)
        if run.asked_after_tool_use_failed:
            raise run.fail(exc.unrecovered())
        run.asked_after_tool_use_failed = True
        run.add_note(notes.tool_use_failed(exc.reason))
        again.append(True)

    async def _streamed(
        self,
        run: RunState,
        messages: Sequence[Message],
        settings: ModelSettings,
        retries: _Retries,
        recover: bool,
    ) -> AsyncIterator[TextDelta | ModelRequestRetried]:
        gate = TextGate()
        redactor = StreamRedactor(self.model.secrets)
        response: ModelResponse | None = None
        streamed: list[str] = []
        run_id = run.run_id
        # Retries happen before the first item arrives; the watch ends there, before any
        # yield, so it never spans the caller's code between events.
        token: Token[Any] | None = watch(retries.heard)
        try:
            async for item in self.model.request_stream(messages, self.definitions, settings):
                if token is not None:
                    unwatch(token)
                    token = None
                    for retried in retries.take():
                        yield retried
                if isinstance(item, ModelResponse):
                    response = item
                else:
                    item = redactor.feed(item)
                    streamed.append(item)
                    if text := gate.feed(item):
                        yield TextDelta(text, run_id)
        finally:
            if token is not None:
                unwatch(token)
        if response is None:
            raise run.fail(ModelError(f"model {self.model.name!r} streamed no complete reply"))
        held = redactor.finish()
        streamed.append(held)
        if held and (text := gate.feed(held)):
            yield TextDelta(text, run_id)
        response = self._redacted(response)
        recovered = self._recovered(response, recover)
        # Prose that came after a native call was held by the stream reader; it is only in
        # the final message. Show it too, through the same gate.
        shown = response if recover else recovered  # with "none": calls written as text
        content, seen = shown.message.content or "", "".join(streamed)
        late = content[len(seen) :] if content.startswith(seen) else ""
        if late and (text := gate.feed(late)):
            yield TextDelta(text, run_id)
        # Held call text is dropped only when it was taken as calls.
        if rest := gate.finish(keep_calls=not recovered.message.tool_calls):
            yield TextDelta(rest, run_id)
        run.add_reply(self._priced(recovered))

    def _priced(self, response: ModelResponse) -> ModelResponse:
        """The reply with its cost at the agent's own price, when it has one."""
        if self.price is None:
            return response
        usage = priced(response.usage, self.price)
        return ModelResponse(
            response.message,
            usage,
            response.finish_reason,
            response.response_model,
            response.response_id,
        )

    def _redacted(self, response: ModelResponse) -> ModelResponse:
        """The reply without the endpoint's secrets: a server or model may echo the API key."""
        secrets = self.model.secrets
        message = response.message
        if not secrets:
            return response
        content = redact(message.content, secrets) if message.content else message.content
        calls = tuple(_redacted_call(call, secrets) for call in message.tool_calls)
        if content is message.content and calls == message.tool_calls:
            return response  # `redact` hands back the very text when nothing is in it
        return _with_message(response, AssistantMessage(content, calls))

    def _recovered(self, response: ModelResponse, recover: bool = True) -> ModelResponse:
        """The reply with tool calls left as text recovered, and call ids made unique.

        Without `recover` (tool_choice "none") the reply is text only: calls a server sent
        anyway are not run but written into it, as llama.cpp leaves them.
        """
        message = response.message
        content = message.content
        if not recover and (content or message.tool_calls):
            written = [strip_special_tokens(content or "").strip()]
            written += (_call_text(call) for call in message.tool_calls)
            return _with_message(response, AssistantMessage("\n".join(filter(None, written))))
        if message.tool_calls:
            calls = unique_ids(message.tool_calls)
            if calls is message.tool_calls:
                return response
            message = AssistantMessage(content, calls)
        elif content:
            if self.definitions:
                prose, recovered = extract_tool_calls(content)
                message = AssistantMessage(prose or None, unique_ids(tuple(recovered)))
            else:
                message = AssistantMessage(strip_special_tokens(content).strip() or None)
        else:
            return response
        return _with_message(response, message)


def _call_text(call: ToolCall) -> str:
    """A call as Llama 3.1 writes it in text."""
    arguments = call.arguments if call.arguments is not None else call.raw_arguments
    return json.dumps({"name": call.name, "parameters": arguments}, ensure_ascii=False)


def _with_message(response: ModelResponse, message: AssistantMessage) -> ModelResponse:
    return ModelResponse(
        message,
        response.usage,
        response.finish_reason,
        response.response_model,
        response.response_id,
    )


class _Retries:
    """The retries of one request: handed to the hooks as heard, yielded when it ends."""

    __slots__ = ("events", "notify", "run_id", "turn")

    def __init__(self, turn: int, run_id: str, notify: Notify | None) -> None:
        self.turn = turn
        self.run_id = run_id
        self.notify = notify
        self.events: list[ModelRequestRetried] = []

    async def heard(self, attempt: int, reason: str, delay: float) -> None:
        event = ModelRequestRetried(self.turn, attempt, reason, delay, self.run_id)
        self.events.append(event)
        if self.notify is not None:
            await self.notify(event)

    def take(self) -> list[ModelRequestRetried]:
        events, self.events = self.events, []
        return events


def _redacted_call(call: ToolCall, secrets: tuple[str, ...]) -> ToolCall:
    """The call with secrets removed from its name and arguments; itself when it holds none."""
    name, raw = redact(call.name, secrets), redact(call.raw_arguments, secrets)
    if name is call.name and raw is call.raw_arguments:
        return call
    arguments = None if call.arguments is None else parse_arguments(raw)
    return ToolCall(name, arguments, call.id, raw)


def unique_ids(calls: tuple[ToolCall, ...]) -> tuple[ToolCall, ...]:
    """The calls with duplicate ids replaced, so each tool result answers exactly one call."""
    seen: set[str] = set()
    fixed: list[ToolCall] | None = None
    for i, call in enumerate(calls):
        if call.id in seen:
            fixed = fixed if fixed is not None else list(calls)
            fixed[i] = ToolCall(call.name, call.arguments, new_call_id(), call.raw_arguments)
        seen.add(fixed[i].id if fixed is not None else call.id)
    return tuple(fixed) if fixed is not None else calls
