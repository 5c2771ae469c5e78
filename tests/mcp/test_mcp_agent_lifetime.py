"""`Agent(tools=[server, ...])`: who starts and stops the servers, and when the agent lists them.

`async with agent:` runs them for the block; a run outside it runs them for that run; a
stream outside it is refused; a server someone else runs is left to them. Each check looks at
the real process (its pid gone) and at what the model was offered.
"""

from __future__ import annotations

import json
import pickle
from typing import Any

import anyio
import pytest
from _mcp_servers import child_pids, edge, proc_alive, wait_for

from agentkit import Agent, RunError, ToolMessage, UserError
from agentkit.mcp import MCPServer, MCPServerError, mcp_server
from agentkit.testing import ScriptedModel, call

pytestmark = pytest.mark.anyio


def results(messages: list[Any]) -> list[str]:
    return [m.content for m in messages if isinstance(m, ToolMessage)]


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


async def test_async_with_agent_starts_and_stops_its_servers() -> None:
    server = edge(allow=["pid"])
    model = ScriptedModel([call("pid"), "one", call("pid"), "two"])
    agent = Agent(model, tools=[server])
    async with agent:
        assert server.state == "running"
        pid = server.pid
        assert pid is not None
        with model:
            first = await agent.run("pid?")
            second = await agent.run("pid again?")
        assert results(first.messages) == results(second.messages) == [str(pid)]  # one process
    assert not server.running
    assert not proc_alive(pid)


@pytest.mark.slow
async def test_a_run_outside_async_with_runs_the_servers_for_that_run() -> None:
    server = edge(allow=["pid"])
    model = ScriptedModel([call("pid"), "done"])
    agent = Agent(model, tools=[server])
    with model:
        result = await agent.run("pid?")
    (pid,) = results(result.messages)
    assert not server.running
    assert not proc_alive(int(pid))


@pytest.mark.slow
def test_run_sync_starts_and_stops_the_servers() -> None:
    before = child_pids()
    server = edge(allow=["pid"])
    model = ScriptedModel([call("pid"), "done"])
    with model:
        result = Agent(model, tools=[server]).run_sync("pid?")
    (pid,) = results(result.messages)
    assert int(pid) > 0 and not proc_alive(int(pid))
    assert child_pids() <= before


async def test_stream_outside_async_with_is_refused_and_inside_it_streams() -> None:
    server = edge(allow=["pid"])
    model = ScriptedModel([call("pid"), "done"])
    agent = Agent(model, tools=[server])
    with pytest.raises(UserError, match=r"`edge` is not running, and stream\(\) does not start"):
        agent.stream("pid?")
    assert not server.running
    async with agent:
        with model:
            kinds = [event.type async for event in agent.stream("pid?")]
    assert kinds[-1] == "run_finished"


@pytest.mark.slow
async def test_the_tools_come_in_the_order_given_and_are_listed_once() -> None:
    server = edge(allow=["pid", "listings", "events"])
    model = ScriptedModel(["a", "b", [call("listings"), call("add", a=1, b=2)], "c"])
    agent = Agent(model, tools=[add, server])
    async with agent:
        assert [d["function"]["name"] for d in agent.tool_definitions()] == [
            "add",
            "events",
            "listings",
            "pid",
        ]
        with model:
            await agent.run("one")
            await agent.run("two")
            result = await agent.run("three")
    assert results(result.messages) == ["1", "3"]  # listed once, over three runs
    assert model.requests[0].tool_names == ["add", "events", "listings", "pid"]
    assert repr(agent) == "Agent(model='scripted', tools=['add', 'events', 'listings', 'pid'])"


@pytest.mark.slow
async def test_a_tool_list_change_reaches_the_next_run() -> None:
    server = edge(allow=["add_tool", "extra"])
    model = ScriptedModel([call("add_tool"), "added", call("extra"), "done"])
    agent = Agent(model, tools=[server])
    async with agent:
        with model:
            await agent.run("add one")

            async def changed() -> bool:
                return "extra" in [t.name for t in await server.list_tools()]

            await wait_for(changed, "the list change")
            result = await agent.run("use it")
    assert model.requests[0].tool_names == ["add_tool"]
    assert model.requests[2].tool_names == ["add_tool", "extra"]
    assert results(result.messages) == ["extra done"]


@pytest.mark.slow
async def test_two_servers_with_the_same_tool_names_are_refused_naming_both() -> None:
    agent = Agent("offline", tools=[edge(name="a", allow=["pid"]), edge(name="b", allow=["pid"])])
    with pytest.raises(UserError) as caught:
        async with agent:
            pass
    assert "two tools are named `pid`: one of MCP server `a`, one of MCP server `b`" in str(
        caught.value
    )
    assert "prefix=" in str(caught.value)
    fixed = Agent("offline", tools=[edge(name="a", allow=["pid"]), edge(name="b", prefix="b_")])
    async with fixed:
        assert [d["function"]["name"] for d in fixed.tool_definitions()][:2] == [
            "pid",
            "b_add_tool",
        ]


async def test_a_server_tool_named_like_a_function_is_refused() -> None:
    def pid() -> int:
        """Not the server's."""
        return 0

    with pytest.raises(UserError, match="one of the agent's own tools, one of MCP server `edge`"):
        async with Agent("offline", tools=[pid, edge(allow=["pid"])]):
            pass


