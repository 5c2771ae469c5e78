"""Tool objects: @tool, from_function, from_schema, definition(), invoke, the registry, loading."""

from __future__ import annotations

import asyncio
import functools
import json
import textwrap
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from pydantic import BaseModel, field_validator

from agentkit import Agent, ModelRetry, RunContext, Tool, UserError, tool
from agentkit.testing import ScriptedModel, call
from agentkit.tools import (
    DEFAULT_TIMEOUT,
    ToolRegistry,
    as_tool,
    builtin_tool_names,
    load_tools,
    tools_from_module,
)


def add(a: int, b: int = 1) -> int:
    """Add two numbers.

    Args:
        a: The first number.
        b: The second number.
    """
    return a + b


async def slow_echo(text: str) -> str:
    """Echo the text back."""
    await anyio.sleep(0)
    return text


ADD_PARAMETERS = {
    "type": "object",
    "properties": {
        "a": {"type": "integer", "description": "The first number."},
        "b": {"type": "integer", "default": 1, "description": "The second number."},
    },
    "required": ["a"],
    "additionalProperties": False,
}


# --------------------------------------------------------------------------------------------
# @tool and Tool.from_function


def test_bare_decorator() -> None:
    @tool
    def multiply(a: int, b: int) -> int:
        """Multiply two numbers."""
        return a * b

    assert isinstance(multiply, Tool)
    assert (multiply.name, multiply.description) == ("multiply", "Multiply two numbers.")
    assert (multiply.timeout, multiply.requires_approval) == (DEFAULT_TIMEOUT, False)
    assert multiply.is_async is False


def test_decorator_with_options() -> None:
    @tool(name="product", description="Multiply.", timeout=2.5, requires_approval=True)
    def multiply(a: int, b: int) -> int:
        return a * b

    assert (multiply.name, multiply.description) == ("product", "Multiply.")
    assert (multiply.timeout, multiply.requires_approval) == (2.5, True)
    assert multiply.definition()["function"]["name"] == "product"


def test_no_timeout_is_allowed() -> None:
    assert Tool.from_function(add, timeout=None).timeout is None


def test_decorated_tool_stays_callable_as_the_function() -> None:
    @tool
    def multiply(a: int, b: int = 2) -> int:
        return a * b

    assert multiply(3) == 6
    assert multiply(3, b=5) == 15
    assert multiply.function(4) == 8


@pytest.mark.anyio
async def test_async_tool_stays_awaitable() -> None:
    echo = Tool.from_function(slow_echo)
    assert echo.is_async is True
    assert await echo("hi") == "hi"
    assert await echo.invoke(echo.validate({"text": "yo"}), None) == "yo"


def test_async_callable_object_is_detected_as_async() -> None:
    class Fetcher:
        __name__ = "fetch"

        async def __call__(self, url: str) -> str:
            return url

    assert Tool.from_function(Fetcher()).is_async is True


def test_callable_object_problems_point_at_its_call_method() -> None:
    class Broken:
        __name__ = "broken"

        def __call__(self, x):  # type: ignore[no-untyped-def]
            return x

    with pytest.raises(UserError) as info:
        Tool.from_function(Broken())
    line = Broken.__call__.__code__.co_firstlineno
    assert str(info.value).startswith(f"tool `broken` ({__file__}:{line}) is not a valid tool:")


def test_bound_method_is_a_tool() -> None:
    class Counter:
        def __init__(self) -> None:
            self.total = 0

        def bump(self, by: int = 1) -> int:
            """Add to the counter."""
            self.total += by
            return self.total

        @staticmethod
        def reset(to: int) -> int:
            return to

    counter = Counter()
    bump = Tool.from_function(counter.bump)
    assert (bump.name, bump.description) == ("bump", "Add to the counter.")
    assert bump.parameters["properties"] == {"by": {"type": "integer", "default": 1}}
    assert bump.invoke(bump.validate({"by": "2"}), None) == 2
    assert counter.total == 2
    assert Tool.from_function(Counter.reset).parameters["required"] == ["to"]


def _plain_decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    return wrapper


def test_only_the_callable_itself_decides_whether_a_tool_is_async() -> None:
    class Client:
        async def fetch(self, url: str) -> str:
            return url

    assert Tool.from_function(slow_echo).is_async is True
    assert Tool.from_function(Client().fetch).is_async is True
    assert Tool.from_function(functools.partial(slow_echo)).is_async is True
    # A plain wrapper may block (asyncio.run inside, say): it runs in a worker thread.
    assert Tool.from_function(_plain_decorator(slow_echo)).is_async is False
    assert Tool.from_function(functools.partial(add, b=2)).is_async is False


@pytest.mark.anyio
async def test_a_plain_wrapper_of_an_async_function_gives_the_awaited_result() -> None:
    wrapped = _plain_decorator(slow_echo)

    def facade(text: str) -> str:
        """Run the async echo to the end, as sync facades do.

        Args:
            text: What to echo.
        """
        return asyncio.run(slow_echo(text))

    script = [[call("slow_echo", text="a"), call("facade", text="b")], "ok"]
    with ScriptedModel(script) as model:
        result = await Agent(model, tools=[wrapped, facade]).run("go")
    assert [m.content for m in result.messages if m.role == "tool"] == ["a", "b"]


