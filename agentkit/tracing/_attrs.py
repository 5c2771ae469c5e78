"""The OpenTelemetry GenAI semantic conventions as agentkit fills them: names and values.

Attribute names follow the GenAI conventions (development status, as of semantic
conventions 1.37+: `gen_ai.provider.name`, not the older `gen_ai.system`). Message content
is only ever built when capture is on, as the conventions' JSON (`role` and `parts`), each
text cut to the size cap so the structure stays valid.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "DURATION_BUCKETS",
    "TOKEN_BUCKETS",
    "error_type",
    "input_messages",
    "output_messages",
    "provider_for",
    "request_attributes",
    "text_part",
    "truncate",
]

OPERATION = "gen_ai.operation.name"
PROVIDER = "gen_ai.provider.name"
AGENT_NAME = "gen_ai.agent.name"
REQUEST_MODEL = "gen_ai.request.model"
RESPONSE_MODEL = "gen_ai.response.model"
RESPONSE_ID = "gen_ai.response.id"
FINISH_REASONS = "gen_ai.response.finish_reasons"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
TOKEN_TYPE = "gen_ai.token.type"
TOOL_NAME = "gen_ai.tool.name"
TOOL_CALL_ID = "gen_ai.tool.call.id"
TOOL_TYPE = "gen_ai.tool.type"
TOOL_ARGUMENTS = "gen_ai.tool.call.arguments"
TOOL_RESULT = "gen_ai.tool.call.result"
INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"
STREAM = "gen_ai.request.stream"
FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
ERROR_TYPE = "error.type"

# The bucket boundaries the conventions ask for.
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304)
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48)

# Well-known `gen_ai.provider.name` values by endpoint host; other OpenAI-compatible servers
# (vLLM, llama.cpp, Ollama, Together, haimaker) have no registered value.
_PROVIDERS = {
    "api.openai.com": "openai",
    "api.groq.com": "groq",
    "api.deepseek.com": "deepseek",
    "api.mistral.ai": "mistral_ai",
    "api.x.ai": "x_ai",
    "api.perplexity.ai": "perplexity",
}
OTHER_PROVIDER = "openai_compatible"
LOCAL_PROVIDER = "agentkit"  # the offline model and the testing models: no server at all

_SETTINGS = {
    "temperature": ("gen_ai.request.temperature", float),
    "top_p": ("gen_ai.request.top_p", float),
    "max_tokens": ("gen_ai.request.max_tokens", int),
    "seed": ("gen_ai.request.seed", int),
    "frequency_penalty": ("gen_ai.request.frequency_penalty", float),
    "presence_penalty": ("gen_ai.request.presence_penalty", float),
}


def provider_for(address: str | None) -> str:
    """The `gen_ai.provider.name` for a server address (see `_PROVIDERS`)."""
    if address is None:
        return LOCAL_PROVIDER
    return _PROVIDERS.get(address, OTHER_PROVIDER)


def request_attributes(settings: Mapping[str, Any]) -> dict[str, Any]:
    """`gen_ai.request.*` attributes of the request settings that have one."""
    attributes: dict[str, Any] = {}
    for key, value in settings.items():
        known = _SETTINGS.get(key)
        if known is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
            attributes[known[0]] = known[1](value)
    stop = settings.get("stop")
    if isinstance(stop, str):
        attributes["gen_ai.request.stop_sequences"] = (stop,)
    elif isinstance(stop, (list, tuple)) and all(isinstance(s, str) for s in stop):
        attributes["gen_ai.request.stop_sequences"] = tuple(stop)
    return attributes


def error_type(error: BaseException) -> str:
    """A low-cardinality `error.type`: the HTTP status of an endpoint error, else the class."""
    status = getattr(error, "status", None)
    if isinstance(status, int) and not isinstance(status, bool):
        return str(status)
    kind = type(error)
    module = kind.__module__
    if module == "builtins":
        return kind.__qualname__
    if module.startswith("agentkit."):
        module = "agentkit"  # agentkit's public path, whatever private module defines it
    return f"{module}.{kind.__qualname__}"


def truncate(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…[{len(text) - limit} more characters]"


def text_part(text: str, limit: int) -> dict[str, Any]:
    return {"type": "text", "content": truncate(text, limit)}


def _arguments(call: Any, limit: int) -> Any:
    arguments = getattr(call, "arguments", None)
    if arguments is None:
        return truncate(str(getattr(call, "raw_arguments", "")), limit)
    text = json.dumps(arguments, ensure_ascii=False)
    return arguments if len(text) <= limit else truncate(text, limit)


def _parts(message: Any, limit: int) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    role = getattr(message, "role", "")
    content = getattr(message, "content", None)
    if role == "tool":
        response = truncate(str(content or ""), limit)
        return [{"type": "tool_call_response", "id": message.tool_call_id, "response": response}]
    if isinstance(content, str) and content:
        parts.append(text_part(content, limit))
    for call in getattr(message, "tool_calls", ()):
        parts.append(
            {
                "type": "tool_call",
                "id": call.id,
                "name": call.name,
                "arguments": _arguments(call, limit),
            }
        )
    return parts


def input_messages(messages: Iterable[Any], limit: int) -> str:
    """`gen_ai.input.messages`: the messages sent, as the conventions' JSON."""
    wire = [{"role": getattr(m, "role", "user"), "parts": _parts(m, limit)} for m in messages]
    return json.dumps(wire, ensure_ascii=False)


# The output-messages schema's finish reasons are singular; OpenAI-compatible servers say
# "tool_calls" (the span's `gen_ai.response.finish_reasons` keeps the server's own word).
_FINISH = {"tool_calls": "tool_call", "function_call": "tool_call"}


def output_messages(message: Any, finish_reason: str | None, limit: int) -> str:
    """`gen_ai.output.messages`: the one reply, as the conventions' JSON."""
    reply: dict[str, Any] = {"role": "assistant", "parts": _parts(message, limit)}
    finish = finish_reason or ("tool_call" if message.tool_calls else "stop")
    reply["finish_reason"] = _FINISH.get(finish, finish)
    return json.dumps([reply], ensure_ascii=False)


def tool_arguments(call: Any, limit: int) -> str:
    """`gen_ai.tool.call.arguments` as JSON text (the conventions allow a string on spans)."""
    arguments = _arguments(call, limit)
    return arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
