"""The same agent written twice: with agentkit, and as a minimal hand-written `openai` loop.

Three typed, documented tools (and a 100 ms sleeper for the parallel scenario). Each
adapter exposes `run(prompt) -> str` and `stream(prompt) -> (first_delta_seconds, text)`.
Optional adapters for other frameworks load when those are installed.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any, Literal, Protocol

SYSTEM = "You are a helpful assistant. Use the tools when they help."


def get_weather(city: str, unit: Literal["c", "f"] = "c") -> str:
    """Get the current weather for a city.

    Args:
        city: City and country, e.g. "Paris, France".
        unit: Temperature unit.
    """
    return f"22 degrees {unit.upper()}, sunny, in {city}"


def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: The first number.
        b: The second number.
    """
    return a + b


def lookup_user(user_id: int, fields: list[str] | None = None) -> dict[str, Any]:
    """Look up a user record.

    Args:
        user_id: The user's numeric id.
        fields: Which fields to return; all when omitted.
    """
    record = {"id": user_id, "name": f"user{user_id}", "email": f"u{user_id}@example.com"}
    return {k: v for k, v in record.items() if not fields or k in fields}


async def pause() -> str:
    """Wait 100 ms, like a slow API."""
    await asyncio.sleep(0.1)
    return "done"


TOOLS: list[Callable[..., Any]] = [get_weather, add, lookup_user, pause]

# What a user writing the loop by hand would send: the same schemas, written out.
TOOL_SPECS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City and country."},
                    "unit": {"type": "string", "enum": ["c", "f"], "default": "c"},
                },
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "add",
            "description": "Add two integers.",
            "parameters": {
                "type": "object",
                "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                "required": ["a", "b"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "lookup_user",
            "description": "Look up a user record.",
            "parameters": {
                "type": "object",
                "properties": {
                    "user_id": {"type": "integer"},
                    "fields": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["user_id"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "pause",
            "description": "Wait 100 ms, like a slow API.",
            "parameters": {"type": "object", "properties": {}},
        },
    },
]
FUNCTIONS: dict[str, Callable[..., Any]] = {f.__name__: f for f in TOOLS}


class Adapter(Protocol):
    name: str

    async def run(self, prompt: str) -> str: ...

    async def stream(self, prompt: str) -> tuple[float, str]: ...

    async def close(self) -> None: ...


class AgentkitAdapter:
    """The agent, built with agentkit."""

    name = "agentkit"

    def __init__(self, base_url: str, model: str) -> None:
        from agentkit import Agent

        self.agent = Agent(
            model,
            base_url=base_url,
            api_key="bench",
            instructions=SYSTEM,
            tools=TOOLS,
            max_turns=20,
        )

    async def run(self, prompt: str) -> str:
        return (await self.agent.run(prompt)).output

    async def stream(self, prompt: str) -> tuple[float, str]:
        start = time.perf_counter()
        first = None
        parts = []
        async for event in self.agent.stream(prompt):
            if event.type == "text_delta":
                if first is None:
                    first = time.perf_counter() - start
                parts.append(event.text)
        return (first if first is not None else float("nan")), "".join(parts)

    async def close(self) -> None:
        await self.agent.aclose()


async def _call_tool(name: str, arguments: str) -> str:
    function = FUNCTIONS[name]
    result = function(**json.loads(arguments or "{}"))
    if asyncio.iscoroutine(result):
        result = await result
    return result if isinstance(result, str) else json.dumps(result)


class HandwrittenAdapter:
    """The baseline every user could write: a loop over `openai.AsyncOpenAI`."""

    name = "handwritten-openai"

    def __init__(self, base_url: str, model: str) -> None:
        import openai

        self.client = openai.AsyncOpenAI(base_url=base_url, api_key="bench")
        self.model = model

    async def run(self, prompt: str) -> str:
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": prompt},
        ]
        for _ in range(20):
            response = await self.client.chat.completions.create(
                model=self.model,
                messages=messages,
                tools=TOOL_SPECS,  # type: ignore[arg-type]
            )
            message = response.choices[0].message
            if not message.tool_calls:
                return message.content or ""
            calls = [c for c in message.tool_calls if c.type == "function"]
            messages.append(
                {
                    "role": "assistant",
                    "content": message.content,
                    "tool_calls": [
                        {
                            "id": c.id,
                            "type": "function",
                            "function": {
                                "name": c.function.name,
                                "arguments": c.function.arguments,
                            },
                        }
                        for c in calls
                    ],
                }
            )
            results = await asyncio.gather(
                *(_call_tool(c.function.name, c.function.arguments) for c in calls)
            )
            for c, result in zip(calls, results, strict=True):
                messages.append({"role": "tool", "tool_call_id": c.id, "content": result})
        raise RuntimeError("too many turns")

    async def stream(self, prompt: str) -> tuple[float, str]:
        start = time.perf_counter()
        first = None
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": prompt},
        ]
        for _ in range(20):
            stream = await self.client.chat.completions.create(
                model=self.model,
                messages=messages,  # type: ignore[arg-type]
                tools=TOOL_SPECS,  # type: ignore[arg-type]
                stream=True,
                stream_options={"include_usage": True},
            )
            text: list[str] = []
            calls: dict[int, dict[str, Any]] = {}
            async for chunk in stream:
                if not chunk.choices:
                    continue
                delta = chunk.choices[0].delta
                if delta.content:
                    if first is None:
                        first = time.perf_counter() - start
                    text.append(delta.content)
                for tc in delta.tool_calls or ():
                    slot = calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
                    slot["id"] = tc.id or slot["id"]
                    if tc.function is not None:
                        slot["name"] = tc.function.name or slot["name"]
                        slot["arguments"] += tc.function.arguments or ""
            if not calls:
                return (first if first is not None else float("nan")), "".join(text)
            ordered = [calls[i] for i in sorted(calls)]
            messages.append(
                {
                    "role": "assistant",
                    "content": "".join(text) or None,
                    "tool_calls": [
                        {
                            "id": c["id"],
                            "type": "function",
                            "function": {"name": c["name"], "arguments": c["arguments"]},
                        }
                        for c in ordered
                    ],
                }
            )
            results = await asyncio.gather(
                *(_call_tool(c["name"], c["arguments"]) for c in ordered)
            )
            for c, result in zip(ordered, results, strict=True):
                messages.append({"role": "tool", "tool_call_id": c["id"], "content": result})
        raise RuntimeError("too many turns")

    async def close(self) -> None:
        await self.client.close()