def read_file(path: str, root: str = "/", token: str = "") -> str:
    """Read a file below a root folder.

    Args:
        path: The file, relative to the root.
        root: The folder the tool may read.
        token: The access token.
    """
    return f"{root}/{path} with {token}"


def test_partial_keywords_are_neither_shown_to_the_model_nor_replaceable() -> None:
    reader = Tool.from_function(
        functools.partial(read_file, root="/srv/safe", token="sk-secret"), name="read"
    )
    assert reader.parameters == {
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "The file, relative to the root."}
        },
        "required": ["path"],
        "additionalProperties": False,
    }
    assert "sk-secret" not in json.dumps(reader.definition())
    assert reader.description == "Read a file below a root folder."
    with pytest.raises(ModelRetry) as info:
        reader.validate({"path": "a.txt", "root": "/etc", "token": "mine"})
    assert info.value.message.splitlines()[1:3] == [
        "- `root`: not a parameter of this tool (parameters: path)",
        "- `token`: not a parameter of this tool (parameters: path)",
    ]
    assert (
        reader.invoke(reader.validate({"path": "a.txt"}), None) == "/srv/safe/a.txt with sk-secret"
    )


def test_partial_is_named_after_its_function_and_bound_positionals_are_hidden() -> None:
    in_docs = Tool.from_function(functools.partial(read_file, "notes.txt"))
    assert in_docs.name == "read_file"
    assert list(in_docs.parameters["properties"]) == ["root", "token"]
    with pytest.raises(ModelRetry, match=r"- `path`: not a parameter of this tool"):
        in_docs.validate({"path": "other.txt"})
    assert in_docs.invoke(in_docs.validate({"root": "/r"}), None) == "/r/notes.txt with "


def test_partial_problems_point_at_the_wrapped_function() -> None:
    def untyped(x, limit: int = 3):  # type: ignore[no-untyped-def]
        return x

    with pytest.raises(UserError) as info:
        Tool.from_function(functools.partial(untyped, limit=5))
    line = untyped.__code__.co_firstlineno
    assert str(info.value).startswith(f"tool `untyped` ({__file__}:{line}) is not a valid tool:")
    assert info.value.problems == ["parameter `x` has no type annotation; add one (e.g. `x: str`)"]


def test_partialmethod_and_callable_objects_hide_self() -> None:
    class Store:
        def _get(self, key: str, scope: str) -> str:
            """Get a stored value.

            Args:
                key: The key.
                scope: Whose values.
            """
            return f"{scope}:{key}"

        get_user = functools.partialmethod(_get, scope="user")

        def __call__(self, key: str) -> str:
            """Look a key up.

            Args:
                key: The key.
            """
            return key

    store = Store()
    get_user = Tool.from_function(store.get_user, name="get_user")
    assert get_user.parameters["properties"] == {
        "key": {"type": "string", "description": "The key."}
    }
    assert get_user.description == "Get a stored value."
    assert get_user.invoke(get_user.validate({"key": "k"}), None) == "user:k"
    with pytest.raises(ModelRetry, match=r"- `scope`: not a parameter"):
        get_user.validate({"key": "k", "scope": "admin"})
    lookup = Tool.from_function(store, name="lookup")
    assert lookup.parameters["properties"] == {"key": {"type": "string", "description": "The key."}}
    assert lookup.description == "Look a key up."


class Account(BaseModel):
    id: str

    @field_validator("id")
    @classmethod
    def known(cls, value: str) -> str:
        return {"a1": "a1"}[value]  # KeyError for an unknown id


def test_any_exception_while_validating_is_a_model_retry() -> None:
    def close(account: Account) -> None:
        pass

    closer = Tool.from_function(close)
    with pytest.raises(ModelRetry) as info:
        closer.validate({"account": {"id": "zz"}})
    assert info.value.message == (
        "The arguments for `close` could not be checked: KeyError: 'zz'. "
        "Call `close` again with corrected arguments."
    )


def test_from_function_of_a_tool_describes_its_function() -> None:
    original = Tool.from_function(add)
    renamed = Tool.from_function(original, name="plus")
    assert renamed.function is add
    assert (renamed.name, renamed.parameters) == ("plus", ADD_PARAMETERS)


def test_not_a_function() -> None:
    with pytest.raises(UserError, match="a tool must be a function, got 42"):
        Tool.from_function(42)  # type: ignore[arg-type]


def test_repr() -> None:
    assert repr(Tool.from_function(add)) == "Tool(name='add')"


def test_as_tool_keeps_tools_and_wraps_functions() -> None:
    existing = Tool.from_function(add)
    assert as_tool(existing) is existing
    wrapped = as_tool(add)
    assert isinstance(wrapped, Tool)
    assert wrapped.parameters == ADD_PARAMETERS


# --------------------------------------------------------------------------------------------
# definition(): the wire dict, fresh every time


