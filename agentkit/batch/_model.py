"""The agent's model behind the batch's rate limits: every request passes the shared gate.

A 429 answer is waited out (its `Retry-After`, else backoff) and the same request sent
again, up to `attempts` times, so a rate limit costs a pause, never the turns a row has
already run. A `Retry-After` past `MAX_RETRY_AFTER` is not waited for: the row fails with
the 429. Other failures go up to the row, which decides whether to try it again.

Every reply's usage is also added to the running attempt's `UsageMeter`, so an attempt cut
off by the row timeout still reports what its finished replies used.
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from agentkit import Agent, ModelError, Usage
from agentkit.messages import Message
from agentkit.models import Model, ModelResponse, ModelSettings

from ._limits import MAX_RETRY_AFTER, RateLimiter, backoff, deadline_paused

__all__ = ["LimitedModel", "UsageMeter", "attempt_meter", "with_model"]

RATE_LIMITED = 429


class UsageMeter:
    """The usage of the replies one row attempt got so far (requests, tokens, cost).

    Tool calls are not seen here (the loop runs them): a meter's `tool_calls` stays 0.
    """

    def __init__(self) -> None:
        self.usage = Usage()

    def add(self, response: ModelResponse) -> None:
        reply = response.usage
        self.usage = self.usage + Usage(
            reply.requests, reply.prompt_tokens, reply.completion_tokens, 0, reply.cost
        )


# The meter of the row attempt running in this task (the loop's tasks inherit it).
attempt_meter: contextvars.ContextVar[UsageMeter | None] = contextvars.ContextVar(
    "agentkit_batch_attempt_meter", default=None
)


def _metered(response: ModelResponse) -> None:
    meter = attempt_meter.get()
    if meter is not None:
        meter.add(response)


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
        wait = error.retry_after
        if error.status != RATE_LIMITED or attempt >= self.attempts:
            return False
        if wait is not None and wait > MAX_RETRY_AFTER:
            return False  # a server's mistake or a ban: fail the row rather than stall the batch
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
            _metered(response)
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
                        _metered(item)
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
    """The same agent with another model; everything else of its configuration kept.

    The endpoint, key, retries and timeouts belong to the model given (a `Model` takes no
    `base_url`/`api_key` of the agent's).
    """
    return agent.replace(model=model, base_url=None, api_key=None)
