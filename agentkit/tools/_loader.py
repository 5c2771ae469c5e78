"""Loading tools from Python files: a user's file by path, or a ready-made module by name.

A file is imported as a fresh module (`import_path`, its folder first on `sys.path`); its
tools are its `@tool` functions when it has any, else every public function it defines,
decorated ones included (`tools_from_module`). What looks like a tool but is left out (a
lambda, a `functools.partial`) is named with the reason: `load_tool_module` returns those
notes, and `load_tools` gives them as warnings.
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
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentkit.errors import UserError
from agentkit.tools._imports import import_path
from agentkit.tools._tool import Tool

__all__ = [
    "LoadedTools",
    "builtin_tool_names",
    "import_path",
    "load_tool_module",
    "load_tools",
    "tool_source",
    "tools_from_module",
    "tools_of_file",
]


@dataclass(frozen=True)
class LoadedTools:
    """The tools of a module, and what was left out of them, each with its reason."""

    tools: list[Tool]
    skipped: list[str] = field(default_factory=list)


def _defined_here(value: Any, module: types.ModuleType) -> Any:
    """The function `value` is, or wraps (`functools.wraps`, `lru_cache`), when the module
    defines it; else None (an import, a class, a value)."""
    if inspect.isclass(value) or not callable(value):
        return None
    target = value
    for _ in range(100):
        if inspect.isfunction(target):
            return target if target.__module__ == module.__name__ else None
        target = getattr(target, "__wrapped__", None)
        if target is None:
            return None
    return None


def _skip_reason(value: Any) -> str | None:
    """Why a public callable of a tool file is not one of its tools; None for an import."""
    if isinstance(value, functools.partial):
        return "a functools.partial: wrap it with Tool.from_function(...) or @tool to offer it"
    return None


def _module_tools(module: types.ModuleType) -> LoadedTools:
    public = {k: v for k, v in vars(module).items() if not k.startswith("_")}
    declared = [v for v in public.values() if isinstance(v, Tool)]
    if declared:
        return LoadedTools(declared)
    tools: list[Tool] = []
    problems: list[str] = []
    skipped: list[str] = []
    for variable, value in public.items():
        function = _defined_here(value, module)
        if function is None:
            reason = _skip_reason(value)
            if reason is not None:
                skipped.append(f"`{variable}` is not a tool: {reason}")
            continue
        if function.__name__ == "<lambda>":
            skipped.append(
                f"`{variable}` is not a tool: a lambda has no type hints or docstring to "
                "describe it; define it with `def` (or name it `_" + variable + "`)"
            )
            continue
        try:
            tools.append(Tool.from_function(value))
        except UserError as exc:
            problems.append(str(exc))
    if problems:
        where = getattr(module, "__file__", None) or module.__name__
        raise UserError(
            f"{where} has public functions that are not valid tools (prefix helpers with `_`, "
            "or mark the tools with @tool):",
            problems,
        )
    return LoadedTools(tools, skipped)


def tools_from_module(module: types.ModuleType) -> list[Tool]:
    """The tools a module provides.

    Only the `Tool` objects (e.g. `@tool`-decorated functions) when the module has any;
    otherwise every public function defined in the module itself (not imported into it),
    decorated ones too (a decorator that keeps `__wrapped__`, such as `functools.wraps` or
    `lru_cache`). Lambdas and partials are left out: `load_tool_module` says so.
    """
    return _module_tools(module).tools


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
    What it leaves out (a lambda, a partial) is said in a `UserWarning`.

    Raises:
        UserError: The file is missing, does not import (syntax error with file:line, an
            exception), or defines functions that are not valid tools.
    """
    loaded = load_tool_module(spec)
    for note in loaded.skipped:
        warnings.warn(f"{spec}: {note}", UserWarning, stacklevel=2)
    return loaded.tools


def tool_source(spec: str | Path) -> str:
    """What a spec names, for telling two specs of one source apart: a built-in's name or
    the resolved path of the file."""
    name = _builtin(spec)
    if name is not None:
        return f"builtin:{name}"
    try:
        return str(Path(spec).expanduser().resolve())
    except (OSError, RuntimeError, ValueError):
        return str(spec)


def load_tool_module(spec: str | Path) -> LoadedTools:
    """`load_tools`, with the notes on what the file left out instead of warnings."""
    name = _builtin(spec)
    if name is not None:
        if name.startswith("_"):
            raise UserError(
                f"{name} is a helper of the ready-made tools, not a tool module: "
                f"load one of {', '.join(builtin_tool_names())}"
            )
        if name not in builtin_tool_names():
            raise _unknown_builtin(name)
        return LoadedTools(list(_builtin_tools(name)))
    path = _tool_file(spec)
    try:
        module = import_path(path, "agentkit_user_tools")
    except SyntaxError as exc:
        raise UserError(f"syntax error in {exc.filename or path}:{exc.lineno}: {exc.msg}") from None
    except Exception as exc:
        raise UserError(f"importing {path} failed: {type(exc).__name__}: {exc}") from exc
    return tools_of_file(module, path)


def tools_of_file(module: types.ModuleType, path: Path) -> LoadedTools:
    """The tools of a module imported from `path`; it leaves `sys.modules` if it has none."""
    module_name = module.__name__
    try:
        loaded = _module_tools(module)
    except UserError:
        sys.modules.pop(module_name, None)
        raise
    if not loaded.tools:
        sys.modules.pop(module_name, None)
        left_out = f" ({'; '.join(loaded.skipped)})" if loaded.skipped else ""
        raise UserError(
            f"{path} defines no tools: add public functions (or @tool-decorated ones) to it"
            f"{left_out}"
        )
    return loaded
