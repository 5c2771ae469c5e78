"""Functions in, tool schemas out: whole schemas, descriptions, definition errors, validation.

Every case compares the WHOLE `tool.parameters` and `tool.description`, so a stray `title`,
a leftover `$ref` or a lost description fails a test. Annotations here are strings
(`from __future__ import annotations`), as in most user code, so they are resolved by name.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import typing
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

import jsonschema
import pytest
import typing_extensions
from pydantic import BaseModel, Field, ValidationError

from agentkit import ModelRetry, RunContext, Tool, UserError
from agentkit.tools._schema import function_schema

# --------------------------------------------------------------------------------------------
# Types used by the cases (module level: string annotations resolve against these globals)


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Unit(enum.Enum):
    """Temperature unit."""

    C = "c"
    F = "f"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Item(BaseModel):
    name: str
    qty: int = 1


class Address(BaseModel):
    """A postal address."""

    street: str = Field(description="Street and number.")
    city: str


class Customer(BaseModel):
    name: str
    address: Address


@dataclasses.dataclass
class Point:
    """A point on the plane."""

    x: float
    y: float = 0.0


class Filters(typing_extensions.TypedDict):
    tag: str
    limit: typing_extensions.NotRequired[int]


class OldStyleDict(typing.TypedDict):
    key: str


class Node(BaseModel):
    value: int
    children: list[Node] = []


class Ping(BaseModel):
    pong: Optional[Pong] = None  # noqa: UP045 - the Optional spelling is under test


class Pong(BaseModel):
    ping: Optional[Ping] = None  # noqa: UP045


Ping.model_rebuild()


class Deps:
    """What a test agent would pass as `deps=`."""


class NotAModel:
    """An arbitrary class pydantic cannot validate."""


def obj(
    properties: dict[str, Any], required: tuple[str, ...] = (), *, closed: bool = True
) -> dict[str, Any]:
    """The object schema a function with these parameters must produce."""
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    if closed:
        schema["additionalProperties"] = False
    return schema


INT = {"type": "integer"}
STR = {"type": "string"}
NUM = {"type": "number"}
BOOL = {"type": "boolean"}
# Nested models refuse unknown keys as the top level does, and their schemas say so.
ITEM = {
    "type": "object",
    "properties": {"name": STR, "qty": {"type": "integer", "default": 1}},
    "required": ["name"],
    "additionalProperties": False,
}
ADDRESS = {
    "type": "object",
    "description": "A postal address.",
    "properties": {
        "street": {"type": "string", "description": "Street and number."},
        "city": STR,
    },
    "required": ["street", "city"],
    "additionalProperties": False,
}

# --------------------------------------------------------------------------------------------
# Signatures: scalars, optionals, defaults


def scalars(text: str, count: int, ratio: float, flag: bool) -> None:
    pass


def none_param(nothing: None) -> None:
    pass


def optional_without_default(limit: Optional[int]) -> None:  # noqa: UP045 - under test
    pass


def pipe_none_with_default(limit: int | None = None) -> None:
    pass


def defaults(text: str = "hi", count: int = 3, ratio: float = 1.5, flag: bool = False) -> None:
    pass


def union_param(key: Union[int, str]) -> None:  # noqa: UP007 - the Union spelling is under test
    pass


def any_param(payload: Any) -> None:
    pass


def no_parameters() -> str:
    return "ok"


def keyword_and_positional_only(a: int, /, b: str, *, c: bool = True) -> None:
    pass


# Literal and Enum


def literal_str(unit: Literal["c", "f"] = "c") -> None:
    pass


def literal_int(level: Literal[1, 2, 3]) -> None:
    pass


def literal_single(mode: Literal["only"]) -> None:
    pass


def enum_param(color: Color) -> None:
    pass


def enum_with_docstring(unit: Unit) -> None:
    pass


def enum_param_documented(unit: Unit) -> None:
    """Convert.

    Args:
        unit: Which unit to use.
    """


def int_enum_default(priority: Priority = Priority.LOW) -> None:
    pass


# Collections


def list_param(numbers: list[int]) -> None:
    pass


def fixed_tuple(pair: tuple[int, str]) -> None:
    pass


def variadic_tuple(values: tuple[float, ...]) -> None:
    pass


def set_param(tags: set[str]) -> None:
    pass


def dict_param(scores: dict[str, float]) -> None:
    pass


def nested_collections(rows: list[dict[str, int]]) -> None:
    pass


# Nested models, dataclasses, TypedDict


def model_param(item: Item) -> None:
    pass


def model_twice(first: Item, second: Item) -> None:
    pass


def nested_model(customer: Customer) -> None:
    pass


def list_of_models(items: list[Item]) -> None:
    pass


def optional_model(address: Address | None = None) -> None:
    pass


def dataclass_param(point: Point) -> None:
    pass


def typed_dict_param(filters: Filters) -> None:
    pass


# Formats


def dates(when: dt.datetime, day: dt.date) -> None:
    pass


def special_strings(id: uuid.UUID, path: Path, amount: Decimal) -> None:
    pass


# Annotated and Field


def annotated_description(city: Annotated[str, Field(description="City and country.")]) -> None:
    pass


def annotated_bounds(
    age: Annotated[int, Field(ge=0, le=150)],
    ratio: Annotated[float, Field(gt=0, lt=1)],
) -> None:
    pass


def annotated_strings(
    code: Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO currency code.")],
    note: Annotated[str, Field(min_length=1, max_length=20)] = "n/a",
) -> None:
    pass


def field_wins_over_docstring(
    city: Annotated[str, Field(description="From Field.")], country: str
) -> None:
    """Look up a place.

    Args:
        city: From the docstring.
        country: Only in the docstring.
    """


def field_as_default(
    limit: int = Field(default=10, ge=1, description="At most this many."),
) -> None:
    pass


def annotated_field_default(limit: Annotated[int, Field(default=5)]) -> None:
    pass


def names_that_clash_with_pydantic(
    schema: str, json: bool, copy: int, model_config: str, _private: int
) -> None:
    pass


def names_that_clash_with_json_schema(title: str, properties: int = 1, default: str = "") -> None:
    pass


# Docstrings in the four styles, and descriptions


def google_style(city: str, days: int = 1) -> str:
    """Get the weather forecast for a city.

    Uses the national weather service.

    Args:
        city (str): City and country, e.g. "Paris, France".
        days: How many days ahead,
            from 1 to 7.

    Returns:
        str: The forecast as text.

    Raises:
        ValueError: The city is unknown.
    """
    return ""


def numpy_style(city: str, days: int = 1) -> str:
    """Get the weather forecast for a city.

    Uses the national weather service.

    Parameters
    ----------
    city : str
        City and country, e.g. "Paris, France".
    days : int, optional
        How many days ahead.

    Returns
    -------
    str
        The forecast as text.
    """
    return ""


def rest_style(city: str, days: int = 1) -> str:
    """Get the weather forecast for a city.

    Uses the national weather service.

    :param city: City and country, e.g. "Paris, France".
    :type city: str
    :param int days: How many days ahead.
    :returns: The forecast as text.
    :rtype: str
    """
    return ""


def epydoc_style(city: str, days: int = 1) -> str:
    """Get the weather forecast for a city.

    Uses the national weather service.

    @param city: City and country, e.g. "Paris, France".
    @type city: str
    @param days: How many days ahead.
    @return: The forecast as text.
    @rtype: str
    """
    return ""


def no_docstring(x: int) -> None:
    pass


def short_docstring_only(x: int) -> None:
    """Double a number."""


def return_type_without_text(x: int) -> int:
    """Double a number.

    :rtype: int
    """
    return 2 * x


# Async functions and the RunContext


async def async_google(query: str, limit: int = 5) -> list[str]:
    """Search the web.

    Args:
        query: What to look for.
        limit: At most this many results.
    """
    return []


def with_context(ctx: RunContext, query: str) -> str:
    return query


async def with_typed_context(query: str, ctx: RunContext[Deps]) -> str:
    """Search the database.

    Args:
        query: What to look for.
        ctx: The run (filled in by the agent).
    """
    return query


def with_optional_context(query: str, ctx: RunContext[Deps] | None = None) -> str:
    # `| None = None` keeps the function callable directly, without an agent.
    return query


def with_annotated_context(ctx: Annotated[RunContext[Deps], "the run"], query: str) -> str:
    return query


WEATHER_DESCRIPTION = (
    "Get the weather forecast for a city.\n\nUses the national weather service.\n\n"
    "Returns: The forecast as text."
)
WEATHER_PARAMETERS = obj(
    {
        "city": {"type": "string", "description": 'City and country, e.g. "Paris, France".'},
        "days": {"type": "integer", "default": 1, "description": "How many days ahead."},
    },
    ("city",),
)
# In the Google docstring the description of `days` spans two lines; the line break stays.
GOOGLE_PARAMETERS = obj(
    {
        "city": {"type": "string", "description": 'City and country, e.g. "Paris, France".'},
        "days": {
            "type": "integer",
            "default": 1,
            "description": "How many days ahead,\nfrom 1 to 7.",
        },
    },
    ("city",),
)

CASES = [
    pytest.param(
        scalars,
        obj(
            {"text": STR, "count": INT, "ratio": NUM, "flag": BOOL},
            ("text", "count", "ratio", "flag"),
        ),
        "",
        id="scalars",
    ),
    pytest.param(none_param, obj({"nothing": {"type": "null"}}, ("nothing",)), "", id="none-type"),
    pytest.param(
        optional_without_default,
        obj({"limit": {"anyOf": [INT, {"type": "null"}]}}, ("limit",)),
        "",
        id="optional-without-default-is-required",
    ),
    pytest.param(
        pipe_none_with_default,
        obj({"limit": {"anyOf": [INT, {"type": "null"}], "default": None}}),
        "",
        id="x-or-none-with-default",
    ),
    pytest.param(
        defaults,
        obj(
            {
                "text": {"type": "string", "default": "hi"},
                "count": {"type": "integer", "default": 3},
                "ratio": {"type": "number", "default": 1.5},
                "flag": {"type": "boolean", "default": False},
            }
        ),
        "",
        id="defaults-not-required",
    ),
    pytest.param(union_param, obj({"key": {"anyOf": [INT, STR]}}, ("key",)), "", id="union"),
    pytest.param(any_param, obj({"payload": {}}, ("payload",)), "", id="any"),
    pytest.param(no_parameters, obj({}), "", id="no-parameters"),
    pytest.param(
        keyword_and_positional_only,
        obj({"a": INT, "b": STR, "c": {"type": "boolean", "default": True}}, ("a", "b")),
        "",
        id="positional-and-keyword-only",
    ),
    pytest.param(
        literal_str,
        obj({"unit": {"type": "string", "enum": ["c", "f"], "default": "c"}}),
        "",
        id="literal-str",
    ),
    pytest.param(
        literal_int,
        obj({"level": {"type": "integer", "enum": [1, 2, 3]}}, ("level",)),
        "",
        id="literal-int",
    ),
    pytest.param(
        literal_single,
        obj({"mode": {"type": "string", "enum": ["only"]}}, ("mode",)),
        "",
        id="literal-single-value-as-enum",
    ),
    pytest.param(
        enum_param,
        obj({"color": {"type": "string", "enum": ["red", "green"]}}, ("color",)),
        "",
        id="enum",
    ),
    pytest.param(
        enum_with_docstring,
        obj(
            {"unit": {"type": "string", "enum": ["c", "f"], "description": "Temperature unit."}},
            ("unit",),
        ),
        "",
        id="enum-class-docstring",
    ),
    pytest.param(
        enum_param_documented,
        obj(
            {"unit": {"type": "string", "enum": ["c", "f"], "description": "Which unit to use."}},
            ("unit",),
        ),
        "Convert.",
        id="enum-parameter-doc-wins-over-class-doc",
    ),
    pytest.param(
        int_enum_default,
        obj({"priority": {"type": "integer", "enum": [1, 2], "default": 1}}),
        "",
        id="int-enum-default-as-value",
    ),
    pytest.param(
        list_param,
        obj({"numbers": {"type": "array", "items": INT}}, ("numbers",)),
        "",
        id="list",
    ),
    pytest.param(
        fixed_tuple,
        obj(
            {
                "pair": {
                    "type": "array",
                    "prefixItems": [INT, STR],
                    "minItems": 2,
                    "maxItems": 2,
                }
            },
            ("pair",),
        ),
        "",
        id="tuple-fixed",
    ),
    pytest.param(
        variadic_tuple,
        obj({"values": {"type": "array", "items": NUM}}, ("values",)),
        "",
        id="tuple-variadic",
    ),
    pytest.param(
        set_param,
        obj({"tags": {"type": "array", "items": STR, "uniqueItems": True}}, ("tags",)),
        "",
        id="set",
    ),
    pytest.param(
        dict_param,
        obj({"scores": {"type": "object", "additionalProperties": NUM}}, ("scores",)),
        "",
        id="dict-str-float",
    ),
    pytest.param(
        nested_collections,
        obj(
            {
                "rows": {
                    "type": "array",
                    "items": {"type": "object", "additionalProperties": INT},
                }
            },
            ("rows",),
        ),
        "",
        id="list-of-dicts",
    ),
    pytest.param(model_param, obj({"item": ITEM}, ("item",)), "", id="pydantic-model"),
    pytest.param(
        model_twice,
        obj({"first": ITEM, "second": ITEM}, ("first", "second")),
        "",
        id="model-used-twice-inlined-twice",
    ),
    pytest.param(
        nested_model,
        obj(
            {
                "customer": {
                    "type": "object",
                    "properties": {"name": STR, "address": ADDRESS},
                    "required": ["name", "address"],
                    "additionalProperties": False,
                }
            },
            ("customer",),
        ),
        "",
        id="nested-models-inlined",
    ),
    pytest.param(
        list_of_models,
        obj({"items": {"type": "array", "items": ITEM}}, ("items",)),
        "",
        id="list-of-models",
    ),
    pytest.param(
        optional_model,
        obj({"address": {"anyOf": [ADDRESS, {"type": "null"}], "default": None}}),
        "",
        id="optional-model",
    ),
    pytest.param(
        dataclass_param,
        obj(
            {
                "point": obj({"x": NUM, "y": {"type": "number", "default": 0.0}}, ("x",))
                | {"description": "A point on the plane."}
            },
            ("point",),
        ),
        "",
        id="dataclass",
    ),
    pytest.param(
        typed_dict_param,
        obj({"filters": obj({"tag": STR, "limit": INT}, ("tag",))}, ("filters",)),
        "",
        id="typed-dict",
    ),
    pytest.param(
        dates,
        obj(
            {
                "when": {"type": "string", "format": "date-time"},
                "day": {"type": "string", "format": "date"},
            },
            ("when", "day"),
        ),
        "",
        id="datetime-and-date",
    ),
    pytest.param(
        special_strings,
        obj(
            {
                "id": {"type": "string", "format": "uuid"},
                "path": {"type": "string", "format": "path"},
                "amount": {"anyOf": [NUM, STR]},
            },
            ("id", "path", "amount"),
        ),
        "",
        id="uuid-path-decimal",
    ),
    pytest.param(
        annotated_description,
        obj({"city": {"type": "string", "description": "City and country."}}, ("city",)),
        "",
        id="annotated-field-description",
    ),
    pytest.param(
        annotated_bounds,
        obj(
            {
                "age": {"type": "integer", "minimum": 0, "maximum": 150},
                "ratio": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
            },
            ("age", "ratio"),
        ),
        "",
        id="annotated-field-bounds",
    ),
    pytest.param(
        annotated_strings,
        obj(
            {
                "code": {
                    "type": "string",
                    "pattern": "^[A-Z]{3}$",
                    "description": "ISO currency code.",
                },
                "note": {"type": "string", "minLength": 1, "maxLength": 20, "default": "n/a"},
            },
            ("code",),
        ),
        "",
        id="annotated-field-pattern-and-lengths",
    ),
    pytest.param(
        field_wins_over_docstring,
        obj(
            {
                "city": {"type": "string", "description": "From Field."},
                "country": {"type": "string", "description": "Only in the docstring."},
            },
            ("city", "country"),
        ),
        "Look up a place.",
        id="field-description-wins-over-docstring",
    ),
    pytest.param(
        field_as_default,
        obj(
            {
                "limit": {
                    "type": "integer",
                    "minimum": 1,
                    "default": 10,
                    "description": "At most this many.",
                }
            }
        ),
        "",
        id="field-as-default-value",
    ),
    pytest.param(
        annotated_field_default,
        obj({"limit": {"type": "integer", "default": 5}}),
        "",
        id="annotated-field-default-not-required",
    ),
    pytest.param(
        names_that_clash_with_pydantic,
        obj(
            {"schema": STR, "json": BOOL, "copy": INT, "model_config": STR, "_private": INT},
            ("schema", "json", "copy", "model_config", "_private"),
        ),
        "",
        id="parameter-names-that-clash-with-basemodel",
    ),
    pytest.param(
        names_that_clash_with_json_schema,
        obj(
            {
                "title": STR,
                "properties": {"type": "integer", "default": 1},
                "default": {"type": "string", "default": ""},
            },
            ("title",),
        ),
        "",
        id="parameter-names-that-are-schema-keywords",
    ),
    pytest.param(google_style, GOOGLE_PARAMETERS, WEATHER_DESCRIPTION, id="docstring-google"),
    pytest.param(numpy_style, WEATHER_PARAMETERS, WEATHER_DESCRIPTION, id="docstring-numpy"),
    pytest.param(rest_style, WEATHER_PARAMETERS, WEATHER_DESCRIPTION, id="docstring-rest"),
    pytest.param(epydoc_style, WEATHER_PARAMETERS, WEATHER_DESCRIPTION, id="docstring-epydoc"),
    pytest.param(no_docstring, obj({"x": INT}, ("x",)), "", id="no-docstring"),
    pytest.param(
        short_docstring_only,
        obj({"x": INT}, ("x",)),
        "Double a number.",
        id="docstring-short-only",
    ),
    pytest.param(
        return_type_without_text,
        obj({"x": INT}, ("x",)),
        "Double a number.",
        id="documented-return-type-without-text-adds-nothing",
    ),
    pytest.param(
        async_google,
        obj(
            {
                "query": {"type": "string", "description": "What to look for."},
                "limit": {
                    "type": "integer",
                    "default": 5,
                    "description": "At most this many results.",
                },
            },
            ("query",),
        ),
        "Search the web.",
        id="async-function",
    ),
    pytest.param(with_context, obj({"query": STR}, ("query",)), "", id="run-context-left-out"),
    pytest.param(
        with_typed_context,
        obj({"query": {"type": "string", "description": "What to look for."}}, ("query",)),
        "Search the database.",
        id="typed-run-context-left-out-and-may-be-documented",
    ),
    pytest.param(
        with_optional_context,
        obj({"query": STR}, ("query",)),
        "",
        id="optional-run-context-left-out",
    ),
    pytest.param(
        with_annotated_context,
        obj({"query": STR}, ("query",)),
        "",
        id="annotated-run-context-left-out",
    ),
]


@pytest.mark.parametrize(("function", "parameters", "description"), CASES)
def test_whole_schema_and_description(
    function: Callable[..., Any], parameters: dict[str, Any], description: str
) -> None:
    tool = Tool.from_function(function)
    assert tool.name == function.__name__
    assert tool.parameters == parameters
    assert tool.description == description
    assert tool.definition() == {
        "type": "function",
        "function": {
            "name": function.__name__,
            "description": description,
            "parameters": parameters,
        },
    }


def test_there_are_at_least_forty_whole_schema_cases() -> None:
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)


def test_function_schema_record_reports_context_and_positional_parameters() -> None:
    record = function_schema(keyword_and_positional_only)
    assert (record.name, record.context_param, record.positional) == (
        "keyword_and_positional_only",
        None,
        ("a",),
    )
    assert function_schema(with_typed_context).context_param == "ctx"
    assert function_schema(with_context).context_param == "ctx"
    assert function_schema(with_optional_context).context_param == "ctx"
    assert function_schema(with_annotated_context).context_param == "ctx"


def test_name_and_description_can_be_overridden() -> None:
    tool = Tool.from_function(google_style, name="forecast", description="Weather ahead.")
    assert (tool.name, tool.description) == ("forecast", "Weather ahead.")
    assert tool.parameters == GOOGLE_PARAMETERS


def test_an_empty_description_overrides_the_docstring() -> None:
    assert Tool.from_function(google_style, description="").description == ""


# --------------------------------------------------------------------------------------------
# Definition errors: one UserError listing every problem, with file:line


def _line_of(name: str) -> int:
    """The line of `def name(` in this file, found by reading the source, not the code object."""
    lines = Path(__file__).read_text(encoding="utf-8").splitlines()
    return next(i for i, text in enumerate(lines, 1) if text.startswith(f"def {name}("))


def _problems(function: Callable[..., Any], **kwargs: Any) -> list[str]:
    with pytest.raises(UserError) as info:
        Tool.from_function(function, **kwargs)
    return info.value.problems


def missing_annotation(city, days: int) -> None:
    pass


def var_positional(*args: int) -> None:
    pass


def var_keyword(**kwargs: str) -> None:
    pass


def documents_a_ghost(city: str) -> None:
    """Look up a city.

    Args:
        city: The city.
        country: Not a parameter.
    """


def documents_a_ghost_rest(city: str) -> None:
    """Look up a city.

    :param town: Not a parameter.
    """


def unsupported_type(thing: NotAModel) -> None:
    pass


def callable_type(callback: typing.Callable[[int], int]) -> None:
    pass


def old_typed_dict(data: OldStyleDict) -> None:
    pass


def recursive_model(tree: Node) -> None:
    pass


def mutually_recursive(ping: Ping) -> None:
    pass


def two_contexts(a: RunContext[Deps], b: RunContext[Deps]) -> None:
    pass


def unresolvable(thing: DoesNotExist) -> None:  # noqa: F821 - the missing name is under test
    pass


def several_problems(
    city,
    *rest: str,
    when: NotAModel,
    **options: int,
) -> None:
    """Do too much.

    Args:
        city: The city.
        country: Not a parameter.
    """


def test_missing_annotation() -> None:
    assert _problems(missing_annotation) == [
        "parameter `city` has no type annotation; add one (e.g. `city: str`)"
    ]


@pytest.mark.parametrize(
    ("function", "shown"), [(var_positional, "*args"), (var_keyword, "**kwargs")]
)
def test_variable_arguments(function: Callable[..., Any], shown: str) -> None:
    assert _problems(function) == [
        f"parameter `{shown}`: variable arguments cannot be described to the model; "
        "declare each parameter by name"
    ]


@pytest.mark.parametrize(
    ("function", "ghost"), [(documents_a_ghost, "country"), (documents_a_ghost_rest, "town")]
)
def test_docstring_documents_a_parameter_that_does_not_exist(
    function: Callable[..., Any], ghost: str
) -> None:
    assert _problems(function) == [
        f"the docstring documents parameter `{ghost}`, which the function does not have "
        "(parameters: city)"
    ]


def test_unsupported_type_names_the_parameter_and_the_type() -> None:
    (problem,) = _problems(unsupported_type)
    assert problem.startswith("parameter `thing`: type `NotAModel` is not supported (")
    assert problem.endswith("use basic types, a pydantic model, a dataclass or a TypedDict")


def test_type_pydantic_cannot_describe_as_json_schema() -> None:
    (problem,) = _problems(callable_type)
    assert problem.startswith("parameter `callback`: type `Callable[[int], int]` is not supported")


def test_typing_typed_dict_on_old_python_says_to_use_typing_extensions() -> None:
    import sys

    if sys.version_info >= (3, 12):
        assert Tool.from_function(old_typed_dict).parameters == obj(
            {"data": obj({"key": STR}, ("key",))}, ("data",)
        )
        return
    (problem,) = _problems(old_typed_dict)
    assert problem.startswith("parameter `data`: type `OldStyleDict` is not supported")
    assert "typing_extensions.TypedDict" in problem


@pytest.mark.parametrize(
    ("function", "type_name"), [(recursive_model, "Node"), (mutually_recursive, "Ping")]
)
def test_recursive_model_is_a_definition_error(
    function: Callable[..., Any], type_name: str
) -> None:
    (problem,) = _problems(function)
    assert problem.startswith(f"type `{type_name}` is recursive: it cannot be described")
    assert "$ref" in problem


def test_only_one_run_context_parameter() -> None:
    assert _problems(two_contexts) == ["parameter `b`: only one RunContext parameter is allowed"]


def context_in_a_list(contexts: list[RunContext[Deps]]) -> None:
    pass


def context_or_text(ctx: RunContext[Deps] | str) -> None:
    pass


@pytest.mark.parametrize("function", [context_in_a_list, context_or_text])
def test_run_context_in_another_type_is_refused_not_shown_to_the_model(
    function: Callable[..., Any],
) -> None:
    (problem,) = _problems(function)
    assert problem.endswith(
        ": a RunContext parameter must be annotated `RunContext`, `RunContext[Deps]` or "
        "`RunContext[Deps] | None`"
    )


def test_unresolvable_annotation() -> None:
    (problem,) = _problems(unresolvable)
    assert problem == (
        "cannot resolve the type annotations: NameError: name 'DoesNotExist' is not defined"
    )


def test_local_class_under_string_annotations_is_reported_not_guessed() -> None:
    class Local(BaseModel):
        x: int

    def uses_local(value: Local) -> None:
        pass

    (problem,) = _problems(uses_local)
    assert "name 'Local' is not defined" in problem


@pytest.mark.parametrize("name", ["", "has space", "a" * 129, "naïve", "semi;colon", "slash/name"])
def test_invalid_names(name: str) -> None:
    assert _problems(scalars, name=name) == [
        f"tool name {name!r} is not valid: use 1 to 128 letters, digits, '_', '-' or '.' "
        "(pass name=... to choose another)"
    ]


@pytest.mark.parametrize(
    "name", ["a", "a" * 64, "get-weather_2", "A-Z_0-9", "dotted.name", "b" * 128]
)
def test_valid_names(name: str) -> None:
    assert Tool.from_function(scalars, name=name).name == name


def test_a_lambda_needs_a_name() -> None:
    problems = _problems(lambda x: x)
    assert problems[0].startswith("tool name '<lambda>' is not valid")


def test_several_problems_are_listed_together_with_file_and_line() -> None:
    with pytest.raises(UserError) as info:
        Tool.from_function(several_problems)
    error = info.value
    assert error.problems == [
        "parameter `city` has no type annotation; add one (e.g. `city: str`)",
        "parameter `*rest`: variable arguments cannot be described to the model; "
        "declare each parameter by name",
        "parameter `**options`: variable arguments cannot be described to the model; "
        "declare each parameter by name",
        "the docstring documents parameter `country`, which the function does not have "
        "(parameters: city, rest, when, options)",
        error.problems[-1],
    ]
    # The types are checked too, although other problems were found first.
    assert error.problems[-1].startswith("parameter `when`: type `NotAModel` is not supported")
    message = str(error)
    first_line = message.splitlines()[0]
    assert first_line.startswith("tool `several_problems` (")
    assert first_line.endswith(
        f"{Path(__file__).name}:{_line_of('several_problems')}) is not a valid tool:"
    )
    for problem in error.problems:
        assert f"  - {problem}" in message


def test_bad_name_and_bad_types_are_reported_together() -> None:
    problems = _problems(unsupported_type, name="bad name")
    assert len(problems) == 2
    assert problems[0].startswith("tool name 'bad name' is not valid")
    assert problems[1].startswith("parameter `thing`: type `NotAModel` is not supported")


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"timeout": 0}, ["timeout must be a positive number of seconds or None: 0"]),
        ({"timeout": -1.5}, ["timeout must be a positive number of seconds or None: -1.5"]),
        ({"max_failures": 0}, ["max_failures must be a whole number >= 1 or None: 0"]),
        (
            {"timeout": 0, "max_failures": 1.5},
            [
                "timeout must be a positive number of seconds or None: 0",
                "max_failures must be a whole number >= 1 or None: 1.5",
            ],
        ),
    ],
)
def test_bad_tool_options(kwargs: dict[str, Any], expected: list[str]) -> None:
    assert _problems(scalars, **kwargs) == expected


# --------------------------------------------------------------------------------------------
# Validation: lax coercion, and one message listing every bad field


class Line(BaseModel):
    sku: str
    qty: int


def order(items: list[Line], note: str = "") -> None:
    pass


def typed_arguments(
    count: int,
    ratio: float,
    flag: bool,
    when: dt.datetime,
    day: dt.date,
    id: uuid.UUID,
    amount: Decimal,
    path: Path,
    color: Color,
    pair: tuple[int, str],
    tags: set[str],
    point: Point,
    filters: Filters,
) -> None:
    pass


def constrained(
    unit: Literal["c", "f"],
    age: Annotated[int, Field(ge=0, le=150)],
    code: Annotated[str, Field(pattern=r"^[A-Z]{3}$")],
) -> None:
    pass


def with_nested_dict_extra(filters: Filters, point: Point) -> None:
    pass


def test_lax_coercion_of_what_llama_sends() -> None:
    tool = Tool.from_function(typed_arguments)
    arguments = tool.validate(
        {
            "count": "10",
            "ratio": "3.5",
            "flag": "true",
            "when": "2024-05-06T07:08:09",
            "day": "2024-05-06",
            "id": "12345678-1234-5678-1234-567812345678",
            "amount": "1.10",
            "path": "data/file.txt",
            "color": "green",
            "pair": [1, "a"],
            "tags": ["x", "y", "x"],
            "point": {"x": "1.5"},
            "filters": {"tag": "news", "limit": "3"},
        }
    )
    assert arguments == {
        "count": 10,
        "ratio": 3.5,
        "flag": True,
        "when": dt.datetime(2024, 5, 6, 7, 8, 9),
        "day": dt.date(2024, 5, 6),
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "amount": Decimal("1.10"),
        "path": Path("data/file.txt"),
        "color": Color.GREEN,
        "pair": (1, "a"),
        "tags": {"x", "y"},
        "point": Point(x=1.5, y=0.0),
        "filters": {"tag": "news", "limit": 3},
    }
    assert type(arguments["count"]) is int
    assert type(arguments["when"]) is dt.datetime


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("false", False), ("False", False), ("0", False), ("yes", True), (1, True)],
)
def test_boolean_spellings(raw: object, expected: bool) -> None:
    def switch(on: bool) -> None:
        pass

    assert Tool.from_function(switch).validate({"on": raw}) == {"on": expected}


def test_nested_model_built_from_a_dict_with_coercion() -> None:
    arguments = Tool.from_function(order).validate(
        {"items": [{"sku": "A1", "qty": "2"}, {"sku": "B2", "qty": 5}]}
    )
    assert arguments == {"items": [Line(sku="A1", qty=2), Line(sku="B2", qty=5)], "note": ""}
    assert all(isinstance(line, Line) for line in arguments["items"])


def test_defaults_are_filled_in_and_context_is_not_validated() -> None:
    assert Tool.from_function(defaults).validate({"count": "7"}) == {
        "text": "hi",
        "count": 7,
        "ratio": 1.5,
        "flag": False,
    }
    assert Tool.from_function(with_typed_context).validate({"query": "q"}) == {"query": "q"}


def test_annotated_field_default_is_used_when_the_argument_is_missing() -> None:
    assert Tool.from_function(annotated_field_default).validate({}) == {"limit": 5}


def test_parameter_names_that_clash_with_pydantic_validate_under_their_own_names() -> None:
    tool = Tool.from_function(names_that_clash_with_pydantic)
    arguments = {"schema": "s", "json": "true", "copy": "2", "model_config": "m", "_private": 3}
    assert tool.validate(arguments) == {
        "schema": "s",
        "json": True,
        "copy": 2,
        "model_config": "m",
        "_private": 3,
    }


def _retry_message(tool: Tool, arguments: dict[str, Any]) -> str:
    with pytest.raises(ModelRetry) as info:
        tool.validate(arguments)
    assert info.value.message == str(info.value)
    return info.value.message


def test_every_bad_field_is_listed_with_its_path_expectation_and_value() -> None:
    message = _retry_message(
        Tool.from_function(order),
        {"items": [{"sku": "A1", "qty": 1}, {"sku": "B2", "qty": "lots"}, {"qty": 3}], "note": [5]},
    )
    lines = message.splitlines()
    assert lines[0] == "Invalid arguments for tool `order`:"
    assert lines[-1] == "Call `order` again with corrected arguments."
    body = lines[1:-1]
    assert len(body) == 3
    assert body[0].startswith("- `items[1].qty`: Input should be a valid integer")
    assert body[0].endswith("; got 'lots'")
    assert body[1] == "- `items[2].sku`: required, but missing"
    assert body[2].startswith("- `note`: Input should be a valid string")
    assert body[2].endswith("; got [5]")


def test_numbers_for_string_parameters_are_accepted_as_text() -> None:
    # Llama often sends {"zip": 75001} for a string parameter.
    def lookup(zip_code: str) -> str:
        """Look up a postal code.

        Args:
            zip_code: The code.
        """
        return zip_code

    assert Tool.from_function(lookup).validate({"zip_code": 75001}) == {"zip_code": "75001"}


class Postal(BaseModel):
    zip: str
    since: Optional[dt.date] = None  # noqa: UP045


class Cat(BaseModel):
    kind: Literal["cat"]
    name: str


class Dog(BaseModel):
    kind: Literal["dog"]
    name: str
    age: int = 0


class Parcel(BaseModel):
    to: Postal
    stops: list[Postal] = []


def ship(
    to: Postal,
    stops: list[Postal],
    back: Optional[Postal],  # noqa: UP045
    by_name: dict[str, Postal],
    parcel: Parcel,
    pet: Annotated[Union[Cat, Dog], Field(discriminator="kind")],  # noqa: UP007
) -> None:
    pass


def test_numbers_for_strings_are_text_in_nested_models_at_any_depth() -> None:
    arguments = Tool.from_function(ship).validate(
        {
            "to": {"zip": 75001},
            "stops": [{"zip": 1}, {"zip": "2"}],
            "back": {"zip": 3.5},
            "by_name": {"home": {"zip": 4}},
            "parcel": {"to": {"zip": 5}, "stops": [{"zip": 6}]},
            "pet": {"kind": "dog", "name": 7, "age": "3"},
        }
    )
    assert arguments == {
        "to": Postal(zip="75001"),
        "stops": [Postal(zip="1"), Postal(zip="2")],
        "back": Postal(zip="3.5"),
        "by_name": {"home": Postal(zip="4")},
        "parcel": Parcel(to=Postal(zip="5"), stops=[Postal(zip="6")]),
        "pet": Dog(kind="dog", name="7", age=3),
    }
    # The user's models are left as they were, outside agentkit.
    assert "coerce_numbers_to_str" not in Postal.model_config
    with pytest.raises(ValidationError):
        Postal(zip=75001)  # type: ignore[arg-type]


def test_numbers_stay_numbers_where_pydantic_would_not_make_them_text() -> None:
    def pick(code: Literal["1", "2"], either: Union[int, str], on: Postal) -> None:  # noqa: UP007
        pass

    tool = Tool.from_function(pick)
    arguments = tool.validate({"code": "1", "either": 8, "on": {"zip": "z", "since": 0}})
    assert arguments["either"] == 8
    assert arguments["on"].since == dt.date(1970, 1, 1)  # a timestamp, as pydantic reads it
    message = _retry_message(tool, {"code": 3, "either": 8, "on": {"zip": True}})
    assert message.splitlines()[1:-1] == [
        "- `code`: Input should be '1' or '2'; got 3",
        "- `on.zip`: Input should be a valid string; got True",
    ]


def test_missing_and_extra_arguments_name_the_parameters() -> None:
    message = _retry_message(Tool.from_function(with_typed_context), {"querry": "typo", "limit": 3})
    assert message == (
        "Invalid arguments for tool `with_typed_context`:\n"
        "- `query`: required, but missing\n"
        "- `querry`: not a parameter of this tool (parameters: query)\n"
        "- `limit`: not a parameter of this tool (parameters: query)\n"
        "Call `with_typed_context` again with corrected arguments."
    )


def test_a_tool_without_parameters_rejects_any_argument() -> None:
    message = _retry_message(Tool.from_function(no_parameters), {"x": 1})
    assert "- `x`: not a parameter of this tool (parameters: none)" in message.splitlines()


def test_extra_key_inside_a_nested_object_is_not_called_a_parameter() -> None:
    message = _retry_message(
        Tool.from_function(with_nested_dict_extra),
        {"filters": {"tag": "a", "colour": "red"}, "point": {"x": 1, "z": 2}},
    )
    body = message.splitlines()[1:-1]
    assert body[0] == "- `filters.colour`: not a field of this object; remove it"
    assert body[1].startswith("- `point.z`: ")
    assert "not a parameter of this tool" not in message


def test_constraint_failures_say_what_was_expected() -> None:
    message = _retry_message(
        Tool.from_function(constrained), {"unit": "k", "age": "200", "code": "usd"}
    )
    assert message.splitlines()[1:-1] == [
        "- `unit`: Input should be 'c' or 'f'; got 'k'",
        "- `age`: Input should be less than or equal to 150; got '200'",
        "- `code`: String should match pattern '^[A-Z]{3}$'; got 'usd'",
    ]


@pytest.mark.parametrize(
    ("arguments", "path", "expected", "got"),
    [
        ({"count": "ten"}, "count", "valid integer", "'ten'"),
        ({"count": 2.5}, "count", "fractional part", "2.5"),
        ({"ratio": "fast"}, "ratio", "valid number", "'fast'"),
        ({"flag": "maybe"}, "flag", "valid boolean", "'maybe'"),
        ({"when": "yesterday"}, "when", "valid datetime", "'yesterday'"),
        ({"day": "2024-13-40"}, "day", "valid date", "'2024-13-40'"),
        ({"id": "nope"}, "id", "valid UUID", "'nope'"),
        ({"color": "blue"}, "color", "'red' or 'green'", "'blue'"),
        ({"pair": [1]}, "pair[1]", "required, but missing", None),
        ({"point": {"x": "left"}}, "point.x", "valid number", "'left'"),
    ],
)
def test_single_failures(
    arguments: dict[str, Any], path: str, expected: str, got: str | None
) -> None:
    valid: dict[str, Any] = {
        "count": 1,
        "ratio": 1.0,
        "flag": True,
        "when": "2024-01-01T00:00:00",
        "day": "2024-01-01",
        "id": "12345678-1234-5678-1234-567812345678",
        "amount": 1,
        "path": "p",
        "color": "red",
        "pair": [1, "a"],
        "tags": [],
        "point": {"x": 0},
        "filters": {"tag": "t"},
    }
    message = _retry_message(Tool.from_function(typed_arguments), valid | arguments)
    (line,) = message.splitlines()[1:-1]
    assert line.startswith(f"- `{path}`: ")
    assert expected in line
    if got is not None:
        assert line.endswith(f"; got {got}")


def test_long_values_are_shortened_in_the_message() -> None:
    message = _retry_message(
        Tool.from_function(scalars), {"text": "t", "count": "x" * 500, "ratio": 1, "flag": True}
    )
    (line,) = message.splitlines()[1:-1]
    assert line.endswith("...")
    assert "x" * 100 not in line
    assert len(line) < 200


# --------------------------------------------------------------------------------------------
# Every schema the suite produces is a valid Draft 2020-12 schema, with no references


def _uses_references(node: object) -> bool:
    if isinstance(node, dict):
        return "$ref" in node or "$defs" in node or any(_uses_references(v) for v in node.values())
    if isinstance(node, list):
        return any(_uses_references(v) for v in node)
    return False


def _all_functions() -> list[Any]:
    from_cases = [c.values[0] for c in CASES]
    return [*from_cases, order, typed_arguments, constrained, with_nested_dict_extra]


@pytest.mark.parametrize("function", _all_functions(), ids=lambda f: f.__name__)
def test_every_generated_schema_is_valid_and_has_no_references(
    function: Callable[..., Any],
) -> None:
    parameters = Tool.from_function(function).parameters
    jsonschema.Draft202012Validator.check_schema(parameters)
    assert not _uses_references(parameters)
    assert parameters["type"] == "object"


def test_a_broken_schema_fails_the_meta_schema_check() -> None:
    # Guards the test above: check_schema really rejects what is not a schema.
    with pytest.raises(jsonschema.SchemaError):
        jsonschema.Draft202012Validator.check_schema({"type": "object", "required": "x"})