class OpenAIAgentsAdapter:
    """The same agent on the OpenAI Agents SDK (optional)."""

    name = "openai-agents"

    def __init__(self, base_url: str, model: str) -> None:
        import agents
        import openai

        self._agents = agents
        agents.set_tracing_disabled(True)  # no trace export: nothing may leave the machine
        client = openai.AsyncOpenAI(base_url=base_url, api_key="bench")
        chat_model = agents.OpenAIChatCompletionsModel(model=model, openai_client=client)
        self.agent = agents.Agent(
            name="bench",
            instructions=SYSTEM,
            model=chat_model,
            tools=[agents.function_tool(f) for f in TOOLS],
        )
        self.client = client

    async def run(self, prompt: str) -> str:
        result = await self._agents.Runner.run(self.agent, prompt, max_turns=20)
        return str(result.final_output)

    async def stream(self, prompt: str) -> tuple[float, str]:
        start = time.perf_counter()
        first = None
        parts = []
        result = self._agents.Runner.run_streamed(self.agent, prompt, max_turns=20)
        async for event in result.stream_events():
            data = getattr(event, "data", None)
            delta = getattr(data, "delta", None)
            is_text = getattr(data, "type", "") == "response.output_text.delta"
            if event.type == "raw_response_event" and is_text and delta:
                if first is None:
                    first = time.perf_counter() - start
                parts.append(delta)
        return (first if first is not None else float("nan")), "".join(parts)

    async def close(self) -> None:
        await self.client.close()


class PydanticAIAdapter:
    """The same agent on pydantic-ai (optional)."""

    name = "pydantic-ai"

    def __init__(self, base_url: str, model: str) -> None:
        from pydantic_ai import Agent
        from pydantic_ai.models.openai import OpenAIChatModel
        from pydantic_ai.providers.openai import OpenAIProvider

        provider = OpenAIProvider(base_url=base_url, api_key="bench")
        self.agent = Agent(
            OpenAIChatModel(model, provider=provider), instructions=SYSTEM, tools=TOOLS
        )

    async def run(self, prompt: str) -> str:
        return str((await self.agent.run(prompt)).output)

    async def stream(self, prompt: str) -> tuple[float, str]:
        start = time.perf_counter()
        first = None
        parts = []
        async with self.agent.run_stream(prompt) as result:
            async for text in result.stream_text(delta=True):
                if first is None:
                    first = time.perf_counter() - start
                parts.append(text)
        return (first if first is not None else float("nan")), "".join(parts)

    async def close(self) -> None:
        return None


ADAPTERS: dict[str, type[Any]] = {
    "agentkit": AgentkitAdapter,
    "handwritten-openai": HandwrittenAdapter,
    "openai-agents": OpenAIAgentsAdapter,
    "pydantic-ai": PydanticAIAdapter,
}
OPTIONAL = {"openai-agents": "agents", "pydantic-ai": "pydantic_ai"}
