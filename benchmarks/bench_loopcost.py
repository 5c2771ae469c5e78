"""CPU per model turn of the loop alone: no HTTP, a `FunctionModel`, 5 tool turns and an answer.

    python benchmarks/bench_loopcost.py                          # this checkout
    PYTHONPATH=../baseline python benchmarks/bench_loopcost.py   # another one, to compare
    python benchmarks/bench_loopcost.py --key                    # with an API key to redact

Prints the median of 5 samples of 400 runs, in microseconds of CPU per model turn. Run two
checkouts alternately, a few times each: the spread between runs is a few microseconds.
With `--key` the model has a key (as `OpenAIModel` has), so every reply and tool result is
redacted, and each tool result is 1,000 characters of prose: what redaction costs a turn.
"""

from __future__ import annotations

import statistics
import sys
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


KEY = "sk-Zq8r2LmX9vTb4NcW7pYd1KfJ6hGs3QaE5uRo0iVnBxMzCyTl"
PROSE = "The quarterly report shows revenue up 4% on the year, mostly in the north. " * 14


async def look_up(a: int) -> str:
    """Look a number up.

    Args:
        a: The number.
    """
    return PROSE[:1000]


class KeyedModel(FunctionModel):
    """A FunctionModel with a key to keep from the conversation, as OpenAIModel has."""

    @property
    def secrets(self) -> tuple[str, ...]:
        return (KEY,)


def keyed_reply(messages: list[Any], request: Any) -> Any:
    done = sum(1 for m in messages if m.role == "tool")
    return ToolCall("look_up", {"a": done}) if done < 5 else "done. " + PROSE[:300]


async def main() -> None:
    agent = Agent(FunctionModel(reply, name="bench-k5"), tools=[add, echo], instructions="Brief.")
    if "--key" in sys.argv[1:]:
        agent = Agent(KeyedModel(keyed_reply, name="bench-k5"), tools=[look_up])
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
