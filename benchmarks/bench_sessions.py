"""What a session adds per chat turn, with 1 and 1,000 turns already stored.

    python benchmarks/bench_sessions.py            # about a minute on 2 cores
    python benchmarks/bench_sessions.py --smoke    # a few turns of each, no file written

One chat turn of a stored conversation = what a run pays besides the model: load the
history, and store the turn (a user message, an assistant message with a tool call, its
result, the answer). Measured for:

- agentkit `SQLiteSession`, same object across turns (as `agentkit chat --session`): run
  lease taken and given back, load (only new rows are read), one commit;
- agentkit `SQLiteSession`, a new object each turn (as `agentkit run --continue`, a new
  process each time): the whole history decoded;
- the hand-written way: `to_json` of the whole conversation to a file after each turn,
  `from_json` before it (what users do today with `result.messages`);
- openai-agents `SQLiteSession` (`get_items` + `add_items`), when installed.

And the same chat turn through `Agent.run` (a `FunctionModel`: one tool call, then the
answer), so the session's share is seen next to the loop's own cost: the loop alone; with a
`SQLiteSession`; with it and the default Llama 3.1 context budget (the estimate of the whole
history before each request); and `messages=` with a `to_json` file, the hand-written way.

Each turn adds to the history, so "1,000 stored" grows to 1,000 + turns. Wall and CPU
(process, worker threads included) per turn: median, and the 10th-90th percentiles.
For scale: agentkit's own loop costs 1.38 ms of CPU per model turn (results/2026-12-07.md).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio

from agentkit.messages import (
    AssistantMessage,
    Message,
    ToolCall,
    ToolMessage,
    UserMessage,
    from_json,
    to_json,
)
from agentkit.sessions import SQLiteSession

RESULTS = Path(__file__).with_name("results")


def turn(i: int) -> list[Message]:
    call = ToolCall("get_weather", {"city": f"Paris {i}", "unit": "c"}, id=f"call_{i:06d}")
    return [
        UserMessage(f"What is the weather in Paris today? This is question number {i}."),
        AssistantMessage(None, (call,)),
        ToolMessage(
            call.id, f"22°C and sunny in Paris {i}, light wind from the west", "get_weather"
        ),
        AssistantMessage(f"It is 22°C and sunny in Paris (answer {i}), with a light wind."),
    ]


def wire(messages: list[Message]) -> list[dict[str, Any]]:
    """The same turn as openai-agents items (Responses-style dicts)."""
    items: list[dict[str, Any]] = []
    for m in messages:
        if isinstance(m, AssistantMessage) and m.tool_calls:
            c = m.tool_calls[0]
            items.append(
                {
                    "type": "function_call",
                    "call_id": c.id,
                    "name": c.name,
                    "arguments": c.raw_arguments,
                }
            )
        elif isinstance(m, ToolMessage):
            items.append(
                {"type": "function_call_output", "call_id": m.tool_call_id, "output": m.content}
            )
        else:
            items.append({"role": m.role, "content": m.content or ""})
    return items


Step = Callable[[int], Awaitable[None]]


async def measure(step: Step, start: int, turns: int) -> dict[str, float]:
    walls, cpus = [], []
    for i in range(start, start + turns):
        w0, c0 = time.perf_counter(), time.process_time()
        await step(i)
        walls.append((time.perf_counter() - w0) * 1000)
        cpus.append((time.process_time() - c0) * 1000)

    def stats(xs: list[float]) -> dict[str, float]:
        q = statistics.quantiles(xs, n=10) if len(xs) >= 10 else [min(xs)] * 9
        return {"median": statistics.median(xs), "p10": q[0], "p90": q[-1]}

    return {"wall_ms": stats(walls), "cpu_ms": stats(cpus)}  # type: ignore[dict-item]


async def agentkit_same(folder: Path, stored: int, turns: int) -> dict[str, float]:
    session = SQLiteSession("bench", folder / "agentkit-same.db")
    await fill(session, stored)
    await session.load()

    async def step(i: int) -> None:
        async with session.run(model="bench") as run:
            await session.load()
            await run.commit(turn(i))

    return await measure(step, stored, turns)


async def agentkit_fresh(folder: Path, stored: int, turns: int) -> dict[str, float]:
    path = folder / "agentkit-fresh.db"
    await fill(SQLiteSession("bench", path), stored)

    async def step(i: int) -> None:
        session = SQLiteSession("bench", path)  # a new process would open it anew
        async with session.run(model="bench") as run:
            await session.load()
            await run.commit(turn(i))
        session.store.close()

    return await measure(step, stored, turns)


async def fill(session: SQLiteSession, stored: int) -> None:
    for i in range(stored):
        await session.append(turn(i))


async def handwritten(folder: Path, stored: int, turns: int) -> dict[str, float]:
    path = folder / "handwritten.json"
    path.write_text(to_json([m for i in range(stored) for m in turn(i)]))

    async def step(i: int) -> None:
        messages = from_json(path.read_bytes())
        messages += turn(i)
        tmp = path.with_suffix(".tmp")  # write and rename, as a careful user would
        tmp.write_text(to_json(messages))
        os.replace(tmp, path)

    return await measure(step, stored, turns)


async def openai_agents(folder: Path, stored: int, turns: int) -> dict[str, float] | None:
    try:
        from agents import SQLiteSession as AgentsSession
    except ImportError:
        return None
    session = AgentsSession("bench", str(folder / "openai-agents.db"))
    for i in range(stored):
        await session.add_items(wire(turn(i)))  # type: ignore[arg-type]

    async def step(i: int) -> None:
        await session.get_items()
        await session.add_items(wire(turn(i)))  # type: ignore[arg-type]

    return await measure(step, stored, turns)


def _weather(city: str, unit: str = "c") -> str:
    """Get the weather.

    Args:
        city: The city.
        unit: c or f.
    """
    return f"22°{unit.upper()} and sunny in {city}, light wind from the west, no rain expected"


def _agent(model_name: str) -> Any:
    from agentkit import Agent
    from agentkit.testing import FunctionModel

    def reply(messages: list[Message], request: Any) -> Any:
        if isinstance(messages[-1], UserMessage):
            n = len(messages)
            return ToolCall("_weather", {"city": f"Paris {n}", "unit": "c"}, id=f"c{n:07d}")
        return "It is 22°C and sunny in Paris today, with a light wind from the west."

    return Agent(FunctionModel(reply, name=model_name), tools=[_weather], instructions="Brief.")


def _prompt(i: int) -> str:
    return f"What is the weather in Paris today? This is question number {i}."


async def agent_alone(folder: Path, stored: int, turns: int) -> dict[str, float]:
    agent = _agent("bench")

    async def step(i: int) -> None:
        await agent.run(_prompt(i))

    return await measure(step, stored, turns)


async def agent_session(folder: Path, stored: int, turns: int, model: str = "bench") -> Any:
    session = SQLiteSession("bench", folder / "agent.db")
    await fill(session, stored)
    await session.load()
    agent = _agent(model)

    async def step(i: int) -> None:
        await agent.run(_prompt(i), session=session)

    return await measure(step, stored, turns)


async def agent_session_budget(folder: Path, stored: int, turns: int) -> Any:
    return await agent_session(folder, stored, turns, "meta-llama/llama-3.1-70b-instruct")


async def agent_handwritten(folder: Path, stored: int, turns: int) -> dict[str, float]:
    path = folder / "agent.json"
    path.write_text(to_json([m for i in range(stored) for m in turn(i)]))
    agent = _agent("bench")

    async def step(i: int) -> None:
        result = await agent.run(_prompt(i), messages=from_json(path.read_bytes()))
        tmp = path.with_suffix(".tmp")
        tmp.write_text(to_json(result.messages))
        os.replace(tmp, path)

    return await measure(step, stored, turns)


ADAPTERS = {
    "Agent.run, no history (the loop alone: 2 model turns)": agent_alone,
    "Agent.run + SQLiteSession": agent_session,
    "Agent.run + SQLiteSession, Llama 3.1 default budget": agent_session_budget,
    "Agent.run(messages=) + to_json file": agent_handwritten,
    "agentkit SQLiteSession (same object)": agentkit_same,
    "agentkit SQLiteSession (new object each turn)": agentkit_fresh,
    "hand-written: to_json file per turn": handwritten,
    "openai-agents SQLiteSession": openai_agents,
}


async def main(smoke: bool) -> dict[str, Any]:
    turns = 5 if smoke else 200
    results: dict[str, dict[str, Any]] = {}
    for stored in (1, 1000):
        for name, adapter in ADAPTERS.items():
            with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as folder:
                got = await adapter(Path(folder), stored if not smoke else min(stored, 20), turns)
            if got is not None:
                results.setdefault(name, {})[str(stored)] = got
    return results


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    import agentkit

    found = {"agentkit": agentkit.__version__, "sqlite": __import__("sqlite3").sqlite_version}
    for name in ("openai-agents",):
        with contextlib.suppress(PackageNotFoundError):
            found[name] = version(name)
    return found


def markdown(results: dict[str, Any], command: str) -> str:
    lines = [
        "# sessions: what a session adds per chat turn",
        "",
        f"- date: {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}",
        f"- command: `{command}`",
        f"- machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.platform()}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()),
        "- a turn: load the history, store 4 messages (user, tool call, result, answer);"
        " 200 turns measured after 1 or 1,000 stored; database on the temp folder's disk",
        "",
        "| per chat turn | 1 stored: wall ms | CPU ms | 1,000 stored: wall ms | CPU ms |",
        "|---|---|---|---|---|",
    ]

    def cell(d: dict[str, float]) -> str:
        return f"{d['median']:.3f} [{d['p10']:.3f}-{d['p90']:.3f}]"

    for name, by in results.items():
        row = [name]
        for stored in ("1", "1000"):
            if stored in by:
                row += [cell(by[stored]["wall_ms"]), cell(by[stored]["cpu_ms"])]
            else:
                row += ["", ""]
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "median [10th-90th percentile] over the measured turns.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a few turns, no file written")
    args = parser.parse_args()
    results = anyio.run(main, args.smoke)
    command = "python benchmarks/bench_sessions.py" + (" --smoke" if args.smoke else "")
    text = markdown(results, command)
    print(text)
    if not args.smoke:
        day = datetime.date.today().isoformat()
        (RESULTS / f"sessions-{day}.md").write_text(text)
        (RESULTS / f"sessions-{day}.json").write_text(json.dumps(results, indent=2) + "\n")
    sys.exit(0)
