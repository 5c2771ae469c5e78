"""Tools: Python functions (or raw JSON schemas) the model can call.

```python
@tool
def get_weather(city: str) -> str:
    '''Get the current weather for a city.

    Args:
        city: City and country, e.g. "Paris, France".
    '''
```

A `Tool` keeps the function callable as before, and adds `name`, `description`, `parameters`
(the JSON schema) and `definition()` (the OpenAI wire dict), all computed once, at definition.
"""

from __future__ import annotations

import copy
import importlib.util
import inspect
import re
import sys
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar, overload

import jsonschema

from ._context import RunContext
from ._schema import (
    FunctionSchema,
    check_name,
    clean_schema,
    format_location,
    function_schema,
    is_context_annotation,
    where,
)
from .errors import ModelRetry, UserError

__all__ = [
    "DEFAULT_TIMEOUT",
    "Tool",
    "ToolRegistry",
    "as_tool",
    "builtin_tool_names",
    "import_path",
    "load_tools",
    "tool",
    "tools_from_module",
]

DEFAULT_TIMEOUT = 60.0

F = TypeVar("F", bound=Callable[..., Any])


class Tool:
    """A function the model can call, with the JSON schema that describes its arguments.

    Build one with `@tool`, `Tool.from_function` or `Tool.from_schema`. Calling the tool
    object calls the function itself, so decorated functions stay usable as functions.

    Attributes:
        name: The name the model calls the tool by.
        description: What the tool does, for the model.
        parameters: The JSON schema of the arguments (no `$ref`).
        function: The Python callable.
        timeout: Seconds a call may take before it is cancelled and reported to the model.
        requires_approval: Whether the agent's `approval` callback is consulted first.
        max_failures: Failures in a row that stop the run; None uses the agent's.
    """

    __slots__ = (
        "_definition",
        "_schema",
        "description",
        "function",
        "is_async",
        "max_failures",
        "name",
        "parameters",
        "requires_approval",
        "timeout",
    )

    def __init__(
        self,
        schema: FunctionSchema,
        function: Callable[..., Any],
        *,
        timeout: float | None = DEFAULT_TIMEOUT,
        requires_approval: bool = False,
        max_failures: int | None = None,
    ) -> None:
        problems = []
        if timeout is not None and not timeout > 0:
            problems.append(f"timeout must be a positive number of seconds or None: {timeout!r}")
        if max_failures is not None and (not isinstance(max_failures, int) or max_failures < 1):
            problems.append(f"max_failures must be a whole number >= 1 or None: {max_failures!r}")
        if problems:
            place = where(function)
            raise UserError(f"tool `{schema.name}` ({place}) is not a valid tool:", problems)
        self._schema = schema
        self.name = schema.name
        self.description = schema.description
        self.parameters = schema.parameters
        self.function = function
        self.is_async = _is_async(function)
        self.timeout = timeout
        self.requires_approval = requires_approval
        self.max_failures = max_failures
        self._definition: dict[str, Any] = {
            "type": "function",
            "function": {
                "name": schema.name,
                "description": schema.description,
                "parameters": schema.parameters,
            },
        }

    @classmethod
    def from_function(
        cls,
        function: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        requires_approval: bool = False,
        max_failures: int | None = None,
    ) -> Tool:
        """Describe a sync or async function as a tool, from its type hints and docstring.

        Raises:
            UserError: The function cannot be a tool; every problem is listed.
        """
        if isinstance(function, Tool):
            function = function.function
        if not callable(function):
            raise UserError(f"a tool must be a function, got {function!r}")
        schema = function_schema(function, name=name, description=description)
        return cls(
            schema,
            function,
            timeout=timeout,
            requires_approval=requires_approval,
            max_failures=max_failures,
        )

    @classmethod
    def from_schema(
        cls,
        *,
        name: str,
        description: str,
        parameters: Mapping[str, Any],
        function: Callable[..., Any],
        timeout: float | None = DEFAULT_TIMEOUT,
        requires_approval: bool = False,
        max_failures: int | None = None,
    ) -> Tool:
        """A tool from a raw JSON schema (as MCP servers give them) and a function.

        The schema is checked against the Draft 2020-12 meta-schema now; arguments are
        validated against it (every error reported) before `function(**arguments)` is called.

        Raises:
            UserError: The name, the schema or the function is not valid; all problems listed.
        """
        problems = []
        if (problem := check_name(name)) is not None:
            problems.append(problem)
        if not callable(function):
            problems.append(f"function must be callable, got {function!r}")
        # A deep copy: the caller's dict may change later; the tool's schema must not.
        schema = copy.deepcopy(dict(parameters)) if isinstance(parameters, Mapping) else None
        if schema is None:
            problems.append(f"parameters must be a JSON schema object, got {parameters!r:.80}")
        else:
            problems.extend(_schema_problems(schema))
        if problems:
            raise UserError(f"tool `{name}` is not a valid tool:", problems)
        assert schema is not None
        context_param = _context_param(function)
        function_schema_ = FunctionSchema(
            name=name,
            description=description,
            parameters=_without_refs(schema),
            validate=_jsonschema_validator(name, schema, _accepted_names(function, context_param)),
            context_param=context_param,
        )
        return cls(
            function_schema_,
            function,
            timeout=timeout,
            requires_approval=requires_approval,
            max_failures=max_failures,
        )

    @property
    def context_param(self) -> str | None:
        """The parameter that receives the `RunContext`, if the function declares one."""
        return self._schema.context_param

    def definition(self) -> dict[str, Any]:
        """The tool as an OpenAI `tools` entry: `{"type": "function", "function": {...}}`.

        A fresh copy each time: changing it (even deep inside the schema) leaves the tool as is.
        """
        return copy.deepcopy(self._definition)

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """Check and coerce decoded arguments; the keyword arguments to call the function with.

        Raises:
            ModelRetry: The arguments are not valid; the message lists every problem.
        """
        return self._schema.validate(arguments)

    def invoke(self, arguments: dict[str, Any], context: RunContext[Any] | None) -> Any:
        """Call the function with validated arguments (and the context, when it takes one).

        Returns whatever the function returns: an awaitable for async functions.
        """
        if self._schema.context_param is not None:
            arguments = {**arguments, self._schema.context_param: context}
        positional = self._schema.positional
        if positional:
            args = [arguments[n] for n in positional if n in arguments]
            keywords = {k: v for k, v in arguments.items() if k not in positional}
            return self.function(*args, **keywords)
        return self.function(**arguments)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.function(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Tool(name={self.name!r})"


def _is_async(function: Callable[..., Any]) -> bool:
    target = function
    while isinstance(target, Tool):
        target = target.function
    call = getattr(target, "__call__", None)  # noqa: B004 - async __call__ on instances
    return inspect.iscoroutinefunction(target) or (
        not inspect.isroutine(target) and inspect.iscoroutinefunction(call)
    )


def _context_param(function: Callable[..., Any]) -> str | None:
    try:
        hints = typing.get_type_hints(function)
    except Exception:
        return None
    return next((n for n, a in hints.items() if n != "return" and is_context_annotation(a)), None)


_META = jsonschema.Draft202012Validator


def _schema_problems(schema: dict[str, Any]) -> list[str]:
    errors = sorted(_META(_META.META_SCHEMA).iter_errors(schema), key=lambda e: list(e.path))
    problems = [f"parameters{''.join(f'[{p!r}]' for p in e.path)}: {e.message}" for e in errors]
    if not problems and schema.get("type", "object") != "object":
        problems.append(f'parameters must describe an object (type "object"): {schema["type"]!r}')
    return problems


_COERCIBLE = {"integer": int, "number": float, "boolean": bool}


def _coerce(value: Any, schema: Any) -> Any:
    """Lax coercion of strings where the schema wants a number or boolean ("10" -> 10).

    Llama often quotes numbers; a raw-schema tool should accept them as a pydantic one does.
    """
    if not isinstance(schema, dict):
        return value
    kind = schema.get("type")
    if isinstance(value, str) and kind in _COERCIBLE:
        text = value.strip()
        if kind == "boolean":
            return {"true": True, "false": False}.get(text.lower(), value)
        try:
            number = float(text) if kind == "number" else int(text)
        except ValueError:
            return value
        return number
    if isinstance(value, dict) and isinstance(schema.get("properties"), dict):
        props = schema["properties"]
        return {k: _coerce(v, props.get(k)) for k, v in value.items()}
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_coerce(v, schema["items"]) for v in value]
    return value


