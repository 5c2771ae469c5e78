"""Batch throughput: agentkit's run_batch (local and Ray) next to a hand-written gather loop.

    python benchmarks/bench_batch.py              # 10,000 rows, 0 and 50 ms, 3 repetitions
    python benchmarks/bench_batch.py --smoke      # 300 rows at 50 ms, one repetition (CI)
    python benchmarks/bench_batch.py --rows 2000 --reps 1 --only agentkit-local

The model is agentkit's FakeServer in its own process (`bench_server.py`), answering each
row at once (`bench-k0-n1`) or after 50 ms (`bench-k0-n1-l50`). Every measurement runs in
a fresh process, adapters interleaved (A B C, B C A, ...), medians reported. The baseline
is what a user writes by hand: `asyncio.gather` over a semaphore around the `openai`
client, each answer appended to a JSONL file (no fsync, no resume, no retries of its own).
agentkit's rows each go through the whole Agent loop and the fsynced ledger.

Results go to benchmarks/results/batch-<date>.md and .json with the command, the machine,
the versions, and the scale-out figures computed from what was measured.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from run import Server

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

# agentkit-ray-shared: the Ray backend with rows sharing actor calls from the first row on
# (the backend does it by itself only past 250 rows/s): what the driver costs at scale.
ADAPTERS = ["agentkit-local", "handwritten-gather", "agentkit-ray", "agentkit-ray-shared"]
RAY = ("agentkit-ray", "agentkit-ray-shared")
# name: (model id for bench_server.py, what a row is)
SCENARIOS = {
    "l0": ("bench-k0-n1", "one request per row, answered at once"),
    "l50": ("bench-k0-n1-l50", "one request per row, 50 ms model latency"),
    "tools50": ("bench-k2-n1-l50", "two tool turns and an answer per row (3 requests), 50 ms each"),
}


# --- the adapters, each run in its own process (`--worker`) ------------------------------


def make_agent(url: str, model: str) -> Any:
    """The batch's agent (its tools are module-level functions: they travel by reference)."""
    from agentkit import Agent

    if "-k0-" in model:
        return Agent(model, base_url=url, api_key="bench")
    from bench_agents import SYSTEM, TOOLS  # the three documented tools of bench_agents.py

    return Agent(model, base_url=url, api_key="bench", instructions=SYSTEM, tools=TOOLS)


async def handwritten(
    url: str, model: str, rows: list[dict[str, Any]], out: Any, concurrency: int
) -> None:
    """The loop a user writes: gather over a semaphore, the openai client, a JSONL file."""
    import openai
    from bench_agents import HandwrittenAdapter  # its loop, when rows call tools

    client = openai.AsyncOpenAI(base_url=url, api_key="bench")
    with_tools = HandwrittenAdapter(url, model)
    limit = asyncio.Semaphore(concurrency)

    async def answer(prompt: str) -> dict[str, Any]:
        if "-k0-" not in model:
            return {"output": await with_tools.run(prompt)}
        reply = await client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": prompt}]
        )
        usage = reply.usage.model_dump() if reply.usage else None
        return {"output": reply.choices[0].message.content, "usage": usage}

    async def one(row: dict[str, Any]) -> None:
        async with limit:
            started = time.monotonic()
            try:
                record = {"id": row["id"], "status": "ok", **(await answer(row["prompt"]))}
            except openai.APIError as exc:
                record = {"id": row["id"], "status": "error", "error": str(exc)}
            record["duration"] = time.monotonic() - started
            out.write(json.dumps(record) + "\n")

    await asyncio.gather(*(one(row) for row in rows))
    await client.close()
    await with_tools.close()


