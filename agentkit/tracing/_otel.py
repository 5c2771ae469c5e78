"""OpenTelemetryHook: agentkit's events as GenAI spans and metrics.

One `invoke_agent {agent}` span per run (INTERNAL), a `chat {model}` span per model request
(CLIENT, with `server.address` and `server.port`), an `execute_tool {tool}` span per tool call
(INTERNAL, siblings under the run when they run in parallel). A sub-agent's run nests under
the `execute_tool` span of the call that started it. Two histograms follow the conventions:
`gen_ai.client.token.usage` and `gen_ai.client.operation.duration`, per chat request.

It depends on `opentelemetry-api` only. With no SDK configured the API hands out
non-recording spans, and the hook does no attribute work for them. Nothing is exported
unless the application configures an exporter (or passes providers that have one).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..errors import UserError
from . import _attrs as a
from ._chat import Requests
from ._state import Run, answer_text, as_json, set_usage

__all__ = ["OpenTelemetryHook"]

_MISSING_API = (
    "OpenTelemetry tracing needs the opentelemetry-api package, which is not installed: "
    "pip install 'agentkit-llama[otel]' (add opentelemetry-sdk and an exporter to record spans)"
)


def _import_otel() -> tuple[Any, Any]:
    try:
        from opentelemetry import metrics, trace
    except ImportError:
        raise UserError(_MISSING_API) from None
    return trace, metrics


class OpenTelemetryHook:
    """A hook that records agentkit runs as OpenTelemetry GenAI spans and metrics.

    Args:
        tracer_provider: Where spans go; default the global provider (set by the
            application, or by `opentelemetry-instrument`). None configured: nothing recorded.
        meter_provider: Where the histograms go; default the global provider.
        capture_content: Record prompts, replies, tool arguments and results
            (`gen_ai.input.messages`, `gen_ai.output.messages`, `gen_ai.tool.call.*`). Off
            by default, as the conventions ask: they may hold personal data.
        max_content_chars: The longest text recorded per message part, argument or result;
            longer ones are cut (the JSON stays valid).
        provider_name: `gen_ai.provider.name` for every span; default from the endpoint's
            host ("groq", "openai", ...; "openai_compatible" for other servers).
    """

    critical = False  # a failure in here is logged by the loop; it never stops a run

    def __init__(
        self,
        *,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        capture_content: bool = False,
        max_content_chars: int = 4096,
        provider_name: str | None = None,
    ) -> None:
        if isinstance(max_content_chars, bool) or not isinstance(max_content_chars, int):
            raise UserError(f"max_content_chars must be a whole number, got {max_content_chars!r}")
        if max_content_chars < 1:
            raise UserError(f"max_content_chars must be at least 1, got {max_content_chars}")
        trace, metrics = _import_otel()
        from opentelemetry.trace import SpanKind, Status, StatusCode

        from .. import __version__

        self._trace = trace
        # Children of a run whose span records nothing (no SDK, or sampled out) would record
        # nothing either: they get this stand-in, and cost no span at all.
        self._nothing = trace.INVALID_SPAN
        self._tracer = trace.get_tracer("agentkit", __version__, tracer_provider)
        meter = metrics.get_meter("agentkit", __version__, meter_provider)
        self._tokens = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=a.TOKEN_BUCKETS,
        )
        self._duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=a.DURATION_BUCKETS,
        )
        self._client, self._internal = SpanKind.CLIENT, SpanKind.INTERNAL
        self._status, self._error_code = Status, StatusCode.ERROR
        self.capture_content = capture_content
        self.max_content_chars = max_content_chars
        self.provider_name = provider_name
        self._runs: dict[str, Run] = {}
        self._requests = Requests(self)
        self._handlers: dict[str, Callable[[Run, Any], None]] = {
            "model_request_started": self._requests.started,
            "model_request_retried": self._requests.retried,
            "text_delta": lambda run, event: self._requests.delta(run),
            "model_reply_finished": self._requests.finished,
            "tool_call_started": self._tool_started,
            "tool_call_finished": self._tool_finished,
            "guardrail_checked": self._guardrail_checked,
            "run_finished": self._run_finished,
            "run_failed": self._run_failed,
        }

    def __call__(self, event: Any) -> None:
        """Take one event (of any run, of any agent in a tree); unknown kinds are ignored."""
        carrier = None
        if getattr(event, "type", None) == "agent_event":  # a sub-agent's event, passed up
            carrier = getattr(event, "run_id", "")
            event = event.event
        kind = getattr(event, "type", None)
        run_id = getattr(event, "run_id", "")
        run = self._runs.get(run_id)
        if run is not None and run.last is event:
            return  # the same event again: this hook sits on a sub-agent and on its caller
        if kind == "run_started":
            if run is None:
                self._runs[run_id] = self._start(event, run_id, carrier)
            return
        handler = self._handlers.get(kind) if isinstance(kind, str) else None
        if handler is None:
            return
        if run is None:  # events without a RunStarted (agentkit before hooks): start one
            run = self._runs[run_id] = self._start(None, run_id, carrier)
        run.last = event
        handler(run, event)

    # Runs -----------------------------------------------------------------------------

    def _start(self, event: Any, run_id: str, carrier: str | None) -> Run:
        agent = str(getattr(event, "agent", "") or "agent")
        model = getattr(event, "model", None)
        address = getattr(event, "server_address", None)
        port = getattr(event, "server_port", None)
        provider = self.provider_name
        common: dict[str, Any] = {
            a.PROVIDER: provider or (a.provider_for(address) if event else a.OTHER_PROVIDER)
        }
        if model:
            common[a.REQUEST_MODEL] = str(model)
        if address:
            common[a.SERVER_ADDRESS] = str(address)
            if isinstance(port, int):
                common[a.SERVER_PORT] = port
        parent = self._parent_context(event, carrier)
        attributes = {a.OPERATION: "invoke_agent", a.AGENT_NAME: agent, **common}
        span = self._tracer.start_span(
            f"invoke_agent {agent}", context=parent, kind=self._internal, attributes=attributes
        )
        recording = span.is_recording()
        if recording and self.capture_content and event is not None:
            prompt = [{"role": "user", "parts": [a.text_part(str(event.prompt), self._cap)]}]
            span.set_attribute(a.INPUT_MESSAGES, as_json(prompt))
        context = self._trace.set_span_in_context(span)
        run = Run(run_id, span, context, recording, common)
        parent_run = self._runs.get(getattr(event, "parent_run_id", None) or carrier or "\0")
        if parent_run is not None and parent_run is not run:
            parent_run.children.append(run_id)
        return run

    def _parent_context(self, event: Any, carrier: str | None) -> Any:
        """A sub-agent's run goes under the caller's `execute_tool` span; a top run under
        whatever span is current where it started (a web request's, say)."""
        parent_run = self._runs.get(getattr(event, "parent_run_id", None) or carrier or "\0")
        if parent_run is None:
            return None
        tool = parent_run.tools.get(getattr(event, "parent_call_id", None) or "\0")
        return parent_run.context if tool is None else self._trace.set_span_in_context(tool)

    def _run_finished(self, run: Run, event: Any) -> None:
        self._close_open(run, None)
        result = getattr(event, "result", None)
        usage = getattr(result, "usage", None)
        if run.recording:
            set_usage(run.span, usage)
            if self.capture_content and result is not None:
                text = answer_text(getattr(result, "output", None))
                reply = {"role": "assistant", "parts": [a.text_part(text, self._cap)]}
                reply["finish_reason"] = "stop"
                run.span.set_attribute(a.OUTPUT_MESSAGES, as_json([reply]))
        run.span.end()
        del self._runs[run.id]

    def _run_failed(self, run: Run, event: Any) -> None:
        error = getattr(event, "error", None)
        kind = a.error_type(error) if isinstance(error, BaseException) else "_OTHER"
        self._fail(run, kind, str(error)[:200] if error is not None else "")
        if run.recording:
            set_usage(run.span, getattr(event, "usage", None))

    def _fail(self, run: Run, kind: str, description: str) -> None:
        for child_id in run.children:
            child = self._runs.get(child_id)
            if child is not None:  # still open: it ends with the run that called it
                self._fail(child, kind, description)
        self._close_open(run, kind)
        self._mark_error(run.span, kind, description)
        run.span.end()
        self._runs.pop(run.id, None)

    def _close_open(self, run: Run, kind: str | None) -> None:
        """End what a run left open: its request fails with it, unfinished calls too."""
        self._requests.failed(run, kind or "_OTHER")
        for span in run.tools.values():
            if kind is not None:
                self._mark_error(span, kind, "")
            span.end()
        run.tools.clear()

    # Tool calls -----------------------------------------------------------------------

    def _tool_started(self, run: Run, event: Any, start_time: int | None = None) -> None:
        call = event.call
        if not run.recording:
            run.tools[call.id] = self._nothing
            return
        attributes = {
            a.OPERATION: "execute_tool",
            a.TOOL_NAME: call.name,
            a.TOOL_CALL_ID: call.id,
            a.TOOL_TYPE: "function",
        }
        span = self._tracer.start_span(
            f"execute_tool {call.name}",
            context=run.context,
            kind=self._internal,
            attributes=attributes,
            start_time=start_time,
        )
        if self.capture_content:
            span.set_attribute(a.TOOL_ARGUMENTS, a.tool_arguments(call, self._cap))
        run.tools[call.id] = span

    def _tool_finished(self, run: Run, event: Any) -> None:
        call = event.call
        span = run.tools.pop(call.id, None)
        if span is None:  # its start was not seen: place it by its duration
            took = float(getattr(event, "duration", 0.0) or 0.0)
            self._tool_started(run, event, time.time_ns() - int(took * 1e9))
            span = run.tools.pop(call.id)
        if run.recording:
            if getattr(event, "is_error", False):
                self._mark_error(span, getattr(event, "error_type", None) or "tool_error", "")
            elif self.capture_content:
                result = a.truncate(str(getattr(event, "result", "")), self._cap)
                span.set_attribute(a.TOOL_RESULT, result)
        span.end()

    def _guardrail_checked(self, run: Run, event: Any) -> None:
        if not run.recording:
            return
        name = str(getattr(event, "guardrail", "guardrail"))
        tripped = bool(getattr(event, "tripped", False))
        duration = float(getattr(event, "duration", 0.0) or 0.0)
        tool = run.tools.get(getattr(event, "call_id", None) or "\0")
        attributes = {
            a.OPERATION: "apply_guardrail",
            "gen_ai.guardrail.component.name": name,
            "gen_ai.guardrail.source": str(getattr(event, "kind", "")),
            "gen_ai.guardrail.result.type": "tripped",
            "gen_ai.guardrail.result.value": "true" if tripped else "false",
        }
        categories = getattr(event, "categories", ())
        if categories:
            attributes["gen_ai.guardrail.result.reason"] = ",".join(categories)
        start = time.time_ns() - int(duration * 1e9)
        span = self._tracer.start_span(
            f"apply_guardrail {name}",
            context=run.context if tool is None else self._trace.set_span_in_context(tool),
            kind=self._internal,
            attributes=attributes,
            start_time=start,
        )
        span.end()

    # Helpers --------------------------------------------------------------------------

    @property
    def _cap(self) -> int:
        return self.max_content_chars

    def _mark_error(self, span: Any, kind: str, description: str) -> None:
        span.set_attribute(a.ERROR_TYPE, kind)
        span.set_status(self._status(self._error_code, description or kind))
