"""What a run uses (requests, tokens, tool calls, cost), the limits on it, and model prices."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agentkit.errors import UserError

__all__ = [
    "PRICES",
    "PRICES_READ_ON",
    "Usage",
    "UsageLimits",
    "check_price",
    "estimate_cost",
    "priced",
]


# US dollars per million tokens, (input, output), by model id as each provider spells it,
# read on PRICES_READ_ON from the providers' model pages and price lists. Prices change:
# extend or correct it for your provider (`agentkit.messages.PRICES["my-model"] = (0.1, 0.2)`),
# or give one agent its own price (`Agent(..., price=(0.1, 0.2))`).
# Not listed, because no price could be read for them: haimaker's Llama 3.1 8B and 405B,
# Groq's Llama 3.1 70B (`llama-3.1-70b-versatile`, retired), Together's 8B and 405B Turbo.
# Self-hosted servers (vLLM, Ollama, llama.cpp) cost no tokens: their cost stays unknown.
PRICES_READ_ON = "2026-12-07"
PRICES: dict[str, tuple[float, float]] = {
    # haimaker: its model page for Llama 3.1 70B Instruct.
    "meta-llama/llama-3.1-70b-instruct": (0.40, 0.40),
    # Groq: Llama 3.1 8B Instant, as Groq's price list gives it (in a public copy of that
    # list; groq.com's own page could not be read).
    "llama-3.1-8b-instant": (0.05, 0.08),
    # Together: Llama 3.1 70B Instruct Turbo, from a listing of Together's serverless prices.
    "meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo": (0.88, 0.88),
}


def check_price(price: object) -> str | None:
    """A problem with a price, `(input, output)` in US dollars per million tokens; or None."""
    numbers = (
        isinstance(price, tuple | list)
        and len(price) == 2
        and all(isinstance(p, int | float) and not isinstance(p, bool) and p >= 0 for p in price)
    )
    if not numbers:
        return (
            "price must be (input, output) in US dollars per million tokens, two numbers "
            f">= 0, e.g. (0.40, 0.40); got {price!r:.80}"
        )
    return None


def estimate_cost(
    model: str,
    prompt_tokens: int,
    completion_tokens: int,
    price: tuple[float, float] | None = None,
) -> float | None:
    """Estimated cost in US dollars of the tokens, at `price` or else the model's in PRICES;
    None when it has no known price."""
    price = price or PRICES.get(model) or PRICES.get(model.lower())
    if price is None:
        return None
    return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1_000_000


def priced(usage: Usage, price: tuple[float, float]) -> Usage:
    """`usage` with its cost at `price` (still unknown when no tokens were reported)."""
    if not usage.total_tokens:
        return usage
    cost = (usage.prompt_tokens * price[0] + usage.completion_tokens * price[1]) / 1_000_000
    return Usage(
        usage.requests, usage.prompt_tokens, usage.completion_tokens, usage.tool_calls, cost
    )


@dataclass(frozen=True, slots=True)
class Usage:
    """What a run (or one model reply) used.

    Attributes:
        requests: Model requests that returned a reply.
        prompt_tokens: Input tokens, as the server reported them.
        completion_tokens: Output tokens, as the server reported them.
        tool_calls: Tool calls executed.
        cost: Estimated cost in US dollars, from the agent's `price` or `PRICES`; None when
            the model has no price (or the server reported no tokens).
    """

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tool_calls: int = 0
    cost: float | None = None

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable dict, with `total_tokens`."""
        return {
            "requests": self.requests,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "tool_calls": self.tool_calls,
            # Rounded to a millionth of a cent: sums of float prices carry binary noise.
            "cost": None if self.cost is None else round(self.cost, 8),
        }

    def __add__(self, other: Usage) -> Usage:
        if self.cost is None and other.cost is None:
            cost = None
        else:
            cost = (self.cost or 0.0) + (other.cost or 0.0)
        return Usage(
            self.requests + other.requests,
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.tool_calls + other.tool_calls,
            cost,
        )


@dataclass(frozen=True, slots=True)
class UsageLimits:
    """Limits that stop a run with `UsageLimitExceeded`. None means no limit."""

    requests: int | None = None
    total_tokens: int | None = None
    tool_calls: int | None = None

    def __post_init__(self) -> None:
        problems = [
            f"{name} must be a whole number >= {least} or None, got {value!r}"
            for name, least in (("requests", 1), ("total_tokens", 1), ("tool_calls", 0))
            if (value := getattr(self, name)) is not None
            and (not isinstance(value, int) or isinstance(value, bool) or value < least)
        ]
        if problems:
            raise UserError("the usage limits are not valid:", problems)