def _descendants_cpu() -> float:
    """CPU seconds of every process below this one (a local Ray cluster: daemons, workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        parents[int(entry)] = int(fields[1])
        cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / ticks
    below, todo = set(), [os.getpid()]
    while todo:
        pid = todo.pop()
        children = [p for p, parent in parents.items() if parent == pid and p not in below]
        below.update(children)
        todo.extend(children)
    return sum(cpu[p] for p in below)


class Sampler:
    """Every half second: rows done, this process's CPU, its descendants' CPU.

    The steady cost per row is the slope between the first and the last sample taken while
    rows were finishing: start-up and shutdown (Ray's cluster) are left out.
    """

    def __init__(self) -> None:
        self.done = 0
        self.samples: list[tuple[int, float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.samples.append((self.done, time.process_time(), _descendants_cpu()))

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def per_row(self, total: int) -> tuple[float, float] | None:
        """(driver, cluster) CPU seconds per row in the steady state, when it was seen."""
        running = [s for s in self.samples if 0 < s[0] < total]
        if len(running) < 2 or running[-1][0] == running[0][0]:
            return None
        (d0, own0, below0), (d1, own1, below1) = running[0], running[-1]
        return (own1 - own0) / (d1 - d0), (below1 - below0) / (d1 - d0)


def run_worker(adapter: str, url: str, model: str, rows: int, concurrency: int) -> dict[str, Any]:
    """One measurement: write the rows, run the batch, check every row answered once."""
    from agentkit.batch import read_results

    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "in.jsonl"
        output = Path(folder) / "out.jsonl"
        with source.open("w") as file:
            for i in range(rows):
                file.write(json.dumps({"id": i, "prompt": f"question {i}"}) + "\n")
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        start = time.perf_counter()
        sampler = Sampler()

        def progress(snapshot: Any) -> None:
            sampler.done = snapshot.done

        with sampler:
            busy = _run_adapter(adapter, url, model, source, output, concurrency, progress)
        wall = time.perf_counter() - start
        used = resource.getrusage(resource.RUSAGE_SELF)
        cpu_s = used.ru_utime - cpu.ru_utime + used.ru_stime - cpu.ru_stime
        if adapter == "handwritten-gather":
            answered = {json.loads(line)["id"] for line in output.read_text().splitlines()}
        else:
            answered = {k for k, v in read_results(output).items() if v["status"] == "ok"}
        if answered != set(range(rows)):
            raise SystemExit(f"{adapter}: {rows - len(answered)} rows were not answered")
    rows_s = rows / (busy if busy is not None else wall)
    steady = sampler.per_row(rows)
    return {
        "wall_s": wall,
        "rows_per_s": rows_s,
        "driver_cpu_ms_per_row": cpu_s / rows * 1000,
        "steady_cpu_ms_per_row": (steady[0] if steady else cpu_s / rows) * 1000,
        "cluster_cpu_ms_per_row": (steady[1] if steady else 0.0) * 1000,
        "startup_s": wall - busy if busy is not None else 0.0,
        "peak_rss_mb": used.ru_maxrss / 1024,
    }


def _run_adapter(
    adapter: str,
    url: str,
    model: str,
    source: Path,
    output: Path,
    concurrency: int,
    progress: Any,
) -> float | None:
    """Run one batch; the seconds from its first row (agentkit), or None (hand-written)."""
    import anyio

    from agentkit.batch import run_batch

    if adapter == "handwritten-gather":
        lines = source.read_text().splitlines()
        with output.open("w") as out:
            asyncio.run(handwritten(url, model, [json.loads(x) for x in lines], out, concurrency))
        return None
    backend = "ray" if adapter in RAY else "local"
    if adapter == "agentkit-ray-shared":
        from agentkit.batch import _ray

        _ray.CHUNK_RATE = 0.0

    async def batch() -> Any:
        agent = make_agent(url, model)  # Ray gets the Agent itself: it pickles as its config
        try:
            return await run_batch(
                agent,
                source,
                output=output,
                concurrency=concurrency,
                backend=backend,
                progress=progress,
            )
        finally:
            await agent.aclose()

    summary = anyio.run(batch)
    return float(summary.progress.elapsed)  # from the first row: Ray's start-up left out


# --- the orchestration ------------------------------------------------------------------


def measure(adapter: str, server: Server, scenario: str, rows: int, concurrency: int) -> Any:
    command = [
        sys.executable,
        __file__,
        "--worker",
        adapter,
        server.url,
        SCENARIOS[scenario][0],
        str(rows),
        str(concurrency),
    ]
    cpu = server.cpu_seconds()
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{adapter} in {scenario} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["server_cpu_s"] = server.cpu_seconds() - cpu
    return result


def ledger_throughput(lines: int, group: int) -> dict[str, float]:
    """The driver's writer alone: lines/s appended and fsynced in groups."""
    from agentkit.batch._ledger import Ledger

    record = {
        "id": 123456,
        "line": 123457,
        "status": "ok",
        "output": "x" * 200,
        "usage": {
            "requests": 1,
            "prompt_tokens": 40,
            "completion_tokens": 60,
            "total_tokens": 100,
            "tool_calls": 0,
        },
        "cost": 0.00004,
        "attempts": 1,
        "duration": 0.0512,
        "error": None,
    }
    with tempfile.TemporaryDirectory(dir=ROOT) as folder:  # the disk results would go to
        ledger = Ledger(Path(folder) / "out.jsonl")
        start = time.perf_counter()
        for _ in range(lines // group):
            ledger.append([record] * group)
        seconds = time.perf_counter() - start
        ledger.close()
    return {"lines_per_s": lines / seconds, "fsyncs_per_s": lines / group / seconds}


def versions() -> str:
    names = ["agentkit", "openai", "httpx2", "aiohttp", "anyio", "ray"]
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory:.1f} GiB, Python {platform.python_version()}, "
        f"{platform.platform()}"
    )


