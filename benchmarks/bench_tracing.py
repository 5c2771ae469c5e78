"""What tracing costs: per event, and per model turn of a real run with the hooks wired in.

    python benchmarks/bench_tracing.py            # about 4 minutes on 2 cores
    python benchmarks/bench_tracing.py --smoke    # a few runs of each, no thresholds (CI)

Part 1, *events*: the events of a synthetic run (5 tool turns with one call each, then an
answer: 24 events) fed to each hook, CPU per event. Part 2, *loop*: `Agent(hooks=[...])`
against the benchmark server (`bench-k5-n1`, in its own process), CPU of this process per
model turn, with `run()` (non-streaming, as `benchmarks/run.py`'s overhead scenario) and
with `stream()`. The hand-written `openai` loop (run and stream) runs too, interleaved, and
every figure is also given as a ratio to it.

Configurations, interleaved in every repetition: no hooks; a no-op hook; OpenTelemetryHook
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
from importlib import metadata
from pathlib import Path
from typing import Any

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
    RunStarted,
    ToolCallFinished,
    ToolCallStarted,
)
from agentkit.messages import SystemMessage, ToolMessage, UserMessage  # noqa: E402

PROMPT = "What's the weather in Paris, what is 17+25, and who is user 42?"
MODEL = "bench-k5-n1"
SETTINGS = {"temperature": 0.2, "max_tokens": 512}
TURNS = 6  # model turns per run of bench-k5-n1: five tool turns and the answer


def synthetic_run(turns: int = 5) -> list[Any]:
    """The events of one run: `turns` tool turns of one call each, then an answer."""
    run_id = "run_0123456789abcdef"
    messages: list[Any] = [SystemMessage(SYSTEM), UserMessage(PROMPT)]
    events: list[Any] = [RunStarted("bench", MODEL, PROMPT, run_id, None, None, "127.0.0.1", 8000)]
    for turn in range(1, turns + 2):
        events.append(ModelRequestStarted(turn, run_id, tuple(messages), SETTINGS))
        if turn > turns:
            answer = AssistantMessage("It is 22 degrees and sunny in Paris; 17 + 25 = 42.")
            usage = Usage(1, 400 + 60 * turn, 20)
            events.append(ModelReplyFinished(turn, answer, usage, run_id, "stop", MODEL, "c-1"))
            break
        call = ToolCall("get_weather", {"city": "Paris, France", "unit": "c"}, id=f"c{turn}")
        reply = AssistantMessage(None, (call,))
        usage = Usage(1, 400 + 60 * turn, 25)
        events.append(ModelReplyFinished(turn, reply, usage, run_id, "tool_calls", MODEL, "c-1"))
        events.append(ToolCallStarted(call, run_id))
        events.append(
            ToolCallFinished(call, "22 degrees C, sunny, in Paris", False, 0.0002, run_id)
        )
        messages += [reply, ToolMessage(call.id, "22 degrees C, sunny", call.name)]
    result = RunResult("done", messages, Usage(6, 3800, 145, turns))
    events.append(RunFinished(result, run_id))
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
        Setup("no hooks", None),
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


def agent_for(url: str, setup: Setup) -> Agent[Any]:
    hooks = [setup.hook] if setup.hook is not None else []
    return Agent(
        MODEL,
        base_url=url,
        api_key="bench",
        instructions=SYSTEM,
        tools=TOOLS,
        max_turns=20,
        model_settings=SETTINGS,  # type: ignore[arg-type]
        hooks=hooks,
    )


async def measure_loop(setup: Setup, agent: Agent[Any], runs: int, stream: bool) -> float:
    """CPU milliseconds per model turn of runs with the setup's hook wired in."""
    start = time.process_time()
    for _ in range(runs):
        if stream:
            async for _event in agent.stream(PROMPT):
                pass
        else:
            await agent.run(PROMPT)
        setup.reset()
    return (time.process_time() - start) / (runs * TURNS) * 1000


async def measure_handwritten(adapter: HandwrittenAdapter, runs: int, stream: bool) -> float:
    start = time.process_time()
    for _ in range(runs):
        await (adapter.stream(PROMPT) if stream else adapter.run(PROMPT))
    return (time.process_time() - start) / (runs * TURNS) * 1000


