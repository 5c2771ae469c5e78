"""Llama 3.1's built-in tools as ready-made tools: brave_search, wolfram_alpha, code_interpreter.

Llama 3.1 was trained to call these three by name (`brave_search.call(query="...")`,
`wolfram_alpha.call(query="...")`, raw Python after `<|python_tag|>`); offered under those
names, the native prompt lists them on its `Tools:` line and agentkit's recovery reads the
calls. The search and the computation go to a backend, a callable `query -> text` (sync or
async): by default the Brave Search API (key in BRAVE_SEARCH_API_KEY or BRAVE_API_KEY) and
the Wolfram|Alpha Full Results API (app id in WOLFRAM_ALPHA_APP_ID); pass your own to use
another service. `code_interpreter` runs the code with the sandboxed `python` tool.
"""

from __future__ import annotations

import inspect
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread

from .errors import UserError
from .tools import Tool, load_tools, tool

__all__ = [
    "BraveSearch",
    "SearchBackend",
    "WolframAlpha",
    "brave_search_tool",
    "code_interpreter_tool",
    "wolfram_alpha_tool",
]

SearchBackend = Callable[[str], "Awaitable[str] | str"]

BRAVE_ENDPOINT = "https://api.search.brave.com/res/v1/web/search"
WOLFRAM_ENDPOINT = "https://api.wolframalpha.com/v2/query"
_MAX_RESPONSE = 2_000_000


class BackendError(RuntimeError):
    """A search or computation service failed; the message says which and why."""


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


def _key(names: tuple[str, ...]) -> str | None:
    return next((os.environ[n] for n in names if os.environ.get(n)), None)


@dataclass(frozen=True)
class BraveSearch:
    """The Brave Search API: the top web results as title, address and snippet."""

    api_key: str
    endpoint: str = BRAVE_ENDPOINT
    count: int = 5
    timeout: float = 20.0

    async def __call__(self, query: str) -> str:
        url = f"{self.endpoint}?{urllib.parse.urlencode({'q': query, 'count': self.count})}"
        headers = {"X-Subscription-Token": self.api_key}
        data = await anyio.to_thread.run_sync(_get, url, headers, self.timeout, "Brave Search")
        results = data.get("web", {}).get("results", []) if isinstance(data, dict) else []
        lines = [
            f"{r.get('title', '')}\n{r.get('url', '')}\n{r.get('description', '')}"
            for r in results[: self.count]
            if isinstance(r, dict)
        ]
        return "\n\n".join(lines) if lines else f"No web results for {query!r}."


@dataclass(frozen=True)
class WolframAlpha:
    """The Wolfram|Alpha Full Results API: each pod's title and plain text."""

    app_id: str
    endpoint: str = WOLFRAM_ENDPOINT
    timeout: float = 30.0

    async def __call__(self, query: str) -> str:
        parameters = {"input": query, "appid": self.app_id, "output": "json", "format": "plaintext"}
        url = f"{self.endpoint}?{urllib.parse.urlencode(parameters)}"
        data = await anyio.to_thread.run_sync(_get, url, {}, self.timeout, "Wolfram|Alpha")
        result = data.get("queryresult", {}) if isinstance(data, dict) else {}
        if not result.get("success"):
            return f"Wolfram|Alpha did not understand {query!r}; rephrase it as a computation."
        lines = []
        for pod in result.get("pods", []):
            texts = [s.get("plaintext", "") for s in pod.get("subpods", []) if s.get("plaintext")]
            if texts:
                lines.append(f"{pod.get('title', '')}: {' | '.join(texts)}")
        return "\n".join(lines) or f"Wolfram|Alpha has no plain-text result for {query!r}."


async def _ask(backend: SearchBackend, query: str) -> str:
    answer = backend(query)
    if inspect.isawaitable(answer):
        answer = await answer
    return str(answer)


def brave_search_tool(backend: SearchBackend | None = None) -> Tool:
    """Llama 3.1's `brave_search`, on `backend` (default: the Brave Search API).

    Raises:
        UserError: No backend was given and no key is in BRAVE_SEARCH_API_KEY or BRAVE_API_KEY.
    """
    if backend is None:
        key = _key(("BRAVE_SEARCH_API_KEY", "BRAVE_API_KEY"))
        if key is None:
            raise UserError(
                "brave_search needs a Brave Search API key: set BRAVE_SEARCH_API_KEY (or "
                "BRAVE_API_KEY), or pass backend= a function that searches"
            )
        backend = BraveSearch(key)
    chosen = backend

    @tool(name="brave_search")
    async def brave_search(query: str) -> str:
        """Search the web and return the top results (title, address, snippet).

        Args:
            query: What to search for, e.g. "latest price of 1oz gold".
        """
        return await _ask(chosen, query)

    return brave_search


def wolfram_alpha_tool(backend: SearchBackend | None = None) -> Tool:
    """Llama 3.1's `wolfram_alpha`, on `backend` (default: the Wolfram|Alpha API).

    Raises:
        UserError: No backend was given and no app id is in WOLFRAM_ALPHA_APP_ID.
    """
    if backend is None:
        app_id = _key(("WOLFRAM_ALPHA_APP_ID", "WOLFRAM_ALPHA_APPID"))
        if app_id is None:
            raise UserError(
                "wolfram_alpha needs a Wolfram|Alpha app id: set WOLFRAM_ALPHA_APP_ID, or pass "
                "backend= a function that computes"
            )
        backend = WolframAlpha(app_id)
    chosen = backend

    @tool(name="wolfram_alpha")
    async def wolfram_alpha(query: str) -> str:
        """Compute or look up facts with Wolfram|Alpha (math, science, units, data).

        Args:
            query: The question or computation, e.g. "100th decimal of pi".
        """
        return await _ask(chosen, query)

    return wolfram_alpha


def code_interpreter_tool() -> Tool:
    """Llama 3.1's `code_interpreter`: the sandboxed `python` tool under the built-in's name.

    It asks for approval like `python`, with the same sandbox, limits and description.
    """
    (python,) = load_tools("python")
    return Tool.from_function(
        python.function,
        name="code_interpreter",
        description=python.description,
        timeout=python.timeout,
        requires_approval=True,
    )
