"""The offline model: a deterministic stand-in that runs the whole loop without a network.

It is not a language model and says so. Turn one calls the tools whose name or description
shares words with the prompt (all tools when none does), each once, with schema-valid
arguments built from the prompt (quoted strings, numbers, arithmetic, capitalised words)
and the schema (defaults, enum values). Turn two answers with a short summary of the
tool results. With an output tool declared, it fills that tool's schema instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timezone
from typing import Any

from ._output import OUTPUT_TOOL_NAME
from .messages import AssistantMessage, Message, ToolCall, ToolMessage, Usage, UserMessage
from .models import Model, ModelResponse, ModelSettings

__all__ = ["OUTPUT_TOOL_NAME", "OfflineModel", "schema_instance"]

NOTICE = "(offline model: no language model was called; this summarises the tool results)"

_WORD = re.compile(r"[a-z0-9]+")
_QUOTED = re.compile(r"\"([^\"]+)\"|'([^']+)'|“([^”]+)”")
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")
_EXPRESSION = re.compile(r"[-+(]*\d[\d.\s]*(?:[-+*/^%]+[\s(]*[-+]?\d[\d.\s)]*)+")
# Capitalised words inside a sentence (names, places), not the first word of one.
_CAPITALISED = re.compile(r"(?<=[a-z0-9,;:] )[A-Z][a-zA-Z]+(?:[ ,]+[A-Z][a-zA-Z]+)*")
_STOP = frozenset(
    (  # noqa: SIM905 - a word list reads best as words
        "a an and are as at be by can do does for from get give how i in is it me my of on or "
        "please show tell the this to use what when where which who with you your"
    ).split()
)


class _Candidates:
    """Values found in the prompt, handed out in order to the parameters that want them."""

    def __init__(self, prompt: str) -> None:
        quoted = [next(g for g in m.groups() if g) for m in _QUOTED.finditer(prompt)]
        unquoted = _QUOTED.sub(" ", prompt)
        expressions = [e.strip() for e in _EXPRESSION.findall(unquoted)]
        self.numbers = [float(n) for n in _NUMBER.findall(_EXPRESSION.sub(" ", unquoted))]
        self.strings = quoted + expressions + _CAPITALISED.findall(unquoted)
        self.prompt = prompt.strip()

    def string(self) -> str | None:
        return self.strings.pop(0) if self.strings else None

    def number(self) -> float | None:
        return self.numbers.pop(0) if self.numbers else None


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 2}


def _number_in_range(schema: Mapping[str, Any], value: float | None, integer: bool) -> float:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    if value is None:
        value = low if low is not None else 1
    if low is not None and value < low:
        value = low + (1 if "exclusiveMinimum" in schema else 0)
    if high is not None and value > high:
        value = high - (1 if "exclusiveMaximum" in schema else 0)
    return int(value) if integer else float(value)


def _string(schema: Mapping[str, Any], found: _Candidates, name: str) -> str:
    fmt = schema.get("format")
    if fmt == "date-time":
        return datetime(2024, 1, 1, tzinfo=timezone.utc).isoformat()
    if fmt == "date":
        return date(2024, 1, 1).isoformat()
    if fmt == "uuid":
        return "00000000-0000-4000-8000-000000000000"
    text = found.string() or found.prompt or name
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    if len(text) < low:
        text = text.ljust(low, "x")
    return text[:high] if high is not None else text


def schema_instance(schema: Mapping[str, Any], found: _Candidates, name: str = "value") -> Any:
    """A value valid for a (ref-free) JSON schema, filled from the prompt where it fits."""
    if "default" in schema:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf"):
        options = [o for o in schema.get(key, ()) if o.get("type") != "null"]
        if options:
            return schema_instance(options[0], found, name)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        required = schema.get("required", [])
        return {k: schema_instance(properties[k], found, k) for k in required if k in properties}
    if kind == "array":
        count = schema.get("minItems", 0)
        items = schema.get("prefixItems") or [schema.get("items", {})] * count
        return [schema_instance(item, found, name) for item in items]
    if kind in ("integer", "number"):
        return _number_in_range(schema, found.number(), kind == "integer")
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return _string(schema, found, name)


def _last_user_text(messages: Sequence[Message]) -> str:
    return next((m.content for m in reversed(messages) if isinstance(m, UserMessage)), "")


class OfflineModel(Model):
    """A deterministic stand-in for demos and tests: no network, no language model.

    It exercises the whole loop (schemas, dispatch, validation, tool results, iteration) with
    schema-valid arguments, and its answers say they come from the offline model.
    """

    name = "offline"

    async def request(
        self,
        messages: Sequence[Message],
        tools: Sequence[Mapping[str, Any]],
        settings: ModelSettings,
    ) -> ModelResponse:
        prompt = _last_user_text(messages)
        last = messages[-1] if messages else None
        functions = [t["function"] for t in tools if isinstance(t.get("function"), Mapping)]
        output = next((f for f in functions if f["name"] == OUTPUT_TOOL_NAME), None)
        if isinstance(last, ToolMessage):
            results = _tool_results(messages)
            if output is not None:
                return self._reply(AssistantMessage(None, (self._call(output, prompt),)))
            return self._reply(AssistantMessage(_summary(results)))
        chosen = _choose(functions, prompt)
        if chosen:
            return self._reply(AssistantMessage(None, tuple(self._call(f, prompt) for f in chosen)))
        if output is not None:
            return self._reply(AssistantMessage(None, (self._call(output, prompt),)))
        return self._reply(AssistantMessage(f"You said: {prompt.strip()}\n{NOTICE}"))

    def _call(self, function: Mapping[str, Any], prompt: str) -> ToolCall:
        arguments = schema_instance(function.get("parameters", {}), _Candidates(prompt))
        return ToolCall(name=function["name"], arguments=arguments)

    def _reply(self, message: AssistantMessage) -> ModelResponse:
        # Token counts are not invented: the offline model reports one request and no tokens.
        return ModelResponse(message, Usage(requests=1))


def _choose(functions: list[Mapping[str, Any]], prompt: str) -> list[Mapping[str, Any]]:
    tools = [f for f in functions if f["name"] != OUTPUT_TOOL_NAME]
    wanted = _words(prompt)
    matching = [
        f
        for f in tools
        if wanted & _words(f["name"].replace("_", " ") + " " + str(f.get("description", "")))
    ]
    return matching or tools


def _tool_results(messages: Sequence[Message]) -> list[tuple[str, str]]:
    """The (tool name, result) pairs answering the latest assistant message."""
    names: dict[str, str] = {}
    results: list[tuple[str, str]] = []
    for message in reversed(messages):
        if isinstance(message, ToolMessage):
            results.append((message.tool_call_id, message.content))
        elif isinstance(message, AssistantMessage):
            names = {c.id: c.name for c in message.tool_calls}
            break
    return [(names.get(i, "tool"), text) for i, text in reversed(results)]


def _summary(results: list[tuple[str, str]]) -> str:
    lines = []
    for name, text in results:
        one_line = " ".join(text.split())
        lines.append(f"- {name}: {one_line[:200]}{'...' if len(one_line) > 200 else ''}")
    return "Tool results:\n" + "\n".join(lines) + "\n" + NOTICE
