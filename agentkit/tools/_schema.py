"""Function in, tool schema out: name, description, JSON schema and an argument validator.

Built from `inspect`, `typing.get_type_hints`, `docstring_parser` and pydantic's public API.
Every problem of a definition is collected and raised together in one `UserError`.
"""

from __future__ import annotations

import hashlib
import inspect
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import docstring_parser
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic_core import PydanticUndefined

from agentkit._context import RunContext
from agentkit.errors import ModelRetry, UserError
from agentkit.tools._callables import (
    behind_partials,
    signature_names,
    type_hints,
    unwrap_callable,
    where,
)
from agentkit.tools._coerce import Coercer
from agentkit.tools._rawschema import RecursiveReference, clean_schema, format_location
from agentkit.tools._strict import arguments_schema, unknown_keys

__all__ = [
    "NAME_PATTERN",
    "FunctionSchema",
    "check_name",
    "clean_schema",
    "describe_function",
    "format_location",
    "format_validation_error",
    "function_schema",
    "is_context_annotation",
    "wire_name",
]

# MCP's rule (and BFCL's names): up to 128 letters, digits, '_', '-' and '.'. The OpenAI
# format takes only 64 letters, digits, '_' and '-': such names travel as `wire_name`.
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_.-]{1,128}$")
WIRE_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


@dataclass(frozen=True, slots=True)
class FunctionSchema:
    """What the model is told about a function, and how its arguments are checked.

    Attributes:
        name: The tool name.
        description: The tool description.
        parameters: The JSON schema of the arguments, with no `$ref`.
        validate: Checks and coerces decoded arguments; returns the keyword arguments to call
            the function with, or raises `ModelRetry` with a message for the model.
        context_param: The name of the parameter that receives the `RunContext`, if any.
        positional: Parameters that must be passed positionally (positional-only ones).
    """

    name: str
    description: str
    parameters: dict[str, Any]
    validate: Callable[[dict[str, Any]], dict[str, Any]]
    context_param: str | None = None
    positional: tuple[str, ...] = ()


def check_name(name: object) -> str | None:
    """A problem with a tool name, or None when it is valid."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        return (
            f"tool name {name!r} is not valid: use 1 to 128 letters, digits, '_', '-' or '.' "
            "(pass name=... to choose another)"
        )
    return None


def wire_name(name: str, salt: str = "") -> str:
    """The name the model is told and calls: `name` itself when the OpenAI rule allows it.

    Otherwise its dots (and anything else outside the rule) become '_', and a name still
    longer than 64 characters keeps its first 55 and a hash of the whole: `a.b` is `a_b`.
    `salt` makes another, distinct name (two tools whose names map to one wire name).
    """
    if WIRE_PATTERN.match(name) and not salt:
        return name
    safe = re.sub(r"[^a-zA-Z0-9_-]", "_", name)
    if len(safe) <= 64 and not salt:
        return safe
    digest = hashlib.sha256(f"{name}\0{salt}".encode()).hexdigest()[:8]
    return f"{safe[:55]}_{digest}"


def is_context_annotation(annotation: object) -> bool:
    """Whether an annotation is `RunContext` or `RunContext[...]`, maybe `| None` or `Annotated`."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        return len(members) == 1 and is_context_annotation(members[0])
    return annotation is RunContext or typing.get_origin(annotation) is RunContext


def _mentions_context(annotation: object) -> bool:
    """Whether `RunContext` appears anywhere in an annotation (`list[RunContext]`, ...)."""
    if annotation is RunContext or typing.get_origin(annotation) is RunContext:
        return True
    return any(_mentions_context(arg) for arg in typing.get_args(annotation))


def describe_function(doc: docstring_parser.Docstring) -> str:
    """The tool description from a parsed docstring: short, long, and the documented return."""
    parts = [p for p in (doc.short_description, doc.long_description) if p]
    if doc.returns is not None and doc.returns.description:
        parts.append(f"Returns: {doc.returns.description}")
    return "\n\n".join(parts)


def _parse_docstring(fn: Callable[..., Any]) -> docstring_parser.Docstring:
    text = inspect.getdoc(fn) or ""
    if not (inspect.isroutine(fn) or inspect.isclass(fn)):
        # A callable object: its `__call__` documents the call, as a function's docstring does.
        text = inspect.getdoc(type(fn).__call__) or text
    try:
        return docstring_parser.parse(text)
    except docstring_parser.ParseError:
        # A docstring that no style parses still describes the tool; keep it whole.
        doc = docstring_parser.Docstring()
        doc.short_description = text or None
        return doc


def annotated_text(annotation: Any) -> str | None:
    """The description of `Annotated[str, "The customer ID"]`: its first plain string.

    The pattern openai-agents, LangChain and LlamaIndex document; pydantic ignores it.
    """
    if typing.get_origin(annotation) is not typing.Annotated:
        return None
    texts = [m for m in typing.get_args(annotation)[1:] if isinstance(m, str) and m.strip()]
    return texts[0].strip() if texts else None


