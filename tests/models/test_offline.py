"""The offline model: deterministic, no network, runs the whole loop with valid arguments."""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Annotated, Literal

import jsonschema
import pytest
from pydantic import BaseModel, Field

from agentkit import Agent, ToolMessage
from agentkit.models.offline._model import OfflineModel, _Candidates, schema_instance
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
    # There were no tools, so nothing to summarise: the notice does not claim otherwise.
    assert result.output == "You said: hi\n(offline model: no language model was called)"


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


# -- choosing the tools ----------------------------------------------------------------------


def read_file(path: str) -> str:
    """Read a text file.

    Args:
        path: The file's path.
    """
    return f"read {path}"


def list_files(path: str = ".") -> str:
    """List the files in a folder.

    Args:
        path: The folder.
    """
    return f"listed {path}"


def search_files(pattern: str, path: str = ".") -> str:
    """Search the files for a pattern.

    Args:
        pattern: The text to find.
        path: Where to look.
    """
    return f"searched {path} for {pattern}"


def write_file(path: str, content: str) -> str:
    """Write a file.

    Args:
        path: The file's path.
        content: The new text.
    """
    return f"wrote {path}"


FILE_TOOLS = [read_file, search_files, write_file, list_files]


async def first_calls(tools: list[object], prompt: str) -> list[tuple[str, dict[str, object]]]:
    """The (name, arguments) of the offline model's first tool calls for `prompt`."""
    result = await Agent("offline", tools=tools).run(prompt)
    return [(c.name, c.arguments or {}) for c in result.messages[1].tool_calls]


async def test_only_the_best_matching_tool_is_called() -> None:
    # "files" is in all four names; "list" only in one: that one wins, alone.
    assert await first_calls(FILE_TOOLS, "list the files") == [("list_files", {})]
    assert await first_calls(FILE_TOOLS, "read README.md") == [("read_file", {"path": "README.md"})]


async def test_a_word_in_the_name_weighs_more_than_one_in_the_description() -> None:
    def forecast(city: str) -> str:
        """The weather for the coming days.

        Args:
            city: The city.
        """
        return city

    # "weather" is in get_weather's name (2 + 1) and only in forecast's description (1).
    calls = await first_calls([forecast, get_weather], "weather in Oslo")
    assert [name for name, _ in calls] == ["get_weather"]


async def test_tools_that_tie_are_all_called_in_their_order() -> None:
    calls = await first_calls(FILE_TOOLS, "the files, please")
    assert [name for name, _ in calls] == ["read_file", "search_files", "write_file", "list_files"]


# -- arguments by meaning --------------------------------------------------------------------


async def test_a_path_parameter_takes_the_file_named_in_the_prompt() -> None:
    calls = await first_calls([read_file], "please read ./docs/notes.txt, then tell me")
    assert calls == [("read_file", {"path": "./docs/notes.txt"})]
    # An optional path is filled only when the prompt names one.
    assert await first_calls([list_files], "list the files in ./src") == [
        ("list_files", {"path": "./src"})
    ]
    assert await first_calls([list_files], "list the files") == [("list_files", {})]


async def test_a_required_path_of_a_listing_tool_is_the_root_when_none_is_named() -> None:
    def list_folder(folder: str) -> str:
        """List a folder.

        Args:
            folder: The folder.
        """
        return folder

    assert await first_calls([list_folder], "list everything") == [("list_folder", {"folder": "."})]


def schedule(day: date, start_time: str, title: str) -> str:
    """Put an event in the calendar.

    Args:
        day: The day.
        start_time: When it starts, as HH:MM.
        title: What it is.
    """
    return f"{title} on {day} at {start_time}"


@pytest.mark.parametrize(
    "written",
    ["2025-03-14", "March 14, 2025", "14 March 2025", "Mar 14 2025", "14th of March, 2025"],
)
async def test_a_date_parameter_takes_the_date_in_the_prompt(written: str) -> None:
    calls = await first_calls([schedule], f'"Standup" on {written} at 9:30')
    assert calls == [("schedule", {"day": "2025-03-14", "start_time": "09:30", "title": "Standup"})]


