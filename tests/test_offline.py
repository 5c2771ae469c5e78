"""The offline model: deterministic, no network, runs the whole loop with valid arguments."""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Annotated, Literal

import jsonschema
import pytest
from pydantic import BaseModel, Field

from agentkit import Agent, ToolMessage
from agentkit._offline import OfflineModel, _Candidates, schema_instance
from agentkit.testing import FunctionModel

pytestmark = pytest.mark.anyio


def get_weather(city: str, unit: Literal["c", "f"] = "c") -> str:
    """Get the current weather for a city.

    Args:
        city: City and country.
        unit: Temperature unit.
    """
    return f"sunny in {city} ({unit})"


def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: The first.
        b: The second.
    """
    return a + b


def calculate(expression: str) -> str:
    """Evaluate an arithmetic expression.

    Args:
        expression: The expression.
    """
    return f"evaluated {expression}"


async def test_calls_the_matching_tool_with_arguments_from_the_prompt() -> None:
    agent = Agent("offline", tools=[get_weather, add])
    result = await agent.run('What is the weather in "Paris, France"?')
    calls = result.messages[1].tool_calls
    assert [c.name for c in calls] == ["get_weather"]
    assert calls[0].arguments == {"city": "Paris, France"}
    assert result.output.startswith("Tool results:\n- get_weather: sunny in Paris, France (c)")
    assert "offline model" in result.output


async def test_numbers_and_expressions_fill_parameters() -> None:
    result = await Agent("offline", tools=[add]).run("add 17 and 25")
    assert result.messages[1].tool_calls[0].arguments == {"a": 17, "b": 25}
    assert "- add: 42" in result.output
    result = await Agent("offline", tools=[calculate]).run("what is 17*23?")
    assert result.messages[1].tool_calls[0].arguments == {"expression": "17*23"}


async def test_all_tools_when_no_word_matches_and_each_once() -> None:
    result = await Agent("offline", tools=[get_weather, add]).run("hello there")
    assert sorted(c.name for c in result.messages[1].tool_calls) == ["add", "get_weather"]
    assert len([m for m in result.messages if isinstance(m, ToolMessage)]) == 2


async def test_without_tools_it_echoes_and_says_what_it_is() -> None:
    result = await Agent("offline").run("hi")
    assert result.output == (
        "You said: hi\n(offline model: no language model was called; "
        "this summarises the tool results)"
    )


async def test_deterministic() -> None:
    agent = Agent("offline", tools=[get_weather, add])
    first = await agent.run("weather in Oslo and 2 plus 3")
    second = await agent.run("weather in Oslo and 2 plus 3")
    assert first.output == second.output
    assert [m.content for m in first.messages] == [m.content for m in second.messages]


class Colour(Enum):
    RED = "red"
    BLUE = "blue"


class Order(BaseModel):
    """An order."""

    item: str
    quantity: Annotated[int, Field(ge=2, le=5)]
    colour: Colour
    when: date
    tags: list[str] = []


async def test_output_type_is_filled_from_its_schema() -> None:
    result = await Agent("offline", output_type=Order).run('order "a lamp", 7 of them')
    assert result.output == Order(
        item="a lamp", quantity=5, colour=Colour.RED, when=date(2024, 1, 1)
    )


async def test_stream_on_the_offline_model() -> None:
    events = [e async for e in Agent("offline", tools=[add]).stream("add 1 and 2")]
    assert events[-1].type == "run_finished"
    assert "".join(e.text for e in events if e.type == "text_delta") == events[-1].result.output


@pytest.mark.parametrize(
    "schema",
    [
        {
            "type": "object",
            "properties": {"n": {"type": "integer", "minimum": 10}},
            "required": ["n"],
        },
        {
            "type": "object",
            "properties": {"x": {"type": "number", "exclusiveMaximum": 0}},
            "required": ["x"],
        },
        {
            "type": "object",
            "properties": {"s": {"type": "string", "minLength": 200}},
            "required": ["s"],
        },
        {
            "type": "object",
            "properties": {"v": {"anyOf": [{"type": "null"}, {"type": "boolean"}]}},
            "required": ["v"],
        },
        {
            "type": "object",
            "properties": {
                "t": {
                    "type": "array",
                    "prefixItems": [{"type": "integer"}, {"type": "string", "format": "uuid"}],
                }
            },
            "required": ["t"],
        },
        {
            "type": "object",
            "properties": {"l": {"type": "array", "items": {"type": "integer"}, "minItems": 2}},
            "required": ["l"],
        },
        {
            "type": "object",
            "properties": {"d": {"type": "string", "format": "date-time"}},
            "required": ["d"],
        },
    ],
)
def test_generated_arguments_are_schema_valid(schema: dict[str, object]) -> None:
    value = schema_instance(schema, _Candidates("numbers 3 and 4"))
    jsonschema.Draft202012Validator(schema).validate(value)


async def test_offline_model_is_a_model_like_any_other() -> None:
    # The testing kit and the offline model answer through the same interface.
    seen: list[int] = []

    def reply(messages: list[object], request: object) -> str:
        seen.append(len(messages))
        return "ok"

    assert (await Agent(FunctionModel(reply)).run("x")).output == "ok"
    assert OfflineModel().name == "offline"
    assert seen == [1]


async def test_names_inside_a_sentence_fill_string_parameters() -> None:
    result = await Agent("offline", tools=[get_weather]).run("What's the weather in Paris?")
    assert result.messages[1].tool_calls[0].arguments == {"city": "Paris"}
    result = await Agent("offline", tools=[get_weather]).run("Weather for New York, please")
    assert result.messages[1].tool_calls[0].arguments == {"city": "New York"}
