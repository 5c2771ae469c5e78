"""Llama 3.1's built-in tool-call form: `NAME.call(key=value, ...)` with literal values.

Llama writes calls of its built-in tools (brave_search, wolfram_alpha) as Python: keyword
arguments whose values are literals. Anything else (a variable, an expression, `**kwargs`) is
not a call. A call must begin a statement, so `subprocess.call(...)` in prose is left alone.
"""

from __future__ import annotations

import ast
import math
import re
from typing import Any

from agentkit.messages import ToolCall

__all__ = ["call_name_start", "pythonic_calls", "starts_statement"]

_INVALID: Any = object()
_NAME_BEFORE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
# Only escapes Python accepts without a warning; anything else is not a literal we decode.
_PY_ESCAPE = r"""\\[\\'"abfnrtv0-7xuU\n]"""
_PY_DQ = rf'"[^"\\\n]*+(?:{_PY_ESCAPE}[^"\\\n]*+)*+"'
_PY_SQ = rf"'[^'\\\n]*+(?:{_PY_ESCAPE}[^'\\\n]*+)*+'"
_PY_NUMBER = r"[-+]?(?:\d++(?:\.\d*+)?|\.\d++)(?:[eE][-+]?\d++)?"
_PY_VALUE = rf"(?:{_PY_DQ}|{_PY_SQ}|{_PY_NUMBER}|True|False|None)"
_PY_KWARG = rf"[A-Za-z_][A-Za-z0-9_]*+\s*+=\s*+{_PY_VALUE}"
_KWARGS = re.compile(rf"\(\s*+(?:{_PY_KWARG}(?:\s*+,\s*+{_PY_KWARG})*+\s*+,?\s*+)?\)")
_CALL_END = re.compile(r"[ \t]*(?:\Z|[\r\n;]|<\||```)")


def pythonic_calls(text: str, dots: list[int]) -> list[tuple[int, int, ToolCall]]:
    """The `NAME.call(k=v, ...)` calls whose `.call(` is at one of `dots`: (start, end, call)."""
    found: list[tuple[int, int, ToolCall]] = []
    for k, dot in enumerate(dots):
        # The argument list may not reach the next `.call(`: each match scans its own stretch,
        # which keeps the whole search linear.
        stop = dots[k + 1] if k + 1 < len(dots) else len(text)
        start = call_name_start(text, dot, True)
        args = _KWARGS.match(text, dot + 5, stop) if start is not None else None
        if start is None or args is None or not _CALL_END.match(text, args.end()):
            continue
        arguments = _literal_kwargs(args.group())
        if arguments is not None:
            call = ToolCall(name=text[start:dot], arguments=arguments)
            found.append((start, args.end(), call))
    return found


def call_name_start(text: str, dot: int, at_zero: bool) -> int | None:
    """Where the name before the `.call(` at `dot` begins, if it begins a statement."""
    match = _NAME_BEFORE.search(text, max(0, dot - 64), dot)
    if match is None or not starts_statement(text, match.start(), at_zero):
        return None
    return match.start()


def starts_statement(text: str, start: int, at_zero: bool) -> bool:
    """Whether a name at `start` begins a statement rather than sits in a sentence or a path.

    `at_zero` says whether the start of `text` itself is a statement start.
    """
    if start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_."):
        return False
    before = start
    while before > 0 and text[before - 1] in " \t":
        before -= 1
    return at_zero if before == 0 else text[before - 1] in "\n;>"


def _literal_kwargs(source: str) -> dict[str, Any] | None:
    """Keyword arguments of a `(k=v, ...)` list whose values are literals; None otherwise."""
    try:
        node = ast.parse("f" + source, mode="eval").body
    except (SyntaxError, ValueError, RecursionError):
        return None
    if not isinstance(node, ast.Call) or node.args:
        return None
    arguments: dict[str, Any] = {}
    for keyword in node.keywords:
        value = _literal(keyword.value)
        if keyword.arg is None or keyword.arg in arguments or value is _INVALID:
            return None
        arguments[keyword.arg] = value
    return arguments


def _literal(node: ast.expr) -> Any:
    sign = 1
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
        sign = -1 if isinstance(node.op, ast.USub) else 1
        node = node.operand
        if not isinstance(node, ast.Constant) or type(node.value) not in (int, float):
            return _INVALID
    if not isinstance(node, ast.Constant):
        return _INVALID
    value = node.value
    if value is None or type(value) in (str, bool):
        return value
    if type(value) is int or (type(value) is float and math.isfinite(value)):
        return sign * value
    return _INVALID
