"""agentkit tools served over MCP, with agentkit's schemas, validation and approvals.

`mcp_server(tools)` is an SDK `Server` (lowlevel: the schemas are agentkit's own, `$ref`s
inlined, not re-derived by the SDK). A call is checked with `Tool.validate` (coerced, every
problem listed in an `isError` result the calling model can fix), then, for a tool marked
`requires_approval`, the client's user is asked through an MCP elicitation (a form with one
yes/no field; on revision 2026-07-28 as an `input_required` result bound to the arguments);
a client without elicitation gets a refusal. The call then runs on the agent loop's own
executor (its timeout, sync tools in worker threads); failures are `isError` results in the
words the loop tells a model; no traceback leaves the process.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
import mcp_types as types
import uvicorn
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

import agentkit
from agentkit import ModelRetry, RunContext, Tool, ToolCall
from agentkit._loop.execute import CallOutcome, Executor
from agentkit.tools import ToolRegistry

if TYPE_CHECKING:
    from agentkit import Agent

__all__ = ["agent_tool", "mcp_server", "serve_http", "serve_stdio"]

APPROVAL_KEY = "agentkit/approval"
RESULT_CHARS = 100_000  # the longest result sent, as an agent's default `max_result_chars`
_APPROVAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "approve": {"type": "boolean", "title": "Run it", "description": "Allow this call"}
    },
    "required": ["approve"],
}


def agent_tool(agent: Agent[Any], *, name: str = "agent", description: str | None = None) -> Tool:
    """An agent as one tool: it takes a prompt, runs the agent, returns its answer.

    Args:
        agent: The agent; each call is a fresh run (no history between calls).
        name: The tool's name.
        description: What the model is told the agent does (default: a generic line; the
            agent's instructions stay private).
    """

    async def run_agent(prompt: str) -> Any:
        """Ask an agentkit agent to do a task; it answers with its result.

        Args:
            prompt: The whole task or question: the agent sees nothing else.
        """
        return (await agent.run(prompt)).output

    return Tool.from_function(run_agent, name=name, description=description, timeout=None)


def mcp_server(
    tools: Iterable[Tool | Callable[..., Any]],
    *,
    agent: Agent[Any] | None = None,
    name: str = "agentkit",
    instructions: str | None = None,
) -> Server[Any]:
    """An MCP server (the SDK's `Server`) for agentkit tools, and optionally an agent.

    Args:
        tools: `Tool`s or plain functions, as `Agent(tools=...)` takes them.
        agent: Also served, as the tool `agent` (see `agent_tool`).
        name: The server's name, as clients show it.
        instructions: Told to clients on connecting.

    Raises:
        UserError: A tool is not valid, or two share a name.
    """
    listed = list(tools)
    if agent is not None:
        listed.append(agent_tool(agent))
    registry = ToolRegistry(listed)
    mcp_tools = [_mcp_tool(tool) for tool in registry]
    # The loop's own executor runs each call: timeout, worker threads, failures as text.
    executor = Executor(registry, approval=None, max_parallel=1, max_result_chars=RESULT_CHARS)

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=mcp_tools)

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult:
        tool = registry.get(params.name)
        if tool is None:
            known = ", ".join(registry.names) or "none"
            raise MCPError(types.INVALID_PARAMS, f"Unknown tool {params.name!r}; tools: {known}")
        try:
            kwargs = tool.validate(dict(params.arguments or {}))
        except ModelRetry as exc:
            return _error(exc.message)
        if tool.requires_approval:
            verdict = await _approval(ctx, params, tool)
            if verdict is not None:
                return verdict
        call = ToolCall(tool.name, dict(params.arguments or {}), str(ctx.request_id))
        return _result(await executor.run_one(call, tool, kwargs, _context))

    return Server(
        name,
        version=agentkit.__version__,
        instructions=instructions,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


async def serve_stdio(
    tools: Iterable[Tool | Callable[..., Any]],
    *,
    agent: Agent[Any] | None = None,
    name: str = "agentkit",
    instructions: str | None = None,
) -> None:
    """Serve tools over this process's stdin and stdout until the client closes stdin.

    While it serves, stray prints of the tools go to stderr (the SDK points fd 1 there),
    so they cannot break the protocol.
    """
    server = mcp_server(tools, agent=agent, name=name, instructions=instructions)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


async def serve_http(
    tools: Iterable[Tool | Callable[..., Any]],
    *,
    agent: Agent[Any] | None = None,
    name: str = "agentkit",
    instructions: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    path: str = "/mcp",
    task_status: anyio.abc.TaskStatus[str] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serve tools over Streamable HTTP at `http://HOST:PORT/PATH` until cancelled.

    Port 0 takes a free port; `await task_group.start(serve_http, tools, port=0)` returns the
    URL once it accepts connections. Runs on the asyncio backend (uvicorn).
    """
    server = mcp_server(tools, agent=agent, name=name, instructions=instructions)
    app = server.streamable_http_app(streamable_http_path=path, host=host)
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2, lifespan="on")
    web = uvicorn.Server(config)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        bound = sock.getsockname()[1]
        async with anyio.create_task_group() as tg:

            async def run_web() -> None:
                with anyio.CancelScope(shield=True):  # stopped by should_exit, gracefully
                    await web.serve(sockets=[sock])

            tg.start_soon(run_web)
            try:
                while not web.started:  # noqa: ASYNC110 - uvicorn offers no event
                    await anyio.sleep(0.01)
                shown = f"[{host}]" if family == socket.AF_INET6 else host
                task_status.started(f"http://{shown}:{bound}{path}")
                await anyio.sleep_forever()
            finally:
                web.should_exit = True
    finally:
        sock.close()


def _context(call: ToolCall) -> RunContext[Any]:
    return RunContext(deps=None, tool_name=call.name, tool_call_id=call.id)


def _mcp_tool(tool: Tool) -> types.Tool:
    annotations = types.ToolAnnotations(destructive_hint=True) if tool.requires_approval else None
    return types.Tool(
        name=tool.name,
        description=tool.description,
        input_schema=tool.parameters,
        annotations=annotations,
    )


async def _approval(
    ctx: ServerRequestContext[Any], params: types.CallToolRequestParams, tool: Tool
) -> types.CallToolResult | types.InputRequiredResult | None:
    """None when the user approved the call; otherwise what to answer instead."""
    arguments = dict(params.arguments or {})
    message = (
        f"Allow the tool `{tool.name}` to run with these arguments?\n"
        f"{json.dumps(arguments, indent=2, ensure_ascii=False, default=str)}"
    )
    supported = ctx.session.check_client_capability(
        types.ClientCapabilities(elicitation=types.ElicitationCapability())
    )
    if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
        state = _binding(tool.name, arguments)
        answer = (params.input_responses or {}).get(APPROVAL_KEY)
        if isinstance(answer, types.ElicitResult) and params.request_state == state:
            return _answer(tool, answer)
        if not supported:
            return _refusal(tool)
        request = types.ElicitRequest(
            params=types.ElicitRequestFormParams(message=message, requested_schema=_APPROVAL_SCHEMA)
        )
        return types.InputRequiredResult(
            input_requests={APPROVAL_KEY: request}, request_state=state
        )
    if not supported:
        return _refusal(tool)
    try:
        result = await ctx.session.elicit_form(
            message, _APPROVAL_SCHEMA, related_request_id=ctx.request_id
        )
    except MCPError as exc:
        return _error(f"`{tool.name}` needs the user's approval, and asking failed: {exc.message}")
    return _answer(tool, result)


def _binding(name: str, arguments: dict[str, Any]) -> str:
    """A digest of the call: an approval counts for the arguments it was asked about."""
    canonical = json.dumps([name, arguments], sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _answer(tool: Tool, result: types.ElicitResult) -> types.CallToolResult | None:
    if result.action == "accept" and (result.content or {}).get("approve") is True:
        return None
    return _error(
        f"The user declined this call of `{tool.name}`; it was not run. Do not repeat it: ask "
        "the user or continue without it."
    )


def _refusal(tool: Tool) -> types.CallToolResult:
    return _error(
        f"`{tool.name}` needs the user's approval, and this MCP client cannot ask for it (it "
        "does not support elicitation); it was not run."
    )


def _result(outcome: CallOutcome) -> types.CallToolResult:
    """The call's outcome as an MCP result; a JSON object result is structured content too."""
    if outcome.is_error:
        return _error(outcome.result)
    structured = None
    if outcome.result.startswith("{"):
        with contextlib.suppress(ValueError):
            decoded = json.loads(outcome.result)
            structured = decoded if isinstance(decoded, dict) else None
    return types.CallToolResult(
        content=[types.TextContent(text=outcome.result)], structured_content=structured
    )


def _error(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=text)], is_error=True)
