"""`agentkit tools SPEC...`: the tool definitions the model is sent, and what they leave out.

A SPEC is a built-in's short name, a tool file, an agent file (`examples/weather.py`: the
tools of its `agent`, the output tool included), or `FILE.py:NAME` / `package.module:NAME`
(that agent's tools). Files are imported once each, on the offline model, so an agent file
written for a real endpoint needs no key to be inspected; what they print while loading goes
to stderr, so stdout is the JSON alone.
"""

from __future__ import annotations

import contextlib
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentkit import _env
from agentkit.agent import Agent
from agentkit.cli._load import tool_warnings
from agentkit.cli._target import import_error, load_target, split_target
from agentkit.errors import UserError
from agentkit.models._resolve import offline_override
from agentkit.tools import Tool, import_path
from agentkit.tools._loader import load_tool_module, tool_source, tools_of_file

__all__ = ["Inspected", "inspect_specs"]


@dataclass
class Inspected:
    """The definitions to print (stdout) and the notes and warnings (stderr)."""

    definitions: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _agent_definitions(agent: Agent[Any], out: Inspected) -> None:
    out.definitions.extend(agent.tool_definitions())
    for tool in agent.tools:
        out.notes.extend(f"warning: {w}" for w in tool_warnings(tool))


def _tools(tools: list[Tool], skipped: list[str], spec: str, out: Inspected) -> None:
    out.notes.extend(f"note: {spec}: skipped {note}" for note in skipped)
    for tool in tools:
        out.definitions.append(tool.definition())
        out.notes.extend(f"warning: {w}" for w in tool_warnings(tool))


def _import(path: Path) -> types.ModuleType:
    try:
        return import_path(path, "agentkit_agent")
    except Exception as exc:
        raise import_error(str(path), exc) from exc


def _file(spec: str, out: Inspected) -> None:
    """An agent file (its `agent`, or its one Agent) or a tool file, imported once."""
    path = Path(spec).expanduser()
    module = _import(path)
    agents = {k: v for k, v in vars(module).items() if isinstance(v, Agent)}
    agent = agents.get("agent") or (next(iter(agents.values())) if len(agents) == 1 else None)
    if agent is not None:
        _agent_definitions(agent, out)
        return
    try:
        loaded = tools_of_file(module, path)
    except UserError as exc:
        if agents:
            raise UserError(
                f"{spec} defines several agents ({', '.join(agents)}) and no `agent`: "
                f"name one, as {spec}:{next(iter(agents))}"
            ) from None
        raise exc from None
    _tools(loaded.tools, loaded.skipped, spec, out)


def _one(spec: str, out: Inspected) -> None:
    location, _ = split_target(spec)
    if location != spec:  # FILE.py:NAME or package.module:NAME
        _agent_definitions(load_target(spec), out)
    elif spec.endswith(".py") and Path(spec).expanduser().is_file():
        _file(spec, out)
    else:
        loaded = load_tool_module(spec)  # a built-in, or a clear error about the path
        _tools(loaded.tools, loaded.skipped, spec, out)


def inspect_specs(specs: tuple[str, ...]) -> Inspected:
    """The definitions and notes of every spec, each source loaded once.

    Raises:
        UserError: A spec cannot be loaded, or names nothing with tools.
    """
    out = Inspected()
    seen: set[str] = set()
    offline = {"AGENTKIT_MODEL": "offline"}
    with (
        contextlib.redirect_stdout(sys.stderr),
        _env.overridden(offline),
        offline_override("forced"),
    ):
        for spec in specs:
            source = tool_source(split_target(spec)[0]) + ":" + split_target(spec)[1]
            if source in seen:
                out.notes.append(f"note: {spec} was given twice: shown once")
                continue
            seen.add(source)
            _one(spec, out)
    return out
