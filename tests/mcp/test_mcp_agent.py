"""An agentkit Agent calling MCP tools end to end: `Agent(tools=[server])` (or the server's
`Tool`s, listed by hand) with a scripted model, through agentkit's real loop and executor."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from _mcp_servers import edge, time_server, wait_for

from agentkit import Agent, ToolCall, ToolMessage
from agentkit.events import ToolCallFinished
from agentkit.mcp import MCPServer
from agentkit.testing import ScriptedModel, call

pytestmark = pytest.mark.anyio


def tool_results(messages: list[Any]) -> list[str]:
    return [m.content for m in messages if isinstance(m, ToolMessage)]


async def finished_calls(agent: Agent[Any], prompt: str) -> list[ToolCallFinished]:
    return [e async for e in agent.stream(prompt) if isinstance(e, ToolCallFinished)]


async def test_an_agent_calls_a_real_mcp_server() -> None:
    model = ScriptedModel(
        [call("get_current_time", timezone="Asia/Tokyo"), "It is evening in Tokyo."]
    )
    async with Agent(model=model, tools=[time_server()]) as agent:
        with model:
            result = await agent.run("What time is it in Tokyo?")
    assert result.output == "It is evening in Tokyo."
    (answer,) = tool_results(result.messages)
    assert json.loads(answer)["timezone"] == "Asia/Tokyo"
    offered = model.requests[0].tool_names
    assert offered == ["convert_time", "get_current_time"]


async def test_the_tools_of_a_running_server_can_be_listed_by_hand() -> None:
    async with time_server() as server:
        model = ScriptedModel([call("get_current_time", timezone="UTC"), "ok"])
        agent = Agent(model=model, tools=[*await server.list_tools()])
        with model:
            result = await agent.run("now?")
        assert json.loads(tool_results(result.messages)[0])["timezone"] == "UTC"


async def test_the_model_gets_inlined_schemas_and_bad_arguments_never_reach_the_server() -> None:
    model = ScriptedModel(
        [
            call("order", items=[{"sku": "A1", "qty": 0}]),
            call("order", items=[{"sku": "A1", "qty": "2"}]),
            "Ordered.",
        ]
    )
    async with Agent(model=model, tools=[edge(allow=["order"])]) as agent:
        with model:
            events = await finished_calls(agent, "order two A1")
        sent = json.dumps(model.requests[0].tools)
        assert "$ref" not in sent and "$defs" not in sent
        assert events[0].is_error
        assert "`items[0].qty`: 0 is less than the minimum of 1" in events[0].result
        assert (events[1].is_error, events[1].result) == (False, "2 x A1")


@pytest.mark.slow
async def test_a_server_crash_mid_run_is_a_tool_error_and_the_run_goes_on() -> None:
    model = ScriptedModel([call("crash"), call("fail"), call("pid"), "All done."])
    async with Agent(model=model, tools=[edge()], max_tool_failures=3) as agent:
        with model:
            events = await finished_calls(agent, "go")
        crash, fail, pid = events
        assert (
            crash.is_error and "stopped during the call (it exited with status 7)" in crash.result
        )
        assert fail.is_error and fail.result == "`fail` failed: it went wrong on purpose"
        assert not pid.is_error and int(pid.result) > 0  # the restarted server answered


async def test_destructive_tools_ask_the_agents_approval() -> None:
    asked: list[ToolCall] = []

    def approval(tool_call: ToolCall) -> bool:
        asked.append(tool_call)
        return False

    model = ScriptedModel([call("wipe"), "Not wiped."])
    agent = Agent(model=model, tools=[edge(allow=["wipe"])], approval=approval)
    with model:
        result = await agent.run("wipe it")  # the server runs for this run
    assert [c.name for c in asked] == ["wipe"]
    assert tool_results(result.messages)[0].startswith("The user declined this call of `wipe`")


async def test_cancelling_the_agent_during_an_mcp_call() -> None:
    server = edge()
    async with Agent(model=ScriptedModel([call("sleep", seconds=60)]), tools=[server]) as agent:

        async def server_events() -> list[str]:
            found: list[str] = json.loads(await server.call_tool("events"))
            return found

        async with anyio.create_task_group() as tg:
            tg.start_soon(agent.run, "sleep")

            async def sleeping() -> bool:
                return "sleep started" in await server_events()

            await wait_for(sleeping, "the agent's call to start")
            tg.cancel_scope.cancel()

        async def cancelled() -> bool:
            return "sleep cancelled" in await server_events()

        await wait_for(cancelled, "the request to be cancelled on the server")
        assert server.state == "running"


@pytest.mark.slow
async def test_two_servers_in_one_agent() -> None:
    clock, other = time_server(prefix="time_"), edge(allow=["pid"])
    model = ScriptedModel([[call("time_get_current_time", timezone="UTC"), call("pid")], "ok"])
    async with Agent(model=model, tools=[clock, other]) as agent:
        with model:
            result = await agent.run("both")
        first, second = tool_results(result.messages)
        assert json.loads(first)["timezone"] == "UTC"
        assert int(second) == other.pid
    assert model.requests[0].tool_names == ["time_convert_time", "time_get_current_time", "pid"]
    assert isinstance(clock, MCPServer) and not clock.running
