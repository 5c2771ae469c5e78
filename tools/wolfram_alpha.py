"""Computation and facts, as Llama 3.1's built-in `wolfram_alpha` tool.

Llama 3.1 was trained to call it by name (`wolfram_alpha.call(query="...")` after
`<|python_tag|>`); offered under this name, the native prompt lists it on its `Tools:` line.
By default it asks the Wolfram|Alpha Full Results API, with the app id in
WOLFRAM_ALPHA_APP_ID (or WOLFRAM_ALPHA_APPID), read at the first call;
`wolfram_alpha_tool(backend)` makes the tool on a service of your own.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field

from agentkit.tools import Tool, tool

from ._llama_builtins import SearchBackend, ask, get_json, key

__all__ = ["WOLFRAM_ENDPOINT", "WolframAlpha", "wolfram_alpha", "wolfram_alpha_tool"]

WOLFRAM_ENDPOINT = "https://api.wolframalpha.com/v2/query"
KEY_VARIABLES = ("WOLFRAM_ALPHA_APP_ID", "WOLFRAM_ALPHA_APPID")
NO_KEY = (
    "wolfram_alpha needs a Wolfram|Alpha app id: set WOLFRAM_ALPHA_APP_ID, or pass backend= "
    "a function that computes (wolfram_alpha_tool(backend))"
)
_DESCRIPTION = """Compute or look up facts with Wolfram|Alpha (math, science, units, data).

Args:
    query: The question or computation, e.g. "100th decimal of pi".
"""


@dataclass(frozen=True)
class WolframAlpha:
    """The Wolfram|Alpha Full Results API: each pod's title and plain text."""

    app_id: str = field(repr=False)
    endpoint: str = WOLFRAM_ENDPOINT
    timeout: float = 30.0

    @property
    def api_key(self) -> str:
        """The app id, under the name the tools redact."""
        return self.app_id

    async def __call__(self, query: str) -> str:
        parameters = {"input": query, "appid": self.app_id, "output": "json", "format": "plaintext"}
        url = f"{self.endpoint}?{urllib.parse.urlencode(parameters)}"
        data = await get_json(url, {}, self.timeout, "Wolfram|Alpha", self.app_id)
        result = data.get("queryresult", {}) if isinstance(data, dict) else {}
        if not result.get("success"):
            return f"Wolfram|Alpha did not understand {query!r}; rephrase it as a computation."
        lines = []
        for pod in result.get("pods", []):
            texts = [s.get("plaintext", "") for s in pod.get("subpods", []) if s.get("plaintext")]
            if texts:
                lines.append(f"{pod.get('title', '')}: {' | '.join(texts)}")
        return "\n".join(lines) or f"Wolfram|Alpha has no plain-text result for {query!r}."


@tool
async def wolfram_alpha(query: str) -> str:
    """Compute or look up facts with Wolfram|Alpha (math, science, units, data).

    Args:
        query: The question or computation, e.g. "100th decimal of pi".
    """
    service = WolframAlpha(key(KEY_VARIABLES, NO_KEY), endpoint=WOLFRAM_ENDPOINT)
    return await ask(service, query, (service.app_id,))


def wolfram_alpha_tool(backend: SearchBackend) -> Tool:
    """`wolfram_alpha` on `backend`: a callable `query -> text` (sync or async), e.g.
    `WolframAlpha(app_id, endpoint=...)` or a service of your own."""

    async def compute(query: str) -> str:
        secret = getattr(backend, "api_key", None)
        return await ask(backend, query, (secret,) if isinstance(secret, str) else ())

    compute.__doc__ = _DESCRIPTION
    return Tool.from_function(compute, name="wolfram_alpha")
