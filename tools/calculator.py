"""A safe calculator: arithmetic and common math functions on numbers.

Offers one tool, `calculate`. The expression is parsed with Python's `ast` module and walked
against an allowlist (number literals, `+ - * / // % **`, unary signs, parentheses, and a
fixed table of math functions and constants); nothing is ever passed to `eval`. Sizes are
capped before any work is done: input length, nesting depth, exponents, factorials and the
magnitude of every intermediate result, so no expression can exhaust memory or time.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from agentkit.errors import ModelRetry

from ._calculator_refusals import refusal

_Number = int | float

_MAX_LENGTH = 500
_MAX_DEPTH = 50
_MAX_DIGITS = 1000
_MAX_INT_BITS = int(_MAX_DIGITS * math.log2(10))
_MAX_FACTORIAL = 400
_MAX_ROUND_DIGITS = 100
_FLOAT_DIGITS = 15
_SHOWN_DIGITS = 30


def _factorial(n: _Number) -> int:
    if isinstance(n, float):
        if not n.is_integer():
            raise ModelRetry(f"factorial needs a whole number >= 0, got {_shown(n)}")
        n = int(n)
    if n < 0:
        raise ModelRetry(f"factorial needs a whole number >= 0, got {_shown(n)}")
    if n > _MAX_FACTORIAL:
        raise ModelRetry(
            f"factorial({_shown(n)}) is too large: the argument may be at most {_MAX_FACTORIAL}"
        )
    return math.factorial(n)


def _round(x: _Number, ndigits: _Number | None = None) -> _Number:
    if ndigits is None:
        return round(x)
    if not isinstance(ndigits, int):
        raise ModelRetry(f"round's second argument must be a whole number, got {_shown(ndigits)}")
    if abs(ndigits) > _MAX_ROUND_DIGITS:
        raise ModelRetry(
            f"round's second argument must be between -{_MAX_ROUND_DIGITS} and "
            f"{_MAX_ROUND_DIGITS}, got {_shown(ndigits)}"
        )
    return round(x, ndigits)


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sqrt": math.sqrt,
    "log": math.log,
    "log10": math.log10,
    "log2": math.log2,
    "exp": math.exp,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "asin": math.asin,
    "acos": math.acos,
    "atan": math.atan,
    "atan2": math.atan2,
    "floor": math.floor,
    "ceil": math.ceil,
    "abs": abs,
    "round": _round,
    "min": min,
    "max": max,
    "factorial": _factorial,
    "hypot": math.hypot,
    "degrees": math.degrees,
    "radians": math.radians,
}

_CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "tau": math.tau}

_ALLOWED_TEXT = (
    "numbers, + - * / // % ** (power), parentheses, the constants "
    + ", ".join(_CONSTANTS)
    + " and the functions "
    + ", ".join(_FUNCTIONS)
)

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}

_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}


def _format(value: _Number) -> str:
    """Integers exactly; floats to 15 significant digits, without `.0` when whole."""
    if isinstance(value, int):
        return str(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.{_FLOAT_DIGITS}g}"


def _shown(value: _Number) -> str:
    """A number as messages quote it; huge integers abbreviated: `640345...0000 (869 digits)`."""
    text = _format(value)
    digits = text.lstrip("-")
    if len(digits) <= _SHOWN_DIGITS or not digits.isdigit():
        return text
    sign = text[: len(text) - len(digits)]
    return f"{sign}{digits[:6]}...{digits[-4:]} ({len(digits)} digits)"


@dataclass
class _Calculation:
    """What one `calculate` call tracks besides values: its text, and any underflow."""

    expression: str
    underflowed: bool = False


_CALCULATION: ContextVar[_Calculation] = ContextVar("_CALCULATION")

# Operations whose exact result is never zero when no argument is zero: a 0.0 from them is
# an underflow (the result was below the smallest float), not a zero.
_UNDERFLOWING: frozenset[Callable[..., Any]] = frozenset(
    {operator.mul, operator.truediv, operator.pow, math.exp, math.radians, math.atan2}
)
_UNDERFLOW_NOTE = (
    "0.0 (underflow: a step's result was too small for a float, below about 5e-324, and "
    "became 0, so the exact result may not be zero; work with logarithms, e.g. log10, to see "
    "its size)"
)


def _note_underflow(
    function: Callable[..., Any], args: tuple[_Number, ...], result: object
) -> None:
    if (
        isinstance(result, float)
        and result == 0
        and function in _UNDERFLOWING
        and all(arg != 0 for arg in args)
    ):
        _CALCULATION.get().underflowed = True


def _check_size(value: object) -> _Number:
    """The value when it is a real number of reasonable size; else a message for the model."""
    if isinstance(value, complex):
        raise ModelRetry(
            "the result is a complex number (e.g. a fractional power of a negative number); "
            "only real numbers are supported"
        )
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ModelRetry(f"unexpected value {value!r}; use numbers only")
    if isinstance(value, int) and value.bit_length() > _MAX_INT_BITS:
        raise ModelRetry(
            f"a result has more than {_MAX_DIGITS} digits; use smaller numbers or floats "
            "(e.g. 2.0**4000 instead of 2**4000), or work with logarithms"
        )
    if isinstance(value, float) and math.isinf(value):
        raise ModelRetry("a result is too large for a float (overflow); use smaller numbers")
    if isinstance(value, float) and math.isnan(value):
        raise ModelRetry("a result is not a number (NaN); check the domain of the functions")
    return value


def _check_power(base: _Number, exponent: _Number) -> None:
    """Refuse integer powers whose result would be huge, before computing them."""
    if not (isinstance(base, int) and isinstance(exponent, int)):
        return  # float powers overflow quickly and safely (OverflowError)
    if exponent <= 0 or abs(base) <= 1:
        return
    estimated_bits = (abs(base).bit_length() - 1) * exponent
    if estimated_bits > _MAX_INT_BITS:
        raise ModelRetry(
            f"{_shown(base)}**{_shown(exponent)} is too large (more than {_MAX_DIGITS} "
            "digits); use a smaller exponent, a float base (e.g. 2.0**x) or logarithms"
        )


def _check_text(expression: str) -> None:
    if not expression.strip():
        raise ModelRetry(f"the expression is empty; write one using {_ALLOWED_TEXT}")
    if len(expression) > _MAX_LENGTH:
        raise ModelRetry(
            f"the expression is {len(expression)} characters long; the limit is {_MAX_LENGTH}. "
            "Split the calculation into smaller steps"
        )
    depth = 0
    for char in expression:
        depth += char in "([{"
        depth -= char in ")]}"
        if depth > _MAX_DEPTH:
            raise ModelRetry(
                f"the expression nests parentheses more than {_MAX_DEPTH} deep; simplify it"
            )


def _parse(expression: str) -> ast.expr:
    _check_text(expression)
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except (SyntaxError, ValueError) as exc:
        reason = exc.msg if isinstance(exc, SyntaxError) else str(exc)
        raise ModelRetry(
            f"cannot parse {expression!r}: {reason}. Write a single expression using "
            f"{_ALLOWED_TEXT}"
        ) from None
    return tree.body


def _eval(node: ast.AST, depth: int) -> _Number:
    if depth > _MAX_DEPTH:
        raise ModelRetry(f"the expression nests more than {_MAX_DEPTH} levels deep; simplify it")
    handler = _HANDLERS.get(type(node))
    if handler is None:
        raise ModelRetry(refusal(node, _ALLOWED_TEXT))
    return _check_size(handler(node, depth + 1))


def _eval_constant(node: ast.AST, depth: int) -> _Number:
    assert isinstance(node, ast.Constant)
    value = node.value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ModelRetry(
            f"{value!r} is not a number; only numbers are allowed (no strings, booleans, "
            f"complex numbers or None). Use {_ALLOWED_TEXT}"
        )
    if isinstance(value, float) and value == 0:  # 0.0, or a literal such as 1e-400?
        written = ast.get_source_segment(_CALCULATION.get().expression, node) or ""
        if re.search(r"[1-9]", re.split(r"[eE]", written)[0]):
            _CALCULATION.get().underflowed = True
    return value


def _eval_name(node: ast.AST, depth: int) -> _Number:
    assert isinstance(node, ast.Name)
    if node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if node.id in _FUNCTIONS:
        raise ModelRetry(f"`{node.id}` is a function; call it with parentheses, e.g. {node.id}(2)")
    raise ModelRetry(f"name `{node.id}` is not allowed; use {_ALLOWED_TEXT}")


def _eval_unary(node: ast.AST, depth: int) -> _Number:
    assert isinstance(node, ast.UnaryOp)
    apply = _UNARY.get(type(node.op))
    if apply is None:
        raise ModelRetry(refusal(node.op, _ALLOWED_TEXT))
    result: _Number = apply(_eval(node.operand, depth))
    return result


def _operator(node: ast.BinOp) -> Callable[[Any, Any], Any]:
    apply = _BINARY.get(type(node.op))
    if apply is None:
        raise ModelRetry(refusal(node.op, _ALLOWED_TEXT))
    return apply


def _eval_binary(node: ast.AST, depth: int) -> _Number:
    """A tree of binary operators, such as `1 + 2 + ... + 200`, evaluated without recursion.

    A chain of operators is not nesting: every operator in it is at the same depth, and only
    the operands that are something else (a call, a unary sign) go one level deeper.
    """
    assert isinstance(node, ast.BinOp)
    values: list[_Number] = []
    # Post-order on an explicit stack: (node, True) once its two operands are in `values`.
    pending: list[tuple[ast.AST, bool]] = [(node, False)]
    while pending:
        current, operands_done = pending.pop()
        if not isinstance(current, ast.BinOp):
            values.append(_eval(current, depth))
        elif not operands_done:
            _operator(current)  # refuse an unsupported operator before its operands
            pending += [(current, True), (current.right, False), (current.left, False)]
        else:
            right = values.pop()
            left = values.pop()
            if isinstance(current.op, ast.Pow):
                _check_power(left, right)
            values.append(_check_size(_apply(_operator(current), left, right)))
    return values.pop()


def _eval_call(node: ast.AST, depth: int) -> _Number:
    assert isinstance(node, ast.Call)
    if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
        shown = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
        raise ModelRetry(
            f"calling `{shown}` is not allowed; the functions are: {', '.join(_FUNCTIONS)}"
        )
    name = node.func.id
    if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
        raise ModelRetry(f"pass {name}'s arguments by position only, e.g. {name}(2)")
    args = [_eval(arg, depth) for arg in node.args]
    return _apply(_FUNCTIONS[name], *args, name=name)


def _apply(function: Callable[..., Any], *args: _Number, name: str | None = None) -> _Number:
    """Call a function or operator; turn Python's arithmetic errors into messages."""
    where = f" in {name}()" if name else ""
    try:
        result: _Number = function(*args)
        _note_underflow(function, args, result)
    except ZeroDivisionError:
        raise ModelRetry(f"division by zero{where}; check the divisor") from None
    except OverflowError:
        raise ModelRetry(
            f"the result{where} is too large to represent (overflow); use smaller numbers"
        ) from None
    except (ValueError, TypeError) as exc:
        shown = ", ".join(_shown(a) for a in args)
        raise ModelRetry(
            f"invalid argument{where} ({shown}): {exc}; check the function's domain and the "
            "number of arguments"
        ) from None
    return result


