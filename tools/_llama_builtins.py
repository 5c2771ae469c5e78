"""What Llama 3.1's built-in search tools share: the HTTP call, the backend, their keys.

`brave_search` and `wolfram_alpha` (the tool modules beside this one) each send the query to
a backend, a callable `query -> text` (sync or async). The default backends call a web API
with a key from the environment, read when a call needs it, so the tools load (and are
listed) without one. A key never reaches the model: it is cut out of every result and error.
"""

from __future__ import annotations

import inspect
import json
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio.to_thread

from agentkit import _env
from agentkit._hygiene import redact
from agentkit.errors import UserError

__all__ = ["BackendError", "SearchBackend", "ask", "get_json", "key"]

SearchBackend = Callable[[str], "Awaitable[str] | str"]

_MAX_RESPONSE = 2_000_000


class BackendError(RuntimeError):
    """A search or computation service failed; the message says which and why."""


def key(names: Sequence[str], missing: str) -> str:
    """The first of the environment variables `names` that is set.

    Raises:
        UserError: None is set; `missing` says what to do.
    """
    found = next((value for name in names if (value := _env.setting(name))), None)
    if found is None:
        raise UserError(missing)
    return found


def _get(url: str, headers: dict[str, str], timeout: float, service: str) -> Any:
    """GET JSON (blocking: run it in a worker thread)."""
    request = urllib.request.Request(url, headers={"Accept": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            body = answer.read(_MAX_RESPONSE + 1)
    except urllib.error.HTTPError as exc:
        detail = exc.read(300).decode("utf-8", "replace")
        raise BackendError(f"{service} answered HTTP {exc.code}: {detail}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise BackendError(f"{service} could not be reached: {exc}") from None
    if len(body) > _MAX_RESPONSE:
        raise BackendError(f"{service} sent more than {_MAX_RESPONSE} bytes")
    try:
        return json.loads(body)
    except ValueError:
        raise BackendError(f"{service} sent a body that is not JSON: {body[:120]!r}") from None


async def get_json(
    url: str, headers: dict[str, str], seconds: float, service: str, secret: str
) -> Any:
    """The JSON `service` answers at `url`, fetched in a worker thread (`seconds` to connect
    and between bytes); `secret` (the key in the URL or headers) is cut out of any error.

    Raises:
        BackendError: The service failed or sent no JSON.
    """
    try:
        return await anyio.to_thread.run_sync(_get, url, headers, seconds, service)
    except BackendError as exc:
        raise BackendError(redact(str(exc), (secret,))) from None


async def ask(backend: SearchBackend, query: str, secrets: Sequence[str] = ()) -> str:
    """The backend's answer to `query` as text, without `secrets`."""
    answer = backend(query)
    if inspect.isawaitable(answer):
        answer = await answer
    return redact(str(answer), secrets)
