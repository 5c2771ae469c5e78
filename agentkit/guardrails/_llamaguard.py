"""LlamaGuard: a guardrail that asks a Llama Guard 3 model, on any OpenAI-compatible server.

Two ways to ask, because servers differ:

- `api="completions"` (the default) renders Llama Guard 3's prompt here, categories and role
  included, and sends it as is to `/v1/completions`. The model sees exactly Meta's format
  with the categories you chose. vLLM, llama.cpp's `llama-server` and Together serve it.
- `api="chat"` sends the conversation to `/v1/chat/completions` and lets the server render
  the prompt with the model's own chat template. Every server serves it (Groq and Ollama only
  this way), but Llama Guard 3 8B's template always lists S1-S14: a subset you choose is
  applied to the answer (codes outside it are recorded as ignored, they do not trip), and
  categories of your own cannot be sent.
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import anyio.lowlevel

from ..errors import UserError
from ..messages import Message, Usage, estimate_cost
from ._prompt import (
    HAZARDS,
    Category,
    Turn,
    VerdictError,
    check_turns,
    message_turns,
    parse_verdict,
    render_prompt,
)
from ._types import GuardrailCheck, GuardrailError, Verdict

if TYPE_CHECKING:
    import openai

__all__ = ["DEFAULT_GUARD_MODEL", "LlamaGuard"]

DEFAULT_GUARD_MODEL = "meta-llama/Llama-Guard-3-8B"

_HINTS = {
    401: " (check api_key)",
    404: (
        " (check base_url and the model id; a server without /v1/completions, such as Groq "
        "or Ollama, needs api='chat')"
    ),
}


class LlamaGuard:
    """A guardrail that asks Llama Guard 3 whether a prompt, answer or tool result is safe.

    Use it as an input, output or tool-result guardrail, or call `classify` directly. A
    verdict that is neither `safe` nor `unsafe` with listed category codes, and any failure
    of the endpoint, raise `GuardrailError`: an undecided check never passes.

    Args:
        model: The model id the server serves Llama Guard 3 under.
        base_url: The OpenAI-compatible endpoint, e.g. "http://localhost:8000/v1".
        api_key: The key, when the server needs one.
        categories: The categories that trip: codes of the standard hazards ("S1".."S14"),
            `Category` objects of your own (api="completions" only), or both. Default: all 14.
        api: "completions" (the prompt rendered here, exactly; needs /v1/completions) or
            "chat" (the server's chat template renders it; see the module notes).
        name: The guardrail's name in verdicts, errors and traces.
        timeout: Seconds to wait for the server, per attempt.
        max_retries: Retries of the `openai` SDK (connection errors, 408, 409, 429, 5xx).
        max_tokens: Most tokens the verdict may take (14 codes fit in about 40).
        begin_of_text: Start the completion prompt with `<|begin_of_text|>`, for a server
            that does not add it when tokenizing (vLLM and llama.cpp do).
    """

    def __init__(
        self,
        model: str = DEFAULT_GUARD_MODEL,
        *,
        base_url: str,
        api_key: str | None = None,
        categories: Sequence[str | Category] | None = None,
        api: Literal["completions", "chat"] = "completions",
        name: str = "llama_guard",
        timeout: float = 30.0,
        max_retries: int = 2,
        max_tokens: int = 64,
        begin_of_text: bool = False,
    ) -> None:
        problems = _config_problems(model, base_url, api, name, timeout, max_retries, max_tokens)
        chosen = _categories(categories, api, problems)
        if problems:
            raise UserError("the Llama Guard guardrail is not valid:", problems)
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.endpoint = _display_url(self.base_url)
        self.categories: Mapping[str, Category] = chosen
        self.api = api
        self.name = name
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.max_tokens = max_tokens
        self.begin_of_text = begin_of_text
        self._api_key = api_key or "not-needed"
        # A connection pool belongs to one event loop (run_sync starts a new one each time).
        self._clients: dict[int, tuple[weakref.ref[Any], openai.AsyncOpenAI]] = {}

    def __repr__(self) -> str:
        return f"LlamaGuard({self.model!r}, base_url={self.endpoint!r}, api={self.api!r})"

    async def __call__(self, check: GuardrailCheck) -> Verdict:
        """Judge a guardrail check: the conversation before it, and what is checked last."""
        return await self._judge(check_turns(check))

    async def classify(self, messages: Sequence[Message]) -> Verdict:
        """Judge the last message of a conversation (a user's, or the agent's reply).

        System messages and tool traffic are left out; the role assessed is the last
        message's ('User' for a `UserMessage`, 'Agent' for an `AssistantMessage`).
        """
        turns = message_turns(messages)
        if not turns:
            raise UserError("classify() needs a user or assistant message with text")
        return await self._judge(turns)

    def prompt(self, turns: Sequence[Turn]) -> str:
        """The completion prompt sent for these turns (for inspection and tests)."""
        prompt = render_prompt(turns, self.categories.values())
        return "<|begin_of_text|>" + prompt if self.begin_of_text else prompt

    async def aclose(self) -> None:
        """Close the connections of the running event loop (they die with it otherwise)."""
        entry = self._clients.pop(id(anyio.lowlevel.current_token().native_token), None)
        if entry is not None:
            await entry[1].close()

    async def __aenter__(self) -> LlamaGuard:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _judge(self, turns: Sequence[Turn]) -> Verdict:
        if self.api == "completions":
            text, finish, usage = await self._complete(self.prompt(turns))
            listed: Sequence[str] = list(self.categories)
        else:
            text, finish, usage = await self._chat(turns)
            listed = list(HAZARDS)
        try:
            verdict = parse_verdict(text, listed, self.categories)
        except VerdictError as exc:
            cut = (
                f" (the answer was cut at max_tokens={self.max_tokens})"
                if finish == "length"
                else ""
            )
            raise self._error(
                f"answered something that is not a verdict: {exc}{cut}; the answer was "
                f"{text[:200]!r}",
                raw=text,
            ) from None
        return dataclasses.replace(verdict, usage=usage, guardrail=self.name)

    async def _complete(self, prompt: str) -> tuple[str, str | None, Usage]:
        client = self._client()
        response = await self._ask(
            client.completions.create(
                model=self.model, prompt=prompt, max_tokens=self.max_tokens, temperature=0
            )
        )
        choice = _first_choice(response)
        text = getattr(choice, "text", None)
        if not isinstance(text, str):
            raise self._error("replied without a completion text (choices[0].text)")
        return text, getattr(choice, "finish_reason", None), self._usage(response)

    async def _chat(self, turns: Sequence[Turn]) -> tuple[str, str | None, Usage]:
        client = self._client()
        messages: list[Any] = [
            {"role": "user" if turn.role == "User" else "assistant", "content": turn.text}
            for turn in turns
        ]
        response = await self._ask(
            client.chat.completions.create(
                model=self.model, messages=messages, max_tokens=self.max_tokens, temperature=0
            )
        )
        choice = _first_choice(response)
        text = getattr(getattr(choice, "message", None), "content", None)
        if not isinstance(text, str):
            raise self._error("replied without message content (choices[0].message.content)")
        return text, getattr(choice, "finish_reason", None), self._usage(response)

    async def _ask(self, request: Any) -> Any:
        import openai

        try:
            return await request
        except openai.APIStatusError as exc:
            detail = str(getattr(exc, "message", "") or exc)[:300]
            hint = _HINTS.get(exc.status_code, "")
            raise self._error(f"HTTP {exc.status_code}: {detail}{hint}", exc.status_code) from None
        except openai.APIConnectionError as exc:  # timeouts too
            timed_out = isinstance(exc, openai.APITimeoutError)
            kind = "no answer in time" if timed_out else "cannot connect"
            retries = f"after {self.max_retries} retr{'y' if self.max_retries == 1 else 'ies'}"
            raise self._error(f"{kind} ({retries})") from None

    def _client(self) -> openai.AsyncOpenAI:
        loop = anyio.lowlevel.current_token().native_token
        entry = self._clients.get(id(loop))
        if entry is not None and entry[0]() is loop:
            return entry[1]
        import openai

        client = openai.AsyncOpenAI(
            api_key=self._api_key,
            base_url=self.base_url,
            timeout=self.timeout,
            max_retries=self.max_retries,
        )
        for key in [k for k, (ref, _) in self._clients.items() if ref() is None]:
            del self._clients[key]
        self._clients[id(loop)] = (weakref.ref(loop), client)
        return client

    def _usage(self, response: Any) -> Usage:
        usage = getattr(response, "usage", None)
        prompt = getattr(usage, "prompt_tokens", None)
        completion = getattr(usage, "completion_tokens", None)
        if not isinstance(prompt, int) or not isinstance(completion, int):
            return Usage(requests=1)
        cost = estimate_cost(self.model, prompt, completion)
        return Usage(requests=1, prompt_tokens=prompt, completion_tokens=completion, cost=cost)

    def _error(self, what: str, status: int | None = None, raw: str = "") -> GuardrailError:
        message = f"Llama Guard at {self.endpoint} (model {self.model!r}) {what}"
        if len(self._api_key) >= 8:
            message = message.replace(self._api_key, "[redacted]")
        return GuardrailError(
            message, guardrail=self.name, raw=raw, status=status, endpoint=self.endpoint
        )


def _first_choice(response: Any) -> Any:
    choices = getattr(response, "choices", None)
    if isinstance(choices, list) and choices:
        return choices[0]
    return None


def _display_url(url: str) -> str:
    """The URL without credentials, for messages."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return parts._replace(netloc=netloc).geturl()


def _config_problems(
    model: object,
    base_url: object,
    api: object,
    name: object,
    timeout: object,
    max_retries: object,
    max_tokens: object,
) -> list[str]:
    problems = []
    if not isinstance(model, str) or not model.strip():
        problems.append(f"model must be the model id of Llama Guard 3 on the server, got {model!r}")
    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
        problems.append(f"base_url must start with http:// or https://, got {base_url!r}")
    if api not in ("completions", "chat"):
        problems.append(f'api must be "completions" or "chat", got {api!r}')
    if not isinstance(name, str) or not name.strip():
        problems.append(f"name must be a non-empty string, got {name!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        problems.append(f"timeout must be a positive number of seconds, got {timeout!r}")
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        problems.append(f"max_retries must be a whole number >= 0, got {max_retries!r}")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 8:
        problems.append(f"max_tokens must be a whole number >= 8, got {max_tokens!r}")
    return problems


def _categories(
    given: Sequence[str | Category] | None, api: object, problems: list[str]
) -> dict[str, Category]:
    """The chosen categories by code, in the order given; problems appended."""
    if given is None:
        return dict(HAZARDS)
    if isinstance(given, (str, Category)) or not isinstance(given, Sequence):
        problems.append(
            f"categories must be a list of codes (like ['S1', 'S10']) or Category objects, "
            f"got {given!r:.80}"
        )
        return {}
    chosen: dict[str, Category] = {}
    for item in given:
        if isinstance(item, Category):
            category = item
            if api == "chat" and HAZARDS.get(item.code) != item:
                problems.append(
                    f"category {item.code} ({item.name}) is your own: with api='chat' the "
                    "server's template lists only the standard S1-S14; use api='completions'"
                )
        elif isinstance(item, str) and item in HAZARDS:
            category = HAZARDS[item]
        else:
            known = ", ".join(HAZARDS)
            problems.append(f"unknown category {item!r:.40}: the standard ones are {known}")
            continue
        if category.code in chosen:
            problems.append(f"category {category.code} is given twice")
        chosen[category.code] = category
    if not chosen and not problems:
        problems.append("categories is empty: give at least one, or None for all 14")
    return chosen
