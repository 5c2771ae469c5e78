"""Web search, as Llama 3.1's built-in `brave_search` tool.

Llama 3.1 was trained to call it by name (`brave_search.call(query="...")` after
`<|python_tag|>`); offered under this name, the native prompt lists it on its `Tools:` line
and agentkit's recovery reads the call. By default it asks the Brave Search API, with the key
in BRAVE_SEARCH_API_KEY (or BRAVE_API_KEY), read at the first call; `brave_search_tool(backend)`
makes the tool on a search of your own (any callable `query -> text`, sync or async).
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field

from agentkit.tools import Tool, tool

from ._llama_builtins import SearchBackend, ask, get_json, key

__all__ = ["BRAVE_ENDPOINT", "BraveSearch", "brave_search", "brave_search_tool"]

BRAVE_ENDPOINT = "https://api.search.brave.com/res/v1/web/search"
KEY_VARIABLES = ("BRAVE_SEARCH_API_KEY", "BRAVE_API_KEY")
NO_KEY = (
    "brave_search needs a Brave Search API key: set BRAVE_SEARCH_API_KEY (or BRAVE_API_KEY), "
    "or pass backend= a function that searches (brave_search_tool(backend))"
)
_DESCRIPTION = """Search the web and return the top results (title, address, snippet).

Args:
    query: What to search for, e.g. "latest price of 1oz gold".
"""


@dataclass(frozen=True)
class BraveSearch:
    """The Brave Search API: the top web results as title, address and snippet."""

    api_key: str = field(repr=False)
    endpoint: str = BRAVE_ENDPOINT
    count: int = 5
    timeout: float = 20.0

    async def __call__(self, query: str) -> str:
        url = f"{self.endpoint}?{urllib.parse.urlencode({'q': query, 'count': self.count})}"
        headers = {"X-Subscription-Token": self.api_key}
        data = await get_json(url, headers, self.timeout, "Brave Search", self.api_key)
        results = data.get("web", {}).get("results", []) if isinstance(data, dict) else []
        lines = [
            f"{r.get('title', '')}\n{r.get('url', '')}\n{r.get('description', '')}"
            for r in results[: self.count]
            if isinstance(r, dict)
        ]
        return "\n\n".join(lines) if lines else f"No web results for {query!r}."


@tool
async def brave_search(query: str) -> str:
    """Search the web and return the top results (title, address, snippet).

    Args:
        query: What to search for, e.g. "latest price of 1oz gold".
    """
    search = BraveSearch(key(KEY_VARIABLES, NO_KEY), endpoint=BRAVE_ENDPOINT)
    return await ask(search, query, (search.api_key,))


def brave_search_tool(backend: SearchBackend) -> Tool:
    """`brave_search` on `backend`: a callable `query -> text` (sync or async), e.g.
    `BraveSearch(api_key, endpoint=...)` or a search of your own."""

    async def search(query: str) -> str:
        return await ask(backend, query, _secrets(backend))

    search.__doc__ = _DESCRIPTION
    return Tool.from_function(search, name="brave_search")


def _secrets(backend: object) -> tuple[str, ...]:
    secret = getattr(backend, "api_key", None)
    return (secret,) if isinstance(secret, str) and secret else ()
