"""Tools: Python functions (or raw JSON schemas) the model can call, and tool files to load.

`@tool` and `Tool.from_function` describe a function from its type hints and docstring;
`Tool.from_schema` takes a raw JSON schema (as MCP servers give them). `load_tools` loads a
Python file of tools, or a ready-made module by short name (`calculator`, `files`, ...).
A `ToolSource` (an MCP server) stands among an agent's tools and gives its tools when asked.
"""

from agentkit.tools._imports import import_path
from agentkit.tools._loader import builtin_tool_names, load_tools, tools_from_module
from agentkit.tools._registry import ToolRegistry, as_tool
from agentkit.tools._source import ToolSource, is_tool_source
from agentkit.tools._tool import DEFAULT_TIMEOUT, Tool, tool

__all__ = [
    "DEFAULT_TIMEOUT",
    "Tool",
    "ToolRegistry",
    "ToolSource",
    "as_tool",
    "builtin_tool_names",
    "import_path",
    "is_tool_source",
    "load_tools",
    "tool",
    "tools_from_module",
]
