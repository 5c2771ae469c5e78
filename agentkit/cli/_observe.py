"""What `agentkit run` and `chat` add to a run's hooks: `--trace`, `--otel`, sub-agents' calls.

- `--trace` records every event and prints the timeline of each run on stderr as it ends
  (after a failure or Ctrl-C too): requests, tool calls, durations, tokens.
- `--otel` sends spans and metrics over OTLP/HTTP to the collector that
  `OTEL_EXPORTER_OTLP_ENDPOINT` names (`OtlpExport`, needs `agentkit-llama[otlp]`), flushed when
  the command ends. Without the flag nothing is exported.
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
        hooks.append(_otlp_hook(renderer))
    if isinstance(renderer, TextRenderer) and any(isinstance(t, AgentTool) for t in agent.tools):
        hooks.append(SubAgentCalls(renderer))
    if not hooks:
        return agent
    return agent.replace(hooks=(*agent.config.hooks, *hooks))


def _otlp_hook(renderer: Renderer) -> Any:
    from agentkit.tracing import OtlpExport

    if _env.otlp_endpoint() is None:
        raise UserError(_NO_ENDPOINT)
    # The exporters read the endpoint and headers from the standard OTEL_* variables.
    export = OtlpExport(service_name=_env.setting("OTEL_SERVICE_NAME") or "agentkit")
    renderer.on_exit(export.close)  # what is batched leaves before the process does
    return export.hook()


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