_HANDLERS: dict[type[ast.AST], Callable[[ast.AST, int], _Number]] = {
    ast.Constant: _eval_constant,
    ast.Name: _eval_name,
    ast.UnaryOp: _eval_unary,
    ast.BinOp: _eval_binary,
    ast.Call: _eval_call,
}


def calculate(expression: str) -> str:
    """Evaluate an arithmetic expression and return the result.

    Supports numbers, + - * / // % ** (power), parentheses, the constants pi, e and tau, and
    the functions sqrt, log (natural, or log(x, base)), log10, log2, exp, sin, cos, tan, asin,
    acos, atan, atan2, floor, ceil, abs, round, min, max, factorial, hypot, degrees and
    radians. Angles are in radians. Whole numbers are exact; other results have 15
    significant digits.

    Args:
        expression: One math expression, e.g. "2 * (3 + 4) ** 2" or "sqrt(2) / 2" or
            "round(100 * 1.05 ** 10, 2)". Use ** for powers, not ^.

    Returns:
        The value as text, e.g. "98" or "0.707106781186548"; "0.0 (underflow: ...)" when
        the result became 0 only because it was too small for a float.
    """
    calculation = _Calculation(expression.strip())
    token = _CALCULATION.set(calculation)
    try:
        value = _eval(_parse(expression), 0)
    finally:
        _CALCULATION.reset(token)
    if calculation.underflowed and isinstance(value, float) and value == 0:
        return _UNDERFLOW_NOTE
    return _format(value)
