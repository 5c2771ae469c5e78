"""An MCP server on the official SDK (lowlevel `Server`) for the edge cases of the client tests.

Run over stdio: `python edge_server.py [--slow-start SECONDS] [--die-at-start]
[--stubborn]`. Its tools: a `$defs` schema (`order`), a long call that records being
cancelled (`sleep`, `events`), a crash during a call (`crash`), a helper process in its
group (`spawn_helper`), a tool-list change (`add_tool`: sent as `notifications/tools/
list_changed` on the handshake revisions, on `subscriptions/listen` on 2026-07-28), an
`isError` result (`fail`), a destructive tool (`wipe`), an image (`image`), and how often
its tools were listed (`listings`; `--ttl-ms` sets the listing's `ttlMs`).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import anyio
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import NotificationOptions, Server
from mcp.server.stdio import stdio_server
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ToolsListChanged

ORDER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "$defs": {
        "Item": {
            "type": "object",
            "properties": {
                "sku": {"type": "string", "description": "Stock keeping unit"},
                "qty": {"type": "integer", "minimum": 1},
            },
            "required": ["sku", "qty"],
            "additionalProperties": False,
        }
    },
    "properties": {"items": {"type": "array", "items": {"$ref": "#/$defs/Item"}, "minItems": 1}},
    "required": ["items"],
    "additionalProperties": False,
}
NO_ARGS: dict[str, Any] = {"type": "object", "properties": {}}
TINY_PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)

events: list[str] = []
extra_tools: list[types.Tool] = []
listings = 0
ttl_ms = 0
bus = InMemorySubscriptionBus()


def base_tools() -> list[types.Tool]:
    def tool(name: str, description: str, schema: dict[str, Any], **kw: Any) -> types.Tool:
        return types.Tool(name=name, description=description, input_schema=schema, **kw)

    seconds = {"type": "object", "properties": {"seconds": {"type": "number"}}}
    return [
        tool("order", "Place an order of items.", ORDER_SCHEMA),
        tool("sleep", "Sleep for a while.", seconds),
        tool("events", "What happened so far.", NO_ARGS),
        tool("crash", "Crash the server mid-call.", NO_ARGS),
        tool("spawn_helper", "Start a helper process; its pid.", NO_ARGS),
        tool("add_tool", "Add the tool `extra`.", NO_ARGS),
        tool("fail", "Always fails.", NO_ARGS),
        tool("image", "A tiny picture.", NO_ARGS),
        tool("pid", "The server's pid.", NO_ARGS),
        tool("listings", "How many times the tools were listed.", NO_ARGS),
        tool(
            "wipe",
            "Delete everything.",
            NO_ARGS,
            annotations=types.ToolAnnotations(destructive_hint=True, read_only_hint=False),
        ),
    ]


def text(value: str, *, error: bool = False) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=value)], is_error=error)


async def list_tools(
    ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
) -> types.ListToolsResult:
    global listings
    listings += 1
    return types.ListToolsResult(tools=[*base_tools(), *extra_tools], ttl_ms=ttl_ms)


async def call_tool(
    ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
) -> types.CallToolResult:
    args = params.arguments or {}
    name = params.name
    if name == "order":
        return text(", ".join(f"{i['qty']} x {i['sku']}" for i in args["items"]))
    if name == "sleep":
        events.append("sleep started")
        try:
            await anyio.sleep(float(args.get("seconds", 60)))
        except anyio.get_cancelled_exc_class():
            events.append("sleep cancelled")
            raise
        return text("slept")
    if name == "events":
        return text(json.dumps(events))
    if name == "crash":
        print("crashing now", file=sys.stderr, flush=True)
        os._exit(7)
    if name == "spawn_helper":
        helper = subprocess.Popen(["sleep", "300"])  # stays in this server's process group
        return text(str(helper.pid))
    if name == "add_tool":
        extra_tools.append(types.Tool(name="extra", description="Added later.", input_schema=NO_ARGS))
        if ctx.protocol_version == "2026-07-28":
            await bus.publish(ToolsListChanged())
        else:
            await ctx.session.send_tool_list_changed()
        return text("added")
    if name == "fail":
        return text("it went wrong on purpose", error=True)
    if name == "image":
        return types.CallToolResult(
            content=[types.ImageContent(data=TINY_PNG, mime_type="image/png")]
        )
    if name == "pid":
        return text(str(os.getpid()))
    if name == "listings":
        return text(str(listings))
    if name in ("wipe", "extra"):
        return text(f"{name} done")
    raise ValueError(f"unknown tool {name}")


async def main(options: argparse.Namespace) -> None:
    server = Server(
        "edge",
        version="1.0",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_subscriptions_listen=ListenHandler(bus),
    )
    init = server.create_initialization_options(NotificationOptions(tools_changed=True))
    async with stdio_server() as (read, write):
        await server.run(read, write, init)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--slow-start", type=float, default=0.0)
    parser.add_argument("--die-at-start", action="store_true")
    parser.add_argument("--stubborn", action="store_true")
    parser.add_argument("--ttl-ms", type=int, default=0)
    options = parser.parse_args()
    ttl_ms = options.ttl_ms
    if options.die_at_start:
        print("edge: missing EDGE_TOKEN, giving up", file=sys.stderr, flush=True)
        sys.exit(3)
    time.sleep(options.slow_start)
    anyio.run(main, options)
    if options.stubborn:  # outlives its stdin and ignores SIGTERM: only SIGKILL ends it
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(600)
