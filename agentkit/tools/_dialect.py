"""Which JSON Schema a raw schema is written in, and validating it as that draft says.

A schema's `$schema` chooses its draft (2020-12 when absent or unknown): the meta-schema it
is checked against and the validator its arguments go through, so zod's Draft-07 output
(`"items": [...]`) means what it meant there. Patterns (`pattern`, `patternProperties`, the
`regex` format) are ECMA-262 regular expressions, as JSON Schema defines them: matched with
`regress`, an ECMA-262 engine, and with Python's `re` only for a pattern that engine cannot
read. A pattern neither can compile is reported, never a crash.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from typing import Any

import jsonschema
import jsonschema.validators
import regress
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator

__all__ = ["Matcher", "compile_pattern", "draft_name", "meta_validator", "validator_class"]

Matcher = Callable[[str], bool]

# Newest first: where two drafts share a meta-schema URI spelling, the newer one wins.
_DRAFTS: tuple[type[Validator], ...] = (
    jsonschema.Draft202012Validator,
    jsonschema.Draft201909Validator,
    jsonschema.Draft7Validator,
    jsonschema.Draft6Validator,
    jsonschema.Draft4Validator,
    jsonschema.Draft3Validator,
)


def _uri_key(uri: str) -> str:
    """A meta-schema URI as compared: no scheme, no trailing `#` or `/`."""
    return uri.split("://", 1)[-1].rstrip("#").rstrip("/")


_BY_URI = {_uri_key(str(d.META_SCHEMA.get("$id") or d.META_SCHEMA.get("id"))): d for d in _DRAFTS}


@functools.lru_cache(maxsize=4096)
def compile_pattern(pattern: str) -> Matcher | None:
    """A search function for an ECMA-262 pattern; None when no engine can compile it.

    Tried with the Unicode flag first (JSON Schema patterns are Unicode-aware: `\\p{L}`),
    then without it (some valid patterns, such as `\\_`, are refused with it), then with
    Python's `re` (for schemas written with Python in mind, such as `(?P<name>...)`).
    """
    for flags in ("u", ""):
        try:
            ecma = regress.Regex(pattern, flags)
        except regress.RegressError:
            continue
        return lambda text: ecma.find(text) is not None
    try:
        python = re.compile(pattern)
    except (re.error, RecursionError, OverflowError):
        return None
    return lambda text: python.search(text) is not None


def _search(pattern: str, text: str) -> bool:
    matcher = compile_pattern(pattern)
    return matcher is not None and matcher(text)


def _is_regex(instance: object) -> bool:
    return not isinstance(instance, str) or compile_pattern(instance) is not None


def _pattern(validator: Any, pattern: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(
    validator: Any, patterns: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if _search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _extra_keys(instance: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """The keys neither `properties` nor a `patternProperties` pattern covers."""
    properties = schema.get("properties", {})
    patterns = schema.get("patternProperties", {})
    return [
        key
        for key in instance
        if key not in properties and not any(_search(p, key) for p in patterns)
    ]


def _additional_properties(
    validator: Any, additional: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    extras = _extra_keys(instance, schema)
    if validator.is_type(additional, "object"):
        for key in extras:
            yield from validator.descend(instance[key], additional, path=key)
    elif additional is False and extras:
        listed = ", ".join(repr(k) for k in sorted(extras))
        verb = "was" if len(extras) == 1 else "were"
        yield ValidationError(f"Additional properties are not allowed ({listed} {verb} unexpected)")


def _format_checker(draft: type[Validator]) -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker(draft.FORMAT_CHECKER.checkers)
    checker.checks("regex")(_is_regex)
    return checker


@functools.cache
def _extended(draft: type[Validator]) -> type[Validator]:
    keywords: dict[str, Any] = {
        "pattern": _pattern,
        "patternProperties": _pattern_properties,
        "additionalProperties": _additional_properties,
    }
    extended: type[Validator] = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
        draft, keywords
    )
    extended.FORMAT_CHECKER = _format_checker(draft)
    return extended


def _draft(schema: Any) -> type[Validator]:
    declared = schema.get("$schema") if isinstance(schema, dict) else None
    if isinstance(declared, str):
        return _BY_URI.get(_uri_key(declared), jsonschema.Draft202012Validator)
    return jsonschema.Draft202012Validator


def draft_name(schema: Any) -> str:
    """The draft a schema is read as: "2020-12", "7", ..."""
    uri = str(_draft(schema).META_SCHEMA.get("$id") or _draft(schema).META_SCHEMA.get("id"))
    found = re.search(r"draft[-/]?0?(\d[\d-]*)", uri)
    return found.group(1) if found else uri


def validator_class(schema: Any) -> type[Validator]:
    """The validator class for the draft `schema` names in `$schema`, with ECMA-262 patterns."""
    return _extended(_draft(schema))


@functools.cache
def _meta(draft: type[Validator]) -> Validator:
    extended = _extended(draft)
    return extended(draft.META_SCHEMA, format_checker=extended.FORMAT_CHECKER)


def meta_validator(schema: Any) -> Validator:
    """The validator of `schema` itself: its draft's meta-schema, patterns read as ECMA-262."""
    return _meta(_draft(schema))
