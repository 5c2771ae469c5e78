"""Reading a streamed reply from an OpenAI-compatible endpoint: SSE lines to one message.

Text deltas are handed on as they arrive; tool-call deltas are assembled by the
`StreamAccumulator`. Every failure is a `ModelError` worded by the adapter: a stall, a break,
a missing `[DONE]`, a malformed chunk, an `error` event, the deadline. A server that answers
a stream request with one JSON body is read as a complete reply.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import anyio

from agentkit.messages import AssistantMessage
from agentkit.models._base import ModelResponse
from agentkit.models.openai._chunks import StreamAccumulator
from agentkit.models.openai._hints import known_stream_error
from agentkit.models.openai._responses import (
    decode_reply,
    error_detail,
    failed_generation,
    is_json,
    media_type,
)

if TYPE_CHECKING:
    from agentkit.models.openai._adapter import OpenAIModel

__all__ = ["read_stream"]


async def read_stream(
    model: OpenAIModel, response: Any, deadline: float
) -> AsyncIterator[str | ModelResponse]:
    """Text deltas as they arrive, then the complete `ModelResponse`; closes the response."""
    # A web page (a base URL pointing at a UI, a proxy's error page) is no stream: reading it
    # whole reports what it is, instead of a stream that ended without [DONE].
    if is_json(response) or media_type(response) in ("text/html", "application/xhtml+xml"):
        whole = await _read_whole(model, response, deadline)
        if whole.message.content:
            yield whole.message.content
        yield whole
        return
    accumulator = StreamAccumulator()
    try:
        lines = response.aiter_lines()
        while True:
            # The deadline guards each read, never a yield: a cancel scope must not stay open
            # while the caller runs between events.
            with anyio.move_on_after(deadline - anyio.current_time()) as scope:
                data = await _next_data(model, lines)
            if scope.cancelled_caught:
                raise model._error(f"no complete reply within the {model.deadline:g} s deadline")
            if data is None:
                break
            try:
                text = accumulator.feed(data)
            except ValueError as exc:
                raise model._error(f"malformed stream chunk: {exc}") from None
            if text:
                yield text
    finally:
        with anyio.CancelScope(shield=True):
            await response.aclose()
    reply = accumulator.finish()
    message = AssistantMessage(reply.content, reply.tool_calls)
    usage = model._usage(reply.usage)
    yield ModelResponse(message, usage, reply.finish_reason, reply.model, reply.id)


async def _read_whole(model: OpenAIModel, response: Any, deadline: float) -> ModelResponse:
    """A whole body answering a stream request: a server that ignores `stream`, or an error."""
    import httpx2

    try:
        with anyio.move_on_after(deadline - anyio.current_time()) as scope:
            await response.aread()
    except httpx2.HTTPError as exc:
        raise model._error(f"the reply broke off: {type(exc).__name__}: {exc}") from None
    finally:
        with anyio.CancelScope(shield=True):
            await response.aclose()
    if scope.cancelled_caught:
        raise model._error(f"no complete reply within the {model.deadline:g} s deadline")
    return decode_reply(model, response)


async def _next_data(model: OpenAIModel, lines: AsyncIterator[str]) -> Any:
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
            return _decode_chunk(model, payload, event)
    except httpx2.TimeoutException:
        # Its text is empty: say what happened instead of "ReadTimeout: ".
        raise model._error(f"the stream stalled: no data within {model.timeout:g} s") from None
    except httpx2.HTTPError as exc:
        raise model._error(f"the stream broke off: {type(exc).__name__}: {exc}") from None
    raise model._error("the stream ended without [DONE]; the reply may be incomplete")


def _decode_chunk(model: OpenAIModel, payload: str, event: str) -> Any:
    try:
        data = json.loads(payload)
    except ValueError:
        raise model._error(
            f"malformed stream chunk (not JSON): {model.snippet(payload, 200)!r}"
        ) from None
    if event == "error" or (isinstance(data, dict) and "error" in data):
        detail = model.snippet(error_detail(data) or payload, 300)
        failed = failed_generation(data)
        if failed is not None:
            raise model._tool_use_failed(detail, failed, None)
        if (known := known_stream_error(model, data)) is not None:
            raise known
        raise model._error(f"error in the stream: {detail}")
    return data
