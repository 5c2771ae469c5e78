"""The `chat {model}` span of each model request, and its two metrics.

A request's span is made once its outcome is known (the reply, or the failure), with its
start time, every attribute at once and its retries as span events: one call into the SDK
instead of a start, a later `set_attributes` and an end with the span open in between. The
SDK exports a span only once it has ended, so what an exporter receives is the same; what
the SDK does per request is less. Attribute dicts that repeat (the request settings of a run,
the metric points of a model) are built once per run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from . import _attrs as a
from ._state import Run

__all__ = ["Pending", "Requests"]


@dataclass(slots=True)
class Pending:
    """A request in flight: when it started, and what its span will carry."""

    start: float  # perf_counter, for durations
    start_ns: int  # wall clock, the span's start
    stream: bool
    attributes: dict[str, Any] | None  # None when the run records no spans
    retries: list[tuple[dict[str, Any], int]] = field(default_factory=list)
    first_chunk: float | None = None


class Requests:
    """Turns a run's request events into chat spans and metric points (for the hook)."""

    def __init__(self, hook: Any) -> None:
        self.hook = hook  # the OpenTelemetryHook: tracer, instruments, options

    def started(self, run: Run, event: Any) -> None:
        if run.chat is not None:
            self.failed(run, "_OTHER")  # a request without its reply: cannot happen
        stream = bool(getattr(event, "stream", False))
        attributes = None
        if run.recording:
            settings = getattr(event, "settings", None) or {}
            if settings is not run.settings:  # one merged settings object per run
                run.settings = settings
                run.request_attributes = {
                    a.OPERATION: "chat",
                    **run.common,
                    **a.request_attributes(settings),
                }
            attributes = dict(run.request_attributes)
            if stream:
                attributes[a.STREAM] = True
            if self.hook.capture_content:
                messages = getattr(event, "messages", ())
                attributes[a.INPUT_MESSAGES] = a.input_messages(messages, self.hook._cap)
        run.chat = Pending(time.perf_counter(), time.time_ns(), stream, attributes)

    def retried(self, run: Run, event: Any) -> None:
        pending = run.chat
        if pending is not None and pending.attributes is not None:
            attributes = {
                "retry.attempt": int(getattr(event, "attempt", 0)),
                a.ERROR_TYPE: str(getattr(event, "reason", "")),
                "retry.delay": float(getattr(event, "delay", 0.0)),
            }
            pending.retries.append((attributes, time.time_ns()))

    def delta(self, run: Run) -> None:
        pending = run.chat
        if pending is not None and pending.stream and pending.first_chunk is None:
            pending.first_chunk = time.perf_counter() - pending.start

    def finished(self, run: Run, event: Any) -> None:
        pending = run.chat
        if pending is None:
            return
        run.chat = None
        hook = self.hook
        usage = getattr(event, "usage", None)
        response_model = getattr(event, "response_model", None)
        points = run.points.get(response_model)
        if points is None:
            base = {a.OPERATION: "chat", **run.common}
            if response_model:
                base[a.RESPONSE_MODEL] = response_model
            points = (base, {**base, a.TOKEN_TYPE: "input"}, {**base, a.TOKEN_TYPE: "output"})
            run.points[response_model] = points
        hook._duration.record(time.perf_counter() - pending.start, points[0])
        prompt = getattr(usage, "prompt_tokens", 0) or 0
        completion = getattr(usage, "completion_tokens", 0) or 0
        if prompt or completion:  # zero means the server did not say: no usage point
            hook._tokens.record(prompt, points[1])
            hook._tokens.record(completion, points[2])
        attributes = pending.attributes
        if attributes is None:
            return
        finish = getattr(event, "finish_reason", None)
        message = getattr(event, "message", None)
        if finish is None and message is not None:
            finish = "tool_calls" if message.tool_calls else "stop"
        attributes[a.FINISH_REASONS] = (finish or "stop",)
        if prompt or completion:
            attributes[a.INPUT_TOKENS] = prompt
            attributes[a.OUTPUT_TOKENS] = completion
        if response_model:
            attributes[a.RESPONSE_MODEL] = response_model
        response_id = getattr(event, "response_id", None)
        if response_id:
            attributes[a.RESPONSE_ID] = response_id
        if hook.capture_content and message is not None:
            attributes[a.OUTPUT_MESSAGES] = a.output_messages(message, finish, hook._cap)
        self._span(run, pending, attributes).end()

    def failed(self, run: Run, kind: str) -> None:
        """The request ended with its run: an error of `kind`."""
        pending = run.chat
        if pending is None:
            return
        run.chat = None
        hook = self.hook
        points = {a.OPERATION: "chat", **run.common, a.ERROR_TYPE: kind}
        hook._duration.record(time.perf_counter() - pending.start, points)
        if pending.attributes is not None:
            span = self._span(run, pending, {**pending.attributes, a.ERROR_TYPE: kind})
            span.set_status(hook._status(hook._error_code, kind))
            span.end()

    def _span(self, run: Run, pending: Pending, attributes: dict[str, Any]) -> Any:
        if pending.first_chunk is not None:
            attributes[a.FIRST_CHUNK] = pending.first_chunk
        model = run.common.get(a.REQUEST_MODEL)
        span = self.hook._tracer.start_span(
            f"chat {model}" if model else "chat",
            context=run.context,
            kind=self.hook._client,
            attributes=attributes,
            start_time=pending.start_ns,
        )
        for retry, at in pending.retries:
            span.add_event("agentkit.request.retry", retry, timestamp=at)
        return span