def median(values: list[dict[str, Any]], key: str) -> float:
    return statistics.median(v[key] for v in values)


def spread(values: list[dict[str, Any]], key: str) -> str:
    numbers = [v[key] for v in values]
    return f"{statistics.median(numbers):.3g} [{min(numbers):.3g}-{max(numbers):.3g}]"


Results = dict[str, dict[str, list[dict[str, Any]]]]


def table(runs: dict[str, list[dict[str, Any]]]) -> list[str]:
    base = runs.get("handwritten-gather")
    out = [
        "| adapter | rows/s | x hand-written | wall (s) | start-up (s) | CPU per row (ms) "
        "| steady driver CPU per row (ms) | Ray cluster CPU per row (ms) | peak RSS (MB) "
        "| server CPU (s) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for adapter, values in runs.items():
        ratio = median(values, "rows_per_s") / median(base, "rows_per_s") if base else float("nan")
        out.append(
            f"| {adapter} | {spread(values, 'rows_per_s')} | {ratio:.2f}x "
            f"| {spread(values, 'wall_s')} | {spread(values, 'startup_s')} "
            f"| {spread(values, 'driver_cpu_ms_per_row')} "
            f"| {spread(values, 'steady_cpu_ms_per_row')} "
            f"| {spread(values, 'cluster_cpu_ms_per_row')} | {spread(values, 'peak_rss_mb')} "
            f"| {spread(values, 'server_cpu_s')} |"
        )
    return out


CLUSTERS = ((1, 8), (2, 8), (4, 8), (10, 8), (25, 16))


def _projection(
    name: str, local: list[dict[str, Any]], ray: list[dict[str, Any]], latency: float, how: str
) -> tuple[list[str], list[str]]:
    """(findings, table rows) for one kind of row; `how` says how the Ray rows were sent."""
    local_ms = median(local, "steady_cpu_ms_per_row")
    worker_ms = median(ray, "cluster_cpu_ms_per_row") or local_ms
    driver_ms = median(ray, "steady_cpu_ms_per_row")
    per_core, driver_cap, local_cap = 1000 / worker_ms, 1000 / driver_ms, 1000 / local_ms
    findings = [
        f"- *{name}*: {worker_ms:.2f} ms of CPU per row on the Ray workers (the local cluster's "
        f"CPU, Ray's daemons included) against {local_ms:.2f} ms in the local backend; the Ray "
        f"driver spends {driver_ms:.2f} ms per row (dispatch, Ray's transport, the ledger), "
        f"{how}. "
        f"So: **{per_core:,.0f} rows/s per worker core**, one driver caps near "
        f"**{driver_cap:,.0f} rows/s**, and the local backend (one process, one core) near "
        f"**{local_cap:,.0f} rows/s**",
    ]
    rows = []
    for machines, cores in CLUSTERS:
        cpu_bound = machines * cores * per_core
        expected = min(cpu_bound, driver_cap)
        rows.append(
            f"| {name} | {machines} x {cores} | {cpu_bound:,.0f} | {driver_cap:,.0f} "
            f"| **{expected:,.0f}** | {expected / local_cap:.1f}x | {expected * latency:,.0f} |"
        )
    return findings, rows


def scale_out(results: Results, ledger: dict[str, float]) -> list[str]:
    """What many machines would do, computed from what this one measured."""
    findings: list[str] = []
    rows: list[str] = []
    for scenario, name, latency in (
        ("l50", "1 request per row", 0.05),
        ("tools50", "3 requests per row", 0.15),
    ):
        runs = results.get(scenario, {})
        shared = bool(runs.get("agentkit-ray-shared"))
        ray = runs.get("agentkit-ray-shared") or runs.get("agentkit-ray")
        how = (
            "rows sharing actor calls as they do past 250 rows/s"
            if shared
            else "one actor call per row (agentkit-ray-shared not measured)"
        )
        if runs.get("agentkit-local") and ray:
            found, projected = _projection(name, runs["agentkit-local"], ray, latency, how)
            findings += found
            rows += projected
    if not rows:
        return ["(needs agentkit-local and agentkit-ray measured at 50 ms)"]
    return [
        *findings,
        f"- the ledger alone appends and fsyncs {ledger['lines_per_s']:,.0f} lines/s in groups "
        f"({ledger['fsyncs_per_s']:,.0f} fsyncs/s): never the limit here",
        "",
        "expected rows/s = min(machines x cores x rows/s per worker core, the driver's cap); "
        "in flight = expected x the row's model time (Little's law), which `concurrency` must "
        "cover:",
        "",
        "| row | cluster | CPU-bound rows/s | driver cap | expected rows/s | x local backend "
        "| rows in flight needed |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Past the driver's cap more machines add nothing; beyond it, run several drivers on "
        "disjoint shards of the input, each with its own output. Long before that, the endpoint "
        "is the limit: rows/s <= min(its rps / requests per row, its tpm / tokens per row).",
    ]


def report(
    results: Results, ledger: dict[str, float], args: argparse.Namespace, command: str
) -> str:
    now = dt.datetime.now(dt.timezone.utc)
    lines = [
        "# agentkit batch benchmark",
        "",
        f"- date: {now.isoformat(timespec='seconds')}",
        f"- command: `{command}`",
        f"- machine: {machine()}",
        f"- versions: {versions()}",
        f"- concurrency {args.concurrency}; {args.reps} interleaved repetitions, each in a fresh "
        "process; median [min-max]",
        "- agentkit's rows/s count from its first row (a Ray cluster's start-up is the start-up "
        "column); the hand-written loop's from its start. Steady CPU per row: the slope between "
        "samples taken while rows finish. Ray cluster CPU: every process below the driver "
        "(raylet, GCS, the two workers), same slope",
        "",
    ]
    for scenario, runs in results.items():
        count = args.rows if scenario != "tools50" else args.tool_rows
        lines += [f"## {count:,} rows: {SCENARIOS[scenario][1]}", "", *table(runs), ""]
    lines += ["## Scale-out, computed from these measurements", "", *scale_out(results, ledger)]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--tool-rows", type=int, default=3_000, help="rows of the tools scenario")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--only", action="append", choices=ADAPTERS)
    parser.add_argument("--scenario", action="append", choices=list(SCENARIOS))
    parser.add_argument("--smoke", action="store_true", help="few rows, one repetition")
    parser.add_argument("--tag", help="results/batch-DATE-TAG.md instead of batch-DATE.md")
    parser.add_argument("--worker", nargs=5, metavar=("ADAPTER", "URL", "MODEL", "ROWS", "C"))
    args = parser.parse_args()
    if args.worker:
        adapter, url, model, rows, concurrency = args.worker
        print(json.dumps(run_worker(adapter, url, model, int(rows), int(concurrency))))
        return
    if args.smoke:  # CI: every adapter still works, in a few seconds (one Ray cluster)
        args.rows, args.tool_rows, args.reps = 300, 100, 1
        args.scenario = args.scenario or ["l50"]
    names = args.only or ADAPTERS
    if args.smoke and not args.only:
        names = [n for n in names if n != "agentkit-ray-shared"]  # one Ray cluster is enough
    if set(RAY) & set(names):
        try:
            metadata.version("ray")
        except metadata.PackageNotFoundError:
            print(
                'agentkit-ray: skipped, ray is not installed (pip install "agentkit-llama[ray]")',
                file=sys.stderr,
            )
            names = [n for n in names if n not in RAY]
    command = ("python benchmarks/bench_batch.py " + " ".join(sys.argv[1:])).strip()
    results: Results = {}
    server = Server()
    try:
        for scenario in args.scenario or list(SCENARIOS):
            count = args.tool_rows if scenario == "tools50" else args.rows
            runs = results.setdefault(scenario, {n: [] for n in names})
            for rep in range(args.reps):
                order = names[rep % len(names) :] + names[: rep % len(names)]
                for name in order:
                    result = measure(name, server, scenario, count, args.concurrency)
                    runs[name].append(result)
                    print(f"  {scenario:8} {name:20} {result}", file=sys.stderr, flush=True)
    finally:
        server.close()
    ledger = ledger_throughput(20_000 if args.smoke else 200_000, max(1, args.concurrency))
    text = report(results, ledger, args, command)
    print(text)
    if not args.smoke:
        tag = f"-{args.tag}" if args.tag else ""
        stem = HERE / "results" / f"batch-{dt.date.today().isoformat()}{tag}"
        stem.with_suffix(".md").write_text(text)
        data = {"command": command, "results": results, "ledger": ledger, "args": vars(args)}
        stem.with_suffix(".json").write_text(json.dumps(data, indent=2) + "\n")
        print(f"written: {stem}.md", file=sys.stderr)


if __name__ == "__main__":
    main()
