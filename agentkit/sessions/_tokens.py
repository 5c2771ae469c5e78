"""How many tokens a prompt will take, without the model's tokenizer.

Characters per token (prose and JSON apart), plus what the Llama 3.1 chat template adds:
each message's header and end token, the date lines of the system header, the generation
prompt, and the tool list with its instruction. The estimate is then scaled by what the
server reported: after each reply, `observe(messages, tools, usage.prompt_tokens)` moves
`scale` towards reported / estimated, so the error left is that of the new messages only.

The constants were measured with Meta's Llama 3 tokenizer on the 3.1 template
(`benchmarks/bench_tokens.py`, figures in `benchmarks/results/`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agentkit.messages import AssistantMessage, Message

__all__ = ["LLAMA31", "TemplateCosts", "TokenEstimator"]


@dataclass(frozen=True, slots=True)
class TemplateCosts:
    """Tokens a chat template adds around the text (Llama 3.1's by default).

    Attributes:
        per_request: `<|begin_of_text|>`, the system header with its date lines and end,
            and the generation prompt `<|start_header_id|>assistant<|end_header_id|>\\n\\n`.
        per_message: A message's header (start, role, end, blank line) and its end token.
        per_call: `{"name": "", "parameters": }` around a tool call's name and arguments.
        with_tools: "Environment: ipython" and the instruction that precedes the tool list.
        per_tool: The blank line after each tool's JSON.
    """

    per_request: int = 30
    per_message: int = 5
    per_call: int = 8
    with_tools: int = 56
    per_tool: int = 1


LLAMA31 = TemplateCosts()
_KEEP_COSTS = 50_000  # messages whose cost an estimator remembers


def _looks_like_json(text: str) -> bool:
    head = text.lstrip()[:1]
    return head in ("{", "[")


class TokenEstimator:
    """Estimates prompt tokens; learns from the usage servers report.

    Args:
        chars_per_token: Characters per token of prose and code.
        json_chars_per_token: Of JSON (tool arguments, JSON results): more punctuation,
            fewer characters per token.
        tools_chars_per_token: Of the tool definitions, which the template prints indented.
        costs: The template's overheads.
    """

    def __init__(
        self,
        *,
        chars_per_token: float = 3.8,
        json_chars_per_token: float = 2.4,
        tools_chars_per_token: float = 5.0,
        costs: TemplateCosts = LLAMA31,
    ) -> None:
        self.chars_per_token = chars_per_token
        self.json_chars_per_token = json_chars_per_token
        self.tools_chars_per_token = tools_chars_per_token
        self.costs = costs
        self.scale = 1.0
        self.observations = 0
        self._tools: tuple[Sequence[Mapping[str, Any]], int, float] | None = None
        # Each message's cost, by identity (messages are frozen): a conversation's messages
        # are the same objects from one request to the next, so each is counted once.
        self._costs: dict[int, tuple[Message, float]] = {}

    def __repr__(self) -> str:
        return f"TokenEstimator(scale={self.scale:.3f}, observations={self.observations})"

    def text_tokens(self, text: str) -> float:
        """Unscaled tokens of a text."""
        rate = self.json_chars_per_token if _looks_like_json(text) else self.chars_per_token
        return len(text) / rate

    def message_tokens(self, message: Message) -> float:
        """Unscaled tokens of one message, its template overhead included."""
        known = self._costs.get(id(message))
        if known is not None and known[0] is message:
            return known[1]
        tokens = self._message_tokens(message)
        if len(self._costs) >= _KEEP_COSTS:
            self._costs.clear()  # a bound: views make new (cut) messages at every request
        self._costs[id(message)] = (message, tokens)
        return tokens

    def _message_tokens(self, message: Message) -> float:
        tokens = float(self.costs.per_message)
        if message.content:
            tokens += self.text_tokens(message.content)
        if isinstance(message, AssistantMessage):
            for call in message.tool_calls:
                tokens += self.costs.per_call + len(call.name) / self.chars_per_token
                tokens += len(call.raw_arguments or "{}") / self.json_chars_per_token
        return tokens

    def tools_tokens(self, tools: Sequence[Mapping[str, Any]]) -> float:
        """Unscaled tokens of the tool list (computed once per list)."""
        if not tools:
            return 0.0
        cached = self._tools
        if cached is not None and cached[0] is tools and cached[1] == len(tools):
            return cached[2]
        chars = sum(len(json.dumps(dict(t), indent=4, ensure_ascii=False)) for t in tools)
        tokens = float(self.costs.with_tools + len(tools) * self.costs.per_tool)
        tokens += chars / self.tools_chars_per_token
        self._tools = (tools, len(tools), tokens)
        return tokens

    def fixed_tokens(self, tools: Sequence[Mapping[str, Any]] = ()) -> float:
        """Unscaled tokens every request pays: the template's frame and the tool list."""
        return self.costs.per_request + self.tools_tokens(tools)

    def raw(self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]] = ()) -> float:
        """Unscaled tokens of a whole prompt."""
        return self.fixed_tokens(tools) + sum(self.message_tokens(m) for m in messages)

    def estimate(self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]] = ()) -> int:
        """Estimated prompt tokens of a request with these messages and tools."""
        return math.ceil(self.raw(messages, tools) * self.scale)

    def observe(
        self,
        messages: Sequence[Message],
        tools: Sequence[Mapping[str, Any]],
        prompt_tokens: int,
    ) -> None:
        """Learn from the `usage.prompt_tokens` a server reported for these messages.

        The newest report weighs most: the next prompt is mostly this one. Reports of zero
        (servers that send no usage) are ignored; the scale stays within 0.5-3.
        """
        if not isinstance(prompt_tokens, int) or prompt_tokens <= 0:
            return
        raw = self.raw(messages, tools)
        seen = prompt_tokens / raw
        self.scale = seen if self.observations == 0 else 0.3 * self.scale + 0.7 * seen
        self.scale = min(3.0, max(0.5, self.scale))
        self.observations += 1