def median_table(samples: dict[str, list[float]], bases: tuple[str, ...], unit: str) -> list[str]:
    heads = " | ".join(f"vs {base}" for base in bases)
    rows = [f"| configuration | {unit} median [min-max] | {heads} |"]
    rows.append("|---|---|" + "---|" * len(bases))
    references = [statistics.median(samples[base]) for base in bases]
    for name, values in samples.items():
        middle = statistics.median(values)
        ratios = " | ".join(f"{middle / reference:.2f}x" for reference in references)
        rows.append(f"| {name} | {middle:.3g} [{min(values):.3g}-{max(values):.3g}] | {ratios} |")
    return rows


HAND = "hand-written openai loop"


async def loop_samples(
    configs: list[Setup], url: str, reps: int, runs: int, stream: bool
) -> dict[str, list[float]]:
    """Every configuration and the hand-written loop, `reps` times in rotating order."""
    agents = {setup.name: agent_for(url, setup) for setup in configs}
    handwritten = HandwrittenAdapter(url, MODEL)
    samples: dict[str, list[float]] = {HAND: [], **{c.name: [] for c in configs}}
    for setup in configs:
        await measure_loop(setup, agents[setup.name], 2, stream)  # warm up
    await measure_handwritten(handwritten, 2, stream)
    for rep in range(reps):
        samples[HAND].append(await measure_handwritten(handwritten, runs, stream))
        for setup in configs[rep % len(configs) :] + configs[: rep % len(configs)]:
            value = await measure_loop(setup, agents[setup.name], runs, stream)
            samples[setup.name].append(value)
    for agent in agents.values():
        await agent.aclose()
    await handwritten.close()
    return samples


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true", help="a few runs, no results written")
    args = parser.parse_args()
    reps, event_runs, loop_runs = (1, 20, 2) if args.smoke else (7, 4000, 60)
    events = synthetic_run()
    configs = setups()

    event_samples: dict[str, list[float]] = {c.name: [] for c in configs}
    for rep in range(reps):
        for setup in configs[rep % len(configs) :] + configs[: rep % len(configs)]:
            measure_events(setup, events, max(1, event_runs // 10))  # warm up
            event_samples[setup.name].append(measure_events(setup, events, event_runs))

    server = Server()
    try:
        ran = await loop_samples(configs, server.url, reps, loop_runs, stream=False)
        streamed = await loop_samples(configs, server.url, reps, loop_runs, stream=True)
    finally:
        server.close()

    command = "python benchmarks/bench_tracing.py" + (" --smoke" if args.smoke else "")
    counts = (len(events), reps, event_runs, loop_runs)
    report = render(event_samples, ran, streamed, counts, command)
    print(report)
    if args.smoke:
        return
    date = dt.date.today().isoformat()
    results = HERE / "results"
    (results / f"tracing-{date}.md").write_text(report + "\n")
    raw = {
        "events": event_samples,
        "run": ran,
        "stream": streamed,
        "command": command,
        "date": date,
    }
    (results / f"tracing-{date}.json").write_text(json.dumps(raw, indent=2) + "\n")


def render(
    event_samples: dict[str, list[float]],
    ran: dict[str, list[float]],
    streamed: dict[str, list[float]],
    counts: tuple[int, int, int, int],
    command: str,
) -> str:
    count, reps, event_runs, loop_runs = counts
    machine = _machine()
    versions = ", ".join(
        f"{name} {metadata.version(name)}"
        for name in ("openai", "opentelemetry-api", "opentelemetry-sdk", "anyio")
    )
    bases = ("no hooks", HAND)
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
        *median_table(event_samples, ("no-op hook",), "CPU per event (µs)"),
        "",
        f"## `Agent.run()` with the hooks wired in: 5 tool turns + an answer, {loop_runs} runs "
        f"x {reps} repetitions",
        "",
        *median_table(ran, bases, "CPU per model turn (ms)"),
        "",
        f"## `Agent.stream()`, the same, {loop_runs} runs x {reps} repetitions",
        "",
        *median_table(streamed, bases, "CPU per model turn (ms)"),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    asyncio.run(main())
