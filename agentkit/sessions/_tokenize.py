"""Exact prompt sizes from the server itself, where it has a tokenize endpoint.

vLLM: `POST /tokenize` takes the chat messages and tools and renders the model's template
(`{"count": N, "max_model_len": ...}`). llama.cpp: `POST /apply-template` renders the
prompt, `POST /tokenize` counts it (`{"tokens": [...]}`). Both live at the server's root,
beside `/v1`. A counter returns None when the server has no such endpoint or fails: exact
counts are an improvement over the estimate, never a reason for a run to stop.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal

from agentkit.messages import Message
from agentkit.models.openai import messages_to_wire

__all__ = ["TokenCounter", "server_root", "server_token_counter"]

TokenCounter = Callable[[Sequence[Message], Sequence[Mapping[str, Any]]], Awaitable["int | None"]]


def server_root(base_url: str) -> str:
    """The server's root from an OpenAI base URL: `http://h:8000/v1` -> `http://h:8000`."""
    root = base_url.rstrip("/")
    return root[: -len("/v1")] if root.endswith("/v1") else root


class _Counter:
    """POSTs to a server's tokenize endpoints; remembers a server that has none."""

    def __init__(
        self,
        base_url: str,
        kind: Literal["vllm", "llama.cpp"],
        model: str | None,
        api_key: str | None,
        timeout: float,
    ) -> None:
        self.root = server_root(base_url)
        self.kind = kind
        self.model = model
        self.headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        self.timeout = timeout
        self.unsupported = False

    def __repr__(self) -> str:
        return f"server_token_counter({self.root!r}, kind={self.kind!r})"

    async def __call__(
        self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]]
    ) -> int | None:
        if self.unsupported:
            return None
        import httpx2

        wire = messages_to_wire(messages)
        body: dict[str, Any] = {"messages": wire, "add_generation_prompt": True}
        if tools:
            body["tools"] = [dict(t) for t in tools]
        try:
            async with httpx2.AsyncClient(timeout=self.timeout, headers=self.headers) as client:
                if self.kind == "vllm":
                    if self.model is not None:
                        body["model"] = self.model
                    data = await self._post(client, "/tokenize", body)
                    count = data.get("count") if data is not None else None
                    return count if isinstance(count, int) and count > 0 else None
                rendered = await self._post(client, "/apply-template", body)
                prompt = rendered.get("prompt") if rendered is not None else None
                if not isinstance(prompt, str):
                    return None
                request = {"content": prompt, "add_special": False, "parse_special": True}
                data = await self._post(client, "/tokenize", request)
        except httpx2.HTTPError:
            return None
        tokens = data.get("tokens") if data is not None else None
        return len(tokens) if isinstance(tokens, list) and tokens else None

    async def _post(self, client: Any, path: str, body: Mapping[str, Any]) -> dict[str, Any] | None:
        response = await client.post(self.root + path, json=body)
        if response.status_code in (404, 405, 501):
            self.unsupported = True  # no such endpoint: do not ask again
            return None
        if response.status_code != 200:
            return None
        try:
            data = json.loads(response.content)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None


def server_token_counter(
    base_url: str,
    kind: Literal["vllm", "llama.cpp"],
    *,
    model: str | None = None,
    api_key: str | None = None,
    timeout: float = 10.0,
) -> TokenCounter:
    """A counter of prompt tokens by the server's own tokenizer and chat template.

    Args:
        base_url: The OpenAI-compatible base URL (`.../v1`) or the server's root.
        kind: "vllm" (`/tokenize` with messages) or "llama.cpp" (`/apply-template`,
            then `/tokenize`).
        model: The model id (vLLM serving several models needs it).
        api_key: Sent as a bearer token, as to the chat endpoint.
        timeout: Seconds for each request.

    Returns:
        An async callable `(messages, tools) -> int | None`: None when the server cannot
        count (no such endpoint, an error), after which a 404 is not asked again.
    """
    return _Counter(base_url, kind, model, api_key, timeout)
