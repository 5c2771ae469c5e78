"""Where rows run: the `Backend` interface, and the local backend (this process, one loop)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from agentkit import Agent, UserError

from ._execute import Outcome, Policy, execute_row
from ._limits import RateLimiter
from ._model import LimitedModel, with_model
from ._rows import Row

__all__ = ["AgentSource", "Backend", "LocalBackend", "build_agent"]

AgentSource = Agent[Any] | Callable[[], Agent[Any]]


class Backend(Protocol):
    """Runs rows and hands back their outcomes; the driver writes them."""

    name: str

    async def start(self) -> None: ...

    async def run(self, row: Row) -> Outcome: ...

    async def close(self) -> None: ...

    @property
    def rate_limited(self) -> int:
        """429 answers waited out so far."""
        ...


def build_agent(source: AgentSource) -> tuple[Agent[Any], bool]:
    """(agent, built here): the Agent given, or the one its recipe (a factory) builds.

    Raises:
        UserError: The recipe raised, or returned something that is not an Agent.
    """
    if isinstance(source, Agent):
        return source, False
    if not callable(source):
        raise UserError(
            f"agent must be an Agent or a function that returns one, got {source!r:.80}"
        )
    try:
        built = source()
    except UserError:
        raise
    except Exception as exc:
        raise UserError(
            f"building the agent with {getattr(source, '__qualname__', source)!r} failed: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(built, Agent):
        raise UserError(
            f"the agent recipe {getattr(source, '__qualname__', source)!r} returned "
            f"{type(built).__name__}, not an Agent"
        )
    return built, True


class LocalBackend:
    """Rows run as tasks of this event loop, all through one rate limiter.

    Args:
        agent: The agent (its model gets wrapped in the limiter; the agent is not changed).
        limiter: The batch's limiter.
        policy: Attempts, timeout, backoff.
        owned: Close the agent's connections at the end (the batch built it).
    """

    name = "local"

    def __init__(
        self, agent: Agent[Any], limiter: RateLimiter, policy: Policy, *, owned: bool
    ) -> None:
        model = LimitedModel(
            agent.model, limiter, attempts=policy.attempts, initial_backoff=policy.backoff
        )
        self.agent = with_model(agent, model)
        self.limiter = limiter
        self.policy = policy
        self.owned = owned

    async def start(self) -> None:
        return None

    async def run(self, row: Row) -> Outcome:
        return await execute_row(self.agent, row, self.policy)

    async def close(self) -> None:
        if self.owned:
            await self.agent.aclose()

    @property
    def rate_limited(self) -> int:
        return self.limiter.stats.rate_limited