async def test_the_blocks_own_exception_comes_out_as_it_is() -> None:
    server = edge(allow=["pid"])
    pids: list[int | None] = []

    async def body() -> None:
        async with Agent("offline", tools=[server]):
            pids.append(server.pid)
            raise KeyError("mine")

    with pytest.raises(KeyError):  # not an ExceptionGroup
        await body()
    assert pids[0] is not None and not proc_alive(pids[0])


async def test_a_server_that_cannot_start_fails_the_block_and_stops_the_others() -> None:
    before = child_pids()
    good = edge(name="good", allow=["pid"])
    bad = MCPServer.stdio("/nonexistent/server", name="bad")
    with pytest.raises(MCPServerError, match="bad") as caught:  # as it is, not in a group
        async with Agent("offline", tools=[good, bad]):
            pass
    assert isinstance(caught.value, RunError)  # the command line exits with 1
    assert not good.running and not bad.running
    assert child_pids() <= before  # the good one was stopped too


async def test_a_run_whose_server_cannot_start_fails_before_any_request() -> None:
    model = ScriptedModel(["never"])
    agent = Agent(model, tools=[MCPServer.stdio("/nonexistent/server", name="bad")])
    with pytest.raises(MCPServerError, match="MCP server `bad`"):
        await agent.run("hi")
    assert model.requests == []


async def test_a_server_someone_else_runs_is_left_running() -> None:
    async with edge(allow=["pid"]) as server:
        model = ScriptedModel([call("pid"), "done"])
        async with Agent(model, tools=[server]) as agent:
            with model:
                await agent.run("pid?")
        assert server.state == "running"
        assert json.loads(await server.call_tool("pid")) == server.pid


async def test_a_concurrent_run_cannot_use_servers_another_run_started() -> None:
    server = edge(allow=["sleep"])
    model = ScriptedModel([call("sleep", seconds=30)])
    agent = Agent(model, tools=[server])
    async with anyio.create_task_group() as tg:
        tg.start_soon(agent.run, "sleep")
        await wait_for(lambda: server.state == "running", "the first run's server")
        with pytest.raises(UserError, match="started by another run.*`async with agent:`"):
            await agent.run("me too")
        tg.cancel_scope.cancel()
    assert not server.running


async def test_cancelling_a_run_that_started_its_server_leaves_no_process() -> None:
    server = edge(allow=["sleep"])
    agent = Agent(ScriptedModel([call("sleep", seconds=60)]), tools=[server])
    pids: list[int] = []
    with anyio.move_on_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(agent.run, "sleep")
            await wait_for(lambda: server.pid is not None, "the server to start")
            assert server.pid is not None
            pids.append(server.pid)
            await anyio.sleep(0.3)  # the call is in flight
            tg.cancel_scope.cancel()
    assert not server.running
    await wait_for(lambda: not proc_alive(pids[0]), "the server process to end")


@pytest.mark.slow
async def test_a_sub_agents_servers_run_for_the_callers_run() -> None:
    server = edge(allow=["pid"])
    child_model = ScriptedModel([call("pid"), "child one", call("pid"), "child two"])
    child = Agent(child_model, tools=[server], name="child", description="Tells the pid.")
    parent_model = ScriptedModel(
        [[call("child", task="a"), call("child", task="b")], "both answered"]
    )
    parent = Agent(parent_model, tools=[child.as_tool()])
    with parent_model, child_model:
        result = await parent.run("ask twice")  # two calls of the child at once
    assert sorted(results(result.messages)) == ["child one", "child two"]
    assert not server.running


async def test_an_agent_pickles_with_its_servers_as_settings() -> None:
    server = edge(allow=["pid"], prefix="e_", timeout=5)
    agent = Agent("offline", tools=[add, server])
    copy = pickle.loads(pickle.dumps(agent))
    moved = copy.config.tools[1]
    assert isinstance(moved, MCPServer) and moved is not server
    assert (moved.name, moved.running) == ("edge", False)
    async with copy:
        assert [d["function"]["name"] for d in copy.tool_definitions()] == ["add", "e_pid"]
    assert agent.replace(max_turns=3).config.tools[1] is server  # replace() shares it


def test_an_in_process_server_says_it_cannot_be_pickled() -> None:
    agent = Agent("offline", tools=[MCPServer.in_process(mcp_server([add]))])
    with pytest.raises(TypeError, match="cannot be pickled: it lives in this process"):
        pickle.dumps(agent)


def test_a_server_not_in_a_list_is_a_clear_mistake() -> None:
    with pytest.raises(UserError, match=r"write tools=\[server\] \(for the server `edge`\)"):
        Agent("offline", tools=edge())  # type: ignore[arg-type]
    server = edge()
    with pytest.raises(UserError, match="`edge` is listed twice"):
        Agent("offline", tools=[server, server])


@pytest.mark.slow
async def test_a_run_on_a_session_lists_and_starts_its_servers_too() -> None:
    from agentkit.sessions import MemorySession

    session = MemorySession()
    server = edge(allow=["pid"])
    model = ScriptedModel([call("pid"), "first", "second"])
    agent = Agent(model, tools=[server])
    with model:
        await agent.run("pid?", session=session)  # the server runs for this run only
        async with agent:
            events = [e async for e in agent.stream("and now?", session=session)]
    assert events[-1].type == "run_finished"
    assert model.requests[0].tool_names == ["pid"]
    sent = [m.content for m in model.requests[1].messages if isinstance(m, ToolMessage)]
    stored = [m.content for m in model.requests[2].messages if isinstance(m, ToolMessage)]
    assert sent == stored and int(stored[0]) > 0  # the second run continued the first
    assert not server.running
