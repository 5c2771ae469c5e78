"""Tools from raw JSON schemas (as MCP servers give them): checking, validation, inlining.

A raw schema is checked when the tool is made: the Draft 2020-12 meta-schema (regex patterns
included), every `$ref` local and resolvable (nothing is ever fetched), and no reference cycle
that validation could never leave (`_schemarefs`). Arguments are coerced where Llama is loose
about types (`_coerce`), then validated with `jsonschema`, every error listed. No pydantic
here: `_schema` builds on this.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import jsonschema

from ._coerce import Coercer
from ._schemarefs import place, reference_problems
from .errors import ModelRetry

__all__ = [
    "RecursiveReference",
    "clean_schema",
    "format_location",
    "jsonschema_validator",
    "schema_problems",
    "without_refs",
]

_META = jsonschema.Draft202012Validator
_META_CHECK = _META(_META.META_SCHEMA, format_checker=_META.FORMAT_CHECKER)


def format_location(loc: tuple[int | str, ...]) -> str:
    """A value's place in the arguments, as the model would write it: `items[1].qty`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(arguments)"


def schema_problems(schema: dict[str, Any]) -> list[str]:
    """Every problem of a raw parameters schema, one line each."""
    errors = sorted(_META_CHECK.iter_errors(schema), key=lambda e: list(e.path))
    problems = [f"{place(e.path)}: {e.message}" for e in errors]
    problems += reference_problems(schema)
    if not problems and schema.get("type", "object") != "object":
        problems.append(f'parameters must describe an object (type "object"): {schema["type"]!r}')
    return problems


def jsonschema_validator(
    name: str, schema: dict[str, Any], accepted: frozenset[str] | None
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    validator = jsonschema.Draft202012Validator(schema)
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
    if "$defs" not in schema and "definitions" not in schema:
        return schema
    try:
        return clean_schema(schema)
    except Exception:
        return schema


class RecursiveReference(Exception):
    """A definition refers to itself (or to nothing): it cannot be inlined."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def clean_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Inline `$ref`s, drop generated titles, and write single-value `const` as `enum`.

    Raises:
        RecursiveReference: A definition refers to itself.
    """
    schema = dict(schema)
    defs = {**schema.pop("definitions", {}), **schema.pop("$defs", {})}
    out: dict[str, Any] = _clean(schema, defs, ())
    out.pop("title", None)
    out.setdefault("properties", {})
    return out


_REF_PREFIXES = ("#/$defs/", "#/definitions/")
_SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")


def _clean(node: Any, defs: dict[str, Any], stack: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_clean(item, defs, stack) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    prefix = next((p for p in _REF_PREFIXES if isinstance(ref, str) and ref.startswith(p)), None)
    if prefix is not None:
        assert isinstance(ref, str)
        ref_name = ref[len(prefix) :]
        if ref_name in stack or ref_name not in defs:
            raise RecursiveReference(ref_name)
        merged = {**copy.deepcopy(defs[ref_name]), **{k: v for k, v in node.items() if k != "$ref"}}
        return _clean(merged, defs, (*stack, ref_name))
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title":
            continue
        if key in _SUBSCHEMA_MAPS and isinstance(value, dict):
            out[key] = {k: _clean(v, defs, stack) for k, v in value.items()}
        elif key in ("default", "examples", "const", "enum"):
            out[key] = value
        else:
            out[key] = _clean(value, defs, stack)
    if "const" in out and "enum" not in out:
        out["enum"] = [out.pop("const")]
    return out
