"""The results as markdown: one table per scenario, ratios to the hand-written loop."""

from __future__ import annotations

from typing import Any

UNITS = {
    "cpu_per_turn_ms": "CPU per model turn (ms)",
    "wall_per_run_ms": "wall per run (ms)",
    "wall_s": "total wall (s)",
    "runs_per_s": "runs/s",
    "peak_rss_mb": "peak RSS (MB)",
    "wall_ms": "run wall (ms)",
    "first_delta_ms": "time to first delta (ms)",
    "server_cpu_s": "server CPU (s)",
}


def _cell(stats: dict[str, Any]) -> str:
    ratio = f" ({stats['ratio']:.2f}x)" if stats.get("ratio") is not None else ""
    return f"{stats['median']:.3g} [{stats['min']:.3g}-{stats['max']:.3g}]{ratio}"


def _scenario(name: str, data: dict[str, Any]) -> list[str]:
    results = data["results"]
    metrics = [m for m in next(iter(results.values()))]
    lines = [f"### {name}: {data['title']}", ""]
    lines.append(
        f"{data['reps']} interleaved repetitions of {data['runs']} runs; "
        "median [min-max] (ratio of medians to the hand-written loop)"
    )
    lines.append("")
    lines.append("| adapter | " + " | ".join(UNITS.get(m, m) for m in metrics) + " |")
    lines.append("|---" * (len(metrics) + 1) + "|")
    for adapter, row in results.items():
        lines.append(f"| {adapter} | " + " | ".join(_cell(row[m]) for m in metrics) + " |")
    return [*lines, ""]


def markdown(report: dict[str, Any]) -> str:
    lines = ["# agentkit benchmarks", ""]
    lines.append(f"- date: {report['date']}")
    lines.append(f"- command: `{report['command']}`")
    machine = report["machine"]
    lines.append(
        f"- machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB, "
        f"Python {machine['python']}, {machine['system']}"
    )
    lines.append("- versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()))
    lines.append("- adapters: " + ", ".join(report["adapters"]))
    for note in report["notes"]:
        lines.append(f"- note: {note}")
    lines.append("")
    for name, data in report["scenarios"].items():
        lines += _scenario(name, data)
    if "startup" in report:
        lines += ["### startup", "", "| measure | value |", "|---|---|"]
        lines += [f"| {k} | {v:.3g} |" for k, v in report["startup"].items()]
        lines.append("")
    if "parsing" in report:
        lines += ["### parsing (ms, best of 5)", ""]
        sizes = [k for k in next(iter(report["parsing"].values()))]
        lines.append("| input | " + " | ".join(sizes) + " |")
        lines.append("|---" * (len(sizes) + 1) + "|")
        for name, row in report["parsing"].items():
            lines.append(f"| {name} | " + " | ".join(f"{row[s]:.3g}" for s in sizes) + " |")
        lines.append("")
    return "\n".join(lines)
