"""What a run uses (requests, tokens, tool calls, cost), the limits on it, and model prices."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agentkit.errors import UserError

__all__ = ["PRICES", "Usage", "UsageLimits", "estimate_cost"]


# US dollars per million tokens, (input, output). Extend it for your provider:
# `agentkit.messages.PRICES["my-model"] = (0.1, 0.2)`.
PRICES: dict[str, tuple[float, float]] = {
    "meta-llama/llama-3.1-70b-instruct": (0.40, 0.40),
}


def estimate_cost(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """Estimated cost in US dollars of the tokens, or None when the model has no known price."""
    price = PRICES.get(model) or PRICES.get(model.lower())
    if price is None:
        return None
    return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1_000_000


@dataclass(frozen=True, slots=True)
class Usage:
    """What a run (or one model reply) used.

    Attributes:
        requests: Model requests that returned a reply.
        prompt_tokens: Input tokens, as the server reported them.
        completion_tokens: Output tokens, as the server reported them.
        tool_calls: Tool calls executed.
        cost: Estimated cost in US dollars from `PRICES`; None when the model has no price.
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
