"""BFCL's dialect of JSON Schema, converted: `"dict"`, `"float"`, `"tuple"`, `"any"` and kin.

The Berkeley Function Calling Leaderboard writes its 9,000 function definitions with the type
names of the languages they come from (Python's `dict`, `float`, `tuple`, `any`; Java's
`String`, `HashMap`, `ArrayList`, `long`; JavaScript's `Array`, `Boolean`). JSON Schema has
other words for them; `from_bfcl` rewrites a definition's parameters into plain JSON Schema,
and `json_type_for` says what to write instead of one of those words.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["DIALECTS", "convert", "from_bfcl", "json_type_for"]

DIALECTS = ("json-schema", "bfcl")

_JSON_TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})
_ALIASES = {
    **dict.fromkeys(("dict", "hashmap", "map", "treemap"), "object"),
    **dict.fromkeys(("float", "double", "bigdecimal"), "number"),
    **dict.fromkeys(("int", "long", "short", "byte", "biginteger"), "integer"),
    **dict.fromkeys(("str", "char", "character"), "string"),
    **dict.fromkeys(("bool",), "boolean"),
    **dict.fromkeys(("list", "tuple", "set", "arraylist", "linkedlist", "hashset"), "array"),
    **dict.fromkeys(("none", "nonetype"), "null"),
}
_ANY = frozenset({"any", "anytype"})
_ONE = ("items", "additionalProperties", "not", "contains", "propertyNames")
_MANY = ("anyOf", "oneOf", "allOf", "prefixItems")
_MAPS = ("properties", "patternProperties", "$defs", "definitions")


def json_type_for(name: str) -> str | None:
    """The JSON Schema type for a BFCL (or Python, Java, JavaScript) type name.

    "" means any type (leave `type` out); None when the name is unknown. A JSON Schema type
    spelled in capitals (`String`) is that type.
    """
    key = name.strip().lower()
    if key in _JSON_TYPES:
        return key
    if key in _ANY:
        return ""
    return _ALIASES.get(key)


def _converted_type(value: Any) -> Any:
    """`type` rewritten; None when it means any type (the keyword is then dropped)."""
    names = value if isinstance(value, list) else [value]
    out: list[Any] = []
    for name in names:
        json = json_type_for(name) if isinstance(name, str) else None
        if json == "":
            return None
        out.append(json if json is not None else name)
    unique = list(dict.fromkeys(out))
    return unique if isinstance(value, list) else unique[0]


def _convert(node: Any) -> Any:
    if isinstance(node, list):
        return [_convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "type":
            converted = _converted_type(value)
            if converted is not None:
                out[key] = converted
        elif key in _MAPS and isinstance(value, dict):
            out[key] = {name: _convert(sub) for name, sub in value.items()}
        elif key in _ONE or key in _MANY:
            out[key] = _convert(value)
        else:
            out[key] = value
    # BFCL writes `"tuple"` with `items` as a list, as Draft 7 did; 2020-12 says prefixItems.
    if isinstance(out.get("items"), list):
        out["prefixItems"] = out.pop("items")
    return out


def from_bfcl(parameters: dict[str, Any]) -> dict[str, Any]:
    """A BFCL `parameters` object as plain JSON Schema (the input is left as it was).

    `"dict"` becomes `"object"`, `"float"` `"number"`, `"tuple"` and `"list"` `"array"`,
    `"any"` no `type` at all; Java and JavaScript names (`String`, `HashMap`, `long`, ...)
    their JSON Schema kin. Everything else (descriptions, enums, defaults) is kept.
    """
    converted: dict[str, Any] = _convert(copy.deepcopy(parameters))
    return converted


def convert(parameters: dict[str, Any], dialect: str) -> dict[str, Any]:
    """`parameters` in plain JSON Schema, from the dialect it is written in."""
    return from_bfcl(parameters) if dialect == "bfcl" else parameters
