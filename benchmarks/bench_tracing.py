"""What tracing costs: per event, and per model turn of a real streamed run.

    python benchmarks/bench_tracing.py            # about 2 minutes on 2 cores
    python benchmarks/bench_tracing.py --smoke    # a few runs of each, no thresholds

Part 1, *events*: the events of a synthetic run (5 tool turns with one call each, then an
answer: 24 events) fed to each hook, CPU per event. Part 2, *loop*: `Agent.stream()` against
the benchmark server (`bench-k5-n1`, in its own process), each event handed to the hook,
CPU of this process per model turn; the hand-written `openai` streaming loop runs too, as
the baseline of the other benchmarks. Until `Agent(hooks=[...])` exists, `stream()` is how
a hook sees a run, so part 2 measures tracing as users can run it today.

Configurations, interleaved in every repetition: no hook; a no-op hook; OpenTelemetryHook
with the API only (no SDK: what an install without a configured SDK gets); with the SDK
(in-memory exporter, SimpleSpanProcessor, SDK metrics with an in-memory reader); the same
with a BatchSpanProcessor; the same with content capture on.

Results go to benchmarks/results/tracing-<date>.md and .json.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_agents import SYSTEM, TOOLS, HandwrittenAdapter  # noqa: E402
from run import Server, _machine  # noqa: E402

from agentkit import Agent, AssistantMessage, RunResult, ToolCall, Usage  # noqa: E402
from agentkit.events import (  # noqa: E402
    ModelReplyFinished,
    ModelRequestStarted,
    RunFinished,
    ToolCallFinished,
    ToolCallStarted,
)
from agentkit.messages import SystemMessage, ToolMessage, UserMessage  # noqa: E402

PROMPT = "What's the weather in Paris, what is 17+25, and who is user 42?"
MODEL = "bench-k5-n1"


@dataclass(frozen=True, slots=True)
class RunStarted:
    """The event phase 2 adds (INTEGRATION.md): it names the agent, model and server."""

    agent: str
    model: str
    prompt: str
    run_id: str = ""
    server_address: str | None = "127.0.0.1"
    server_port: int | None = 8000
    type: Literal["run_started"] = field(default="run_started", init=False)


def synthetic_run(turns: int = 5) -> list[Any]:
    """The events of one run: `turns` tool turns of one call each, then an answer."""
    messages: list[Any] = [SystemMessage(SYSTEM), UserMessage(PROMPT)]
    events: list[Any] = [RunStarted("bench", MODEL, PROMPT)]
    for turn in range(1, turns + 2):
        events.append(ModelRequestStarted(turn))
        if turn > turns:
            answer = AssistantMessage("It is 22 degrees and sunny in Paris; 17 + 25 = 42.")
            events.append(ModelReplyFinished(turn, answer, Usage(1, 400 + 60 * turn, 20)))
            break
        call = ToolCall("get_weather", {"city": "Paris, France", "unit": "c"}, id=f"c{turn}")
        reply = AssistantMessage(None, (call,))
        events.append(ModelReplyFinished(turn, reply, Usage(1, 400 + 60 * turn, 25)))
        events.append(ToolCallStarted(call))
        events.append(ToolCallFinished(call, "22 degrees C, sunny, in Paris", False, 0.0002))
        messages += [reply, ToolMessage(call.id, "22 degrees C, sunny", call.name)]
    events.append(RunFinished(RunResult("done", messages, Usage(6, 3800, 145, turns))))
    return events


def _noop(event: Any) -> None:
    pass


class Setup:
    """One configuration: its hook, and how to clear what its exporter collected."""

    def __init__(self, name: str, hook: Callable[[Any], None] | None, reset: Any = None) -> None:
        self.name = name
        self.hook = hook
        self._reset = reset

    def reset(self) -> None:
        if self._reset is not None:
            self._reset()


def setups() -> list[Setup]:
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import NoOpTracerProvider

    from agentkit.tracing import OpenTelemetryHook

    def sdk(batch: bool, **options: Any) -> tuple[OpenTelemetryHook, Any]:
        exporter = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
        tracer_provider.add_span_processor(processor)
        meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
        hook = OpenTelemetryHook(
            tracer_provider=tracer_provider, meter_provider=meter_provider, **options
        )
        return hook, exporter.clear

    api = OpenTelemetryHook(
        tracer_provider=NoOpTracerProvider(), meter_provider=NoOpMeterProvider()
    )
    return [
        Setup("no hook", None),
        Setup("no-op hook", _noop),
        Setup("otel, API only", api),
        Setup("otel, SDK", *sdk(batch=False)),
        Setup("otel, SDK, batch", *sdk(batch=True)),
        Setup("otel, SDK, content", *sdk(batch=False, capture_content=True)),
    ]


def measure_events(setup: Setup, events: list[Any], runs: int) -> float:
    """CPU microseconds per event over `runs` replays of the run."""
    hook = setup.hook
    start = time.process_time()
    for _ in range(runs):
        if hook is None:
            for _event in events:
                pass
        else:
            for event in events:
                hook(event)
        setup.reset()
    return (time.process_time() - start) / (runs * len(events)) * 1e6


async def measure_loop(setup: Setup, agent: Agent[Any], runs: int) -> float:
    """CPU milliseconds per model turn of streamed runs, the hook fed every event."""
    hook = setup.hook
    start = time.process_time()
    for _ in range(runs):
        async for event in agent.stream(PROMPT):
            if hook is not None:
                hook(event)
        setup.reset()
    return (time.process_time() - start) / (runs * 6) * 1000


async def measure_handwritten(adapter: HandwrittenAdapter, runs: int) -> float:
    start = time.process_time()
    for _ in range(runs):
        await adapter.stream(PROMPT)
    return (time.process_time() - start) / (runs * 6) * 1000


def median_table(samples: dict[str, list[float]], base: str, unit: str) -> list[str]:
    rows = [f"| configuration | {unit} median [min-max] | vs {base} |", "|---|---|---|"]
    reference = statistics.median(samples[base])
    for name, values in samples.items():
        middle = statistics.median(values)
        rows.append(
            f"| {name} | {middle:.3g} [{min(values):.3g}-{max(values):.3g}] | "
            f"{middle / reference:.2f}x |"
        )
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true", help="a few runs, no results written")
    args = parser.parse_args()
    reps, event_runs, loop_runs = (1, 20, 2) if args.smoke else (7, 4000, 80)
    events = synthetic_run()
    configs = setups()

    event_samples: dict[str, list[float]] = {c.name: [] for c in configs}
    for rep in range(reps):
        for setup in configs[rep % len(configs) :] + configs[: rep % len(configs)]:
            measure_events(setup, events, max(1, event_runs // 10))  # warm up
            event_samples[setup.name].append(measure_events(setup, events, event_runs))

    server = Server()
    loop_samples: dict[str, list[float]] = {"hand-written openai loop": []}
    loop_samples.update({c.name: [] for c in configs})
    try:
        agent: Agent[Any] = Agent(
            MODEL,
            base_url=server.url,
            api_key="bench",
            instructions=SYSTEM,
            tools=TOOLS,
            max_turns=20,
        )
        handwritten = HandwrittenAdapter(server.url, MODEL)
        for setup in configs:
            await measure_loop(setup, agent, 2)  # warm up
        await measure_handwritten(handwritten, 2)
        for rep in range(reps):
            order = configs[rep % len(configs) :] + configs[: rep % len(configs)]
            loop_samples["hand-written openai loop"].append(
                await measure_handwritten(handwritten, loop_runs)
            )
            for setup in order:
                loop_samples[setup.name].append(await measure_loop(setup, agent, loop_runs))
        await agent.aclose()
        await handwritten.close()
    finally:
        server.close()

    command = "python benchmarks/bench_tracing.py" + (" --smoke" if args.smoke else "")
    report = render(event_samples, loop_samples, len(events), reps, event_runs, loop_runs, command)
    print(report)
    if args.smoke:
        return
    date = dt.date.today().isoformat()
    results = HERE / "results"
    (results / f"tracing-{date}.md").write_text(report + "\n")
    raw = {"events": event_samples, "loop": loop_samples, "command": command, "date": date}
    (results / f"tracing-{date}.json").write_text(json.dumps(raw, indent=2) + "\n")


def render(
    event_samples: dict[str, list[float]],
    loop_samples: dict[str, list[float]],
    count: int,
    reps: int,
    event_runs: int,
    loop_runs: int,
    command: str,
) -> str:
    machine = _machine()
    versions = ", ".join(
        f"{name} {metadata.version(name)}"
        for name in ("openai", "opentelemetry-api", "opentelemetry-sdk", "anyio")
    )
    lines = [
        "# agentkit tracing benchmark",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- command: `{command}`",
        f"- machine: {machine['cpu']}, {machine['cores']} cores, Python {machine['python']}",
        f"- versions: {versions}",
        "",
        f"## events: one run's {count} events, replayed {event_runs} times, {reps} "
        "interleaved repetitions",
        "",
        *median_table(event_samples, "no-op hook", "CPU per event (µs)"),
        "",
        f"## loop: `Agent.stream()`, 5 tool turns + an answer, {loop_runs} runs x {reps} "
        "repetitions",
        "",
        *median_table(loop_samples, "no hook", "CPU per model turn (ms)"),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    asyncio.run(main())
