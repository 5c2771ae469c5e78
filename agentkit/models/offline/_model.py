"""The offline model: a deterministic stand-in that runs the whole loop without a network.

It is not a language model and says so. Turn one calls the tools that match the prompt
best, each once: a tool scores 2 for each word of the prompt in its name and 1 for each in
its description; the top score wins (ties: all of them), and when no tool scores, all are
called. Their arguments are schema-valid and taken from the prompt by meaning (see
`_offline_args`). Turn two answers with a short summary of the tool results. With an
output tool declared, it fills that tool's schema instead. With no tools, it echoes the
prompt. What it quotes (a tool's result, the prompt) is never read as a tool call: text that
would be is quoted inertly (see `_summary`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from agentkit.llama import parse_tool_calls
from agentkit.messages import AssistantMessage, Message, ToolCall, ToolMessage, Usage, UserMessage
from agentkit.models._base import OUTPUT_TOOL_NAME, Model, ModelResponse, ModelSettings
from agentkit.models.offline._arguments import Candidates, name_words, schema_instance, words

__all__ = ["OUTPUT_TOOL_NAME", "OfflineModel", "schema_instance"]

NOTICE = "(offline model: no language model was called; this summarises the tool results)"
ECHO_NOTICE = "(offline model: no language model was called)"

# The tests and older callers know the candidates by their private name.
_Candidates = Candidates


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
        echo = prompt.strip()
        if parse_tool_calls(echo):  # the loop would read the echo as the model's calls
            echo = _inert(echo)
        return self._reply(AssistantMessage(f"You said: {echo}\n{ECHO_NOTICE}"))

    def _call(self, function: Mapping[str, Any], prompt: str) -> ToolCall:
        found = Candidates(prompt, function["name"])
        arguments = schema_instance(function.get("parameters", {}), found)
        return ToolCall(name=function["name"], arguments=arguments)

    def _reply(self, message: AssistantMessage) -> ModelResponse:
        # Token counts are not invented: the offline model reports one request and no tokens.
        return ModelResponse(message, Usage(requests=1))


def _score(function: Mapping[str, Any], wanted: set[str]) -> int:
    """2 for each prompt word in the tool's name, 1 for each in its description."""
    in_name = wanted & name_words(function["name"])
    in_description = wanted & words(str(function.get("description", "")))
    return 2 * len(in_name) + len(in_description)


def _choose(functions: list[Mapping[str, Any]], prompt: str) -> list[Mapping[str, Any]]:
    """The tools that match the prompt best (ties: all of them); all tools when none does."""
    tools = [f for f in functions if f["name"] != OUTPUT_TOOL_NAME]
    wanted = words(prompt)
    scores = [_score(f, wanted) for f in tools]
    best = max(scores, default=0)
    if best == 0:
        return tools
    return [f for f, score in zip(tools, scores, strict=True) if score == best]


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


def _shown(text: str) -> str:
    """A result on one line, cut at 200 characters."""
    one_line = " ".join(text.split())
    return f"{one_line[:200]}{'...' if len(one_line) > 200 else ''}"


# Every tool-call syntax the loop recovers from text needs one of these characters.
_INERT = str.maketrans({c: f"\\u{ord(c):04x}" for c in '<>{}()"\\'})


def _inert(text: str) -> str:
    """Text quoted so that no tool call can be read in it: a JSON string, brackets escaped."""
    return f'"{text.translate(_INERT)}"'


def _summary(results: list[tuple[str, str]]) -> str:
    """The tool results, quoted; quoted inertly when they hold text that reads as a call.

    The loop recovers tool calls from a reply's text: a result that quotes one (a fetched
    page, a file) must never become a call of the offline model's.
    """
    lines = [f"- {name}: {_shown(text)}" for name, text in results]
    summary = "Tool results:\n" + "\n".join(lines) + "\n" + NOTICE
    if not parse_tool_calls(summary):
        return summary
    lines = [f"- {_inert(name)}: {_inert(_shown(text))}" for name, text in results]
    return "Tool results:\n" + "\n".join(lines) + "\n" + NOTICE
