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
import inspect
import sys
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, overload

from agentkit._context import RunContext
from agentkit._hygiene import error_text
from agentkit.errors import ModelRetry, UserError
from agentkit.tools._bfcl import DIALECTS, convert
from agentkit.tools._callables import accepted_names, type_hints, unwrap_callable, where
from agentkit.tools._imports import attribute_of, portable
from agentkit.tools._rawschema import jsonschema_validator, schema_problems, without_refs
from agentkit.tools._schema import (
    FunctionSchema,
    check_name,
    function_schema,
    is_context_annotation,
    wire_name,
)

__all__ = ["DEFAULT_TIMEOUT", "Tool", "tool"]

DEFAULT_TIMEOUT = 60.0

F = TypeVar("F", bound=Callable[..., Any])


class Tool:
    """A function the model can call, with the JSON schema that describes its arguments.

    Build one with `@tool`, `Tool.from_function` or `Tool.from_schema`. Calling the tool
    object calls the function itself, so decorated functions stay usable as functions.

    Attributes:
        name: The tool's name (up to 128 letters, digits, '_', '-' and '.', as MCP allows).
        wire_name: The name the model is told and calls it by: `name`, or, for a name the
            OpenAI format refuses (a dot, over 64 characters), a safe spelling of it
            (`github.create_issue` is `github_create_issue`). Calls by either name reach it.
        description: What the tool does, for the model.
        parameters: The JSON schema of the arguments (no `$ref`).
        function: The Python callable.
        timeout: Seconds a call may take before it is cancelled and reported to the model.
        requires_approval: Whether the agent's `approval` callback is consulted first.
        max_failures: Failures in a row that stop the run; None uses the agent's.
    """

    __slots__ = (
        "_definition",
        "_recipe",
        "_schema",
        "description",
        "function",
        "is_async",
        "max_failures",
        "name",
        "parameters",
        "requires_approval",
        "timeout",
        "wire_name",
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
        self.wire_name = wire_name(schema.name)
        self.description = schema.description
        self.parameters = schema.parameters
        self.function = function
        self.is_async = _is_async(function)
        self.timeout = timeout
        self.requires_approval = requires_approval
        self.max_failures = max_failures
        # How to make this tool again elsewhere (see __reduce__): set by the constructors.
        self._recipe: tuple[Callable[..., Tool], dict[str, Any]] | None = None
        self._definition: dict[str, Any] = {
            "type": "function",
            "function": {
                "name": self.wire_name,
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
        made = cls(
            schema,
            function,
            timeout=timeout,
            requires_approval=requires_approval,
            max_failures=max_failures,
        )
        made._recipe = (
            _from_function,
            {
                "name": name,
                "description": description,
                "timeout": timeout,
                "requires_approval": requires_approval,
                "max_failures": max_failures,
            },
        )
        return made

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
        dialect: str = "json-schema",
    ) -> Tool:
        """A tool from a raw JSON schema (as MCP servers give them) and a function.

        The schema is checked now against the meta-schema of the draft its `$schema` names
        (Draft 2020-12 when it names none); arguments are validated against it, by that
        draft's rules with ECMA-262 patterns (every error reported), before
        `function(**arguments)` is called.

        Args:
            dialect: "json-schema", or "bfcl" for the Berkeley Function Calling
                Leaderboard's definitions (`"dict"`, `"float"`, `"tuple"`, `"any"`),
                converted to JSON Schema first.

        Raises:
            UserError: The name, the schema or the function is not valid; all problems listed.
        """
        problems = []
        if dialect not in DIALECTS:
            problems.append(f"dialect must be one of {', '.join(map(repr, DIALECTS))}: {dialect!r}")
        if (problem := check_name(name)) is not None:
            problems.append(problem)
        if not callable(function):
            problems.append(f"function must be callable, got {function!r}")
        # A deep copy: the caller's dict may change later; the tool's schema must not.
        schema = copy.deepcopy(dict(parameters)) if isinstance(parameters, Mapping) else None
        if schema is not None and dialect in DIALECTS:
            schema = convert(schema, dialect)
        if schema is None:
            problems.append(f"parameters must be a JSON schema object, got {parameters!r:.80}")
        else:
            problems.extend(schema_problems(schema))
        if problems:
            raise UserError(f"tool `{name}` is not a valid tool:", problems)
        assert schema is not None
        context_param = _context_param(function)
        function_schema_ = FunctionSchema(
            name=name,
            description=description,
            parameters=without_refs(schema),
            validate=jsonschema_validator(name, schema, accepted_names(function, context_param)),
            context_param=context_param,
        )
        made = cls(
            function_schema_,
            function,
            timeout=timeout,
            requires_approval=requires_approval,
            max_failures=max_failures,
        )
        made._recipe = (
            _from_schema,
            {
                "name": name,
                "description": description,
                "parameters": schema,
                "timeout": timeout,
                "requires_approval": requires_approval,
                "max_failures": max_failures,
            },
        )
        return made

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
            ModelRetry: The arguments are not valid; the message lists every problem. Any
                other exception raised while validating (a user's validator raising
                `KeyError`, say) is reported this way too, as its type and message.
        """
        try:
            return self._schema.validate(arguments)
        except ModelRetry:
            raise
        except Exception as exc:
            raise ModelRetry(
                f"The arguments for `{self.name}` could not be checked: {error_text(exc)}. "
                f"Call `{self.name}` again with corrected arguments."
            ) from exc

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

    def _key(self) -> tuple[Any, ...]:
        return (
            self.name,
            self.function,
            self.description,
            self.parameters,
            self.timeout,
            self.requires_approval,
            self.max_failures,
        )

    def __eq__(self, other: object) -> bool:
        # The same function offered the same way is the same tool (after a pickle round trip
        # too), so agent configurations compare as values.
        return self._key() == other._key() if isinstance(other, Tool) else NotImplemented

    def __hash__(self) -> int:
        return hash((self.name, id(self.function)))

    def __reduce__(self) -> tuple[Any, ...]:
        """A tool pickles as the recipe that made it, so it can run in another process.

        An `@tool` function at module level travels as its name (its module is imported
        there); another tool as its function and options, a function of a tool file as
        "import this file, take this function".
        """
        module = getattr(self.function, "__module__", None)
        qualname = getattr(self.function, "__qualname__", "")
        if module and "<" not in qualname:
            try:
                named = attribute_of(sys.modules[module], qualname)
            except (KeyError, AttributeError):
                named = None
            if named is self:
                ref = portable(self.function)
                if ref is self.function:  # an importable module: its name is enough
                    return (attribute_of, (module, qualname))
                return (_itself, (ref,))  # the file's module attribute is this tool
        if self._recipe is None:
            raise TypeError(f"tool `{self.name}` was not made by a Tool constructor: not picklable")
        make, options = self._recipe
        return (make, (portable(self.function), options))

    def __repr__(self) -> str:
        return f"Tool(name={self.name!r})"


def _itself(value: Tool) -> Tool:
    return value


def _from_function(function: Callable[..., Any], options: dict[str, Any]) -> Tool:
    return Tool.from_function(function, **options)


def _from_schema(function: Callable[..., Any], options: dict[str, Any]) -> Tool:
    return Tool.from_schema(function=function, **options)


def _is_async(function: Callable[..., Any]) -> bool:
    """Whether calling `function` itself gives a coroutine: such tools run on the event loop.

    Only the callable itself decides (an async function, a partial or bound method of one, an
    object with an async `__call__`). A plain wrapper around an async function is sync: it may
    block, so it runs in a worker thread; if it returns a coroutine, the executor awaits it.
    """
    target = function
    while isinstance(target, Tool):
        target = target.function
    call = getattr(target, "__call__", None)  # noqa: B004 - async __call__ on instances
    return inspect.iscoroutinefunction(target) or (
        not inspect.isroutine(target) and inspect.iscoroutinefunction(call)
    )


def _context_param(function: Callable[..., Any]) -> str | None:
    try:
        hints = type_hints(function)
        names = list(inspect.signature(function).parameters)
    except Exception:
        return None
    bound = unwrap_callable(function)[1]  # a partial may bind the context parameter itself
    return next((n for n in names if n not in bound and is_context_annotation(hints.get(n))), None)


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