def test_definition_is_the_openai_tools_entry() -> None:
    assert Tool.from_function(add).definition() == {
        "type": "function",
        "function": {
            "name": "add",
            "description": "Add two numbers.",
            "parameters": ADD_PARAMETERS,
        },
    }


def test_definition_is_a_fresh_dict_each_time() -> None:
    adder = Tool.from_function(add)
    first = adder.definition()
    assert first is not adder.definition()
    first["type"] = "changed"
    first["function"]["name"] = "changed"
    first["function"]["parameters"]["required"].append("b")
    first["function"]["parameters"]["properties"]["a"]["type"] = "string"
    del first["function"]["parameters"]["additionalProperties"]
    assert adder.definition() == Tool.from_function(add).definition()
    assert adder.parameters == ADD_PARAMETERS
    assert adder.name == "add"


# --------------------------------------------------------------------------------------------
# validate() and invoke()


class Deps:
    def __init__(self, greeting: str) -> None:
        self.greeting = greeting


def greet(name: str, ctx: RunContext[Deps]) -> str:
    return f"{ctx.deps.greeting}, {name} ({ctx.tool_name})"


def test_run_context_is_injected_by_invoke() -> None:
    greeter = Tool.from_function(greet)
    assert greeter.context_param == "ctx"
    assert greeter.parameters["properties"] == {"name": {"type": "string"}}
    context = RunContext(deps=Deps("Hello"), tool_name="greet")
    assert greeter.invoke(greeter.validate({"name": "Ada"}), context) == "Hello, Ada (greet)"


def test_tool_without_context_ignores_the_context() -> None:
    adder = Tool.from_function(add)
    assert adder.context_param is None
    assert adder.invoke(adder.validate({"a": "2", "b": "40"}), RunContext(deps=None)) == 42


def test_positional_only_parameters_are_passed_positionally() -> None:
    def subtract(a: int, b: int, /, *, scale: int = 1) -> int:
        return (a - b) * scale

    minus = Tool.from_function(subtract)
    assert minus.invoke(minus.validate({"b": 2, "a": "10", "scale": 3}), None) == 24


def test_invoke_does_not_change_the_arguments_it_is_given() -> None:
    def subtract(a: int, b: int, /) -> int:
        return a - b

    minus = Tool.from_function(subtract)
    arguments = minus.validate({"a": 5, "b": 3})
    assert minus.invoke(arguments, None) == 2
    assert minus.invoke(arguments, None) == 2


def test_validate_raises_model_retry() -> None:
    with pytest.raises(ModelRetry, match=r"- `a`: Input should be a valid integer"):
        Tool.from_function(add).validate({"a": "two"})


# --------------------------------------------------------------------------------------------
# Tool.from_schema: raw JSON schemas, as MCP servers give them

ORDER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "customer": {"type": "string", "minLength": 1},
        "count": {"type": "integer", "minimum": 1},
        "price": {"type": "number"},
        "gift": {"type": "boolean"},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"sku": {"type": "string"}, "qty": {"type": "integer"}},
                "required": ["sku", "qty"],
            },
        },
    },
    "required": ["customer", "count"],
    "additionalProperties": False,
}


def record_order(**kwargs: Any) -> dict[str, Any]:
    return kwargs


def test_from_schema_definition_and_attributes() -> None:
    order = Tool.from_schema(
        name="place_order",
        description="Place an order.",
        parameters=ORDER_SCHEMA,
        function=record_order,
        timeout=5,
        requires_approval=True,
    )
    assert (order.name, order.description, order.parameters) == (
        "place_order",
        "Place an order.",
        ORDER_SCHEMA,
    )
    assert (order.timeout, order.requires_approval, order.context_param) == (5, True, None)
    assert order.definition() == {
        "type": "function",
        "function": {
            "name": "place_order",
            "description": "Place an order.",
            "parameters": ORDER_SCHEMA,
        },
    }


def test_from_schema_coerces_strings_and_calls_with_keyword_arguments() -> None:
    calls: list[dict[str, Any]] = []

    def place_order(customer: str, count: int, **rest: Any) -> str:
        calls.append({"customer": customer, "count": count, **rest})
        return "ok"

    order = Tool.from_schema(
        name="place_order", description="", parameters=ORDER_SCHEMA, function=place_order
    )
    arguments = order.validate(
        {
            "customer": "Ada",
            "count": "10",
            "price": "3.5",
            "gift": "true",
            "items": [{"sku": "A", "qty": " 2 "}],
        }
    )
    assert arguments == {
        "customer": "Ada",
        "count": 10,
        "price": 3.5,
        "gift": True,
        "items": [{"sku": "A", "qty": 2}],
    }
    assert order.invoke(arguments, None) == "ok"
    assert calls == [arguments]


@pytest.mark.parametrize(
    ("raw", "expected"), [("FALSE", False), ("True", True), ("7", 7.0), ("-0.25", -0.25)]
)
def test_from_schema_coercion_by_type(raw: str, expected: object) -> None:
    kind = "boolean" if isinstance(expected, bool) else "number"
    echo = Tool.from_schema(
        name="echo",
        description="",
        parameters={"type": "object", "properties": {"v": {"type": kind}}},
        function=record_order,
    )
    value = echo.validate({"v": raw})["v"]
    assert value == expected
    assert type(value) is type(expected)


