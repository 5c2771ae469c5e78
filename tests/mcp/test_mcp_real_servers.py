"""Real servers: mcp-server-time (PyPI, revision 2026-07-28) and server-everything (npm,
2025-11-25) over stdio, and server-everything over Streamable HTTP on 127.0.0.1."""

from __future__ import annotations

import json
from typing import Any

import anyio
import mcp_types as types
import pytest
import uvicorn
from _mcp_servers import everything_command, free_port, time_server, wait_for
from mcp.server.lowlevel.server import Server

from agentkit import ModelRetry
from agentkit.mcp import MCPServer

pytestmark = pytest.mark.anyio


async def test_time_server_over_stdio() -> None:
    async with time_server() as server:
        assert server.protocol_version == "2026-07-28"
        assert server.server_info is not None and server.server_info.name == "mcp-time"
        tools = await server.list_tools()
        assert [t.name for t in tools] == ["convert_time", "get_current_time"]
        current = tools[1]
        assert current.parameters["required"] == ["timezone"]
        assert "$schema" not in current.parameters and "title" not in current.parameters
        assert current.requires_approval is False  # annotated read-only
        answer = json.loads(await server.call_tool("get_current_time", {"timezone": "Asia/Tokyo"}))
        assert answer["timezone"] == "Asia/Tokyo"
        assert answer["datetime"].endswith("+09:00")
        with pytest.raises(ModelRetry) as info:
            await server.call_tool("get_current_time", {"timezone": "Nowhere/Special"})
        assert info.value.message.startswith("`get_current_time` failed: ")
        assert "Nowhere/Special" in info.value.message


async def test_everything_over_stdio_speaks_the_handshake_revision() -> None:
    server = MCPServer.stdio(everything_command(), ["stdio"], name="everything")
    async with server:
        assert server.protocol_version == "2025-11-25"
        names = [t.name for t in await server.list_tools()]
        assert names == sorted(names)
        assert {"echo", "get-sum", "get-tiny-image", "get-structured-content"} <= set(names)
        assert await server.call_tool("echo", {"message": "hi there"}) == "Echo: hi there"
        assert await server.call_tool("get-sum", {"a": 2, "b": 40}) == "The sum of 2 and 40 is 42."


async def test_everything_results_describe_images_and_resources() -> None:
    server = MCPServer.stdio(everything_command(), ["stdio"], name="everything")
    async with server:
        image = await server.call_tool("get-tiny-image")
        assert "[image: image/png, " in image and "not shown]" in image
        assert "The image above is the MCP logo." in image
        links = await server.call_tool("get-resource-links", {"count": 2})
        assert "[resource link: Blob Resource 1 <demo://resource/dynamic/blob/1>" in links
        embedded = await server.call_tool(
            "get-resource-reference", {"resourceType": "Text", "resourceId": 2}
        )
        assert "[resource <demo://resource/dynamic/text/2>, text/plain]" in embedded
        assert "Resource 2: This is a plaintext resource" in embedded
        # The server sends the structured value and the same JSON as text: shown once.
        weather = await server.call_tool("get-structured-content", {"location": "New York"})
        assert set(json.loads(weather)) == {"temperature", "conditions", "humidity"}


async def test_everything_over_streamable_http(everything_http: tuple[str, int]) -> None:
    url, _pid = everything_http
    async with MCPServer.http(url, headers={"X-Test": "1"}) as server:
        assert server.name == f"127.0.0.1:{url.split(':')[2].split('/')[0]}"
        assert server.pid is None
        assert server.protocol_version == "2025-11-25"
        tools = {t.name: t for t in await server.list_tools()}
        assert await tools["echo"].function(message="over http") == "Echo: over http"
        with pytest.raises(ModelRetry, match="`get-sum` failed: .*expected number"):
            await server.call_tool("get-sum", {"a": "two", "b": 3})


async def test_http_headers_reach_the_server() -> None:
    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        schema = {"type": "object", "properties": {}}
        return types.ListToolsResult(tools=[types.Tool(name="whoami", input_schema=schema)])

    async def call_tool(ctx: Any, params: Any) -> types.CallToolResult:
        seen = ctx.request.headers.get("authorization", "(none)")
        return types.CallToolResult(content=[types.TextContent(text=seen)])

    sdk = Server("headers", on_list_tools=list_tools, on_call_tool=call_tool)
    app = sdk.streamable_http_app()
    port = free_port()
    web = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    async with anyio.create_task_group() as tg:
        tg.start_soon(web.serve)
        await wait_for(lambda: web.started, "uvicorn to start")
        url = f"http://127.0.0.1:{port}/mcp"
        async with MCPServer.http(url, headers={"Authorization": "Bearer t0ken"}) as server:
            assert await server.call_tool("whoami") == "Bearer t0ken"
        web.should_exit = True
