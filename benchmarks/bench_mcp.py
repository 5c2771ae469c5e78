"""What a tool call over MCP stdio costs, next to the same function called directly.

    python benchmarks/bench_mcp.py             # 5 rounds of 1,000 calls per client
    python benchmarks/bench_mcp.py --smoke     # one short round (CI)
    pip install openai-agents "pydantic-ai-slim[mcp]"   # to include their MCP clients

The server is one minimal MCP server on the official SDK (this file, `--serve`), with one
tool, `add(a, b)`; every client calls it over stdio. Clients: the function called directly
(no MCP), the SDK's own `mcp.Client` (the floor for any client on it), agentkit's
`MCPServer` (through the path the executor takes: argument validation, then the call, then
the result as text), each on revision 2026-07-28 and on the 2025-11-25 handshake
(`-legacy`), agentkit's through the command line's server host (`-hosted`: the server in an
event loop of its own, each call a hop across threads, as `agentkit chat --mcp` makes
them), and the OpenAI Agents SDK's (handshake) and pydantic-ai's MCP clients when they
are installed. Each measurement runs in a fresh process; clients are interleaved round by round
so a noisy neighbour hits all alike; tables show medians over the rounds.

Per call: wall time (sequential calls), CPU of the client process, CPU of the server
process; and the wall per call with 8 calls in flight at once. For agentkit, also what
`Agent(tools=[server])` adds to each run: the check that the server's listing is fresh.
Results go to `benchmarks/results/mcp-<date>.md` and `.json`.
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
from collections.abc import Awaitable, Callable
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CLIENTS = [
    "direct",
    "mcp-sdk",
    "mcp-sdk-legacy",
    "agentkit",
    "agentkit-legacy",
    "agentkit-hosted",
    "openai-agents",
    "pydantic-ai",
]
OPTIONAL = {"openai-agents": "agents", "pydantic-ai": "pydantic_ai"}
CONCURRENCY = 8


# -- the server ---------------------------------------------------------------------------


def serve() -> None:
    import anyio
    import mcp_types as types
    from mcp.server.lowlevel.server import Server
    from mcp.server.stdio import stdio_server

    schema = {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
    }

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        tool = types.Tool(name="add", description="Add two numbers.", input_schema=schema)
        return types.ListToolsResult(tools=[tool])

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        args = params.arguments or {}
        return types.CallToolResult(content=[types.TextContent(text=str(args["a"] + args["b"]))])

    async def main() -> None:
        server = Server("bench", on_list_tools=list_tools, on_call_tool=call_tool)
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(main)


SERVER = [sys.executable, str(Path(__file__).resolve()), "--serve"]


# -- the clients --------------------------------------------------------------------------

Call = Callable[[int, int], Awaitable[str]]
EXTRA: dict[str, float] = {}  # measured by a client itself, reported with its calls


async def with_client(name: str, use: Callable[[Call], Awaitable[None]]) -> None:
    """Connect `name`'s client to the server, hand `use` a call function, disconnect."""
    command, args = SERVER[0], SERVER[1:]
    if name == "direct":

        async def add(a: int, b: int) -> str:
            return str(a + b)

        await use(add)
    elif name in ("mcp-sdk", "mcp-sdk-legacy"):
        from mcp import Client, StdioServerParameters

        params = StdioServerParameters(command=command, args=args)
        mode = "legacy" if name.endswith("legacy") else "auto"
        async with Client(params, mode=mode) as client:

            async def call(a: int, b: int) -> str:
                result = await client.call_tool("add", {"a": a, "b": b})
                return result.content[0].text  # type: ignore[union-attr]

            await use(call)
    elif name.startswith("agentkit"):
        await agentkit_client(name, command, args, use)
    elif name == "openai-agents":
        from agents.mcp import MCPServerStdio

        async with MCPServerStdio(params={"command": command, "args": args}) as server:

            async def call(a: int, b: int) -> str:
                result = await server.call_tool("add", {"a": a, "b": b})
                return result.content[0].text  # type: ignore[union-attr]

            await use(call)
    elif name == "pydantic-ai":
        from fastmcp.client.transports import StdioTransport
        from pydantic_ai.mcp import MCPToolset

        async with MCPToolset(StdioTransport(command, args)) as toolset:

            async def call(a: int, b: int) -> str:
                return str(await toolset.direct_call_tool("add", {"a": a, "b": b}))

            await use(call)
    else:
        raise SystemExit(f"unknown client {name!r}")


async def agentkit_client(
    name: str, command: str, args: list[str], use: Callable[[Call], Awaitable[None]]
) -> None:
    """agentkit's client on either revision, or through the command line's server host."""
    from agentkit.mcp import MCPServer
    from agentkit.mcp._hosted import ServerHost

    def caller(tool: Any) -> Call:
        async def call(a: int, b: int) -> str:  # the executor's path: validate, then call
            result: str = await tool.function(**tool.validate({"a": a, "b": b}))
            return result

        return call

    if name == "agentkit-hosted":
        with ServerHost() as host:
            (hosted,) = host.host([MCPServer.stdio(command, args)])
            (tool,) = await hosted.list_tools()
            await use(caller(tool))
        return
    protocol = "legacy" if name.endswith("legacy") else "auto"
    async with MCPServer.stdio(command, args, protocol=protocol) as server:
        (tool,) = await server.list_tools()
        await use(caller(tool))
        await listing_check(server)


