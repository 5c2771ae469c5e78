"""The SDK's retries, reported: httpx event hooks on the adapter's HTTP client.

Each attempt the SDK sends passes the request hook, each HTTP answer the response hook
(public `httpx2` hooks, on the aiohttp transport too). The SDK numbers its attempts in the
`x-stainless-retry-count` header; the hooks hand that on to the request's `RequestAttempts`
(`agentkit.models._retries`), which the loop opened. Outside a watched request they do nothing.
"""

from __future__ import annotations

from typing import Any

from agentkit.models._retries import current_attempts
from agentkit.models.openai._hints import no_retry_for_unparsed

__all__ = ["attempt_hooks"]

_COUNT = "x-stainless-retry-count"


async def _on_request(request: Any) -> None:
    attempts = current_attempts()
    if attempts is None:
        return
    count = request.headers.get(_COUNT)
    await attempts.started(int(count) if count is not None and count.isdigit() else None)


async def _on_response(response: Any) -> None:
    attempts = current_attempts()
    if attempts is not None:
        attempts.answered(response.status_code)


def attempt_hooks() -> dict[str, list[Any]]:
    """`event_hooks=` for an `httpx2.AsyncClient` that reports each attempt (and keeps the
    SDK from retrying an error no retry can cure: `_hints`)."""
    return {"request": [_on_request], "response": [_on_response, no_retry_for_unparsed]}
