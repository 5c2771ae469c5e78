"""TARGET: the agent object an `agentkit run`/`chat` argument names, and why none was found.

TARGET is an agent file (`examples/weather.py`, whose module defines `agent`), `path.py:name`,
or `package.module:name`. A file is imported as a fresh module with its folder first on
`sys.path` (so it can import its neighbours); a module is imported from the working directory.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import types
from pathlib import Path
from typing import Any

from agentkit.agent import Agent
from agentkit.errors import UserError
from agentkit.tools import Tool, builtin_tool_names, import_path
from agentkit.tools._imports import on_sys_path

__all__ = ["import_error", "load_target", "looks_like_target", "split_target"]


def split_target(target: str) -> tuple[str, str]:
    """(file or module, attribute): `a.py:bot` -> ("a.py", "bot"); `a.py` -> ("a.py", "agent")."""
    location, colon, name = target.rpartition(":")
    if colon and location and name.isidentifier():
        return location, name
    return target, "agent"


def looks_like_target(text: str) -> bool:
    """Whether a command-line word names an agent file or `module:name` rather than a prompt."""
    if not text.strip():
        return False
    location, _ = split_target(text)
    if _exists(Path(text)) or _exists(Path(location)):
        return True
    if any(c.isspace() for c in text):
        return False  # "what is in notes.py" is a question, not a file
    named = location != text and re.fullmatch(r"[\w.]+", location) is not None
    return location.endswith(".py") or named


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # a name too long for a path, or a NUL byte in it
        return False


def load_target(target: str) -> Agent[Any]:
    """The `Agent` that TARGET names: `file.py`, `file.py:name` or `package.module:name`.

    Raises:
        UserError: The file or module cannot be imported, or does not hold an Agent there.
    """
    location, name = split_target(target)
    path = Path(location).expanduser()
    is_file = location.endswith(".py") or "/" in location or os.sep in location or _exists(path)
    module = _import_file(path) if is_file else _import_module(location)
    value = getattr(module, name, None)
    if value is None:
        raise UserError(_not_found(module, location, name, named=location != target, file=is_file))
    if not isinstance(value, Agent):
        raise UserError(
            f"{location}:{name} is {_a(type(value).__name__)}, not an agentkit Agent; "
            "point the CLI at an `Agent(...)` object"
        )
    return value


def _a(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def _not_found(
    module: types.ModuleType, location: str, name: str, *, named: bool, file: bool
) -> str:
    """Why TARGET names no object, and what to run instead."""
    agents = [k for k, v in vars(module).items() if isinstance(v, Agent)]
    if named:
        defined = (
            f"the Agent objects it defines: {', '.join(agents)}"
            if agents
            else "it defines no Agent object"
        )
        return f"`{name}` was not found in {location} ({defined})"
    if agents:
        listed = ", ".join(agents)
        return f"{location} defines no `{name}`: it defines {listed}: run {location}:{agents[0]}"
    if file and _has_tools(module):
        return (
            f"{location} defines tools but no `{name}`: to use them, run "
            f"`agentkit run --tools {location} PROMPT` (or add `agent = Agent(...)` to it)"
        )
    return (
        f"{location} defines no `{name}`: add `agent = Agent(...)` to it, or name the object "
        "as FILE.py:NAME"
    )


def _has_tools(module: types.ModuleType) -> bool:
    """Whether a module looks like a tool file: `@tool` functions, or public functions."""
    public = [v for k, v in vars(module).items() if not k.startswith("_")]
    return any(
        isinstance(v, Tool) or (inspect.isfunction(v) and v.__module__ == module.__name__)
        for v in public
    )


def _import_file(path: Path) -> types.ModuleType:
    if not _exists(path) or not path.is_file():
        raise UserError(
            f"agent file not found: {path} (give a .py file that defines "
            "`agent = Agent(...)`, FILE.py:NAME, or package.module:NAME)"
        )
    try:
        module = import_path(path, "agentkit_agent")
    except Exception as exc:
        raise import_error(str(path), exc) from exc
    return module


def _import_module(name: str) -> types.ModuleType:
    try:
        with on_sys_path(os.getcwd()):
            return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            hint = (
                f" (to use the built-in {name} tools: agentkit run --tools {name} PROMPT)"
                if name in builtin_tool_names()
                else ""
            )
            raise UserError(
                f"no agent file or module named {name!r}: give a .py file that defines "
                f"`agent = Agent(...)`, FILE.py:NAME, or package.module:NAME{hint}"
            ) from None
        raise import_error(name, exc) from exc
    except Exception as exc:
        raise import_error(name, exc) from exc


def import_error(what: str, exc: Exception) -> UserError:
    """The UserError for an import that failed: file:line for a syntax error."""
    if isinstance(exc, SyntaxError):
        return UserError(f"syntax error in {exc.filename or what}:{exc.lineno}: {exc.msg}")
    if isinstance(exc, UserError):
        return UserError(f"loading {what}: {exc}")
    return UserError(f"importing {what} failed: {type(exc).__name__}: {exc}")
