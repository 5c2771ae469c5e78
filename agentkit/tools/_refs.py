"""JSON-schema references: walking a schema, resolving local `$ref`s, and finding bad ones.

Only local references (`#/...`, `#anchor`) are resolved, each within its resource (`$id`);
nothing is ever fetched.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import unquote

__all__ = ["has_references", "place", "reference_problems", "references", "resolve"]

# Where a schema holds subschemas (2020-12, and the Draft 7 spellings: `items` as a list,
# `additionalItems`, `dependencies`); the in-place ones apply to the same value.
_ONE = (
    *("not", "if", "then", "else", "additionalProperties", "propertyNames", "items"),
    *("contains", "unevaluatedItems", "unevaluatedProperties", "contentSchema"),
    "additionalItems",
)
_MANY = ("allOf", "anyOf", "oneOf", "prefixItems", "items")
_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_IN_PLACE = frozenset({"not", "if", "then", "else", "allOf", "anyOf", "oneOf", "dependentSchemas"})
_REF_KEYS = ("$ref", "$dynamicRef")

_Path = tuple[str | int, ...]


def place(path: Iterable[str | int]) -> str:
    """Where in a parameters schema a problem is: `parameters['properties']['a']`."""
    return "parameters" + "".join(f"[{p!r}]" for p in path)


def _subschemas(node: dict[str, Any]) -> Iterator[tuple[_Path, Any, bool]]:
    """(path below `node`, subschema, whether it applies to the same value) for each one."""
    for key, value in node.items():
        if key in _ONE and isinstance(value, dict | bool):
            yield (key,), value, key in _IN_PLACE
        elif key in _MANY and isinstance(value, list):
            yield from (((key, i), v, key in _IN_PLACE) for i, v in enumerate(value))
        elif key in _MAPS and isinstance(value, dict):
            yield from (((key, k), v, key in _IN_PLACE) for k, v in value.items())
        elif key == "dependencies" and isinstance(value, dict):
            subs = ((k, v) for k, v in value.items() if isinstance(v, dict | bool))
            yield from (((key, k), v, True) for k, v in subs)


def _walk(
    node: Any, resource: Any, path: _Path = ()
) -> Iterator[tuple[_Path, dict[str, Any], Any]]:
    """Every schema object below `node`: its path, itself, and the resource it lies in."""
    if not isinstance(node, dict):
        return
    if isinstance(node.get("$id"), str):
        resource = node
    yield path, node, resource
    for sub_path, sub, _ in _subschemas(node):
        yield from _walk(sub, resource, path + sub_path)


def resolve(ref: str, resource: Any) -> tuple[Any, Any] | None:
    """What a local reference names and the resource it lies in; None when nothing."""
    fragment = unquote(ref[1:])
    if fragment and not fragment.startswith("/"):
        anchors = ("$anchor", "$dynamicAnchor")
        for _, node, home in _walk(resource, resource):
            if home is resource and fragment in (node.get(k) for k in anchors):
                return node, resource
        return None
    node = resource
    for part in fragment.split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isascii() and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
        if isinstance(node, dict) and isinstance(node.get("$id"), str):
            resource = node
    return node, resource


def references(node: dict[str, Any], resource: Any) -> Iterator[tuple[str, str, Any]]:
    """(keyword, reference, what it resolves to as `resolve` gives it) for `node`'s refs."""
    for key in _REF_KEYS:
        ref = node.get(key)
        if isinstance(ref, str):
            yield key, ref, resolve(ref, resource) if ref.startswith("#") else None


def has_references(schema: dict[str, Any]) -> bool:
    """Whether any schema object in `schema` holds a `$ref` or `$dynamicRef`."""
    return any(k in node for _, node, _ in _walk(schema, schema) for k in _REF_KEYS)


def reference_problems(schema: dict[str, Any]) -> list[str]:
    """Every reference that is not local, names nothing, names no schema, or loops."""
    problems = []
    for path, node, resource in _walk(schema, schema):
        for key, ref, target in references(node, resource):
            where = place((*path, key))
            if not ref.startswith("#"):
                problems.append(
                    f"{where}: {ref!r} is not supported: only local references such as "
                    "'#/$defs/Name' are (nothing is fetched); put the definition under \"$defs\""
                )
            elif target is None:
                problems.append(
                    f"{where}: {ref!r} points to nothing in the schema; add what it names "
                    '(e.g. under "$defs") or fix the reference'
                )
            elif not isinstance(target[0], dict | bool):
                problems.append(f"{where}: {ref!r} points to {target[0]!r}, which is not a schema")
    return problems or _cycle_problems(schema)


def _cycle_problems(schema: dict[str, Any]) -> list[str]:
    """References that lead back to the same value: validation would never end."""
    places = {id(node): path for path, node, _ in _walk(schema, schema)}
    active: dict[int, bool] = {}  # id(node): True while being visited, False once done
    problems: list[str] = []

    def visit(node: dict[str, Any], resource: Any) -> None:
        active[id(node)] = True
        steps: list[tuple[tuple[str, str] | None, Any, Any]]
        steps = [(None, s, resource) for _, s, in_place in _subschemas(node) if in_place]
        steps += [((k, ref), t[0], t[1]) for k, ref, t in references(node, resource) if t]
        for via, sub, sub_resource in steps:
            if not isinstance(sub, dict):
                continue
            if active.get(id(sub)) is True:
                path = places.get(id(sub), ()) if via is None else (*places[id(node)], via[0])
                what = "" if via is None else f"{via[1]!r} "
                problems.append(
                    f"{place(path)}: {what}leads back to the same schema without describing a "
                    "nested value, so validation would never end; break the cycle"
                )
            elif id(sub) not in active:
                visit(sub, sub if isinstance(sub.get("$id"), str) else sub_resource)
        active[id(node)] = False

    for _, node, resource in _walk(schema, schema):
        if id(node) not in active:
            visit(node, resource)
    return problems