def test_from_schema_lists_every_argument_error() -> None:
    order = Tool.from_schema(
        name="place_order", description="", parameters=ORDER_SCHEMA, function=record_order
    )
    with pytest.raises(ModelRetry) as info:
        order.validate(
            {
                "customer": "",
                "price": "cheap",
                "items": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": "many"}, {"qty": 1}],
                "colour": "red",
            }
        )
    assert info.value.message == (
        "Invalid arguments for tool `place_order`:\n"
        "- `(arguments)`: 'count' is a required property\n"
        "- `(arguments)`: Additional properties are not allowed ('colour' was unexpected) "
        "(parameters: customer, count, price, gift, items)\n"
        "- `customer`: '' should be non-empty\n"
        "- `items[1].qty`: 'many' is not of type 'integer'\n"
        "- `items[2]`: 'sku' is a required property\n"
        "- `price`: 'cheap' is not of type 'number'\n"
        "Call `place_order` again with corrected arguments."
    )


def test_from_schema_rejects_numbers_that_are_not_whole() -> None:
    order = Tool.from_schema(
        name="place_order", description="", parameters=ORDER_SCHEMA, function=record_order
    )
    with pytest.raises(ModelRetry, match=r"- `count`: '2\.5' is not of type 'integer'"):
        order.validate({"customer": "Ada", "count": "2.5"})


def test_from_schema_meta_schema_errors_are_all_listed() -> None:
    with pytest.raises(UserError) as info:
        Tool.from_schema(
            name="broken",
            description="",
            parameters={
                "type": "object",
                "properties": {"a": {"type": "strin"}, "b": {"minimum": "zero"}},
                "required": "a",
            },
            function=record_order,
        )
    assert info.value.problems == [
        "parameters['properties']['a']['type']: 'strin' is not valid under any of the given "
        "schemas",
        "parameters['properties']['b']['minimum']: 'zero' is not of type 'number'",
        "parameters['required']: 'a' is not of type 'array'",
    ]
    assert str(info.value).startswith("tool `broken` is not a valid tool:\n  - parameters[")


def test_from_schema_name_function_and_schema_problems_together() -> None:
    with pytest.raises(UserError) as info:
        Tool.from_schema(
            name="no spaces",
            description="",
            parameters={"type": "object", "required": 3},
            function="not callable",  # type: ignore[arg-type]
        )
    problems = info.value.problems
    assert len(problems) == 3
    assert problems[0].startswith("tool name 'no spaces' is not valid")
    assert problems[1] == "function must be callable, got 'not callable'"
    assert problems[2] == "parameters['required']: 3 is not of type 'array'"


@pytest.mark.parametrize(
    ("parameters", "problem"),
    [
        ({"type": "array"}, "parameters must describe an object (type \"object\"): 'array'"),
        ([1, 2], "parameters must be a JSON schema object, got [1, 2]"),
    ],
)
def test_from_schema_parameters_must_describe_an_object(parameters: Any, problem: str) -> None:
    with pytest.raises(UserError) as info:
        Tool.from_schema(name="t", description="", parameters=parameters, function=record_order)
    assert info.value.problems == [problem]


def test_from_schema_copies_the_schema_it_is_given() -> None:
    parameters: dict[str, Any] = {
        "type": "object",
        "properties": {"n": {"type": "integer"}},
        "required": ["n"],
    }
    counter = Tool.from_schema(
        name="counter", description="", parameters=parameters, function=record_order
    )
    parameters["properties"]["n"]["type"] = "string"
    parameters["required"].append("m")
    assert counter.parameters["properties"] == {"n": {"type": "integer"}}
    assert counter.validate({"n": "4"}) == {"n": 4}


def test_from_schema_function_may_take_the_run_context() -> None:
    def lookup(key: str, ctx: RunContext[dict[str, str]]) -> str:
        return ctx.deps[key]

    lookup_tool = Tool.from_schema(
        name="lookup",
        description="",
        parameters={"type": "object", "properties": {"key": {"type": "string"}}},
        function=lookup,
    )
    assert lookup_tool.context_param == "ctx"
    context = RunContext(deps={"k": "v"})
    assert lookup_tool.invoke(lookup_tool.validate({"key": "k"}), context) == "v"


def _raw(properties: dict[str, Any], **extra: Any) -> Tool:
    parameters = {"type": "object", "properties": properties, **extra}
    return Tool.from_schema(
        name="raw", description="", parameters=parameters, function=record_order
    )


def test_from_schema_nullable_type_lists_are_coerced() -> None:
    nullable = _raw(
        {
            "name": {"type": ["string", "null"]},
            "count": {"type": ["integer", "null"]},
            "either": {"type": ["integer", "string"]},
        }
    )
    assert nullable.validate({"name": "x", "count": "10", "either": "10"}) == {
        "name": "x",
        "count": 10,
        "either": "10",  # a string the schema takes stays a string
    }
    assert nullable.validate({"name": None, "count": None}) == {"name": None, "count": None}


