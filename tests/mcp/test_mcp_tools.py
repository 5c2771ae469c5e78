"""A server's tools as agentkit tools: raw schemas checked and inlined, names made safe,
filters, approvals from annotations, and a listing kept until it changes."""

from __future__ import annotations

import json
from typing import Any

import anyio
import mcp_types as types
import pytest
from _mcp_servers import edge
from mcp.server.lowlevel.server import Server

from agentkit import ModelRetry
from agentkit.mcp import MCPServer

pytestmark = pytest.mark.anyio

OBJECT: dict[str, Any] = {"type": "object", "properties": {"x": {"type": "integer"}}}


def sdk_server(*tools: types.Tool) -> Server[Any]:
    """An in-process SDK server with these tools; each call answers with its own name."""

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=list(tools))

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        reply = f"{params.name} {json.dumps(params.arguments, sort_keys=True)}"
        return types.CallToolResult(content=[types.TextContent(text=reply)])

    return Server("sdk", on_list_tools=list_tools, on_call_tool=call_tool)


def mcp_tool(name: str, schema: dict[str, Any] = OBJECT, **hints: Any) -> types.Tool:
    annotations = types.ToolAnnotations(**hints) if hints else None
    return types.Tool(
        name=name, description=f"{name}.", input_schema=schema, annotations=annotations
    )


async def test_defs_schema_is_inlined_and_arguments_checked_before_the_call() -> None:
    async with edge() as server:
        order = {t.name: t for t in await server.list_tools()}["order"]
        text = json.dumps(order.definition())
        assert "$ref" not in text and "$defs" not in text
        item = order.parameters["properties"]["items"]["items"]
        assert item["properties"]["qty"] == {"type": "integer", "minimum": 1}
        # Llama's loose types are coerced against the server's own schema...
        assert order.validate({"items": [{"sku": "A1", "qty": "2"}]}) == {
            "items": [{"sku": "A1", "qty": 2}]
        }
        # ...and what the schema refuses never reaches the server, every problem listed.
        with pytest.raises(ModelRetry) as info:
            order.validate({"items": [{"sku": "A1", "qty": 0}, {"qty": 1}]})
        assert "`items[0].qty`: 0 is less than the minimum of 1" in info.value.message
        assert "`items[1]`: 'sku' is a required property" in info.value.message
        assert await order.function(items=[{"sku": "A1", "qty": 2}]) == "2 x A1"


@pytest.mark.parametrize("protocol", ["auto", "legacy"])
async def test_names_are_made_safe_stable_and_unique(protocol: str) -> None:
    long = "x" * 70
    server = MCPServer.in_process(
        sdk_server(mcp_tool("fs.read"), mcp_tool("fs_read"), mcp_tool(long), mcp_tool("ok-1")),
        protocol=protocol,  # type: ignore[typeddict-item]
    )
    async with server:
        tools = await server.list_tools()
        names = [t.name for t in tools]
        assert len(names) == 4 and len(set(names)) == 4
        assert all(len(n) <= 64 for n in names)
        assert "fs_read" in names and "ok-1" in names  # safe names keep themselves
        dotted = next(n for n in names if n.startswith("fs_read_"))  # `fs.read`: clashes
        by_name = {t.name: t for t in tools}
        # Each agentkit name calls its own MCP tool.
        assert await by_name[dotted].function(x=1) == 'fs.read {"x": 1}'
        assert await by_name["fs_read"].function(x=2) == 'fs_read {"x": 2}'
        # The same listing gives the same names every time (and in another process).
        again = MCPServer.in_process(sdk_server(mcp_tool("fs_read"), mcp_tool("fs.read")))
        async with again:
            assert dotted in [t.name for t in await again.list_tools()]


async def test_prefix_allow_and_deny() -> None:
    tools = [mcp_tool(n) for n in ("get_a", "get_b", "set_a", "other")]
    server = MCPServer.in_process(
        sdk_server(*tools), prefix="s_", allow=["get_*", "set_a"], deny=["get_b"]
    )
    async with server:
        assert [t.name for t in await server.list_tools()] == ["s_get_a", "s_set_a"]
        assert await server.call_tool("other") == "other {}"  # by MCP name, unfiltered


