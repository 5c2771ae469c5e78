"""A server's tool listing as agentkit `Tool`s: filtered, named, schema-checked, sorted.

Each input schema goes through `Tool.from_schema`, agentkit's raw-schema path: checked
against the Draft 2020-12 meta-schema, `$ref`s inlined for Llama, arguments coerced and
validated before the call reaches the server. A tool whose schema cannot pass is left out
and reported (`MCPServer.rejected_tools`, and a logged warning) instead of breaking the
server's other tools.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Literal, Union

import mcp_types

from agentkit import Tool, UserError

__all__ = ["ApprovalPolicy", "ToolOptions", "build_tools", "option_problems"]

logger = logging.getLogger("agentkit.mcp")

ApprovalPolicy = Union[  # noqa: UP007 - a runtime alias on Python 3.10
    Literal["destructive", "always", "never"], Callable[[mcp_types.Tool], bool]
]
CallTool = Callable[[str, str, dict[str, Any]], Awaitable[str]]

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_PREFIX = re.compile(r"^[A-Za-z0-9_-]{0,40}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
# Noise for the model once the schema is checked: the dialect URI (agentkit validates every
# schema as Draft 2020-12), the top-level title, and titles generated from names (below).
_DROPPED_TOP = ("$schema", "title")
# Where a schema holds subschemas: one, a list of them, a name -> subschema map.
_SCHEMA_ONE = frozenset(
    {"items", "additionalItems", "additionalProperties", "not", "if", "then", "else"}
    | {"contains", "propertyNames", "unevaluatedItems", "unevaluatedProperties"}
)
_SCHEMA_LISTS = frozenset({"anyOf", "oneOf", "allOf", "prefixItems", "items"})
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions"})


@dataclass(frozen=True)
class ToolOptions:
    """How a server's tools become agentkit tools."""

    prefix: str = ""
    allow: tuple[str, ...] | None = None
    deny: tuple[str, ...] = ()
    timeout: float | None = 60.0
    require_approval: ApprovalPolicy = "destructive"


def option_problems(options: ToolOptions) -> list[str]:
    """Every problem with the options, one line each."""
    problems = []
    if not isinstance(options.prefix, str) or not _PREFIX.match(options.prefix):
        problems.append(f"prefix must be up to 40 letters, digits, '_' or '-': {options.prefix!r}")
    for field, patterns in (("allow", options.allow or ()), ("deny", options.deny)):
        if not all(isinstance(p, str) and p for p in patterns):
            problems.append(f"{field} must be a list of tool names or patterns: {patterns!r}")
    if options.timeout is not None and (
        isinstance(options.timeout, bool)
        or not isinstance(options.timeout, (int, float))
        or not options.timeout > 0
    ):
        problems.append(
            f"timeout must be a positive number of seconds or None: {options.timeout!r}"
        )
    policy = options.require_approval
    if not callable(policy) and policy not in ("destructive", "always", "never"):
        problems.append(
            "require_approval must be 'destructive', 'always', 'never' or a function of the "
            f"MCP tool: {policy!r}"
        )
    return problems


def build_tools(
    server: str, listing: Sequence[mcp_types.Tool], options: ToolOptions, call: CallTool
) -> tuple[list[Tool], dict[str, str]]:
    """The agentkit tools for a listing, sorted by name, and the rejected ones with why.

    `call(mcp_name, tool_name, arguments)` runs a call on the server.
    """
    chosen = sorted((t for t in _unique(listing) if _wanted(t.name, options)), key=lambda t: t.name)
    _warn_missing(server, listing, options)
    tools: list[Tool] = []
    rejected: dict[str, str] = {}
    names = _tool_names(options.prefix, [t.name for t in chosen])
    for mcp_tool in chosen:
        name = names[mcp_tool.name]
        try:
            tool = Tool.from_schema(
                name=name,
                description=_description(server, mcp_tool),
                parameters=_parameters(mcp_tool.input_schema),
                function=_caller(call, mcp_tool.name, name),
                timeout=options.timeout,
                requires_approval=_needs_approval(mcp_tool, options.require_approval),
            )
        except UserError as exc:
            rejected[mcp_tool.name] = str(exc)
            logger.warning("MCP server %s: tool %s left out: %s", server, mcp_tool.name, exc)
            continue
        tools.append(tool)
    return tools, rejected