def test_from_schema_coercion_follows_refs_and_branches() -> None:
    tool = _raw(
        {
            "limit": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            "keep": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
            "ratio": {"$ref": "#/$defs/Ratio"},
            "flag": {"oneOf": [{"type": "boolean"}, {"type": "null"}]},
            "size": {"allOf": [{"$ref": "#/$defs/Ratio"}, {"minimum": 0}]},
            "zip": {"type": "string"},
            "point": {"anyOf": [{"$ref": "#/$defs/Point"}, {"type": "null"}]},
            "tree": {"$ref": "#/$defs/Node"},
        },
        **{
            "$defs": {
                "Ratio": {"type": "number"},
                "Point": {"type": "object", "properties": {"x": {"type": "integer"}}},
                "Node": {
                    "type": "object",
                    "properties": {
                        "n": {"type": "integer"},
                        "kids": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                    },
                },
            }
        },
    )
    arguments = tool.validate(
        {
            "limit": "10",
            "keep": "10",
            "ratio": "2.5",
            "flag": "Off",
            "size": "3",
            "zip": 75001,
            "point": {"x": "4"},
            "tree": {"n": "1", "kids": [{"n": "2", "kids": [{"n": "3"}]}]},
        }
    )
    assert arguments == {
        "limit": 10,
        "keep": "10",
        "ratio": 2.5,
        "flag": False,
        "size": 3.0,
        "zip": "75001",
        "point": {"x": 4},
        "tree": {"n": 1, "kids": [{"n": 2, "kids": [{"n": 3}]}]},
    }


def test_from_schema_coercion_picks_the_branch_an_object_fits() -> None:
    tagged = _raw(
        {
            "shape": {
                "oneOf": [
                    {
                        "type": "object",
                        "properties": {"kind": {"const": "a"}, "x": {"type": "integer"}},
                    },
                    {
                        "type": "object",
                        "properties": {"kind": {"const": "b"}, "x": {"type": "boolean"}},
                    },
                ]
            }
        }
    )
    assert tagged.validate({"shape": {"kind": "a", "x": "1"}}) == {"shape": {"kind": "a", "x": 1}}
    assert tagged.validate({"shape": {"kind": "b", "x": "1"}}) == {
        "shape": {"kind": "b", "x": True}
    }


@pytest.mark.parametrize(
    "raw", ["true", "TRUE", "1", "yes", "Y", "on", "t", "false", "0", "No", "n", "OFF", "f"]
)
def test_from_schema_boolean_spellings_are_pydantics(raw: str) -> None:
    expected = raw.lower() in ("true", "1", "yes", "y", "on", "t")
    assert _raw({"v": {"type": "boolean"}}).validate({"v": raw}) == {"v": expected}


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        ("number", "nan"),
        ("number", "inf"),
        ("number", "-Infinity"),
        ("number", "1e999"),
        ("number", "1_000.5"),
        ("integer", "1_000"),
        ("integer", "2.5"),
        ("boolean", "maybe"),
        ("boolean", "2"),
    ],
)
def test_from_schema_text_that_is_not_a_finite_plain_value_is_refused(kind: str, raw: str) -> None:
    with pytest.raises(ModelRetry, match=rf"- `v`: '{raw}' is not of type '{kind}'"):
        _raw({"v": {"type": kind}}).validate({"v": raw})


@pytest.mark.parametrize(
    ("parameters", "problem"),
    [
        (
            {"properties": {"a": {"$ref": "#/$defs/Missing"}}},
            "parameters['properties']['a']['$ref']: '#/$defs/Missing' points to nothing in the "
            'schema; add what it names (e.g. under "$defs") or fix the reference',
        ),
        (
            {"properties": {"a": {"$ref": "#nowhere"}}},
            "parameters['properties']['a']['$ref']: '#nowhere' points to nothing in the schema",
        ),
        (
            {"properties": {"a": {"$ref": "https://example.com/a.json"}}},
            "parameters['properties']['a']['$ref']: 'https://example.com/a.json' is not "
            "supported: only local references such as '#/$defs/Name' are (nothing is fetched)",
        ),
        (
            {"properties": {"a": {"$ref": "common.json#/$defs/A"}}},
            "parameters['properties']['a']['$ref']: 'common.json#/$defs/A' is not supported",
        ),
        (
            {"properties": {"a": {"$ref": "#/properties/b/type"}, "b": {"type": "string"}}},
            "parameters['properties']['a']['$ref']: '#/properties/b/type' points to 'string', "
            "which is not a schema",
        ),
        (
            {"properties": {"a": {"$ref": "#/$defs/A"}}, "$defs": {"A": {"$ref": "#/$defs/A"}}},
            "parameters['$defs']['A']['$ref']: '#/$defs/A' leads back to the same schema "
            "without describing a nested value, so validation would never end; break the cycle",
        ),
        (
            {"anyOf": [{"type": "object"}, {"$ref": "#"}]},
            "parameters['anyOf'][1]['$ref']: '#' leads back to the same schema",
        ),
        (
            {"properties": {"a": {"type": "string", "pattern": "(unclosed"}}},
            "parameters['properties']['a']['pattern']: '(unclosed' is not a 'regex'",
        ),
    ],
    ids=[
        "missing",
        "no-anchor",
        "remote",
        "other-file",
        "not-a-schema",
        "cycle",
        "root-cycle",
        "regex",
    ],
)
def test_from_schema_references_must_be_local_resolvable_and_end(
    parameters: dict[str, Any], problem: str
) -> None:
    with pytest.raises(UserError) as info:
        Tool.from_schema(
            name="t", description="", parameters={"type": "object", **parameters}, function=add
        )
    (found,) = info.value.problems
    assert found.startswith(problem)