async def test_a_schema_agentkit_refuses_leaves_only_that_tool_out() -> None:
    bad = mcp_tool("bad", {"type": "object", "properties": {"x": {"type": "whole number"}}})
    server = MCPServer.in_process(sdk_server(bad, mcp_tool("good")))
    async with server:
        assert [t.name for t in await server.list_tools()] == ["good"]
        assert "whole number" in server.rejected_tools["bad"]


async def test_destructive_tools_require_approval_by_default() -> None:
    tools = [
        mcp_tool("plain"),
        mcp_tool("wipe", destructive_hint=True),
        mcp_tool("reader", destructive_hint=True, read_only_hint=True),
        mcp_tool("add", destructive_hint=False),
    ]
    cases: list[tuple[Any, set[str]]] = [
        ("destructive", {"wipe"}),
        ("always", {"plain", "wipe", "reader", "add"}),
        ("never", set()),
        (lambda t: t.name.startswith("a"), {"add"}),
    ]
    for policy, expected in cases:
        async with MCPServer.in_process(sdk_server(*tools), require_approval=policy) as server:
            marked = {t.name for t in await server.list_tools() if t.requires_approval}
            assert marked == expected, policy
    async with edge() as server:
        assert {t.name for t in await server.list_tools() if t.requires_approval} == {"wipe"}


async def test_tools_are_listed_once_and_kept() -> None:
    async with edge() as server:
        first = await server.list_tools()
        second = await server.list_tools()
        assert [t.name for t in first] == [t.name for t in second]
        assert first[0] is second[0]
        assert await server.call_tool("listings") == "1"


@pytest.mark.parametrize("protocol", ["auto", "legacy"])
async def test_a_tool_list_change_is_seen(protocol: str) -> None:
    # auto: revision 2026-07-28, the change comes on `subscriptions/listen`;
    # legacy: the 2025-11-25 handshake, as `notifications/tools/list_changed`.
    async with edge(protocol=protocol) as server:
        assert "extra" not in [t.name for t in await server.list_tools()]
        assert await server.call_tool("add_tool") == "added"

        async def has_extra() -> bool:
            return "extra" in [t.name for t in await server.list_tools()]

        with anyio.fail_after(10):
            while not await has_extra():
                await anyio.sleep(0.02)
        assert await server.call_tool("listings") == "2"  # not once per look


async def test_a_listing_is_kept_for_its_ttl_only() -> None:
    async with edge("--ttl-ms", "1") as server:
        await server.list_tools()
        await anyio.sleep(0.05)
        await server.list_tools()
        assert await server.call_tool("listings") == "2"
    async with edge("--ttl-ms", "0") as server:  # 0: no hint, kept until a change
        await server.list_tools()
        await anyio.sleep(0.05)
        await server.list_tools()
        assert await server.call_tool("listings") == "1"


async def test_titles_generated_from_names_are_left_out_and_others_kept() -> None:
    schema = {
        "type": "object",
        "title": "get_timeArguments",
        "properties": {
            "source_timezone": {"title": "Source Timezone", "type": "string"},
            "title": {"title": "Title", "type": "string"},  # a property named "title"
            "when": {"title": "Local time, 24-hour HH:MM", "type": "string"},
            "at": {"type": "object", "properties": {"x_y": {"title": "X Y", "type": "number"}}},
        },
    }
    async with MCPServer.in_process(sdk_server(mcp_tool("get_time", schema))) as server:
        (tool,) = await server.list_tools()
    assert tool.parameters["properties"] == {
        "source_timezone": {"type": "string"},
        "title": {"type": "string"},
        "when": {"title": "Local time, 24-hour HH:MM", "type": "string"},
        "at": {"type": "object", "properties": {"x_y": {"type": "number"}}},
    }
    assert "title" not in tool.parameters
