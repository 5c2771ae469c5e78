"""Loading tools from Python files: a user's file by path, or a ready-made module by name.

A file is imported as a fresh module (`import_path`); its tools are its `@tool` functions
when it has any, else every public function it defines (`tools_from_module`).
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
import types
from pathlib import Path

from .errors import UserError
from .tools import Tool

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


def _builtin_dirs() -> list[Path]:
    package = Path(__file__).resolve().parent
    # Inside a wheel the modules ship as agentkit/_builtin_tools; in a source checkout
    # (editable install) they are the repository's top-level tools/ folder. Never both: next
    # to an installed package, a `tools` folder belongs to some other distribution.
    shipped = package / "_builtin_tools"
    return [shipped] if shipped.is_dir() else [package.parent / "tools"]


def builtin_tool_names() -> list[str]:
    """The short names of the ready-made tool modules (`calculator`, `clock`, ...)."""
    names = {
        p.stem for d in _builtin_dirs() if d.is_dir() for p in d.glob("*.py") if p.stem[0] != "_"
    }
    return sorted(names)


def _resolve_tool_file(spec: str | Path) -> Path:
    text = str(spec)
    path = Path(text).expanduser()
    if path.suffix == ".py" or path.parent != Path(".") or path.exists():
        if path.is_dir():
            raise UserError(f"{text} is a folder: give the path to a .py file of tools")
        if not path.is_file():
            raise UserError(f"tool file not found: {text} (give the path to a .py file)")
        return path
    # Private helpers (`_sandbox`) are not tool modules: never load them by short name.
    for folder in _builtin_dirs() if not text.startswith("_") else ():
        candidate = folder / f"{text}.py"
        if candidate.is_file():
            return candidate
    known = ", ".join(builtin_tool_names()) or "none found"
    nearby = path.with_suffix(".py")
    hint = f"; did you mean {nearby}?" if nearby.is_file() else ""
    raise UserError(
        f"unknown tool module {text!r}: give a .py file path or a built-in ({known}){hint}"
    )


def load_tools(spec: str | Path) -> list[Tool]:
    """Load the tools of a Python file, or of a ready-made module by short name.

    The file is imported as a fresh module; its tools are chosen by `tools_from_module`.

    Raises:
        UserError: The file is missing, does not import (syntax error with file:line, an
            exception), or defines functions that are not valid tools.
    """
    path = _resolve_tool_file(spec)
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


def import_path(path: Path, prefix: str, *, reuse: bool = False) -> types.ModuleType:
    """Import a Python file as a fresh module named `{prefix}_{stem}_{hash of the path}`.

    The module stays in `sys.modules` (pydantic resolves a tool's annotations through it);
    if running it fails, it is removed and the exception propagates.

    Args:
        path: The .py file.
        prefix: Module name prefix, so different loaders never collide.
        reuse: Return the module already imported from this path, if any.
    """
    resolved = path.resolve()
    stem = re.sub(r"\W", "_", resolved.stem)
    name = f"{prefix}_{stem}_{abs(hash(str(resolved))):x}"
    if reuse and name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module
