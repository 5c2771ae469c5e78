"""A weather agent over a small built-in table of cities (no weather service is called).

    agentkit run examples/weather.py 'What is the weather in "Paris"?'
    agentkit chat examples/weather.py

The model is `model_from_env()`: AGENTKIT_MODEL when set, else Llama 3.1 70B when an endpoint
is configured (an API key or a base URL in the environment), else the offline model; so the
demo runs anywhere, with `agentkit run` or as `python examples/weather.py PROMPT`.
"""

from __future__ import annotations

import sys
from typing import Annotated, Literal

from pydantic import Field

from agentkit import Agent, ModelRetry, tool
from agentkit.models import model_from_env

EXAMPLE_PROMPT = 'What is the weather in "Paris"?'

# A fake weather service: the current weather, and a five-day forecast as "conditions high/low".
_NOW = {
    "paris": ("Paris, France", 18, "partly cloudy", 12, 64),
    "london": ("London, United Kingdom", 14, "drizzle", 20, 81),
    "tokyo": ("Tokyo, Japan", 24, "sunny", 8, 58),
    "new york": ("New York, United States", 21, "clear", 15, 50),
    "sydney": ("Sydney, Australia", 16, "windy", 32, 60),
}
_FORECAST = {
    "paris": "light rain 17/11, cloudy 19/12, sunny 23/13, sunny 24/15, showers 20/14",
    "london": "rain 13/9, showers 15/10, cloudy 16/10, partly cloudy 17/11, rain 14/10",
    "tokyo": "sunny 26/19, sunny 27/20, cloudy 25/20, thunderstorms 23/19, cloudy 24/18",
    "new york": "clear 23/15, partly cloudy 22/16, rain 18/14, showers 19/13, sunny 24/16",
    "sydney": "windy 17/10, sunny 19/11, sunny 20/12, cloudy 18/12, rain 16/11",
}


def _key(city: str) -> str:
    """The table key for a city name ("Paris, France" -> "paris"); ModelRetry when unknown."""
    key = city.split(",")[0].strip().lower()
    if key not in _NOW:
        known = ", ".join(entry[0] for entry in _NOW.values())
        raise ModelRetry(f"No weather data for {city!r}. Known cities: {known}.")
    return key


def _temperature(celsius: float, unit: str) -> str:
    return f"{celsius * 9 / 5 + 32:.0f}°F" if unit == "f" else f"{celsius:.0f}°C"


@tool
def get_weather(city: str, unit: Literal["c", "f"] = "c") -> str:
    """Get the current weather for a city.

    Args:
        city: City name, optionally with its country, e.g. "Paris" or "Paris, France".
        unit: Temperature unit: "c" for Celsius, "f" for Fahrenheit.
    """
    name, celsius, conditions, wind, humidity = _NOW[_key(city)]
    return (
        f"{name}: {_temperature(celsius, unit)}, {conditions}, wind {wind} km/h, "
        f"humidity {humidity}%"
    )


@tool
def get_forecast(
    city: str,
    days: Annotated[int, Field(ge=1, le=5)] = 3,
    unit: Literal["c", "f"] = "c",
) -> str:
    """Get the daily forecast for a city: conditions, high and low, for up to five days.

    Args:
        city: City name, optionally with its country, e.g. "Tokyo" or "Tokyo, Japan".
        days: How many days ahead, from 1 to 5.
        unit: Temperature unit: "c" for Celsius, "f" for Fahrenheit.
    """
    key = _key(city)
    lines = []
    for day, entry in enumerate(_FORECAST[key].split(", ")[:days], start=1):
        conditions, temperatures = entry.rsplit(" ", 1)
        high, low = (float(t) for t in temperatures.split("/"))
        lines.append(
            f"day {day}: {conditions}, high {_temperature(high, unit)}, "
            f"low {_temperature(low, unit)}"
        )
    name = _NOW[key][0]
    return f"{name}\n" + "\n".join(lines)


agent = Agent(
    model=model_from_env(),
    instructions=(
        "You are a friendly weather assistant. Use the tools for every weather fact; never "
        "guess. Answer in two or three sentences, with practical advice (an umbrella, a "
        "jacket) when the weather calls for it."
    ),
    tools=[get_weather, get_forecast],
)

if __name__ == "__main__":
    from agentkit.cli import main

    main(["run", __file__, *(sys.argv[1:] or [EXAMPLE_PROMPT])], prog_name="agentkit")
