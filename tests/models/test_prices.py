"""Prices: the listed providers' Llama 3.1 models, and a price of one agent's own."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import pytest

from agentkit import Agent
from agentkit.errors import UserError
from agentkit.messages import PRICES
from agentkit.testing import Completion, FakeServer
from agentkit.usage import PRICES_READ_ON

README = Path(__file__).resolve().parents[2] / "README.md"
USAGE = {"prompt_tokens": 1000, "completion_tokens": 500}


def test_the_hosted_providers_in_the_readme_have_their_model_priced() -> None:
    section = README.read_text(encoding="utf-8").split("## Pointing at an endpoint", 1)[1]
    rows = re.findall(r"^\| ([^|]+) \| `(https://[^`]+)` \| `([^`]+)` \|", section, re.M)
    hosted = {provider.split(" (")[0]: model for provider, _, model in rows}
    assert set(hosted) == {"haimaker", "Groq", "Together"}
    for provider, model in hosted.items():
        assert model in PRICES, f"{provider}'s {model} has no price"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", PRICES_READ_ON)
    assert f"read on {PRICES_READ_ON}" in README.read_text(encoding="utf-8")


def test_an_agents_own_price_sets_its_cost() -> None:
    with FakeServer([Completion("hi", usage=USAGE), Completion("hi", usage=USAGE)]) as server:
        own = Agent("my/model", base_url=server.url, api_key="k", price=(1.0, 2.0))
        assert own.run_sync("hello").usage.cost == pytest.approx(0.002)
        listed = Agent("meta-llama/llama-3.1-70b-instruct", base_url=server.url, api_key="k")
        assert listed.run_sync("hello").usage.cost == pytest.approx(0.0006)


def test_an_agents_price_streams_replaces_and_pickles() -> None:
    with FakeServer([Completion("hi", usage=USAGE)]) as server:
        agent = Agent("my/model", base_url=server.url, api_key="k", price=(1, 2))
        assert agent.config.price == (1.0, 2.0)
        assert pickle.loads(pickle.dumps(agent)).config.price == (1.0, 2.0)
        assert agent.replace(max_turns=3).config.price == (1.0, 2.0)

        async def streamed() -> float | None:
            async with agent:
                async for event in agent.stream("hello"):
                    if event.type == "run_finished":
                        return event.result.usage.cost
            return None

        import anyio

        assert anyio.run(streamed) == pytest.approx(0.002)


@pytest.mark.parametrize("price", [(1.0,), (-1, 2), ("1", "2"), 0.4, (True, 1)])
def test_a_bad_price_is_refused_at_definition(price: object) -> None:
    with pytest.raises(UserError, match="price must be"):
        Agent("offline", price=price)  # type: ignore[arg-type]