def _without_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with `$ref`s inlined for the model (several Llama servers reject them).

    A recursive schema cannot be inlined; it is sent as given.
    """
    if "$defs" not in schema and "definitions" not in schema:
        return schema
    try:
        return clean_schema(schema)
    except Exception:
        return schema


def _accepted_names(
    function: Callable[..., Any], context_param: str | None
) -> frozenset[str] | None:
    """The keyword arguments `function` accepts; None when it takes **kwargs or is opaque."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return None
    return frozenset(
        p.name for p in parameters if p.kind is not p.POSITIONAL_ONLY and p.name != context_param
    )


def _jsonschema_validator(
    name: str, schema: dict[str, Any], accepted: frozenset[str] | None
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    validator = jsonschema.Draft202012Validator(schema)
    properties = schema.get("properties")
    allowed = ", ".join(properties) if isinstance(properties, dict) and properties else "none"

    def validate(arguments: dict[str, Any]) -> dict[str, Any]:
        arguments = _coerce(arguments, schema)
        errors = sorted(validator.iter_errors(arguments), key=lambda e: list(e.path))
        # Arguments the schema allows but the function cannot take would fail as a
        # TypeError inside the call; name them now, as extra arguments.
        extra = sorted(set(arguments) - accepted) if accepted is not None else []
        if errors or extra:
            lines = [f"Invalid arguments for tool `{name}`:"]
            lines += [
                f"- `{k}`: not a parameter of this tool (parameters: {allowed})" for k in extra
            ]
            for e in errors:
                # Same notation as for function tools: `items[1].qty`.
                line = f"- `{format_location(tuple(e.path))}`: {e.message}"
                if e.validator == "additionalProperties" and not e.path:
                    line += f" (parameters: {allowed})"
                lines.append(line)
            lines.append(f"Call `{name}` again with corrected arguments.")
            raise ModelRetry("\n".join(lines))
        return dict(arguments)

    return validate


@overload
def tool(function: F, /) -> Tool: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    requires_approval: bool = False,
    max_failures: int | None = None,
) -> Callable[[F], Tool]: ...