async def listing_check(server: Any) -> None:
    """CPU per run of `Agent(tools=[server])` to see that the server's listing is fresh."""
    from agentkit import Agent

    agent: Any = Agent("offline", tools=[server])
    await agent._sources.current()
    runs = 20_000
    cpu = time.process_time()
    for _ in range(runs):
        await agent._sources.current()  # what each run does before its first request
    EXTRA["listing_check_us"] = (time.process_time() - cpu) / runs * 1e6


def children_cpu() -> float:
    """CPU seconds of this process's live children (the server)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def worker(name: str, calls: int) -> dict[str, float]:
    import anyio

    measured: dict[str, float] = {}

    async def use(call: Call) -> None:
        for i in range(50):  # warm up: imports, caches, the first requests
            assert await call(i, 1) == str(i + 1)
        server_cpu, cpu, wall = children_cpu(), time.process_time(), time.perf_counter()
        for i in range(calls):
            await call(i, 2)
        measured["wall_us"] = (time.perf_counter() - wall) / calls * 1e6
        measured["cpu_us"] = (time.process_time() - cpu) / calls * 1e6
        measured["server_cpu_us"] = (children_cpu() - server_cpu) / calls * 1e6

        async def some(count: int) -> None:
            for i in range(count):
                await call(i, 3)

        wall = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for _ in range(CONCURRENCY):
                tg.start_soon(some, calls // CONCURRENCY)
        measured["wall_us_8_at_once"] = (time.perf_counter() - wall) / calls * 1e6

    start = time.perf_counter()
    anyio.run(with_client, name, use)
    measured["session_s"] = time.perf_counter() - start
    return {**measured, **EXTRA}


# -- the run ------------------------------------------------------------------------------


def available() -> list[str]:
    return [c for c in CLIENTS if c not in OPTIONAL or find_spec(OPTIONAL[c]) is not None]


def version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"


def run(rounds: int, calls: int) -> dict[str, Any]:
    clients = available()
    samples: dict[str, list[dict[str, float]]] = {c: [] for c in clients}
    for round_number in range(rounds):
        order = clients[round_number % len(clients) :] + clients[: round_number % len(clients)]
        for name in order:
            out = subprocess.run(
                [sys.executable, __file__, "--worker", name, "--calls", str(calls)],
                capture_output=True,
                text=True,
                check=True,
            )
            samples[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"round {round_number + 1}/{rounds} {name}: {samples[name][-1]}", file=sys.stderr)
    medians = {
        name: {key: statistics.median(s[key] for s in runs) for key in runs[0]}
        for name, runs in samples.items()
    }
    return {"clients": clients, "samples": samples, "medians": medians}


def report(results: dict[str, Any], command: str, calls: int, rounds: int) -> str:
    medians = results["medians"]
    handshake = {"mcp-sdk-legacy", "agentkit-legacy", "openai-agents"}  # 2025-11-25
    base_of = {n: medians["mcp-sdk-legacy" if n in handshake else "mcp-sdk"] for n in medians}
    lines = [
        f"# MCP tool call cost ({dt.date.today().isoformat()})",
        "",
        f"`{command}`: {rounds} rounds of {calls:,} calls per client, each in a fresh process;",
        "medians. One SDK server (`add`) over stdio for every MCP client.",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; mcp {version('mcp')}, openai-agents "
        f"{version('openai-agents')}, pydantic-ai-slim {version('pydantic-ai-slim')}.",
        "",
        "| client | wall per call | client CPU per call | server CPU per call "
        f"| wall per call, {CONCURRENCY} at once | vs the SDK client, same revision (wall, CPU) |",
        "|---|---|---|---|---|---|",
    ]
    for name in results["clients"]:
        m = medians[name]
        base = base_of[name]
        ratio = (
            "-"
            if name == "direct"
            else f"{m['wall_us'] / base['wall_us']:.2f}x, {m['cpu_us'] / base['cpu_us']:.2f}x"
        )
        lines.append(
            f"| {name} | {m['wall_us']:.1f} µs | {m['cpu_us']:.1f} µs | "
            f"{m['server_cpu_us']:.1f} µs | {m['wall_us_8_at_once']:.1f} µs | {ratio} |"
        )
    checks = [m["listing_check_us"] for m in medians.values() if "listing_check_us" in m]
    if checks:
        lines += [
            "",
            f"`Agent(tools=[server])`, per run: the listing-freshness check takes "
            f"{checks[0]:.1f} µs of CPU (no request while the listing is fresh).",
        ]
    missing = [c for c in CLIENTS if c not in results["clients"]]
    if missing:
        lines += ["", f"Not installed, so not measured: {', '.join(missing)}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="one round of 100 calls")
    options = parser.parse_args()
    if options.serve:
        serve()
        return
    if options.worker:
        print(json.dumps(worker(options.worker, options.calls)))
        return
    calls, rounds = (100, 1) if options.smoke else (options.calls, options.rounds)
    results = run(rounds, calls)
    command = "python benchmarks/bench_mcp.py" + (" --smoke" if options.smoke else "")
    text = report(results, command, calls, rounds)
    print(text)
    if not options.smoke:
        out = HERE / "results" / f"mcp-{dt.date.today().isoformat()}"
        out.with_suffix(".md").write_text(text)
        out.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