def test_from_schema_lists_every_bad_reference_at_once() -> None:
    with pytest.raises(UserError) as info:
        _raw({"a": {"$ref": "#/$defs/A"}, "b": {"$ref": "http://x.test/b"}, "c": {"$ref": "#c"}})
    assert [p.split(":")[0] for p in info.value.problems] == [
        "parameters['properties']['a']['$ref']",
        "parameters['properties']['b']['$ref']",
        "parameters['properties']['c']['$ref']",
    ]


def test_from_schema_local_references_of_every_kind_are_accepted() -> None:
    tool = _raw(
        {
            "anchored": {"$ref": "#count"},
            "pointer": {"$ref": "#/$defs/Count"},
            "legacy": {"$ref": "#/definitions/Count"},
            "escaped": {"$ref": "#/$defs/a~1b%20c"},
            "self_contained": {
                "$id": "https://example.com/own.json",
                "$defs": {"N": {"type": "integer"}},
                "$ref": "#/$defs/N",
            },
            "recursive": {"$ref": "#"},
        },
        **{
            "$defs": {
                "Count": {"$anchor": "count", "type": "integer"},
                "a/b c": {"type": "integer"},
            },
            "definitions": {"Count": {"type": "integer"}},
        },
    )
    arguments = {
        "anchored": "1",
        "pointer": "2",
        "legacy": "3",
        "escaped": "4",
        "self_contained": "5",
    }
    assert tool.validate({**arguments, "recursive": {"pointer": "6"}}) == {
        "anchored": 1,
        "pointer": 2,
        "legacy": 3,
        "escaped": 4,
        "self_contained": 5,
        "recursive": {"pointer": 6},
    }


def test_from_schema_every_accepted_reference_is_inlined_for_the_model() -> None:
    tool = _raw(
        {
            "anchored": {"$ref": "#count"},
            "pointer": {"$ref": "#/$defs/Count"},
            "sibling": {"$ref": "#/properties/pointer", "description": "Like pointer."},
            "self_contained": {
                "$id": "https://example.com/own.json",
                "$defs": {"N": {"type": "integer"}},
                "$ref": "#/$defs/N",
            },
        },
        **{"$defs": {"Count": {"$anchor": "count", "type": "integer"}}},
    )
    sent = json.dumps(tool.definition())
    assert "$ref" not in sent and '"$defs": {"Count"' not in sent
    properties = tool.parameters["properties"]
    assert properties["anchored"]["type"] == properties["pointer"]["type"] == "integer"
    assert properties["sibling"] == {"type": "integer", "description": "Like pointer."}
    assert properties["self_contained"]["type"] == "integer"


def test_from_schema_a_recursive_schema_is_sent_as_given() -> None:
    node = {"type": "object", "properties": {"next": {"$ref": "#"}}}
    tool = _raw({"head": {"$ref": "#/$defs/Node"}}, **{"$defs": {"Node": node}})
    assert tool.parameters["properties"]["head"] == {"$ref": "#/$defs/Node"}


def test_from_schema_partial_keywords_cannot_be_replaced() -> None:
    reader = Tool.from_schema(
        name="read",
        description="",
        parameters={"type": "object", "properties": {"path": {"type": "string"}}},
        function=functools.partial(read_file, root="/srv/safe"),
    )
    with pytest.raises(ModelRetry, match=r"- `root`: not a parameter of this tool"):
        reader.validate({"path": "a", "root": "/etc"})


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=12,
)
_ODD_SCHEMAS: list[dict[str, Any]] = [
    {"properties": {"a": {"type": ["string", "null"]}, "b": {"type": ["integer", "boolean"]}}},
    {
        "properties": {"a": {"anyOf": [{"$ref": "#/$defs/P"}, {"type": "null"}]}},
        "$defs": {"P": {"type": "object", "properties": {"x": {"type": "number"}}}},
    },
    {
        "properties": {
            "a": {"$ref": "#"},
            "b": {
                "type": "array",
                "prefixItems": [{"type": "integer"}],
                "items": {"enum": [1, "1", None]},
            },
        }
    },
    {
        "properties": {
            "a": {
                "oneOf": [
                    {"type": "object", "additionalProperties": {"type": "integer"}},
                    {"type": "array", "items": {"$ref": "#/properties/a"}},
                ]
            }
        }
    },
    {"patternProperties": {"^n": {"type": "number"}}, "additionalProperties": {"type": "boolean"}},
    {
        "properties": {
            "a": {"type": "string", "pattern": "^[0-9]+$"},
            "b": {"not": {"type": "string"}},
        }
    },
    {"properties": {"a": {"allOf": [{"type": "integer"}, {"type": "number", "maximum": 5}]}}},
]


