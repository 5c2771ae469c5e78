"""A batch of an agent whose tools include an MCP server: one server for every row.

Rows run concurrently, and a run outside `async with agent:` would refuse a server another
run started; so the batch runs the agent's servers for its whole length, as `async with`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _mcp_servers import edge, proc_alive

from agentkit import Agent, ToolMessage
from agentkit.batch import run_batch
from agentkit.testing import FunctionModel, call

pytestmark = pytest.mark.anyio


def _pid_then_answer(messages: list[Any], info: Any) -> Any:
    done = [m.content for m in messages if isinstance(m, ToolMessage)]
    return f"pid {done[-1]}" if done else call("pid")


async def test_rows_share_one_server_and_it_stops_with_the_batch(tmp_path: Path) -> None:
    server = edge(allow=["pid"])
    agent = Agent(FunctionModel(_pid_then_answer), tools=[server])
    out = tmp_path / "out.jsonl"
    summary = await run_batch(agent, [f"row {i}" for i in range(12)], output=out, concurrency=6)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert summary.progress.ok == 12, lines
    answers = {line["output"] for line in lines}
    assert len(answers) == 1  # one process served every row
    pid = int(next(iter(answers)).split()[1])
    assert not server.running
    assert not proc_alive(pid)
