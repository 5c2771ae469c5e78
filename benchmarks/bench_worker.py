"""One measurement in a fresh process: one scenario, one adapter. Prints one JSON line.

    python benchmarks/bench_worker.py overhead agentkit http://127.0.0.1:PORT/v1 --runs 50

A fresh process per measurement keeps peak RSS honest and stops one adapter's warm caches
from helping another.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_agents import ADAPTERS

PROMPT = "What's the weather in Paris, what is 17+25, and who is user 42?"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def overhead(adapter: Any, runs: int, warmup: int) -> dict[str, Any]:
    """Sequential runs of 5 tool turns and an answer: CPU per model turn, wall per run."""
    for _ in range(warmup):
        await adapter.run(PROMPT)
    walls = []
    cpu_start = time.process_time()
    for _ in range(runs):
        start = time.perf_counter()
        await adapter.run(PROMPT)
        walls.append(time.perf_counter() - start)
    cpu = time.process_time() - cpu_start
    turns = runs * 6
    return {"cpu_per_turn_ms": cpu / turns * 1000, "wall_per_run_ms": sum(walls) / runs * 1000}


async def concurrency(adapter: Any, runs: int, warmup: int) -> dict[str, Any]:
    """`runs` concurrent runs with 50 ms model latency: total wall, runs/s, peak RSS."""
    for _ in range(warmup):
        await adapter.run(PROMPT)
    start = time.perf_counter()
    outputs = await asyncio.gather(*(adapter.run(PROMPT) for _ in range(runs)))
    wall = time.perf_counter() - start
    assert all(outputs), "every run must answer"
    return {"wall_s": wall, "runs_per_s": runs / wall, "peak_rss_mb": peak_rss_mb()}


async def parallel_tools(adapter: Any, runs: int, warmup: int) -> dict[str, Any]:
    """One reply with 8 calls to a tool sleeping 100 ms: wall of the run."""
    for _ in range(warmup):
        await adapter.run(PROMPT)
    walls = []
    for _ in range(runs):
        start = time.perf_counter()
        await adapter.run(PROMPT)
        walls.append(time.perf_counter() - start)
    walls.sort()
    return {"wall_ms": walls[len(walls) // 2] * 1000}


async def first_delta(adapter: Any, runs: int, warmup: int) -> dict[str, Any]:
    """Streaming: seconds from the start of the run to the first text delta."""
    for _ in range(warmup):
        await adapter.stream(PROMPT)
    firsts = []
    for _ in range(runs):
        seconds, text = await adapter.stream(PROMPT)
        assert text, "the stream must carry the answer"
        firsts.append(seconds)
    firsts.sort()
    return {"first_delta_ms": firsts[len(firsts) // 2] * 1000}


SCENARIOS = {
    "overhead": (overhead, "bench-k5-n1"),
    "concurrency": (concurrency, "bench-k5-n1-l50"),
    "parallel": (parallel_tools, "bench-k1-n8-tpause"),
    "stream0": (first_delta, "bench-k0-n1"),
    "stream5": (first_delta, "bench-k5-n1"),
}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("adapter", choices=sorted(ADAPTERS))
    parser.add_argument("base_url")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    function, model = SCENARIOS[args.scenario]
    adapter = ADAPTERS[args.adapter](args.base_url, model)
    try:
        result = await function(adapter, args.runs, args.warmup)
    finally:
        await adapter.close()
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