@pytest.mark.parametrize("parameters", _ODD_SCHEMAS, ids=range(len(_ODD_SCHEMAS)))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arguments=st.dictionaries(st.sampled_from(["a", "b", "n1", "zz"]), _JSON, max_size=3))
def test_from_schema_validate_raises_only_model_retry(
    parameters: dict[str, Any], arguments: dict[str, Any]
) -> None:
    tool = Tool.from_schema(
        name="odd",
        description="",
        parameters={"type": "object", **parameters},
        function=record_order,
    )
    try:
        validated = tool.validate(arguments)
    except ModelRetry:
        return
    assert isinstance(validated, dict)


# --------------------------------------------------------------------------------------------
# ToolRegistry


def test_registry_takes_tools_and_plain_functions() -> None:
    registry = ToolRegistry([add, Tool.from_function(slow_echo)])
    assert registry.names == ["add", "slow_echo"]
    assert len(registry) == 2
    assert "add" in registry
    assert "missing" not in registry
    assert registry.get("missing") is None
    adder = registry.get("add")
    assert adder is not None
    assert adder.function is add
    assert [t.name for t in registry] == ["add", "slow_echo"]
    assert registry.definitions == [t.definition() for t in registry]


def test_registry_rejects_duplicate_names_with_both_places() -> None:
    def other_add(a: int) -> int:
        return a

    with pytest.raises(UserError) as info:
        ToolRegistry([add, Tool.from_function(other_add, name="add")])
    (problem,) = info.value.problems
    add_line = add.__code__.co_firstlineno
    other_line = other_add.__code__.co_firstlineno
    assert problem == (
        f"two tools are named `add` ({__file__}:{add_line} and {__file__}:{other_line}); "
        "pass name=... to tell them apart"
    )


def test_registry_lists_every_bad_tool_and_duplicate_at_once() -> None:
    def untyped(x):  # type: ignore[no-untyped-def]
        return x

    with pytest.raises(UserError) as info:
        ToolRegistry([add, untyped, add])
    assert str(info.value).startswith("the agent's tools are not valid:")
    problems = info.value.problems
    assert len(problems) == 2
    assert "tool `untyped`" in problems[0]
    assert "parameter `x` has no type annotation" in problems[0]
    assert problems[1].startswith("tool `add`") and problems[1].endswith("is listed twice")


def test_empty_registry() -> None:
    registry = ToolRegistry()
    assert (registry.names, registry.definitions, len(registry)) == ([], [], 0)


# --------------------------------------------------------------------------------------------
# tools_from_module


def _module(name: str, source: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(textwrap.dedent(source), module.__dict__)
    return module


def test_module_with_decorated_tools_gives_only_those() -> None:
    module = _module(
        "decorated_tools",
        """
        from agentkit import tool

        @tool
        def wanted(x: int) -> int:
            return x

        def helper(y: int) -> int:
            return y
        """,
    )
    assert [t.name for t in tools_from_module(module)] == ["wanted"]


def test_module_without_decorated_tools_gives_its_own_public_functions() -> None:
    module = _module(
        "plain_tools",
        """
        from json import dumps
        from os.path import join

        LIMIT = 3

        class Helper:
            pass

        def first(x: int) -> int:
            return x

        def _private(y) -> None:
            pass

        async def second(text: str) -> str:
            return text
        """,
    )
    found = tools_from_module(module)
    assert [t.name for t in found] == ["first", "second"]
    assert [t.is_async for t in found] == [False, True]


def test_module_function_that_is_not_a_tool_is_an_error() -> None:
    module = _module(
        "broken_tools",
        """
        def fine(x: int) -> int:
            return x

        def untyped(x):
            return x
        """,
    )
    with pytest.raises(UserError) as info:
        tools_from_module(module)
    assert str(info.value).startswith(
        "broken_tools has public functions that are not valid tools (prefix helpers with `_`, "
        "or mark the tools with @tool):"
    )
    (problem,) = info.value.problems
    assert "parameter `x` has no type annotation" in problem


def test_module_without_functions_gives_no_tools() -> None:
    assert tools_from_module(_module("empty_tools", "VALUE = 1\n")) == []


# --------------------------------------------------------------------------------------------
# load_tools


def _write(path: Path, source: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


WEATHER_FILE = """
    from __future__ import annotations

    import dataclasses
    from typing import Literal

    from pydantic import BaseModel


    @dataclasses.dataclass
    class Place:
        city: str
        country: str = "FR"


    class Options(BaseModel):
        unit: Literal["c", "f"] = "c"


    def forecast(place: Place, options: Options) -> str:
        '''Forecast for a place.

        Args:
            place: Where.
        '''
        return f"{place.city}/{place.country}: sunny in {options.unit}"


    def _helper() -> None:
        pass
    """


@pytest.mark.parametrize("as_text", [True, False])
def test_load_tools_from_a_file(tmp_path: Path, as_text: bool) -> None:
    path = _write(tmp_path / "weather.py", WEATHER_FILE)
    (forecast,) = load_tools(str(path) if as_text else path)
    assert (forecast.name, forecast.description) == ("forecast", "Forecast for a place.")
    assert forecast.parameters["properties"]["place"]["description"] == "Where."
    arguments = forecast.validate({"place": {"city": "Paris"}, "options": {"unit": "f"}})
    assert forecast.invoke(arguments, None) == "Paris/FR: sunny in f"


def test_files_with_the_same_name_in_different_folders_do_not_collide(tmp_path: Path) -> None:
    first = _write(tmp_path / "a" / "tools.py", "def one(x: int) -> int:\n    return 1\n")
    second = _write(tmp_path / "b" / "tools.py", "def two(x: int) -> int:\n    return 2\n")
    (one,) = load_tools(first)
    (two,) = load_tools(second)
    assert (one.name, one(0), two.name, two(0)) == ("one", 1, "two", 2)


def test_load_tools_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.py"
    with pytest.raises(UserError) as info:
        load_tools(missing)
    assert str(info.value) == f"tool file not found: {missing} (give the path to a .py file)"


def test_load_tools_syntax_error_gives_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "broken.py", "def ok(x: int) -> int:\n    return x\n\ndef bad(:\n")
    with pytest.raises(UserError) as info:
        load_tools(path)
    assert str(info.value).startswith(f"syntax error in {path}:4: ")


def test_load_tools_import_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "needs.py", "import agentkit_no_such_module\n")
    with pytest.raises(UserError) as info:
        load_tools(path)
    assert str(info.value) == (
        f"importing {path} failed: ModuleNotFoundError: No module named 'agentkit_no_such_module'"
    )
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


