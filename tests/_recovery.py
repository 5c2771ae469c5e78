"""Shared pieces of the Llama recovery tests: tools that record the calls that really ran."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from _reliability import OPEN_AGENTS

from agentkit import Agent
from agentkit.testing import FakeServer

Calls = list[tuple[str, dict[str, Any]]]


@dataclass
class Ran:
    """The tool calls that actually ran, in order, with the arguments each tool received."""

    calls: Calls = field(default_factory=list)

    def tools(self) -> list[Callable[..., Any]]:
        def get_weather(city: str) -> str:
            """Get the current weather for a city.

            Args:
                city: City name.
            """
            self.calls.append(("get_weather", {"city": city}))
            return f"Sunny in {city}"

        def add(a: int, b: int) -> int:
            """Add two integers.

            Args:
                a: The first.
                b: The second.
            """
            self.calls.append(("add", {"a": a, "b": b}))
            return a + b

        def brave_search(query: str) -> str:
            """Search the web.

            Args:
                query: What to search for.
            """
            self.calls.append(("brave_search", {"query": query}))
            return "3 results"

        def wolfram_alpha(query: str) -> str:
            """Ask Wolfram Alpha.

            Args:
                query: The question.
            """
            self.calls.append(("wolfram_alpha", {"query": query}))
            return "x = 2"

        def code_interpreter(code: str) -> str:
            """Run Python code.

            Args:
                code: The code.
            """
            self.calls.append(("code_interpreter", {"code": code}))
            return "1.4142135623730951"

        return [get_weather, add, brave_search, wolfram_alpha, code_interpreter]


def same_calls(ran: Calls, expected: Calls) -> bool:
    """Whether the same calls ran: tools run concurrently, so they may end in any order."""
    return sorted(map(repr, ran)) == sorted(map(repr, expected))


def make_agent(server: FakeServer, ran: Ran) -> Agent[str]:
    """An agent on the fake server with the recording tools, closed after the test."""
    agent: Agent[str] = Agent(
        "meta-llama/llama-3.1-70b-instruct",
        base_url=server.url,
        api_key="test-key",
        tools=ran.tools(),
        max_retries=0,
    )
    OPEN_AGENTS.append(agent)
    return agent
