"""Loading tools from Python files: a user's file by path, or a ready-made module by name.

A file is imported as a fresh module (`import_path`); its tools are its `@tool` functions
when it has any, else every public function it defines (`tools_from_module`).
"""

from __future__ import annotations

import difflib
import functools
import importlib
import importlib.util
import inspect
import os
import pkgutil
import sys
import types
from pathlib import Path

from agentkit.errors import UserError
from agentkit.tools._imports import import_path
from agentkit.tools._tool import Tool

__all__ = ["builtin_tool_names", "import_path", "load_tools", "tools_from_module"]


def tools_from_module(module: types.ModuleType) -> list[Tool]:
    """The tools a module provides.

    Only the `Tool` objects (e.g. `@tool`-decorated functions) when the module has any;
    otherwise every public function defined in the module itself (not imported into it).
    """
    public = {k: v for k, v in vars(module).items() if not k.startswith("_")}
    declared = [v for v in public.values() if isinstance(v, Tool)]
    if declared:
        return declared
    functions = {
        k: v for k, v in public.items() if inspect.isfunction(v) and v.__module__ == module.__name__
    }
    tools: list[Tool] = []
    problems: list[str] = []
    for variable, function in functions.items():
        # `f = lambda x: ...` is the tool `f`, as the file names it.
        name = variable if function.__name__ == "<lambda>" else None
        try:
            tools.append(Tool.from_function(function, name=name))
        except UserError as exc:
            problems.append(str(exc))
    if problems:
        where = getattr(module, "__file__", None) or module.__name__
        raise UserError(
            f"{where} has public functions that are not valid tools (prefix helpers with `_`, "
            "or mark the tools with @tool):",
            problems,
        )
    return tools


# The ready-made tools are a package above this layer (they use `@tool`): found by name.
TOOLBOX = "agentkit.toolbox"


@functools.cache
def _toolbox_folders() -> tuple[str, ...]:
    spec = importlib.util.find_spec(TOOLBOX)
    return tuple(spec.submodule_search_locations or ()) if spec is not None else ()


def builtin_tool_names() -> list[str]:
    """The short names of the ready-made tool modules (`calculator`, `clock`, ...)."""
    found = pkgutil.iter_modules(_toolbox_folders())
    return sorted(m.name for m in found if not m.ispkg and not m.name.startswith("_"))


def _is_path(spec: str | Path) -> bool:
    """A path is a path when it says so: a `Path`, a `.py` name, or a folder separator in it.

    Anything else is a built-in's short name, whatever the working folder holds: a folder
    named `files` there must not stand in for the `files` tools.
    """
    text = str(spec)
    return isinstance(spec, Path) or text.endswith(".py") or "/" in text or os.sep in text


def _builtin(spec: str | Path) -> str | None:
    """The built-in module a spec names (a short name, or a path to a shipped module)."""
    if not _is_path(spec):
        return str(spec)
    path = Path(spec).expanduser()
    for folder in _toolbox_folders():
        try:
            if path.resolve().parent == Path(folder).resolve() and path.suffix == ".py":
                return path.stem
        except OSError:
            return None
    return None


@functools.cache
def _builtin_tools(name: str) -> tuple[Tool, ...]:
    """A built-in module's tools, made once: loading it again gives the same tools."""
    return tuple(tools_from_module(importlib.import_module(f"{TOOLBOX}.{name}")))


def _tool_file(spec: str | Path) -> Path:
    text = str(spec)
    path = Path(text).expanduser()
    if path.is_dir():
        raise UserError(f"{text} is a folder: give the path to a .py file of tools")
    if not path.is_file():
        raise UserError(f"tool file not found: {text} (give the path to a .py file)")
    return path


def _unknown_builtin(name: str) -> UserError:
    known = builtin_tool_names()
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    if not close and Path(f"{name}.py").is_file():
        hint = f"; did you mean {name}.py?"
    return UserError(
        f"unknown tool module {name!r}: give a .py file path or a built-in "
        f"({', '.join(known) or 'none found'}){hint}"
    )


def load_tools(spec: str | Path) -> list[Tool]:
    """Load the tools of a Python file, or of a ready-made module by short name.

    The file is imported as a fresh module; its tools are chosen by `tools_from_module`.

    Raises:
        UserError: The file is missing, does not import (syntax error with file:line, an
            exception), or defines functions that are not valid tools.
    """
    name = _builtin(spec)
    if name is not None:
        if name.startswith("_"):
            raise UserError(
                f"{name} is a helper of the ready-made tools, not a tool module: "
                f"load one of {', '.join(builtin_tool_names())}"
            )
        if name not in builtin_tool_names():
            raise _unknown_builtin(name)
        return list(_builtin_tools(name))
    path = _tool_file(spec)
    try:
        module = import_path(path, "agentkit_user_tools")
    except SyntaxError as exc:
        raise UserError(f"syntax error in {exc.filename or path}:{exc.lineno}: {exc.msg}") from None
    except Exception as exc:
        raise UserError(f"importing {path} failed: {type(exc).__name__}: {exc}") from exc
    module_name = module.__name__
    try:
        tools = tools_from_module(module)
    except UserError:
        sys.modules.pop(module_name, None)
        raise
    if not tools:
        sys.modules.pop(module_name, None)
        raise UserError(
            f"{path} defines no tools: add public functions (or @tool-decorated ones) to it"
        )
    return tools
