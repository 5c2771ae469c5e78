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
NAME: dict[str, Any] = {"type": "object", "properties": {"name": {"type": "string"}}}
TINY_PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDw" + (
    "ADhgGAWjR9awAAAABJRU5ErkJggg=="
)

Ctx = ServerRequestContext[Any]
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
            "getenv",
            "An environment variable.",
            {"type": "object", "properties": {"name": {"type": "string"}}},
        ),
        tool("cwd", "The working folder.", NO_ARGS),
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
    ctx: Ctx, params: types.PaginatedRequestParams | None
) -> types.ListToolsResult:
    global listings
    listings += 1
    return types.ListToolsResult(tools=[*base_tools(), *extra_tools], ttl_ms=ttl_ms)


async def order(ctx: Ctx, args: dict[str, Any]) -> types.CallToolResult:
    return text(", ".join(f"{i['qty']} x {i['sku']}" for i in args["items"]))


async def sleep(ctx: Ctx, args: dict[str, Any]) -> types.CallToolResult:
    events.append("sleep started")
    try:
        await anyio.sleep(float(args.get("seconds", 60)))
    except anyio.get_cancelled_exc_class():
        events.append("sleep cancelled")
        raise
    return text("slept")


async def crash(ctx: Ctx, args: dict[str, Any]) -> types.CallToolResult:
    print("crashing now", file=sys.stderr, flush=True)
    os._exit(7)


async def spawn_helper(ctx: Ctx, args: dict[str, Any]) -> types.CallToolResult:
    helper = subprocess.Popen(["sleep", "300"])  # stays in this server's process group
    return text(str(helper.pid))


async def add_tool(ctx: Ctx, args: dict[str, Any]) -> types.CallToolResult:
    extra = types.Tool(name="extra", description="Added later.", input_schema=NO_ARGS)
    extra_tools.append(extra)
    if ctx.protocol_version == "2026-07-28":
        await bus.publish(ToolsListChanged())
    else:
        await ctx.session.send_tool_list_changed()
    return text("added")


async def image(ctx: Ctx, args: dict[str, Any]) -> types.CallToolResult:
    return types.CallToolResult(content=[types.ImageContent(data=TINY_PNG, mime_type="image/png")])


def answer(value: Any, *, error: bool = False) -> Any:
    async def reply(ctx: Ctx, args: dict[str, Any]) -> types.CallToolResult:
        return text(value(args) if callable(value) else value, error=error)

    return reply


HANDLERS = {
    "order": order,
    "sleep": sleep,
    "events": answer(lambda args: json.dumps(events)),
    "crash": crash,
    "spawn_helper": spawn_helper,
    "add_tool": add_tool,
    "fail": answer("it went wrong on purpose", error=True),
    "image": image,
    "pid": answer(lambda args: str(os.getpid())),
    "listings": answer(lambda args: str(listings)),
    "getenv": answer(lambda args: os.environ.get(args["name"], "(not set)")),
    "cwd": answer(lambda args: os.getcwd()),
    "wipe": answer("wipe done"),
    "extra": answer("extra done"),
}


async def call_tool(ctx: Ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
    return await HANDLERS[params.name](ctx, params.arguments or {})


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