def _with_metadata(annotation: Any, *infos: Any) -> Any:
    """Put `infos` before the annotation's own metadata, so the user's `Field(...)` wins."""
    if typing.get_origin(annotation) is typing.Annotated:
        inner, *metadata = typing.get_args(annotation)
        params = (inner, *infos, *metadata)
    else:
        params = (annotation, *infos)
    return typing.Annotated[params]


def function_schema(
    fn: Callable[..., Any], *, name: str | None = None, description: str | None = None
) -> FunctionSchema:
    """Describe `fn` as a tool.

    Raises:
        UserError: The definition has problems; all of them are listed, with `file:line`.
    """
    named = behind_partials(fn)  # a partial is described as the function it calls
    tool_name = name if name is not None else getattr(named, "__name__", "")
    problems: list[str] = []
    if (problem := check_name(tool_name)) is not None:
        problems.append(problem)

    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise UserError(f"cannot read the signature of {fn!r}: {exc}") from None
    try:
        # A callable object's parameters are those of its `__call__` (what `signature` reads).
        hints = type_hints(fn)
    except Exception as exc:  # NameError for unresolvable forward references, mostly
        problems.append(f"cannot resolve the type annotations: {type(exc).__name__}: {exc}")
        hints = None

    doc = _parse_docstring(named)
    param_docs = {p.arg_name.lstrip("*"): p.description or "" for p in doc.params}
    bound = unwrap_callable(fn)[1]
    fields, context_param, positional = _collect_parameters(
        signature, hints or {}, param_docs, bound, problems
    )
    # Parameters a partial binds are documented too, though the model does not see them.
    known = {*signature.parameters, *bound, *signature_names(named)}
    for documented in param_docs:
        if documented not in known:
            problems.append(
                f"the docstring documents parameter `{documented}`, which the function does not "
                f"have (parameters: {', '.join(signature.parameters) or 'none'})"
            )

    model: type[BaseModel] | None = None
    parameters: dict[str, Any] = {}
    nested = False
    if hints is not None:  # the types are checked even when other problems were found
        model, parameters, nested = _build_model(tool_name, fields, problems)
    if problems:
        raise UserError(f"tool `{tool_name}` ({where(fn)}) is not a valid tool:", problems)
    assert model is not None

    text = description if description is not None else describe_function(doc)
    return FunctionSchema(
        name=tool_name,
        description=text,
        parameters=parameters,
        validate=_model_validator(tool_name, model, tuple(fields), parameters, nested),
        context_param=context_param,
        positional=positional,
    )


def _collect_parameters(
    signature: inspect.Signature,
    hints: dict[str, Any],
    param_docs: dict[str, str],
    bound: frozenset[str],
    problems: list[str],
) -> tuple[dict[str, tuple[Any, Any, str | None]], str | None, tuple[str, ...]]:
    """`(annotation, default, docstring text)` by parameter, the RunContext parameter and the
    positional-only names; parameters in `bound` (set by a partial) are left out."""
    fields: dict[str, tuple[Any, Any, str | None]] = {}
    context_param: str | None = None
    positional: list[str] = []
    for pname, param in signature.parameters.items():
        if pname in bound:
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            star = "*" if param.kind is param.VAR_POSITIONAL else "**"
            problems.append(
                f"parameter `{star}{pname}`: variable arguments cannot be described to the "
                "model; declare each parameter by name"
            )
            continue
        annotation = hints.get(pname, param.annotation)
        if annotation is inspect.Parameter.empty:
            problems.append(
                f"parameter `{pname}` has no type annotation; add one (e.g. `{pname}: str`)"
            )
            continue
        if is_context_annotation(annotation):
            if context_param is not None:
                problems.append(f"parameter `{pname}`: only one RunContext parameter is allowed")
            context_param = pname
            continue
        if _mentions_context(annotation):
            # Described as an argument, the whole run would be shown to the model; refuse.
            problems.append(
                f"parameter `{pname}`: a RunContext parameter must be annotated `RunContext`, "
                "`RunContext[Deps]` or `RunContext[Deps] | None`"
            )
            continue
        if param.kind is param.POSITIONAL_ONLY:
            positional.append(pname)
        # No signature default: the field is required, unless `Field(default=...)` in
        # `Annotated` gives one (an explicit `...` would override it).
        default = PydanticUndefined if param.default is inspect.Parameter.empty else param.default
        fields[pname] = (annotation, default, param_docs.get(pname))
    return fields, context_param, tuple(positional)


def _model_fields(fields: dict[str, tuple[Any, Any, str | None]]) -> dict[str, Any]:
    """Pydantic field definitions under internal names, each aliased to its parameter's name.

    Parameter names such as `schema`, `json` or `copy` would shadow `BaseModel` attributes,
    and `model_config` or `_private` would not become fields at all; the alias keeps every
    parameter name as it is in the schema, the validation and the error locations.
    """
    out: dict[str, Any] = {}
    for i, (pname, (annotation, default, text)) in enumerate(fields.items()):
        infos = [Field(alias=pname)]
        # Nearest to the parameter wins: `Field(description=...)` (in the annotation's own
        # metadata, applied last), then an `Annotated` string, then the docstring.
        for described in (text, annotated_text(annotation)):
            if described:
                infos.append(Field(description=described))
        out[f"p{i}"] = (_with_metadata(annotation, *infos), default)
    return out


