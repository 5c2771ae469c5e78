"""MCP: the tools of any Model Context Protocol server in an agent, and agentkit's served.

```python
from agentkit import Agent
from agentkit.mcp import MCPServer

time = MCPServer.stdio("uvx", ["mcp-server-time"])
async with Agent(tools=[time]) as agent:   # starts the server, and stops it at the end
    print((await agent.run("What time is it in Tokyo?")).output)
```

A server stands wherever tools do; outside `async with agent:` each `run()` starts it for
that run. Its tools are also yours to list: `async with server: await server.list_tools()`.

Servers run over stdio (`MCPServer.stdio`), Streamable HTTP (`MCPServer.http`) or come from
an `mcpServers` JSON file (`MCPServer.from_config`). `serve_stdio(tools)` and
`serve_http(tools)` serve agentkit tools to any MCP client; `mcp_server(tools)` is the SDK
server behind them.

Needs the MCP SDK: `pip install 'agentkit-llama[mcp]'`.
"""

from ._sdk import require_sdk

require_sdk()

from ._errors import MCPServerError  # noqa: E402
from ._serve import agent_tool, mcp_server, serve_http, serve_stdio  # noqa: E402
from ._server import MCPServer, ServerOptions  # noqa: E402

__all__ = [
    "MCPServer",
    "MCPServerError",
    "ServerOptions",
    "agent_tool",
    "mcp_server",
    "serve_http",
    "serve_stdio",
]
