"""What `agentkit run` and `chat` add to a run's hooks: `--trace`, `--otel`, sub-agents' calls.

- `--trace` records every event and prints the timeline of each run on stderr as it ends
  (after a failure or Ctrl-C too): requests, tool calls, durations, tokens.
- `--otel` sends spans and metrics over OTLP/HTTP to the collector that
  `OTEL_EXPORTER_OTLP_ENDPOINT` names (`OtlpExport`, needs `agentkit-llama[otlp]`), flushed when
  the command ends, for at most 2 s; what did not reach the collector is said in one line
  (the SDK's own log lines of each failed export and retry show only with -v). Without the
  flag nothing is exported.
- An agent that uses other agents as tools gets their tool calls shown as they happen,
  indented and dimmed under the call that runs them, `researcher > ` in front.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from agentkit import _env
from agentkit._loop.nested import AgentTool
from agentkit.agent import Agent
from agentkit.cli._load import Options
from agentkit.cli._render import Renderer, TextRenderer
from agentkit.cli._text import call_summary, clean, cut
from agentkit.errors import UserError
from agentkit.events import AgentEvent, ToolCallFinished, ToolCallStarted

__all__ = ["observe"]

_NO_ENDPOINT = (
    "--otel sends traces to the OTLP collector that OTEL_EXPORTER_OTLP_ENDPOINT names, and "
    "it is not set: export OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 (and "
    "OTEL_SERVICE_NAME to name the service, default agentkit)"
)


def observe(agent: Agent[Any], options: Options, renderer: Renderer) -> Agent[Any]:
    """The agent with the hooks the options ask for (itself when none)."""
    hooks: list[Any] = []
    if options.trace:
        hooks.append(TraceHook(renderer))
    if options.otel:
        hooks.append(_otlp_hook(renderer, options.verbose))
    if isinstance(renderer, TextRenderer) and any(isinstance(t, AgentTool) for t in agent.tools):
        hooks.append(SubAgentCalls(renderer))
    if not hooks:
        return agent
    return agent.replace(hooks=(*agent.config.hooks, *hooks))


def _otlp_hook(renderer: Renderer, verbose: bool) -> Any:
    from agentkit.tracing import OtlpExport

    if _env.otlp_endpoint() is None:
        raise UserError(_NO_ENDPOINT)
    if not verbose:
        _quiet_sdk_logs()
    # The exporters read the endpoint and headers from the standard OTEL_* variables.
    export = OtlpExport(service_name=_env.setting("OTEL_SERVICE_NAME") or "agentkit")

    def close() -> None:  # what is batched leaves before the process does, or is given up
        export.close()
        if export.failure:
            renderer.notice(f"agentkit: {_not_sent(export)}")

    renderer.on_exit(close)
    return export.hook()


def _quiet_sdk_logs() -> None:
    """The OpenTelemetry SDK logs each failed export and retry on stderr (through logging's
    last resort); the CLI says once what was lost instead (`_not_sent`); -v shows them."""
    import logging

    sdk = logging.getLogger("opentelemetry")
    sdk.addHandler(logging.NullHandler())
    sdk.propagate = False


def _not_sent(export: Any) -> str:
    """What did not reach the collector, and what to check."""
    variable = "OTEL_EXPORTER_OTLP_ENDPOINT"
    if not _env.setting(variable):
        variable = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    spans = export.spans_not_sent
    lost = [f"{spans} span{'' if spans == 1 else 's'}"] if spans else []
    lost += ["the metrics"] if export.metrics_failed else []
    what = " and ".join(lost) or "some of the traces"
    were = "was" if lost == ["1 span"] else "were"
    hint = "is it running? check" if export.failure == "could not be reached" else "check"
    return (
        f"the OTLP collector at {_env.otlp_endpoint()} {export.failure}: {what} {were} not "
        f"sent ({hint} {variable})"
    )


class TraceHook:
    """`--trace`: records a run's events and prints its timeline when the run ends."""

    critical = False

    def __init__(self, renderer: Renderer) -> None:
        from agentkit.tracing import Recorder

        self.renderer = renderer
        self.recorder = Recorder()

    def __call__(self, event: Any) -> None:
        self.recorder(event)
        if event.type in ("run_finished", "run_failed"):  # the run's own end, not a child's
            from agentkit.tracing import render_timeline

            text = render_timeline(self.recorder.records)
            self.recorder.clear()
            self.renderer.pause()
            dim = "dim" if self.renderer.err.is_terminal else ""
            for line in text.splitlines():
                self.renderer.err.print(Text(clean(line), style=dim))


class SubAgentCalls:
    """Shows a sub-agent's tool calls as they happen (its events reach hooks at once, the
    stream only once its call ends); its text is not printed as the answer."""

    critical = False

    def __init__(self, renderer: TextRenderer) -> None:
        self.renderer = renderer

    def __call__(self, event: Any) -> None:
        if not isinstance(event, AgentEvent):
            return
        inner = event.event
        if not isinstance(inner, (ToolCallStarted, ToolCallFinished)):
            return
        who = " > ".join(clean(name) for name in event.path[1:])
        indent = "  " * max(1, len(event.path) - 1)
        renderer = self.renderer
        renderer.pause()
        if isinstance(inner, ToolCallStarted):
            line = f"{indent}{who} > → {call_summary(inner.call)}"
            renderer.err.print(Text(line, style="dim"))
            return
        first = (clean(inner.result).splitlines() or [""])[0]
        failed = " (failed)" if inner.is_error else ""
        line = f"{indent}{who} > ← {clean(inner.call.name)}{failed}: {cut(first, 120)}"
        renderer.err.print(Text(line, style="red" if inner.is_error else "dim"))