def tool(
    function: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    requires_approval: bool = False,
    max_failures: int | None = None,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Turn a function into a `Tool`: `@tool` or `@tool(name=..., timeout=..., ...)`.

    Args:
        function: The function, when used as a bare `@tool`.
        name: The tool name; defaults to the function's name.
        description: The description; defaults to the docstring.
        timeout: Seconds a call may run before it is cancelled; None for no limit.
        requires_approval: Consult the agent's `approval` callback before each call.
        max_failures: Failures in a row that stop the run; None uses the agent's.
    """

    def decorate(fn: Callable[..., Any]) -> Tool:
        return Tool.from_function(
            fn,
            name=name,
            description=description,
            timeout=timeout,
            requires_approval=requires_approval,
            max_failures=max_failures,
        )

    return decorate if function is None else decorate(function)


def as_tool(obj: Tool | Callable[..., Any]) -> Tool:
    """A `Tool` as is; a plain function described as a tool."""
    if isinstance(obj, Tool):
        return obj
    return Tool.from_function(obj)


class ToolRegistry:
    """One agent's tools by name, with their wire definitions computed once."""

    __slots__ = ("_tools", "definitions")

    def __init__(self, tools: Iterable[Tool | Callable[..., Any]] = ()) -> None:
        problems: list[str] = []
        built: list[Tool] = []
        for item in tools:
            try:
                built.append(as_tool(item))
            except UserError as exc:
                problems.append(str(exc))
        seen: dict[str, Tool] = {}
        for t in built:
            if t.name in seen:
                problems.append(
                    f"two tools are named `{t.name}` ({where(seen[t.name].function)} and "
                    f"{where(t.function)}); pass name=... to tell them apart"
                )
            seen[t.name] = t
        if problems:
            raise UserError("the agent's tools are not valid:", problems)
        self._tools = seen
        self.definitions = [t._definition for t in seen.values()]

    def get(self, name: str) -> Tool | None:
        """The tool called `name`, or None."""
        return self._tools.get(name)

    @property
    def names(self) -> list[str]:
        """The tool names, in registration order."""
        return list(self._tools)

    def __iter__(self) -> typing.Iterator[Tool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools


def tools_from_module(module: types.ModuleType) -> list[Tool]:
    """The tools a module provides.

    Only the `Tool` objects (e.g. `@tool`-decorated functions) when the module has any;
    otherwise every public function defined in the module itself (not imported into it).
    """
    public = {k: v for k, v in vars(module).items() if not k.startswith("_")}
    declared = [v for v in public.values() if isinstance(v, Tool)]
    if declared:
        return declared
    functions = [
        v for v in public.values() if inspect.isfunction(v) and v.__module__ == module.__name__
    ]
    tools: list[Tool] = []
    problems: list[str] = []
    for function in functions:
        try:
            tools.append(Tool.from_function(function))
        except UserError as exc:
            problems.append(str(exc))
    if problems:
        raise UserError(f"module `{module.__name__}` has functions that are not tools:", problems)
    return tools


def _builtin_dirs() -> list[Path]:
    package = Path(__file__).resolve().parent
    # Inside a wheel the modules ship as agentkit/_builtin_tools; in a source checkout
    # (editable install) they are the repository's top-level tools/ folder.
    return [package / "_builtin_tools", package.parent / "tools"]


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
        if not path.is_file():
            raise UserError(f"tool file not found: {text} (give the path to a .py file)")
        return path
    # Private helpers (`_sandbox`) are not tool modules: never load them by short name.
    for folder in _builtin_dirs() if not text.startswith("_") else ():
        candidate = folder / f"{text}.py"
        if candidate.is_file():
            return candidate
    known = ", ".join(builtin_tool_names()) or "none found"
    raise UserError(f"unknown tool module {text!r}: give a .py file path or a built-in ({known})")


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
