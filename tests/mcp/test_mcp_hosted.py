"""`ServerHost`: servers in an event loop of their own, used from many others (the CLI's
turns): one process for every loop, a call cancelled on the caller's side cancelled on the
server, and nothing left when the host's block ends."""

from __future__ import annotations

import json

import anyio
import pytest
from _mcp_servers import edge, proc_alive

from agentkit import Agent, ToolMessage
from agentkit.mcp._hosted import ServerHost
from agentkit.testing import ScriptedModel, call


@pytest.mark.slow
def test_calls_from_separate_event_loops_reach_one_server_process() -> None:
    server = edge(allow=["pid", "sleep", "events"])
    with ServerHost() as host:
        (hosted,) = host.host([server])
        model = ScriptedModel([call("pid"), "one", call("pid"), "two"])
        agent = Agent(model, tools=[hosted])
        pids = []
        for _ in range(2):  # each turn in a fresh event loop, as the CLI's chat does
            result = anyio.run(agent.run, "pid?")
            pids += [m.content for m in result.messages if isinstance(m, ToolMessage)]
        assert pids[0] == pids[1] == str(server.pid)

        async def cancelled_sleep() -> list[str]:
            tools = {t.name: t for t in await hosted.list_tools()}
            with anyio.move_on_after(0.5):
                await tools["sleep"].function(seconds=30)
            with anyio.fail_after(10):
                while True:
                    seen: list[str] = json.loads(await tools["events"].function())
                    if "sleep cancelled" in seen:
                        return seen
                    await anyio.sleep(0.05)

        assert anyio.run(cancelled_sleep) == ["sleep started", "sleep cancelled"]
        pid = server.pid
    assert pid is not None and not proc_alive(pid)
    assert not server.running


def test_a_server_that_cannot_start_on_the_host_says_so() -> None:
    from agentkit.mcp import MCPServer, MCPServerError

    with ServerHost() as host, pytest.raises(MCPServerError, match="`bad`"):
        host.host([MCPServer.stdio("/nonexistent/server", name="bad")])
