"""agentkit tools served over MCP: agentkit's schemas, validation, errors and approvals, as
the SDK's client and agentkit's own see them, in process, over stdio and Streamable HTTP."""

from __future__ import annotations

import json
import sys
from functools import partial
from typing import Any

import anyio
import mcp_types as types
import pytest
from _mcp_servers import SERVED
from mcp import Client, StdioServerParameters
from mcp.client.context import ClientRequestContext
from mcp.shared.exceptions import MCPError

from agentkit import Agent, ModelRetry, Tool
from agentkit.mcp import MCPServer, mcp_server, serve_http
from agentkit.testing import ScriptedModel
from agentkit.tools import load_tools

pytestmark = pytest.mark.anyio

MODES = ["auto", "legacy"]  # revision 2026-07-28, and the 2025-11-25 handshake


@pytest.fixture(scope="module")
def tools() -> list[Tool]:
    return load_tools(SERVED)


def text_of(result: types.CallToolResult) -> str:
    return "\n".join(b.text for b in result.content if isinstance(b, types.TextContent))


def answering(action: str, approve: bool = True) -> Any:
    """An elicitation callback that answers every request the same way, and records them."""
    asked: list[types.ElicitRequestParams] = []

    async def callback(
        context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult:
        asked.append(params)
        content = {"approve": approve} if action == "accept" else None
        return types.ElicitResult(action=action, content=content)  # type: ignore[arg-type]

    callback.asked = asked  # type: ignore[attr-defined]
    return callback


@pytest.mark.parametrize("mode", MODES)
async def test_the_sdk_client_sees_agentkits_schemas(tools: list[Tool], mode: str) -> None:
    async with Client(mcp_server(tools), mode=mode) as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
    assert list(listed) == [t.name for t in tools]
    for tool in tools:
        assert listed[tool.name].input_schema == tool.parameters
        assert listed[tool.name].description == tool.description
    assert "$defs" not in json.dumps(listed["distance"].input_schema)  # inlined, as for Llama
    hints = listed["delete_file"].annotations
    assert hints is not None and hints.destructive_hint is True


@pytest.mark.parametrize("mode", MODES)
async def test_calls_are_validated_and_failures_are_error_results(
    tools: list[Tool], mode: str
) -> None:
    async with Client(mcp_server(tools), mode=mode) as client:
        ok = await client.call_tool("add", {"a": "2", "b": 3})  # coerced, as for a model
        assert (ok.is_error, text_of(ok)) == (False, "5")
        far = await client.call_tool("distance", {"p": {"x": 0, "y": 0}, "q": {"x": 3, "y": 4}})
        assert text_of(far) == "5.0"
        bad = await client.call_tool("add", {"a": "two"})
        assert bad.is_error
        assert text_of(bad).startswith("Invalid arguments for tool `add`:")
        assert "`b`: required, but missing" in text_of(bad)
        boom = await client.call_tool("boom", {})
        assert (boom.is_error, text_of(boom)) == (True, "`boom` failed: RuntimeError: kaput")
        odd = await client.call_tool("even_only", {"x": 3})
        assert text_of(odd) == "x must be even: try again with an even number" and odd.is_error
        slow = await client.call_tool("slow", {})
        assert slow.is_error and text_of(slow).startswith("`slow` did not finish within 0.2 s")
        info = await client.call_tool("info", {})
        assert info.structured_content == {"a": 1, "b": [2, 3]}
        assert json.loads(text_of(info)) == {"a": 1, "b": [2, 3]}
        with pytest.raises(MCPError, match="Unknown tool 'nope'; tools: add, distance"):
            await client.call_tool("nope", {})


@pytest.mark.parametrize("mode", MODES)
async def test_approval_is_asked_by_elicitation(tools: list[Tool], mode: str) -> None:
    yes = answering("accept")
    async with Client(mcp_server(tools), mode=mode, elicitation_callback=yes) as client:
        result = await client.call_tool("delete_file", {"path": "notes.txt"})
    assert (result.is_error, text_of(result)) == (False, "deleted notes.txt")
    (asked,) = yes.asked
    assert isinstance(asked, types.ElicitRequestFormParams)
    assert "Allow the tool `delete_file` to run" in asked.message
    assert '"path": "notes.txt"' in asked.message


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("action", "approve"), [("decline", True), ("cancel", True), ("accept", False)]
)
async def test_a_declined_approval_does_not_run_the_tool(
    tools: list[Tool], mode: str, action: str, approve: bool
) -> None:
    no = answering(action, approve)
    async with Client(mcp_server(tools), mode=mode, elicitation_callback=no) as client:
        result = await client.call_tool("delete_file", {"path": "notes.txt"})
    assert result.is_error
    assert text_of(result).startswith("The user declined this call of `delete_file`")