def test_load_tools_exception_while_importing(tmp_path: Path) -> None:
    path = _write(tmp_path / "raises.py", "raise RuntimeError('no config')\n")
    with pytest.raises(UserError, match=r"importing .*raises\.py failed: RuntimeError: no config"):
        load_tools(path)


def test_load_tools_file_with_no_tools(tmp_path: Path) -> None:
    path = _write(tmp_path / "constants.py", "LIMIT = 3\n\ndef _hidden() -> None:\n    pass\n")
    with pytest.raises(UserError) as info:
        load_tools(path)
    assert str(info.value) == (
        f"{path} defines no tools: add public functions (or @tool-decorated ones) to it"
    )


def test_load_tools_file_with_a_bad_function(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.py", "def untyped(x):\n    return x\n")
    with pytest.raises(UserError) as info:
        load_tools(path)
    (problem,) = info.value.problems
    assert f"{path}:1" in problem
    assert "parameter `x` has no type annotation" in problem


def test_builtin_tool_names() -> None:
    assert builtin_tool_names() == [
        "brave_search",
        "calculator",
        "clock",
        "code_interpreter",
        "files",
        "http_fetch",
        "python",
        "shell",
        "wolfram_alpha",
    ]


def test_load_a_builtin_by_short_name() -> None:
    (calculate,) = load_tools("calculator")
    assert calculate.name == "calculate"
    assert calculate.function.__module__ == "agentkit.toolbox.calculator"
    assert load_tools("calculator") == [calculate]  # loaded once, the same tool


def test_unknown_builtin_name_lists_the_builtins_and_the_closest() -> None:
    with pytest.raises(UserError) as info:
        load_tools("calculater")
    assert str(info.value) == (
        "unknown tool module 'calculater': give a .py file path or a built-in (brave_search, "
        "calculator, clock, code_interpreter, files, http_fetch, python, shell, wolfram_alpha); "
        "did you mean 'calculator'?"
    )


@pytest.mark.parametrize("shadow", ["folder", "file"])
def test_a_builtin_name_is_the_builtin_whatever_the_working_folder_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shadow: str
) -> None:
    if shadow == "folder":
        (tmp_path / "files").mkdir()
    else:
        (tmp_path / "clock").write_text("not python")
    monkeypatch.chdir(tmp_path)
    assert next(t.name for t in load_tools("files")) == "read_file"
    assert next(t.name for t in load_tools("clock")) == "current_time"


def test_a_path_to_a_shipped_module_loads_the_builtin_itself() -> None:
    import agentkit.toolbox as toolbox

    path = Path(toolbox.__path__[0]) / "calculator.py"
    assert load_tools(path) == load_tools("calculator")


def test_shipped_builtins_load() -> None:
    # Whatever ready-made modules the checkout has must load as tools.
    for name in builtin_tool_names():
        loaded = load_tools(name)
        assert loaded
        assert all(isinstance(t, Tool) for t in loaded)


def test_private_helper_modules_are_not_built_in_tools() -> None:
    import agentkit.toolbox as toolbox

    helper = Path(toolbox.__path__[0]) / "_sandbox.py"
    for spec in ("_sandbox", helper):
        with pytest.raises(UserError, match="_sandbox is a helper of the ready-made tools"):
            load_tools(spec)