def _build_model(
    tool_name: str, fields: dict[str, tuple[Any, Any, str | None]], problems: list[str]
) -> tuple[type[BaseModel] | None, dict[str, Any], bool]:
    """The pydantic model of the arguments, its inlined JSON schema, and whether nested
    models must be checked for unknown keys (`_strict`); problems appended."""
    try:
        model: type[BaseModel] = create_model(
            f"{tool_name}_arguments",
            __config__=ConfigDict(
                extra="forbid", arbitrary_types_allowed=False, coerce_numbers_to_str=True
            ),
            **_model_fields(fields),
        )
        raw_schema, nested = arguments_schema(model)
    except Exception as exc:
        problems.extend(_type_problems(fields, exc))
        return None, {}, False
    try:
        return model, clean_schema(raw_schema), nested
    except RecursiveReference as exc:
        problems.append(
            f"type `{exc.name}` is recursive: it cannot be described without `$ref`, which "
            "several Llama servers reject; use a non-recursive shape (e.g. a flat list with "
            "parent ids)"
        )
        return None, {}, False


def _type_problems(fields: dict[str, tuple[Any, Any, str | None]], exc: Exception) -> list[str]:
    """Name the parameters whose types pydantic cannot validate or describe."""
    found = []
    for pname, field in fields.items():
        try:
            create_model("probe", **_model_fields({pname: field})).model_json_schema()
        except Exception as inner:
            reason = str(inner).split("\n", 1)[0]
            found.append(
                f"parameter `{pname}`: type `{_type_name(field[0])}` is not supported "
                f"({reason}); use basic types, a pydantic model, a dataclass or a TypedDict"
            )
    return found or [f"the parameters cannot be described: {str(exc).splitlines()[0]}"]


def _type_name(annotation: object) -> str:
    if isinstance(annotation, type):
        return annotation.__qualname__
    return repr(annotation).replace("typing.", "")


def _model_validator(
    tool_name: str,
    model: type[BaseModel],
    parameter_names: tuple[str, ...],
    parameters: dict[str, Any],
    nested: bool,
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    validator = model.__pydantic_validator__
    # `coerce_numbers_to_str` reaches dataclasses and TypedDicts but not a nested BaseModel,
    # which keeps its own config; the schema knows where strings go at every depth.
    numbers_as_text = Coercer(parameters, strings=False)
    # Internal field name -> parameter name (see `_model_fields`); the model is called by
    # the aliases, which are the parameter names unless a `Field(alias=...)` chose another.
    names = dict(zip(model.model_fields, parameter_names, strict=True))
    allowed = ", ".join(info.alias or f for f, info in model.model_fields.items()) or "none"

    def validate(arguments: dict[str, Any]) -> dict[str, Any]:
        try:
            instance = validator.validate_python(arguments)
        except ValidationError:
            # Only a call that fails pays for the walk over its arguments.
            arguments = numbers_as_text(arguments)
            try:
                instance = validator.validate_python(arguments)
            except ValidationError as exc:
                raise ModelRetry(format_validation_error(tool_name, exc, allowed)) from None
        # Fields holding `...` sentinel never happen: required fields were checked above.
        data = instance.__dict__
        out = {pname: data[field] for field, pname in names.items()}
        if nested and (extra := unknown_keys(arguments, out)):
            lines = [f"Invalid arguments for tool `{tool_name}`:"]
            lines += [
                f"- `{format_location(loc)}`: not a field of this object; remove it"
                for loc in extra
            ]
            lines.append(f"Call `{tool_name}` again with corrected arguments.")
            raise ModelRetry("\n".join(lines))
        return out

    return validate


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def format_validation_error(tool_name: str, exc: ValidationError, allowed: str) -> str:
    """One message listing every bad field: where, what was expected, what came."""
    lines = [f"Invalid arguments for tool `{tool_name}`:"]
    for error in exc.errors(include_url=False):
        loc = format_location(tuple(error["loc"]))
        kind = error["type"]
        if kind == "missing":
            lines.append(f"- `{loc}`: required, but missing")
        elif kind == "extra_forbidden" and len(error["loc"]) == 1:
            lines.append(f"- `{loc}`: not a parameter of this tool (parameters: {allowed})")
        elif kind == "extra_forbidden":
            lines.append(f"- `{loc}`: not a field of this object; remove it")
        else:
            lines.append(f"- `{loc}`: {error['msg']}; got {_shown(error.get('input'))}")
    lines.append(f"Call `{tool_name}` again with corrected arguments.")
    return "\n".join(lines)