async def test_a_date_time_takes_the_date_and_time_in_utc() -> None:
    schema = {
        "type": "object",
        "properties": {"when": {"type": "string", "format": "date-time"}},
        "required": ["when"],
    }
    found = _Candidates("remind me on 14 March 2025 at 17:05")
    assert schema_instance(schema, found) == {"when": "2025-03-14T17:05:00+00:00"}
    # Not in the prompt: the documented fallback, never today's date.
    assert schema_instance(schema, _Candidates("remind me")) == {
        "when": "2024-01-01T00:00:00+00:00"
    }


async def test_enum_values_named_in_the_prompt_fill_enum_parameters_in_order() -> None:
    def convert(
        amount: float,
        src: Literal["USD", "EUR", "GBP"],
        dst: Literal["USD", "EUR", "GBP"],
    ) -> str:
        """Convert money from one currency to another.

        Args:
            amount: How much.
            src: The currency to convert from.
            dst: The currency to convert to.
        """
        return f"{amount} {src} in {dst}"

    calls = await first_calls([convert], "convert 12.5 usd to GBP")
    assert calls == [("convert", {"amount": 12.5, "src": "USD", "dst": "GBP"})]
    # None named: the first enum value, as before.
    calls = await first_calls([convert], "convert 3")
    assert calls == [("convert", {"amount": 3.0, "src": "USD", "dst": "USD"})]


async def test_an_optional_enum_keeps_its_default_unless_the_prompt_names_a_value() -> None:
    def get_temperature(city: str, unit: Literal["celsius", "kelvin"] = "celsius") -> str:
        """Get the temperature in a city.

        Args:
            city: The city.
            unit: The unit.
        """
        return city

    assert await first_calls([get_temperature], "temperature in Oslo") == [
        ("get_temperature", {"city": "Oslo"})
    ]
    assert await first_calls([get_temperature], "temperature in Oslo in Kelvin") == [
        ("get_temperature", {"city": "Oslo", "unit": "kelvin"})
    ]


async def test_a_number_goes_to_the_parameter_named_by_the_word_after_it() -> None:
    def book(room: int, duration_minutes: int = 60, people: int = 2) -> str:
        """Book a meeting room.

        Args:
            room: The room number.
            duration_minutes: How long.
            people: How many people.
        """
        return f"room {room}"

    calls = await first_calls([book], "book for 90 minutes, room 4, 6 people")
    assert calls == [("book", {"room": 4, "duration_minutes": 90, "people": 6})]
    # Without a matching word, numbers go in order, and optional ones stay unset.
    assert await first_calls([book], "book 7") == [("book", {"room": 7})]


async def test_nothing_is_invented_for_optional_parameters() -> None:
    def forecast(city: str, days: int = 3, when: date | None = None) -> str:
        """Get the forecast for a city.

        Args:
            city: The city.
            days: How many days.
            when: From which day.
        """
        return city

    assert await first_calls([forecast], "forecast for Paris, 2 weeks") == [
        ("forecast", {"city": "Paris"})
    ]
    assert await first_calls([forecast], "forecast for Paris, 2 days from 2025-06-01") == [
        ("forecast", {"city": "Paris", "days": 2, "when": "2025-06-01"})
    ]


@pytest.mark.parametrize(
    ("schema", "prompt"),
    [
        (
            {
                "type": "object",
                "properties": {"path": {"type": "string", "maxLength": 5}},
                "required": ["path"],
            },
            "read the file very/long/name.txt",
        ),
        (
            {
                "type": "object",
                "properties": {"n_minutes": {"type": "integer", "minimum": 5, "maximum": 10}},
                "required": ["n_minutes"],
            },
            "wait 90 minutes",
        ),
        (
            {
                "type": "object",
                "properties": {
                    "size": {"anyOf": [{"type": "null"}, {"enum": ["small", "large"]}]},
                    "day": {"type": "string", "format": "date"},
                },
            },
            "a large one on February 30, 2025",
        ),
    ],
)
def test_values_by_meaning_stay_schema_valid(schema: dict[str, object], prompt: str) -> None:
    value = schema_instance(schema, _Candidates(prompt))
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    jsonschema.Draft202012Validator(schema, format_checker=checker).validate(value)


def test_a_date_that_does_not_exist_is_not_taken() -> None:
    schema = {"type": "string", "format": "date"}
    assert schema_instance(schema, _Candidates("on February 30, 2025")) == "2024-01-01"
