"""Tools from raw JSON schemas (as MCP servers give them): checking, coercion, validation.

The schema is checked against the Draft 2020-12 meta-schema when the tool is made; arguments
are coerced where Llama quotes numbers, then validated with `jsonschema`, every error listed.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import jsonschema

from ._schema import clean_schema, format_location
from .errors import ModelRetry

__all__ = ["accepted_names", "jsonschema_validator", "schema_problems", "without_refs"]

_META = jsonschema.Draft202012Validator


def schema_problems(schema: dict[str, Any]) -> list[str]:
    errors = sorted(_META(_META.META_SCHEMA).iter_errors(schema), key=lambda e: list(e.path))
    problems = [f"parameters{''.join(f'[{p!r}]' for p in e.path)}: {e.message}" for e in errors]
    if not problems and schema.get("type", "object") != "object":
        problems.append(f'parameters must describe an object (type "object"): {schema["type"]!r}')
    return problems


_COERCIBLE = {"integer": int, "number": float, "boolean": bool}


def _coerce(value: Any, schema: Any) -> Any:
    """Lax coercion of strings where the schema wants a number or boolean ("10" -> 10).

    Llama often quotes numbers; a raw-schema tool should accept them as a pydantic one does.
    """
    if not isinstance(schema, dict):
        return value
    kind = schema.get("type")
    if isinstance(value, str) and kind in _COERCIBLE:
        text = value.strip()
        if kind == "boolean":
            return {"true": True, "false": False}.get(text.lower(), value)
        try:
            number = float(text) if kind == "number" else int(text)
        except ValueError:
            return value
        return number
    if isinstance(value, dict) and isinstance(schema.get("properties"), dict):
        props = schema["properties"]
        return {k: _coerce(v, props.get(k)) for k, v in value.items()}
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_coerce(v, schema["items"]) for v in value]
    return value


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


def accepted_names(
    function: Callable[..., Any], context_param: str | None
) -> frozenset[str] | None:
    """The keyword arguments `function` accepts; None when it takes **kwargs or is opaque."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return None
    return frozenset(
        p.name for p in parameters if p.kind is not p.POSITIONAL_ONLY and p.name != context_param
    )


def jsonschema_validator(
    name: str, schema: dict[str, Any], accepted: frozenset[str] | None
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    validator = jsonschema.Draft202012Validator(schema)
    properties = schema.get("properties")
    allowed = ", ".join(properties) if isinstance(properties, dict) and properties else "none"

    def validate(arguments: dict[str, Any]) -> dict[str, Any]:
        arguments = _coerce(arguments, schema)
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
