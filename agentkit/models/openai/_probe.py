"""`OpenAIModel.probe()`: cheap live checks of what an endpoint does, made concurrently.

Each check is one small request (at most 64 tokens, temperature 0, one tool: `calculate`,
asked to work out 17*23), at most four at once, each given 20 s and no retry; a check that
fails is recorded with its error, never raised: a timeout as such, a refused connection (or
an unknown host) as "unreachable", and then the probe stops at once, the checks not yet made
recorded as not tried: one request that cannot connect says all there is. The results
(`Capabilities`) are saved in the user's cache folder and adapt the model's later requests
(`_adapt`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio

from agentkit._hygiene import redact
from agentkit.llama import extract_tool_calls
from agentkit.messages import AssistantMessage
from agentkit.models.openai import _capabilities
from agentkit.models.openai._capabilities import CHECKS, Capabilities, Check
from agentkit.models.openai._hints import error_message, reason_of
from agentkit.models.openai._reach import root_cause, timed_out, unreachable
from agentkit.models.openai._responses import assistant_message

if TYPE_CHECKING:
    from agentkit.models.openai._adapter import OpenAIModel

__all__ = ["probe"]

SECONDS = 20.0
AT_ONCE = 4
TOOL = {
    "type": "function",
    "function": {
        "name": "calculate",
        "description": "Evaluate an arithmetic expression.",
        "parameters": {
            "type": "object",
            "properties": {"expression": {"type": "string", "description": "E.g. 2+2."}},
            "required": ["expression"],
        },
    },
}
ASK = [{"role": "user", "content": "Use the calculate tool to work out 17*23."}]
ASK_TWO = [{"role": "user", "content": "Use the calculate tool twice in one reply: 17*23 and 2+2."}]
_CALLS = [
    {"id": f"call_{n}", "type": "function", "function": {"name": "calculate", "arguments": a}}
    for n, a in ((1, '{"expression": "17*23"}'), (2, '{"expression": "2+2"}'))
]
HISTORY: list[dict[str, Any]] = [
    *ASK_TWO,
    {"role": "assistant", "content": None, "tool_calls": _CALLS},
    {"role": "tool", "tool_call_id": "call_1", "content": "391"},
    {"role": "tool", "tool_call_id": "call_2", "content": "4"},
]
SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "probe",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {"answer": {"type": "string"}},
            "required": ["answer"],
            "additionalProperties": False,
        },
    },
}
NAMED = {"type": "function", "function": {"name": "calculate"}}


@dataclass(frozen=True, slots=True)
class Answer:
    """What one probe request got: an HTTP status (0: none), the body, or what went wrong
    (`unreachable`: the request could not connect at all)."""

    status: int
    data: Any = None
    detail: str = ""
    unreachable: bool = False

    @property
    def refused(self) -> bool:
        return 400 <= self.status < 500

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def _reply(answer: Answer) -> AssistantMessage:
    try:
        return assistant_message(answer.data["choices"][0]["message"])
    except (KeyError, IndexError, TypeError, ValueError):
        return AssistantMessage()


def _calls(message: AssistantMessage) -> tuple[int, int]:
    """(native calls, calls written as text) of a reply."""
    return len(message.tool_calls), len(extract_tool_calls(message.content or "")[1])


class Prober:
    """The checks of one probe; `run` makes them all."""

    def __init__(self, model: OpenAIModel) -> None:
        self.model = model
        self.client = model._clients.get().with_options(max_retries=0, timeout=SECONDS)
        self.checks: dict[str, Check] = {}
        self.finish: set[str] = set()
        self.unreachable = ""  # why nothing can be reached, once a request found that
        self.scope = anyio.CancelScope()  # the checks': cancelled when nothing can be reached

    def record(self, name: str, result: str, detail: str = "") -> None:
        self.checks[name] = Check(name, result, redact(detail, self.model.secrets)[:300])

    def failed(self, name: str, answer: Answer) -> None:
        """A request that got no usable answer: refused (4xx), no connection, or an error."""
        result = "unreachable" if answer.unreachable else "error"
        self.record(name, "refused" if answer.refused else result, answer.detail)

    async def request(
        self, method: str, path: str, body: dict[str, Any] | None = None, stream: bool = False
    ) -> Answer:
        import httpx2
        import openai

        content = json.dumps(body).encode() if body is not None else None
        try:
            with anyio.fail_after(SECONDS):
                if method == "GET":
                    response = await self.client.get(path, cast_to=httpx2.Response)
                else:
                    response = await self.client.post(
                        path, cast_to=httpx2.Response, content=content, stream=stream
                    )
                if stream:
                    try:
                        return Answer(response.status_code, await _chunks(response))
                    finally:
                        await response.aclose()
                return Answer(response.status_code, _json(response.content))
        except openai.APIStatusError as exc:
            detail = error_message(exc.body) or exc.response.text
            return Answer(exc.status_code, exc.body, reason_of(detail) or detail)
        except TimeoutError:  # `fail_after`'s (an OSError: caught first)
            return Answer(0, None, f"no answer within {SECONDS:g} s")
        except (openai.APIError, httpx2.HTTPError, OSError, ValueError) as exc:
            return self.no_answer(exc)

    def no_answer(self, exc: Exception) -> Answer:
        """A request that got no response: told by its root cause (the SDK's aiohttp transport
        calls a refused connection a timeout); one that cannot connect stops the probe."""
        root = root_cause(exc)
        if timed_out(root):
            return Answer(0, None, f"no answer within {SECONDS:g} s")
        where = unreachable(root, self.model.endpoint)
        if where:
            self.unreachable = self.unreachable or where
            self.scope.cancel()
            return Answer(0, None, where, unreachable=True)
        return Answer(0, None, f"{type(root).__name__}: {root}" if str(root) else repr(root))

    async def chat(self, messages: list[dict[str, Any]], **extra: Any) -> Answer:
        body = {"model": self.model.name, "messages": messages, "max_tokens": 64}
        body.update(temperature=0, **extra)
        answer = await self.request("POST", "/chat/completions", body, bool(extra.get("stream")))
        if answer.ok and not extra.get("stream"):
            for choice in answer.data.get("choices", []) if isinstance(answer.data, dict) else []:
                if isinstance(choice, dict) and isinstance(choice.get("finish_reason"), str):
                    self.finish.add(choice["finish_reason"])
        return answer

    # -- the checks ---------------------------------------------------------------------------

    async def models(self) -> None:
        answer = await self.request("GET", "/models")
        if answer.status == 404:
            self.record("models", "no list", "GET /models answered 404")
        elif not answer.ok:
            self.failed("models", answer)
        else:
            data = answer.data.get("data") if isinstance(answer.data, dict) else None
            ids = [m.get("id") for m in data or [] if isinstance(m, dict)]
            listed = "listed" if self.model.name in ids else "not listed"
            self.record("models", listed, ", ".join(str(i) for i in ids[:5]))

    async def tool_calls(self) -> None:
        answer = await self.chat(ASK, tools=[TOOL])
        if not answer.ok:
            return self.failed("tool_calls", answer)
        message = _reply(answer)
        native, text = _calls(message)
        if native:
            call = message.tool_calls[0]
            self.record("tool_calls", "native", f"{call.name}({call.raw_arguments})")
        elif text:
            self.record("tool_calls", "text", (message.content or "")[:120])
        else:
            self.record("tool_calls", "none", (message.content or "")[:120])

    async def tool_choice(self, value: str | dict[str, Any]) -> None:
        name = f"tool_choice:{'function' if isinstance(value, dict) else value}"
        answer = await self.chat(ASK, tools=[TOOL], tool_choice=value)
        if not answer.ok:
            return self.failed(name, answer)
        native, text = _calls(_reply(answer))
        if value == "none":
            if native:
                self.record(name, "ignored", "tool_calls were still sent")
            else:
                seen = "the call came back as text; agentkit runs nothing" if text else ""
                self.record(name, "accepted", seen)
        elif value == "auto" or native:
            self.record(name, "accepted")
        else:
            self.record(name, "ignored", "the reply made no native call")

    async def parallel(self) -> None:
        answer = await self.chat(ASK_TWO, tools=[TOOL], parallel_tool_calls=True)
        if not answer.ok:
            return self.failed("parallel_tool_calls", answer)
        native, text = _calls(_reply(answer))
        calls = max(native, text)
        if calls >= 2:
            self.record("parallel_tool_calls", "supported", f"{calls} calls in one reply")
        elif calls == 1:
            self.record("parallel_tool_calls", "one per reply", "1 call made")
        else:
            self.record("parallel_tool_calls", "unknown", "no call was made")

    async def history(self) -> None:
        answer = await self.chat(HISTORY, tools=[TOOL])
        if answer.ok:
            self.record("calls_in_history", "accepted")
        else:
            self.failed("calls_in_history", answer)

    async def stream(self) -> None:
        usage = {"stream_options": {"include_usage": True}}
        answer = await self.chat(ASK, tools=[TOOL], stream=True, **usage)
        if answer.refused and "stream_options" in answer.detail:
            self.record("stream_usage", "refused", answer.detail)
            answer = await self.chat(ASK, tools=[TOOL], stream=True)
        if not answer.ok:
            self.failed("streamed_calls", answer)
            self.checks.setdefault("stream_usage", Check("stream_usage", "unknown"))
            return
        chunks: list[Any] = answer.data
        pieces, text, error = 0, "", ""
        for chunk in chunks:
            if not isinstance(chunk, dict):
                continue
            error = error or error_message(chunk.get("error"))
            for choice in chunk.get("choices") or []:
                delta = choice.get("delta") or {}
                text += delta.get("content") or ""
                pieces += sum(1 for e in delta.get("tool_calls") or () if _has_arguments(e))
                if isinstance(choice.get("finish_reason"), str):
                    self.finish.add(choice["finish_reason"])
            if chunk.get("usage") and "stream_usage" not in self.checks:
                self.record("stream_usage", "sent")
        self.checks.setdefault("stream_usage", Check("stream_usage", "absent"))
        if error:
            self.record("streamed_calls", "error", error)
        elif pieces:
            how = "in one delta" if pieces == 1 else f"in {pieces} deltas"
            self.record("streamed_calls", "pieces" if pieces > 1 else "whole", f"arguments {how}")
        else:
            found = "text" if extract_tool_calls(text)[1] else "none"
            self.record("streamed_calls", found, text[:120])

    async def json_schema(self) -> None:
        ask = [{"role": "user", "content": 'Reply with a JSON object whose "answer" is "ok".'}]
        answer = await self.chat(ask, response_format=SCHEMA)
        if not answer.ok:
            return self.failed("json_schema", answer)
        content = _reply(answer).content or ""
        value = _json(content.encode())
        valid = isinstance(value, dict) and isinstance(value.get("answer"), str)
        extra = isinstance(value, dict) and set(value) - {"answer"}
        if valid and not extra:
            self.record("json_schema", "valid", content[:120])
        else:
            self.record("json_schema", "ignored", f"not the schema's JSON: {content[:100]!r}")

    async def tokenize(self) -> None:
        root = self.model.base_url.removesuffix("/v1")
        url = f"{root}/tokenize"
        plain = await self.request("POST", url, {"content": "Hello", "add_special": False})
        if plain.status == 404:
            return self.record("tokenize", "absent", f"POST {url} answered 404")
        if not plain.ok:
            return self.failed("tokenize", plain)
        special = await self.request("POST", url, {"content": "Hello", "add_special": True})
        without, with_ = _tokens(plain.data), _tokens(special.data)
        detail = f"'Hello' is {len(without)} token{'' if len(without) == 1 else 's'}"
        if len(with_) == len(without) + 1 and with_[1:] == without:
            detail += f"; add_special prepends a begin-of-text token ({with_[0]})"
        self.record("tokenize", "available", detail)

    async def completions(self) -> None:
        body = {"model": self.model.name, "prompt": "Hello", "max_tokens": 1, "temperature": 0}
        answer = await self.request("POST", "/completions", body)
        if answer.ok:
            self.record("completions", "available")
        elif answer.status == 404:
            self.record("completions", "absent", "POST /completions answered 404")
        else:
            self.failed("completions", answer)

    async def run(self) -> Capabilities:
        limiter = anyio.CapacityLimiter(AT_ONCE)
        checks: list[Callable[[], Awaitable[None]]] = [
            self.models,
            self.tool_calls,
            *(_bound(self.tool_choice, value) for value in ("auto", "none", "required", NAMED)),
            self.parallel,
            self.history,
            self.stream,
            self.json_schema,
            self.tokenize,
            self.completions,
        ]

        async def limited(check: Callable[[], Awaitable[None]]) -> None:
            async with limiter:
                await check()

        with self.scope:
            async with anyio.create_task_group() as group:
                for check in checks:
                    group.start_soon(limited, check)
        if self.unreachable:
            for name in CHECKS:
                self.checks.setdefault(name, Check(name, "unknown", "not tried"))
        else:
            seen = ", ".join(sorted(self.finish))
            self.record("finish_reasons", "seen" if seen else "unknown", seen)
        ordered = tuple(self.checks.get(n, Check(n, "unknown")) for n in CHECKS)
        model = self.model
        return Capabilities(
            model.endpoint, model.name, ordered, time.time(), _capabilities.version()
        )


def _bound(check: Callable[[Any], Awaitable[None]], value: Any) -> Callable[[], Awaitable[None]]:
    async def bound() -> None:
        await check(value)

    return bound


def _json(content: bytes) -> Any:
    try:
        return json.loads(content)
    except (ValueError, RecursionError):
        return None


def _tokens(data: Any) -> list[Any]:
    tokens = data.get("tokens") if isinstance(data, dict) else None
    return tokens if isinstance(tokens, list) else []


def _has_arguments(entry: object) -> bool:
    if not isinstance(entry, dict):
        return False
    function = entry.get("function")
    return bool((function if isinstance(function, dict) else entry).get("arguments"))


async def _chunks(response: Any) -> list[Any]:
    """The decoded `data:` payloads of an SSE response, to `[DONE]` or the end."""
    chunks = []
    async for line in response.aiter_lines():
        if line.startswith("data:"):
            payload = line[5:].strip()
            if payload == "[DONE]":
                break
            chunks.append(_json(payload.encode()))
    return chunks


async def probe(model: OpenAIModel, *, refresh: bool = False) -> Capabilities:
    """The endpoint's capabilities: the saved probe while fresh (unless `refresh`), else
    probed now and saved; either way the model adapts its requests to them. A probe that got
    no answer at all (the endpoint is down or does not answer in time), or that was cut short
    (nothing can be reached: `Capabilities.unreachable`), is returned, but neither kept nor
    applied."""
    found = None if refresh else _capabilities.load(model.endpoint, model.name)
    if found is None:
        found = await Prober(model).run()
        if found.unreachable or not found.answered:
            return found  # nothing (or not all) learned: nothing to keep
        _capabilities.save(found)
    model._adapt.apply(found)
    return found
