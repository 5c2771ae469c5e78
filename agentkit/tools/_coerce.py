"""Lax coercion of decoded tool arguments toward a JSON schema, as pydantic's lax mode does.

Besides the type coercions, a `null` for an optional property that does not take null is
dropped (Llama writes `"unit": null` for "use the default"), and a number given for a string
enum becomes the enum's string (`1` for `"1"`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from agentkit.tools._dialect import compile_pattern, validator_class
from agentkit.tools._refs import references

__all__ = ["Coercer"]


_MAX_DEPTH = 100
_INTEGER = re.compile(r"[+-]?[0-9]+(?:\.0*)?")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_BOOLEANS = dict.fromkeys(("true", "1", "yes", "on", "t", "y"), True)
_BOOLEANS |= dict.fromkeys(("false", "0", "no", "off", "f", "n"), False)
_KIND_OF = {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null"}
_KIND_OF |= {list: "array", dict: "object"}

Kinds = frozenset[str] | None  # the JSON types a schema accepts; None: any
_NONE: frozenset[int] = frozenset()


def _meet(a: Kinds, b: Kinds) -> Kinds:
    """The kinds both accept (an integer is a number too)."""
    if a is None or b is None:
        return b if a is None else a
    both = a & b
    if ("number" in a and "integer" in b) or ("number" in b and "integer" in a):
        both |= {"integer"}
    return both


def _join(each: Iterable[Kinds]) -> Kinds:
    """The kinds any of the branches accepts."""
    union: set[str] = set()
    for kinds in each:
        if kinds is None:
            return None
        union |= kinds
    return frozenset(union)


def _own_kinds(schema: dict[str, Any]) -> Kinds:
    """Kinds from `type`, `const` and `enum`; "text" marks a plain string (no format, no enum)."""
    declared = schema.get("type")
    names = [declared] if isinstance(declared, str) else declared
    kinds: Kinds = None
    if isinstance(names, list):
        kinds = frozenset(n for n in names if isinstance(n, str))
        if "string" in kinds and "format" not in schema:
            kinds |= {"text"}
    values = [schema["const"]] if "const" in schema else schema.get("enum")
    if isinstance(values, list):
        kinds = _meet(kinds, frozenset(_KIND_OF.get(type(v), "other") for v in values))
    return kinds


def _parse(text: str, kinds: frozenset[str]) -> Any:
    """`text` as a number or boolean the schema accepts; as is when it is neither."""
    stripped = text.strip()
    if "integer" in kinds and _INTEGER.fullmatch(stripped):
        try:
            return int(stripped.split(".")[0])
        except ValueError:  # more digits than Python converts
            return text
    if "number" in kinds and _NUMBER.fullmatch(stripped):
        number = float(stripped)
        return number if math.isfinite(number) else text
    if "boolean" in kinds and stripped.lower() in _BOOLEANS:
        return _BOOLEANS[stripped.lower()]
    return text


def _pattern_matches(pattern: str, key: str) -> bool:
    matcher = compile_pattern(pattern)
    return matcher is not None and matcher(key)


def _enum_value(value: Any, schema: dict[str, Any]) -> Any:
    """The enum (or const) member a scalar of the other kind stands for: 1 for "1", "2" for 2.

    `value` itself when it is a member, or when none is spelled the same.
    """
    values = [schema["const"]] if "const" in schema else schema.get("enum")
    if (
        not isinstance(values, list)
        or isinstance(value, bool)
        or any(v == value and type(v) is type(value) for v in values)
    ):
        return value
    if isinstance(value, int | float):
        spellings = [str(value)]
        if isinstance(value, float) and value.is_integer():
            spellings.insert(0, str(int(value)))
        return next((t for t in spellings if t in values), value)
    if isinstance(value, str):
        numbers = (v for v in values if isinstance(v, int | float) and not isinstance(v, bool))
        return next((v for v in numbers if str(v) == value.strip()), value)
    return value


def _branches(schema: dict[str, Any], key: str) -> list[Any]:
    value = schema.get(key)
    return value if isinstance(value, list) else []


def _mapping(schema: dict[str, Any], key: str) -> dict[str, Any]:
    value = schema.get(key)
    return value if isinstance(value, dict) else {}


class Coercer:
    """Coerces decoded arguments toward a JSON schema, as pydantic's lax mode would.

    Numbers become text where the schema wants a plain string (Llama sends 75001 for a zip
    code). With `strings=True`, text becomes a number or a boolean where the schema accepts no
    string (Llama quotes numbers: "10"); pydantic does that itself for function tools.
    Follows local `$ref`s and `allOf`/`anyOf`/`oneOf`; never raises: what it cannot coerce is
    left as it came, for the validator to report. The arguments given are not changed.
    """

    def __init__(self, schema: dict[str, Any], *, strings: bool) -> None:
        self._root = schema
        self._strings = strings
        self._validator = validator_class(schema)(schema)
        self._kinds_memo: dict[tuple[int, int], Kinds] = {}

    def __call__(self, value: Any) -> Any:
        try:
            return self._coerce(value, self._root, self._root, 0)
        except Exception:  # deeply nested input, say: validation will report it
            return value

    def _coerce(self, value: Any, schema: Any, resource: Any, depth: int) -> Any:
        if depth > _MAX_DEPTH or not isinstance(schema, dict):
            return value
        if isinstance(schema.get("$id"), str):
            resource = schema
        if isinstance(value, dict):
            value = self._members(value, schema, resource, depth)
        elif isinstance(value, list):
            value = self._items(value, schema, resource, depth)
        else:
            return _enum_value(self._scalar(value, self._kinds(schema, resource, depth)), schema)
        for _, _, target in references(schema, resource):
            if target is not None:
                value = self._coerce(value, target[0], target[1], depth + 1)
        for branch in _branches(schema, "allOf"):
            value = self._coerce(value, branch, resource, depth + 1)
        for key in ("anyOf", "oneOf"):
            if branches := _branches(schema, key):
                value = self._choose(value, branches, resource, depth + 1)
        return value

    def _members(
        self, value: dict[str, Any], schema: dict[str, Any], resource: Any, depth: int
    ) -> Any:
        properties, patterns = _mapping(schema, "properties"), _mapping(schema, "patternProperties")
        extra = schema.get("additionalProperties")
        if not (properties or patterns or isinstance(extra, dict)):
            return value
        required = schema.get("required")
        needed = set(required) if isinstance(required, list) else set()
        out = {}
        for key, item in value.items():
            if item is None and key in properties and key not in needed:
                kinds = self._kinds(properties[key], resource, depth + 1)
                if kinds is not None and "null" not in kinds:
                    continue  # "use the default", as Llama means it
            subs = [properties[key]] if key in properties else []
            subs += [s for p, s in patterns.items() if _pattern_matches(p, key)]
            for sub in subs or [extra]:
                item = self._coerce(item, sub, resource, depth + 1)
            out[key] = item
        return out

    def _items(self, value: list[Any], schema: dict[str, Any], resource: Any, depth: int) -> Any:
        prefix, rest = _branches(schema, "prefixItems"), schema.get("items")
        if isinstance(rest, list):  # Draft 7 and before: `items` as a list, then additionalItems
            prefix, rest = rest, schema.get("additionalItems")
        if not prefix and not isinstance(rest, dict):
            return value
        subs = prefix + [rest] * max(0, len(value) - len(prefix))
        return [self._coerce(v, s, resource, depth + 1) for v, s in zip(value, subs, strict=False)]

    def _choose(self, value: Any, branches: list[Any], resource: Any, depth: int) -> Any:
        """Coerce an object or array through the branch it fits best: the one it matches but
        for the fewest scalars of the wrong type (which coercion may fix). As is when it
        already matches a branch, or fits none."""
        kind = "object" if isinstance(value, dict) else "array"
        fits = [b for b in branches if (k := self._kinds(b, resource, depth)) is None or kind in k]
        if len(fits) > 1:
            scored = [(n, b) for b in fits if (n := self._mismatches(value, b)) is not None]
            if not scored or min(n for n, _ in scored) == 0:
                return value
            fits = [min(scored, key=lambda pair: pair[0])[1]]
        return self._coerce(value, fits[0], resource, depth) if fits else value

    def _mismatches(self, value: Any, schema: Any) -> int | None:
        """How many scalars in `value` have a type `schema` does not take; None when something
        else (a missing key, a tag, a constraint) does not match."""
        try:
            errors = list(self._validator.evolve(schema=schema).iter_errors(value))
        except Exception:
            return None
        scalar = all(
            e.validator == "type" and not isinstance(e.instance, dict | list) for e in errors
        )
        return len(errors) if scalar else None

    def _kinds(self, schema: Any, resource: Any, depth: int, seen: frozenset[int] = _NONE) -> Kinds:
        if not isinstance(schema, dict):
            return frozenset() if schema is False else None
        key = (id(schema), id(resource))
        if key in self._kinds_memo:  # only finished results: validation may run in threads
            return self._kinds_memo[key]
        if depth > _MAX_DEPTH or id(schema) in seen:  # a cycle: take anything
            return None
        seen |= {id(schema)}
        if isinstance(schema.get("$id"), str):
            resource = schema
        kinds = _own_kinds(schema)
        for _, _, target in references(schema, resource):
            if target is not None:
                kinds = _meet(kinds, self._kinds(target[0], target[1], depth + 1, seen))
        for branch in _branches(schema, "allOf"):
            kinds = _meet(kinds, self._kinds(branch, resource, depth + 1, seen))
        for name in ("anyOf", "oneOf"):
            if branches := _branches(schema, name):
                each = (self._kinds(b, resource, depth + 1, seen) for b in branches)
                kinds = _meet(kinds, _join(each))
        self._kinds_memo[key] = kinds
        return kinds

    def _scalar(self, value: Any, kinds: Kinds) -> Any:
        if kinds is None or isinstance(value, bool) or value is None:
            return value
        if isinstance(value, str):
            return value if not self._strings or "string" in kinds else _parse(value, kinds)
        if not isinstance(value, int | float) or not math.isfinite(value):
            return value
        if "number" in kinds:
            return value
        if "integer" in kinds:
            integral = self._strings and isinstance(value, float) and value.is_integer()
            return int(value) if integral else value
        if "text" in kinds:
            return str(value)
        if self._strings and "boolean" in kinds and value in (0, 1):
            return bool(value)
        return value
