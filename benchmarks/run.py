"""Run every benchmark for every adapter, interleaved, and record the results.

    python benchmarks/run.py            # the full run (about 10 minutes on 2 cores)
    python benchmarks/run.py --smoke    # a few runs of each, no thresholds (CI)

Results go to benchmarks/results/<date>.md (and .json) with the machine, the versions and
the command. Ratios are to the hand-written `openai` loop measured in the same run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from bench_agents import OPTIONAL  # noqa: E402
from bench_parsing import parsing_results  # noqa: E402

BASELINE = "handwritten-openai"


class Server:
    """The benchmark model server in its own process."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "bench_server.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.url = f"http://127.0.0.1:{int(self.process.stdout.readline())}/v1"

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(10)


def adapters() -> tuple[list[str], list[str]]:
    """The adapters to run, and notes on the optional ones that are missing."""
    names = ["agentkit", BASELINE]
    notes = []
    for name, module in OPTIONAL.items():
        if find_spec(module) is None:
            notes.append(f"{name}: skipped, `{module}` is not installed")
        else:
            names.append(name)
    return names, notes


def worker(scenario: str, adapter: str, url: str, runs: int, warmup: int) -> dict[str, Any]:
    command = [
        sys.executable,
        str(HERE / "bench_worker.py"),
        scenario,
        adapter,
        url,
        "--runs",
        str(runs),
        "--warmup",
        str(warmup),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{scenario}/{adapter} failed:\n{done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def interleaved(
    scenario: str, names: list[str], server: Server, reps: int, runs: int, warmup: int
) -> dict[str, dict[str, list[float]]]:
    """Each adapter `reps` times, in rotating order: A B C, B C A, ..."""
    values: dict[str, dict[str, list[float]]] = {n: {} for n in names}
    for rep in range(reps):
        order = names[rep % len(names) :] + names[: rep % len(names)]
        for name in order:
            cpu = server.cpu_seconds()
            result = worker(scenario, name, server.url, runs, warmup)
            result["server_cpu_s"] = server.cpu_seconds() - cpu
            for key, value in result.items():
                values[name].setdefault(key, []).append(float(value))
            print(f"  {scenario:12} {name:20} {result}", file=sys.stderr, flush=True)
    return values


def _timed(code: str, repeat: int) -> list[float]:
    """Wall seconds of `python -c code` runs, each in a fresh interpreter."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


_READY = """
import time, resource
t = time.perf_counter()
{imports}
{build}
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def _ready(imports: str, build: str, repeat: int) -> tuple[list[float], list[float]]:
    seconds, rss = [], []
    for _ in range(repeat):
        code = _READY.format(imports=imports, build=build)
        out = subprocess.run(
            [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=HERE
        ).stdout.split()
        seconds.append(float(out[0]))
        rss.append(float(out[1]))
    return seconds, rss


_FIRST_RUN = """
import time
t = time.perf_counter()
import asyncio
from bench_agents import ADAPTERS
async def main():
    adapter = ADAPTERS[{name!r}]({url!r}, "bench-k1-n1")
    await adapter.run("go")
    await adapter.close()
asyncio.run(main())
print(time.perf_counter() - t)
"""


def first_runs(names: list[str], url: str, repeat: int) -> dict[str, float]:
    """Cold start to the end of a first run (imports, set-up, one tool turn and an answer).

    agentkit imports `openai` only when it first sends a request, so its import is cheap;
    this is the figure where that cost shows.
    """
    samples: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(repeat):
        for name in names:
            code = _FIRST_RUN.format(name=name, url=url)
            done = subprocess.run(
                [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=HERE
            )
            samples[name].append(float(done.stdout.split()[-1]))
    return {f"first_run_cold_{n}_ms": statistics.median(v) * 1000 for n, v in samples.items()}


def startup(repeat: int) -> dict[str, Any]:
    """Cold imports, time until an agent is ready, memory after import, `agentkit --help`."""
    results: dict[str, Any] = {}
    samples: dict[str, list[float]] = {"pass": [], "openai": [], "agentkit": []}
    for _ in range(repeat):  # interleaved, so load on the machine hits all alike
        samples["pass"] += _timed("pass", 1)
        samples["openai"] += _timed("import openai", 1)
        samples["agentkit"] += _timed("import agentkit", 1)
    base = statistics.median(samples["pass"])
    for key in ("openai", "agentkit"):
        results[f"import_{key}_ms"] = (statistics.median(samples[key]) - base) * 1000
    agent_s, agent_rss = _ready(
        "from agentkit import Agent\nfrom bench_agents import TOOLS",
        "Agent('m', base_url='http://127.0.0.1:1/v1', api_key='k', tools=TOOLS)",
        repeat,
    )
    client_s, client_rss = _ready(
        "import openai\nfrom bench_agents import TOOL_SPECS",
        "openai.AsyncOpenAI(base_url='http://127.0.0.1:1/v1', api_key='k')",
        repeat,
    )
    results["agent_ready_ms"] = statistics.median(agent_s) * 1000
    results["handwritten_ready_ms"] = statistics.median(client_s) * 1000
    results["rss_after_import_agentkit_mb"] = statistics.median(agent_rss)
    results["rss_after_import_openai_mb"] = statistics.median(client_rss)
    cli = ROOT / ".venv" / "bin" / "agentkit"
    executable = str(cli) if cli.exists() else str(Path(sys.executable).with_name("agentkit"))
    helps = []
    for _ in range(repeat if Path(executable).exists() else 0):
        start = time.perf_counter()
        done = subprocess.run([executable, "--help"], capture_output=True, check=False)
        helps.append(time.perf_counter() - start)
        if done.returncode != 0:
            helps = []
            break
    if helps:
        results["cli_help_ms"] = statistics.median(helps) * 1000
    return results


def summarise(values: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, Any]]:
    """Median, min and max per adapter and metric, and the ratio of medians to the baseline."""
    out: dict[str, dict[str, Any]] = {}
    for name, metrics in values.items():
        out[name] = {}
        for metric, samples in metrics.items():
            median = statistics.median(samples)
            base = statistics.median(values[BASELINE][metric]) if BASELINE in values else None
            out[name][metric] = {
                "median": median,
                "min": min(samples),
                "max": max(samples),
                "ratio": (median / base) if base else None,
            }
    return out


def _versions() -> dict[str, str]:
    found = {}
    for package in (
        "agentkit-llama",
        "openai",
        "httpx2",
        "pydantic",
        "anyio",
        "openai-agents",
        "pydantic-ai-slim",
    ):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return found


def _machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(int(memory) / 1024 / 1024, 1),
        "python": platform.python_version(),
        "system": platform.platform(),
    }


PLAN: list[tuple[str, str, int, int, int, int, int, int]] = [
    # scenario, title, reps, runs, warmup, smoke reps, smoke runs, smoke warmup
    ("overhead", "200 sequential runs of 5 tool turns + an answer", 4, 50, 5, 1, 3, 1),
    ("concurrency", "1,000 concurrent runs, 50 ms model latency", 3, 1000, 2, 1, 20, 1),
    ("parallel", "one reply with 8 calls to a 100 ms tool", 3, 20, 2, 1, 2, 1),
    ("stream0", "time to first text delta, no tool turns", 3, 50, 3, 1, 3, 1),
    ("stream5", "time to first text delta after 5 tool turns", 3, 50, 3, 1, 3, 1),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a few runs, for CI")
    parser.add_argument("--only", action="append", help="run only these scenarios")
    parser.add_argument("--out", type=Path, help="where to write the results (.md and .json)")
    args = parser.parse_args()
    names, notes = adapters()
    report: dict[str, Any] = {
        "command": " ".join(["python", *[a if " " not in a else repr(a) for a in sys.argv]]),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": _machine(),
        "versions": _versions(),
        "adapters": names,
        "notes": notes,
        "scenarios": {},
    }
    server = Server()
    try:
        for scenario, title, reps, runs, warmup, s_reps, s_runs, s_warmup in PLAN:
            if args.only and scenario not in args.only:
                continue
            if args.smoke:
                reps, runs, warmup = s_reps, s_runs, s_warmup
            values = interleaved(scenario, names, server, reps, runs, warmup)
            report["scenarios"][scenario] = {
                "title": title,
                "reps": reps,
                "runs": runs,
                "results": summarise(values),
            }
        if not args.only or "startup" in args.only:
            report["startup"] = startup(3 if args.smoke else 15)
            report["startup"].update(first_runs(names, server.url, 2 if args.smoke else 7))
    finally:
        server.close()
    if not args.only or "parsing" in args.only:
        report["parsing"] = parsing_results(smoke=args.smoke)
    write(report, args.out or _default_out(args.smoke))


def _default_out(smoke: bool) -> Path:
    if smoke:
        return Path(os.environ.get("TMPDIR", "/tmp")) / "agentkit-bench-smoke"
    return HERE / "results" / dt.date.today().isoformat()


def write(report: dict[str, Any], out: Path) -> None:
    from bench_report import markdown

    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(report))
    print(f"results: {out.with_suffix('.md')}", file=sys.stderr)


if __name__ == "__main__":
    main()
