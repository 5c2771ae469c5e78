"""Unknown keys refused at every level of a function tool's arguments, as at the top.

The arguments model forbids unknown keys, and pydantic carries that to dataclasses and
TypedDicts, but a nested `BaseModel` keeps its own configuration, whose default ignores them:
`{"sku": "A1", "colour": "red"}` would lose `colour` without a word. A nested model that
says nothing about `extra` is held to the top level's rule: its schema says
`additionalProperties: false`, and a call with a key it does not know goes back to the
model. A model that sets `extra` itself ("ignore" or "allow") is left as it says.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from pydantic import AliasChoices, BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

__all__ = ["arguments_schema", "unknown_keys"]

_Loc = tuple[int | str, ...]


def arguments_schema(model: type[BaseModel]) -> tuple[dict[str, Any], bool]:
    """The model's JSON schema with unknown keys refused in nested models; whether any was."""
    held: list[type[Any]] = []

    class _Strict(GenerateJsonSchema):
        def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchemaValue:
            out = super().model_schema(schema)
            cls = schema["cls"]
            config = getattr(cls, "model_config", {})
            if out.get("type") == "object" and config.get("extra") is None:
                out.setdefault("additionalProperties", False)
                held.append(cls)
            return out

    return model.model_json_schema(schema_generator=_Strict), bool(held)


def _accepted(cls: type[BaseModel]) -> set[str] | None:
    """The keys a model takes from input; None when its aliases are too involved to tell."""
    keys: set[str] = set()
    by_name = bool(
        cls.model_config.get("populate_by_name") or cls.model_config.get("validate_by_name")
    )
    for name, info in cls.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, str):
            keys.add(alias)
        elif isinstance(alias, AliasChoices):
            if not all(isinstance(choice, str) for choice in alias.choices):
                return None
            keys.update(str(choice) for choice in alias.choices)
        elif alias is not None:
            return None
        else:
            keys.add(info.alias or name)
        if by_name or (alias is None and info.alias is None):
            keys.add(name)
    return keys


def _key_of(cls: type[BaseModel], name: str, raw: dict[str, Any]) -> str | None:
    info = cls.model_fields[name]
    alias = info.validation_alias
    choices = alias.choices if isinstance(alias, AliasChoices) else [alias or info.alias or name]
    return next((c for c in (*choices, name) if isinstance(c, str) and c in raw), None)


def _in_model(raw: dict[str, Any], value: BaseModel, loc: _Loc) -> Iterator[_Loc]:
    cls = type(value)
    accepted = _accepted(cls) if cls.model_config.get("extra") is None else None
    if accepted is not None:
        yield from ((*loc, key) for key in raw if key not in accepted)
    for name in cls.model_fields:
        key = _key_of(cls, name, raw)
        if key is not None:
            yield from _walk(raw[key], getattr(value, name, None), (*loc, key))


def _walk(raw: Any, value: Any, loc: _Loc) -> Iterator[_Loc]:
    """Where `raw` (the input) holds a key the nested model `value` was built without."""
    if isinstance(value, BaseModel) and isinstance(raw, dict):
        yield from _in_model(raw, value, loc)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type) and isinstance(raw, dict):
        for field in dataclasses.fields(value):
            if field.name in raw:
                yield from _walk(raw[field.name], getattr(value, field.name), (*loc, field.name))
    elif isinstance(value, dict) and isinstance(raw, dict):
        for key, item in raw.items():
            if key in value:
                yield from _walk(item, value[key], (*loc, key))
    elif isinstance(value, list | tuple) and isinstance(raw, list):
        for i, (item, made) in enumerate(zip(raw, value, strict=False)):
            yield from _walk(item, made, (*loc, i))


def unknown_keys(raw: dict[str, Any], data: dict[str, Any]) -> list[_Loc]:
    """The places of keys that nested models would have dropped: `raw` as the model sent it,
    `data` the validated arguments by parameter name."""
    found: list[_Loc] = []
    for pname, value in data.items():
        if pname in raw:
            found.extend(_walk(raw[pname], value, (pname,)))
    return found