@pytest.mark.parametrize("mode", MODES)
async def test_a_client_that_cannot_ask_is_refused(tools: list[Tool], mode: str) -> None:
    async with Client(mcp_server(tools), mode=mode) as client:
        result = await client.call_tool("delete_file", {"path": "notes.txt"})
    assert result.is_error
    assert text_of(result).startswith(
        "`delete_file` needs the user's approval, and this MCP client cannot ask for it"
    )


async def test_an_approval_counts_only_for_the_arguments_it_was_asked_about(
    tools: list[Tool],
) -> None:
    yes = answering("accept")
    async with Client(mcp_server(tools), elicitation_callback=yes) as client:
        first = await client.session.call_tool(
            "delete_file", {"path": "a.txt"}, allow_input_required=True
        )
        assert isinstance(first, types.InputRequiredResult)
        assert first.input_requests is not None
        accept = types.ElicitResult(action="accept", content={"approve": True})
        # The approval of a.txt, replayed for b.txt, is asked about again: nothing is run.
        other = await client.session.call_tool(
            "delete_file",
            {"path": "b.txt"},
            input_responses={key: accept for key in first.input_requests},
            request_state=first.request_state,
            allow_input_required=True,
        )
        assert isinstance(other, types.InputRequiredResult)
        same = await client.session.call_tool(
            "delete_file",
            {"path": "a.txt"},
            input_responses={key: accept for key in first.input_requests},
            request_state=first.request_state,
            allow_input_required=True,
        )
        assert isinstance(same, types.CallToolResult) and text_of(same) == "deleted a.txt"


async def test_agentkits_client_gets_the_same_tools_back(tools: list[Tool]) -> None:
    async with MCPServer.in_process(mcp_server(tools)) as server:
        again = {t.name: t for t in await server.list_tools()}
        assert list(again) == sorted(t.name for t in tools)
        for tool in tools:
            assert again[tool.name].parameters == tool.parameters
        assert again["delete_file"].requires_approval and not again["add"].requires_approval
        assert await again["add"].function(a=2, b=3) == "5"
        with pytest.raises(ModelRetry, match="cannot ask for it"):
            await server.call_tool("delete_file", {"path": "x"})


async def test_an_agent_served_as_one_tool() -> None:
    inner = Agent(model=ScriptedModel(["The answer is 42."]))
    async with Client(mcp_server([], agent=inner)) as client:
        (listed,) = (await client.list_tools()).tools
        assert listed.name == "agent"
        assert listed.input_schema["required"] == ["prompt"]
        result = await client.call_tool("agent", {"prompt": "What is six times seven?"})
    assert text_of(result) == "The answer is 42."


@pytest.mark.slow
async def test_served_over_stdio_to_both_clients() -> None:
    async with MCPServer.stdio(sys.executable, [str(SERVED)], name="served") as server:
        by_name = {t.name: t for t in await server.list_tools()}
        assert await by_name["add"].function(a=1, b=2) == "3"
        assert await server.call_tool("chatty") == "said"  # its print did not break stdio
    params = StdioServerParameters(command=sys.executable, args=[str(SERVED)])
    async with Client(params) as client:
        assert text_of(await client.call_tool("add", {"a": 4, "b": 5})) == "9"


async def test_served_over_streamable_http_to_both_clients(tools: list[Tool]) -> None:
    async with anyio.create_task_group() as tg:
        url = await tg.start(partial(serve_http, tools, port=0))
        assert url.startswith("http://127.0.0.1:") and url.endswith("/mcp")
        async with MCPServer.http(url) as server:
            assert await server.call_tool("add", {"a": 20, "b": 22}) == "42"
            with pytest.raises(ModelRetry, match="Invalid arguments for tool `add`"):
                await server.call_tool("add", {"a": "x", "b": 1})
        async with Client(url) as client:
            assert text_of(await client.call_tool("add", {"a": 1, "b": 1})) == "2"
        tg.cancel_scope.cancel()
