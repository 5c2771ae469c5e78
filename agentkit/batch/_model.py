"""The agent's model behind the batch's rate limits: every request passes the shared gate.

A 429 answer is waited out (its `Retry-After`, else backoff) and the same request sent
again, up to `attempts` times, so a rate limit costs a pause, never the turns a row has
already run. Other failures go up to the row, which decides whether to try it again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from agentkit import Agent, ModelError
from agentkit.messages import Message
from agentkit.models import Model, ModelResponse, ModelSettings

from ._limits import RateLimiter, backoff, deadline_paused, retry_after

__all__ = ["LimitedModel", "with_model"]

RATE_LIMITED = 429


class LimitedModel(Model):
    """`inner`, each request gated by `limiter`; 429 answers waited out and sent again.

    Args:
        inner: The agent's own model.
        limiter: The batch's shared limiter.
        attempts: Times one request is sent while the endpoint answers 429.
        initial_backoff: The first wait after a 429 that gives no `Retry-After`.
    """

    def __init__(
        self, inner: Model, limiter: RateLimiter, *, attempts: int, initial_backoff: float
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.limiter = limiter
        self.attempts = attempts
        self.initial_backoff = initial_backoff

    @property
    def secrets(self) -> tuple[str, ...]:
        return self.inner.secrets

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def _gate(self) -> float:
        with deadline_paused():
            reserved, _ = await self.limiter.acquire()
        return reserved

    def _rate_limited(self, error: ModelError, attempt: int) -> bool:
        """Whether to send again after this error (a 429 with attempts left); sets the pause."""
        if error.status != RATE_LIMITED or attempt >= self.attempts:
            return False
        wait = retry_after(error)
        self.limiter.cool_down(wait if wait is not None else backoff(attempt, self.initial_backoff))
        return True

    async def request(
        self,
        messages: Sequence[Message],
        tools: Sequence[Mapping[str, Any]],
        settings: ModelSettings,
    ) -> ModelResponse:
        attempt = 0
        while True:
            attempt += 1
            reserved = await self._gate()
            try:
                response = await self.inner.request(messages, tools, settings)
            except ModelError as exc:
                self.limiter.settle(reserved, None)
                if self._rate_limited(exc, attempt):
                    continue
                raise
            except BaseException:
                self.limiter.settle(reserved, None)
                raise
            self.limiter.settle(reserved, response.usage.total_tokens)
            return response

    async def request_stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[Mapping[str, Any]],
        settings: ModelSettings,
    ) -> AsyncIterator[str | ModelResponse]:
        attempt = 0
        while True:
            attempt += 1
            reserved = await self._gate()
            started = False
            used: int | None = None
            try:
                async for item in self.inner.request_stream(messages, tools, settings):
                    started = True
                    if isinstance(item, ModelResponse):
                        used = item.usage.total_tokens
                    yield item
                return
            except ModelError as exc:
                # Text already handed on cannot be taken back: only a refused start is resent.
                if not started and self._rate_limited(exc, attempt):
                    continue
                raise
            finally:
                self.limiter.settle(reserved, used)


def with_model(agent: Agent[Any], model: Model) -> Agent[Any]:
    """The same agent with another model, built from its public configuration.

    Phase 2 replaces this with `agent.replace(model=model)` once the Agent's configuration
    is a frozen value; until then every constructor argument is read back from the agent
    (base_url, api_key, retries, timeout and deadline live in the model itself).
    """
    return Agent(
        model,
        instructions=agent.instructions,
        tools=list(agent.tools),
        max_turns=agent.max_turns,
        output_type=agent.output_type,
        approval=agent.approval,
        approve_all_tools=agent.approve_all_tools,
        max_tool_failures=agent.max_tool_failures,
        model_settings=agent.model_settings,
        usage_limits=agent.usage_limits,
        max_parallel_tools=agent.max_parallel_tools,
        max_result_chars=agent.max_result_chars,
    )