def _unique(listing: Sequence[mcp_types.Tool]) -> list[mcp_types.Tool]:
    """The listing without repeated names (a server bug): the first of each name counts."""
    seen: dict[str, mcp_types.Tool] = {}
    for tool in listing:
        seen.setdefault(tool.name, tool)
    return list(seen.values())


def _wanted(name: str, options: ToolOptions) -> bool:
    if options.allow is not None and not any(fnmatchcase(name, p) for p in options.allow):
        return False
    return not any(fnmatchcase(name, p) for p in options.deny)


def _warn_missing(server: str, listing: Sequence[mcp_types.Tool], options: ToolOptions) -> None:
    names = {t.name for t in listing}
    for pattern in options.allow or ():
        if not any(fnmatchcase(n, pattern) for n in names):
            logger.warning(
                "MCP server %s has no tool matching allow=%r; its tools: %s",
                server,
                pattern,
                ", ".join(sorted(names)) or "none",
            )


def _tool_names(prefix: str, mcp_names: list[str]) -> dict[str, str]:
    """MCP name -> agentkit name: `prefix + name`, made safe for the model's API.

    Names already safe keep themselves. Others get `_` for each character the API refuses
    (`fs.read` -> `fs_read`), cut to 64; if that clashes, a short hash of the MCP name is
    added, so a listing gives the same names each time.
    """
    names = {n: prefix + n for n in mcp_names if _NAME.match(prefix + n)}
    taken = set(names.values())
    for mcp_name in mcp_names:
        if mcp_name in names:
            continue
        safe = _UNSAFE.sub("_", prefix + mcp_name)
        if len(safe) > 64 or safe in taken:
            digest = hashlib.sha256(mcp_name.encode()).hexdigest()[:8]
            safe = f"{safe[:55]}_{digest}"
        names[mcp_name] = safe
        taken.add(safe)
    return names


def _description(server: str, tool: mcp_types.Tool) -> str:
    title = tool.title or (tool.annotations.title if tool.annotations else None)
    return tool.description or title or f"The `{tool.name}` tool of MCP server `{server}`."


def _parameters(schema: dict[str, Any]) -> dict[str, Any]:
    top = {k: v for k, v in schema.items() if k not in _DROPPED_TOP}
    cleaned: dict[str, Any] = _without_generated_titles(top)
    return cleaned


def _without_generated_titles(schema: Any, name: str | None = None) -> Any:
    """The schema without the titles generators add: pydantic's "Source Timezone" on a
    property `source_timezone`, a model's name on its `$defs` entry. A title that says more
    than the name is kept; so is a property that is itself named "title"."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" and name is not None and value in _generated_titles(name):
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {k: _without_generated_titles(v, k) for k, v in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [_without_generated_titles(v) for v in value]
        elif key in _SCHEMA_ONE and isinstance(value, dict):
            out[key] = _without_generated_titles(value)
        else:
            out[key] = value
    return out


def _generated_titles(name: str) -> set[str]:
    return {name, name.title().replace("_", " "), name.replace("_", " ").title()}


def _needs_approval(tool: mcp_types.Tool, policy: ApprovalPolicy) -> bool:
    if callable(policy):
        return bool(policy(tool))
    if policy != "destructive":
        return policy == "always"
    hints = tool.annotations
    return hints is not None and hints.destructive_hint is True and hints.read_only_hint is not True


def _caller(call: CallTool, mcp_name: str, tool_name: str) -> Callable[..., Awaitable[str]]:
    async def call_mcp_tool(**arguments: Any) -> str:
        return await call(mcp_name, tool_name, arguments)

    call_mcp_tool.__name__ = call_mcp_tool.__qualname__ = tool_name
    return call_mcp_tool
