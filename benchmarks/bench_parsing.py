"""Llama text-call recovery on 1 KB, 100 KB and 1 MB inputs, normal and adversarial."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from agentkit.llama import extract_tool_calls

SIZES = {"1KB": 1_000, "100KB": 100_000, "1MB": 1_000_000}
PROSE = "The weather in Paris is mild today; {braces} appear in prose like this. "
CALL = json.dumps({"name": "get_weather", "parameters": {"city": "Paris, France", "unit": "c"}})


def _fill(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


def _normal(size: int) -> str:
    """Prose, then one call at the end (a long answer that ends by calling a tool)."""
    return _fill(PROSE, size - len(CALL) - 16) + "<|python_tag|>" + CALL


def _nested(size: int) -> str:
    return _fill('{"a":', size)


def _many_calls(size: int) -> str:
    return _fill(CALL + ";\n", size)


BUILTIN = '<|python_tag|>brave_search.call(query="weather in Paris")<|eom_id|>\n'


INPUTS: dict[str, Callable[[int], str]] = {
    "normal (prose + one call)": _normal,
    "adversarial: '{' repeated": lambda size: "{" * size,
    "adversarial: deep nesting": _nested,
    "adversarial: many calls": _many_calls,
    "adversarial: many built-in calls": lambda size: _fill(BUILTIN, size),
    "adversarial: '.call(' repeated": lambda size: _fill("a.call(", size),
    "adversarial: '{\"name\"' repeated": lambda size: _fill('{"name"', size),
}


def _best_of(text: str, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        extract_tool_calls(text)
        best = min(best, time.perf_counter() - start)
    return best


def parsing_results(smoke: bool = False) -> dict[str, Any]:
    """Best-of-N seconds per input and size, and the 1 MB / 100 KB ratio (10 is linear)."""
    repeat = 1 if smoke else 5
    sizes = {"1KB": 1_000, "100KB": 100_000} if smoke else SIZES
    results: dict[str, Any] = {}
    for name, make in INPUTS.items():
        row = {label: _best_of(make(size), repeat) * 1000 for label, size in sizes.items()}
        if "1MB" in row:
            row["growth_100KB_to_1MB"] = row["1MB"] / row["100KB"]
        results[name] = row
    return results
