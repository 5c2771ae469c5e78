"""Tools from raw JSON schemas (as MCP servers give them): checking, validation, inlining.

A raw schema is checked when the tool is made: the meta-schema of the draft its `$schema`
names, 2020-12 when none (patterns read as ECMA-262: `_dialect`), every `$ref` local and
resolvable (nothing is ever fetched), and no reference cycle that validation could never
leave (`_refs`). Arguments are coerced where Llama is loose about types (`_coerce`), then
validated with `jsonschema` by that draft's rules, every error listed. No pydantic here:
`_schema` builds on this.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from agentkit.errors import ModelRetry
from agentkit.tools._bfcl import json_type_for
from agentkit.tools._coerce import Coercer
from agentkit.tools._dialect import meta_validator, validator_class
from agentkit.tools._refs import has_references, place, reference_problems, resolve

__all__ = [
    "RecursiveReference",
    "clean_schema",
    "format_location",
    "jsonschema_validator",
    "schema_problems",
    "without_refs",
]


def format_location(loc: tuple[int | str, ...]) -> str:
    """A value's place in the arguments, as the model would write it: `items[1].qty`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(arguments)"


def schema_problems(schema: dict[str, Any]) -> list[str]:
    """Every problem of a raw parameters schema, one line each."""
    errors = sorted(meta_validator(schema).iter_errors(schema), key=lambda e: list(e.path))
    problems = [f"{place(e.path)}: {_type_hint(e.instance, e.path) or e.message}" for e in errors]
    problems += reference_problems(schema)
    if not problems and schema.get("type", "object") != "object":
        problems.append(f'parameters must describe an object (type "object"): {schema["type"]!r}')
    return problems


def _type_hint(value: Any, path: Any) -> str | None:
    """What to write instead of a type name that is not JSON Schema's (`"dict"`, `"float"`)."""
    names = value if isinstance(value, list) else [value]
    if not (list(path)[-1:] == ["type"] and all(isinstance(n, str) for n in names)):
        return None
    hints = []
    for name in names:
        json = json_type_for(name)
        if json is not None and json != name:
            hints.append(
                f"leave `type` out for any type (not {name!r})"
                if json == ""
                else f"write {json!r}, not {name!r}"
            )
    if not hints:
        return None
    return (
        f"{'; '.join(hints)}: {value!r} is not a JSON Schema type (a BFCL definition? "
        'Tool.from_schema(..., dialect="bfcl") converts it)'
    )


def jsonschema_validator(
    name: str, schema: dict[str, Any], accepted: frozenset[str] | None
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    validator = validator_class(schema)(schema)
    coerce = Coercer(schema, strings=True)
    properties = schema.get("properties")
    allowed = ", ".join(properties) if isinstance(properties, dict) and properties else "none"

    def validate(arguments: dict[str, Any]) -> dict[str, Any]:
        arguments = coerce(arguments)
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


def without_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with `$ref`s inlined for the model (several Llama servers reject them).

    A recursive schema cannot be inlined; it is sent as given.
    """
    if not has_references(schema):
        return schema
    try:
        return clean_schema(schema)
    except RecursiveReference:
        return schema


class RecursiveReference(Exception):
    """A definition refers to itself (or to nothing): it cannot be inlined."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def clean_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Inline local `$ref`s, drop titles and definitions, and write one `const` as `enum`.

    References resolve as `_schemarefs.resolve` reads them (`#/$defs/...`, any JSON pointer,
    `#anchor`), so what the definition check accepts is what gets inlined.

    Raises:
        RecursiveReference: A definition refers to itself, or a reference names no schema.
    """
    out: dict[str, Any] = _clean(schema, schema, (), top=True)
    out.setdefault("properties", {})
    return out


_SUBSCHEMA_MAPS = ("properties", "patternProperties", "dependentSchemas")
# Generated titles, and what only references needed: once they are inlined, it is noise.
_DROPPED = frozenset({"title", "$defs", "definitions", "$id", "$anchor", "$dynamicAnchor"})
_MAX_INLINE_DEPTH = 64


def _clean(node: Any, resource: Any, stack: tuple[int, ...], *, top: bool = False) -> Any:
    """`node` cleaned; `stack` holds the ids of the definitions being inlined around it."""
    if isinstance(node, list):
        return [_clean(item, resource, stack) for item in node]
    if not isinstance(node, dict):
        return node
    if not top and isinstance(node.get("$id"), str):
        resource = node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#"):
        found = resolve(ref, resource)
        target = found[0] if found is not None else None
        if not isinstance(target, dict) or id(target) in stack or len(stack) > _MAX_INLINE_DEPTH:
            raise RecursiveReference(ref.rsplit("/", 1)[-1].lstrip("#") or ref)
        assert found is not None
        merged = {**copy.deepcopy(target), **{k: v for k, v in node.items() if k != "$ref"}}
        return _clean(merged, found[1], (*stack, id(target)))
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key in _SUBSCHEMA_MAPS and isinstance(value, dict):
            out[key] = {k: _clean(v, resource, stack) for k, v in value.items()}
        elif key in ("default", "examples", "const", "enum"):
            out[key] = value
        else:
            out[key] = _clean(value, resource, stack)
    if "const" in out and "enum" not in out:
        out["enum"] = [out.pop("const")]
    return out
