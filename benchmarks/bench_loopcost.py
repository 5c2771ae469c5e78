"""CPU per model turn of the loop alone: no HTTP, a `FunctionModel`, 5 tool turns and an answer.

    python benchmarks/bench_loopcost.py                          # this checkout
    PYTHONPATH=../baseline python benchmarks/bench_loopcost.py   # another one, to compare

Prints the median of 5 samples of 400 runs, in microseconds of CPU per model turn. Run two
checkouts alternately, a few times each: the spread between runs is a few microseconds.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import anyio

from agentkit import Agent
from agentkit.messages import ToolCall
from agentkit.testing import FunctionModel


def add(a: int, b: int) -> int:
    """Add two numbers.

    Args:
        a: The first.
        b: The second.
    """
    return a + b


async def echo(a: int) -> int:
    """Give the number back.

    Args:
        a: The number.
    """
    return a


def reply(messages: list[Any], request: Any) -> Any:
    done = sum(1 for m in messages if m.role == "tool")
    return ToolCall("echo", {"a": done}) if done < 5 else "done"


async def main() -> None:
    agent = Agent(FunctionModel(reply, name="bench-k5"), tools=[add, echo], instructions="Brief.")
    for _ in range(100):
        await agent.run("go")
    samples = []
    for _ in range(5):
        start = time.process_time()
        for _ in range(400):
            await agent.run("go")
        samples.append((time.process_time() - start) / (400 * 6) * 1e6)
    print(f"{statistics.median(samples):.1f}")


if __name__ == "__main__":
    anyio.run(main)
