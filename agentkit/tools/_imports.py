"""Importing a Python file as a fresh module, and finding its functions again elsewhere.

Tool files and agent files are imported by path under made-up module names, which no other
process can import. So that an agent's tools can travel (pickled, to a Ray worker, say), a
function of such a file pickles as "import this file, take this attribute".
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["attribute_of", "file_function", "import_path", "on_sys_path", "portable"]

# The modules `import_path` made, with the file and the prefix of each.
_FROM_FILE: dict[str, tuple[Path, str]] = {}


@contextmanager
def on_sys_path(folder: str) -> Iterator[None]:
    """`folder` first on sys.path while a module imports (so it can import its neighbours)."""
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        yield
    finally:
        if added and folder in sys.path:
            sys.path.remove(folder)


def import_path(path: Path, prefix: str, *, reuse: bool = False) -> types.ModuleType:
    """Import a Python file as a fresh module named `{prefix}_{stem}_{hash of the path}`.

    While it runs, its folder is first on `sys.path`, as `python file.py` would have it, so
    `from helpers import x` finds the `helpers.py` beside it. The module stays in
    `sys.modules` (pydantic resolves a tool's annotations through it); if running it
    fails, it is removed and the exception propagates.

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
    _FROM_FILE[name] = (resolved, prefix)
    try:
        with on_sys_path(str(resolved.parent)):
            spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        _FROM_FILE.pop(name, None)
        raise
    return module


def file_function(path: str, prefix: str, qualname: str) -> Any:
    """The attribute `qualname` of the file at `path`, imported as `import_path` does."""
    return attribute_of(import_path(Path(path), prefix, reuse=True), qualname)


def attribute_of(module: str | types.ModuleType, qualname: str) -> Any:
    """`module.qualname`, importing the module when given by name."""
    value: Any = importlib.import_module(module) if isinstance(module, str) else module
    for part in qualname.split("."):
        value = getattr(value, part)
    return value


class _FromFile:
    """Stands in for a function of a file-imported module while pickled."""

    def __init__(self, path: Path, prefix: str, qualname: str) -> None:
        self.args = (str(path), prefix, qualname)

    def __reduce__(self) -> tuple[Any, ...]:
        return (file_function, self.args)


def portable(function: Any) -> Any:
    """What to pickle for `function`: itself, or a stand-in when its module came from a file."""
    origin = _FROM_FILE.get(getattr(function, "__module__", None) or "")
    qualname = getattr(function, "__qualname__", None)
    if origin is None or not qualname or "<" in qualname:
        return function
    return _FromFile(origin[0], origin[1], qualname)
