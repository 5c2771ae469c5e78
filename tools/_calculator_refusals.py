"""Why the calculator refuses a piece of syntax, in words that say what to write instead."""

from __future__ import annotations

import ast

__all__ = ["refusal"]

# Operators the model is likely to try, with what to write instead.
_OPERATOR_HINTS: dict[type[ast.AST], str] = {
    ast.BitXor: "`^` is not a power operator here; write powers with ** (e.g. 2**8)",
    ast.BitAnd: "bitwise `&` is not supported",
    ast.BitOr: "bitwise `|` is not supported",
    ast.LShift: "`<<` is not supported; write 2**n for powers of two",
    ast.RShift: "`>>` is not supported; use // to divide",
    ast.MatMult: "`@` is not supported; write * to multiply",
    ast.Invert: "`~` is not supported",
    ast.Not: "`not` is not supported",
}

# Plain names for refused syntax, so the message reads "comparisons are not allowed".
_SYNTAX_NAMES: dict[type[ast.AST], str] = {
    ast.Compare: "comparisons",
    ast.BoolOp: "`and` / `or`",
    ast.IfExp: "conditional expressions",
    ast.Lambda: "lambda functions",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "generator expressions",
    ast.List: "lists",
    ast.Tuple: "tuples (a comma outside a function call; write 1000, not 1,000)",
    ast.Set: "sets",
    ast.Dict: "dicts",
    ast.Subscript: "indexing and slicing",
    ast.JoinedStr: "strings",
    ast.NamedExpr: "assignments (:=)",
    ast.Await: "`await` expressions",
    ast.Yield: "`yield` expressions",
    ast.YieldFrom: "`yield` expressions",
    ast.Starred: "unpacking (*)",
}


def refusal(node: ast.AST, allowed: str) -> str:
    """Why a syntax element is refused, and what to write instead (`allowed` says what is)."""
    hint = _OPERATOR_HINTS.get(type(node))
    if hint is not None:
        return f"{hint}. Use {allowed}"
    if isinstance(node, ast.Attribute):
        return f"attribute access (`.{node.attr}`) is not allowed; use {allowed}"
    kind = _SYNTAX_NAMES.get(type(node), type(node).__name__)
    try:
        shown = ast.unparse(node) if isinstance(node, ast.expr) else ""
    except Exception:  # unparse of an odd node must not hide the real message
        shown = ""
    found = f" (found `{shown:.60}`)" if shown else ""
    return f"{kind} are not allowed in a calculation{found}; use {allowed}"
