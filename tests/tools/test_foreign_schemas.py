"""Tool definitions as other ecosystems write them: zod's Draft 7, ECMA-262 patterns, BFCL's
type names, MCP's dotted names, `Annotated` strings, and Llama's loose nulls and numbers."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from agentkit import Agent, Tool, ToolMessage
from agentkit.errors import ModelRetry, UserError
from agentkit.testing import ScriptedModel, call
from agentkit.tools import ToolRegistry


def echo(**arguments: Any) -> str:
    return repr(sorted(arguments.items()))


def raw_tool(parameters: dict[str, Any], name: str = "t", **options: Any) -> Tool:
    return Tool.from_schema(
        name=name, description="Test.", parameters=parameters, function=echo, **options
    )


def retry_text(tool: Tool, arguments: dict[str, Any]) -> str:
    with pytest.raises(ModelRetry) as info:
        tool.validate(arguments)
    return str(info.value)


# --- item 7: Annotated[str, "description"] ---------------------------------------------------


def lookup(
    customer_id: Annotated[str, "The customer ID"],
    region: Annotated[str, "Ignored: Field wins", Field(description="The sales region")],
    note: Annotated[str, "From the annotation"] = "",
) -> str:
    """Look a customer up.

    Args:
        note: From the docstring.
    """
    return customer_id


def test_an_annotated_string_is_the_parameter_description() -> None:
    properties = Tool.from_function(lookup).parameters["properties"]
    assert properties["customer_id"]["description"] == "The customer ID"
    assert properties["region"]["description"] == "The sales region"
    assert properties["note"]["description"] == "From the annotation"
    assert Tool.from_function(lookup).validate({"customer_id": "c1", "region": "eu"})


# --- item 8: nested models refuse unknown keys -----------------------------------------------


class Item(BaseModel):
    sku: str
    qty: int = 1


class Loose(BaseModel):
    model_config = ConfigDict(extra="allow")
    sku: str


class Order(BaseModel):
    items: list[Item]
    gift: Item | None = None


def place(order: Order, loose: Loose | None = None) -> str:
    """Place an order."""
    return "ok"


def test_nested_models_refuse_unknown_keys_as_the_top_level_does() -> None:
    tool = Tool.from_function(place)
    order = tool.parameters["properties"]["order"]
    assert order["additionalProperties"] is False
    assert order["properties"]["items"]["items"]["additionalProperties"] is False
    message = retry_text(
        tool,
        {
            "order": {
                "items": [{"sku": "a"}, {"sku": "b", "colour": "red"}],
                "gift": {"sku": "c", "x": 1},
            }
        },
    )
    assert "- `order.items[1].colour`: not a field of this object; remove it" in message
    assert "- `order.gift.x`: not a field of this object; remove it" in message
    assert "order.items[0]" not in message
    # A model that allows extra keys says so itself, and keeps them.
    arguments = tool.validate({"order": {"items": []}, "loose": {"sku": "a", "colour": "red"}})
    assert arguments["loose"].model_extra == {"colour": "red"}
    assert tool.parameters["properties"]["loose"]["anyOf"][0]["additionalProperties"] is True


# --- item 9: $schema chooses the draft ----------------------------------------------------------

ZOD_TUPLE = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "point": {
            "type": "array",
            "minItems": 2,
            "maxItems": 2,
            "items": [{"type": "number"}, {"type": "string"}],
        }
    },
    "required": ["point"],
    "additionalProperties": False,
}


def test_a_draft_7_schema_is_checked_and_validated_as_draft_7() -> None:
    tool = raw_tool(ZOD_TUPLE)
    assert tool.validate({"point": ["1.5", 2]}) == {"point": [1.5, "2"]}
    assert "`point[0]`" in retry_text(tool, {"point": ["x", "y"]})
    # The same schema without `$schema` is 2020-12, where `items` cannot be a list.
    without = {k: v for k, v in ZOD_TUPLE.items() if k != "$schema"}
    with pytest.raises(UserError, match=r"\['items'\]"):
        raw_tool(without)


def test_an_unknown_schema_uri_is_read_as_2020_12() -> None:
    tool = raw_tool({"$schema": "https://example.com/my-schema", "type": "object"})
    assert tool.validate({}) == {}


# --- item 10: patterns are ECMA-262 ----------------------------------------------------------

ZOD_EMOJI = "^(\\p{Extended_Pictographic}|\\p{Emoji_Component})+$"


@pytest.mark.parametrize(
    ("pattern", "good", "bad"),
    [
        ("^\\p{L}+$", "héllo", "h3llo"),
        ("^(?<year>\\d{4})-(?<month>\\d{2})$", "2024-07", "24-7"),
        (ZOD_EMOJI, "🦙", "llama"),
        ("^[a-z\\_]+$", "a_b", "A"),  # `\_` is valid ECMA-262 only without the `u` flag
        ("^(?P<word>\\w+)$", "word", "two words"),  # Python's syntax still works
    ],
)
def test_ecma_patterns_compile_and_validate(pattern: str, good: str, bad: str) -> None:
    tool = raw_tool({"type": "object", "properties": {"s": {"type": "string", "pattern": pattern}}})
    assert tool.validate({"s": good}) == {"s": good}
    assert "does not match" in retry_text(tool, {"s": bad})


def test_ecma_pattern_properties_and_additional_properties() -> None:
    tool = raw_tool(
        {
            "type": "object",
            "patternProperties": {"^\\p{Lu}": {"type": "integer"}},
            "additionalProperties": False,
        }
    )
    assert tool.validate({"Émile": "3"}) == {"Émile": 3}
    assert "'lower' was unexpected" in retry_text(tool, {"lower": 1})


def test_a_pattern_no_engine_reads_is_a_definition_problem() -> None:
    with pytest.raises(UserError, match="is not a 'regex'"):
        raw_tool({"type": "object", "properties": {"s": {"type": "string", "pattern": "(a"}}})


# --- item 11: BFCL's dialect -------------------------------------------------------------------

BFCL = {
    "type": "dict",
    "properties": {
        "base": {"type": "float", "description": "The base."},
        "sides": {"type": "tuple", "items": {"type": "integer"}},
        "extra": {"type": "any"},
        "meta": {"type": "dict", "properties": {"unit": {"type": "String"}}},
    },
    "required": ["base"],
}


def test_bfcl_types_say_what_to_write_instead() -> None:
    with pytest.raises(UserError) as info:
        raw_tool(BFCL)
    text = str(info.value)
    assert "parameters['type']: write 'object', not 'dict'" in text
    assert "parameters['properties']['base']['type']: write 'number', not 'float'" in text
    assert "leave `type` out for any type (not 'any')" in text
    assert 'dialect="bfcl"' in text


def test_the_bfcl_dialect_converts_to_json_schema() -> None:
    tool = raw_tool(BFCL, name="math.area", dialect="bfcl")
    assert tool.parameters["type"] == "object"
    properties = tool.parameters["properties"]
    assert properties["base"] == {"type": "number", "description": "The base."}
    assert properties["sides"] == {"type": "array", "items": {"type": "integer"}}
    assert properties["extra"] == {}
    assert properties["meta"]["properties"]["unit"] == {"type": "string"}
    assert tool.validate({"base": "2.5", "extra": [1]}) == {"base": 2.5, "extra": [1]}
    assert BFCL["type"] == "dict"  # the caller's definition is left as it was


def test_an_unknown_dialect_is_refused() -> None:
    with pytest.raises(UserError, match="dialect must be one of"):
        raw_tool({"type": "object"}, dialect="openapi")


# --- item 12: dotted and long names ----------------------------------------------------------


def test_dotted_and_long_names_travel_under_a_safe_wire_name() -> None:
    dotted = raw_tool({"type": "object"}, name="github.create_issue")
    assert dotted.name == "github.create_issue"
    assert dotted.definition()["function"]["name"] == "github_create_issue"
    long_name = "server." + "x" * 120
    long_tool = raw_tool({"type": "object"}, name=long_name)
    wire = long_tool.definition()["function"]["name"]
    assert len(wire) <= 64 and wire.startswith("server_xxx")
    assert raw_tool({"type": "object"}, name="plain_name").wire_name == "plain_name"


def test_two_names_with_one_wire_spelling_stay_apart() -> None:
    registry = ToolRegistry(
        [raw_tool({"type": "object"}, name="a.b"), raw_tool({"type": "object"}, name="a_b")]
    )
    wires = [d["function"]["name"] for d in registry.definitions]
    assert len(set(wires)) == 2
    assert {registry.get(w).name for w in wires} == {"a.b", "a_b"}  # type: ignore[union-attr]


def test_a_call_by_the_wire_name_or_the_real_name_runs_the_tool() -> None:
    ran: list[str] = []

    def create_issue(title: str) -> str:
        ran.append(title)
        return f"created {title}"

    tool = Tool.from_schema(
        name="github.create_issue",
        description="Create an issue.",
        parameters={"type": "object", "properties": {"title": {"type": "string"}}},
        function=create_issue,
    )
    script = [
        call("github_create_issue", title="one"),
        call("github.create_issue", title="two"),
        "done",
    ]
    with ScriptedModel(script) as model:
        result = Agent(model, tools=[tool]).run_sync("file two issues")
    assert ran == ["one", "two"]
    assert model.requests[0].tool_names == ["github_create_issue"]
    results = [m.content for m in result.messages if isinstance(m, ToolMessage)]
    assert results == ["created one", "created two"]


# --- item 13: null for an optional parameter, a number for a string enum ---------------------

WEATHER = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "unit": {"type": "string", "enum": ["c", "f"], "default": "c"},
        "days": {"type": "integer", "default": None},
        "code": {"type": "string", "enum": ["1", "2"]},
    },
    "required": ["city"],
}


def test_null_for_an_optional_property_means_its_default() -> None:
    tool = raw_tool(WEATHER)
    assert tool.validate({"city": "Oslo", "unit": None, "days": None}) == {"city": "Oslo"}
    assert "`city`" in retry_text(tool, {"city": None})  # a required one still must be given


def test_a_number_for_a_string_enum_is_its_string() -> None:
    tool = raw_tool(WEATHER)
    assert tool.validate({"city": "Oslo", "code": 1}) == {"city": "Oslo", "code": "1"}
    assert tool.validate({"city": "Oslo", "code": 2.0}) == {"city": "Oslo", "code": "2"}
    assert "`code`" in retry_text(tool, {"city": "Oslo", "code": 3})


def forecast(
    city: str, unit: Literal["c", "f"] = "c", days: int = 3, level: Literal[1, 2] = 1
) -> str:
    """Forecast."""
    return city


def test_function_tools_take_the_same_lenient_nulls_and_enums() -> None:
    tool = Tool.from_function(forecast)
    assert tool.validate({"city": "Oslo", "unit": None, "days": None}) == {
        "city": "Oslo",
        "unit": "c",
        "days": 3,
        "level": 1,
    }
    assert tool.validate({"city": "Oslo", "level": "2"})["level"] == 2
