"""What stands behind a callable given as a tool: partials, decorators, methods, objects.

A tool may be a plain function, a `functools.partial`, a decorated function (`__wrapped__`),
a bound method or a callable object. The schema and the loop need the function that is
finally called (its docstring, annotations and `file:line`) and the keywords a partial has
bound, which the model must neither see nor replace.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any

__all__ = [
    "accepted_names",
    "behind_partials",
    "callable_layers",
    "signature_names",
    "type_hints",
    "unwrap_callable",
    "where",
]


def callable_layers(fn: object) -> list[object]:
    """`fn`, then each callable behind it: a partial's function, a decorator's `__wrapped__`,
    a bound method's function."""
    layers = [fn]
    for _ in range(100):  # a `__wrapped__` chain may not end (mocks make new attributes)
        if isinstance(fn, functools.partial):
            fn = fn.func
        elif inspect.ismethod(fn):
            fn = fn.__func__
        elif not inspect.isclass(fn) and callable(wrapped := getattr(fn, "__wrapped__", None)):
            fn = wrapped
        else:
            break
        if any(fn is layer for layer in layers):
            break
        layers.append(fn)
    return layers


def unwrap_callable(fn: object) -> tuple[object, frozenset[str]]:
    """The function behind partials, decorators and bound methods; the keywords partials bind.

    `functools.partial(read, root="/srv")` is the tool `read` without `root`: the model must
    neither see the bound value (it may be a secret) nor replace it.
    """
    layers = callable_layers(fn)
    bound = (k for f in layers if isinstance(f, functools.partial) for k in f.keywords)
    return layers[-1], frozenset(bound)


def behind_partials(fn: object) -> Any:
    while isinstance(fn, functools.partial):
        fn = fn.func
    return fn


def type_hints(fn: object) -> dict[str, Any]:
    """The resolved annotations of a function, a partial's function or a callable's `__call__`.

    Raises:
        Exception: An annotation cannot be resolved (a NameError, mostly).
    """
    target = behind_partials(fn)
    if not (inspect.isroutine(target) or inspect.isclass(target)):
        target = type(target).__call__
    return typing.get_type_hints(target, include_extras=True)


def accepted_names(
    function: Callable[..., Any], context_param: str | None
) -> frozenset[str] | None:
    """The keyword arguments `function` accepts; None when it takes **kwargs or is opaque.

    Keywords a partial binds are left out: the model may not replace them.
    """
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return None
    hidden = {context_param, *unwrap_callable(function)[1]}
    return frozenset(
        p.name for p in parameters if p.kind is not p.POSITIONAL_ONLY and p.name not in hidden
    )


def signature_names(fn: Any) -> set[str]:
    try:
        return set(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return set()


def where(fn: object) -> str:
    """`file:line` of a function's definition, for error messages."""
    target = unwrap_callable(fn)[0]
    code = getattr(target, "__code__", None)
    if code is None:  # a callable object: where its class defines `__call__`
        call = getattr(type(target), "__call__", None)  # noqa: B004 - not a callable() test
        code = getattr(call, "__code__", None)
    if code is None:
        return getattr(target, "__qualname__", repr(target))
    return f"{code.co_filename}:{code.co_firstlineno}"
