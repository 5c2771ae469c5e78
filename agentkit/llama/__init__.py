"""Llama 3.1's tool calls as they really arrive, and its own prompt format.

Providers often leave Llama's tool calls in `content` instead of `tool_calls`: bare JSON,
`<|python_tag|>`, `<function=NAME>{...}</function>`, `NAME.call(...)`. `extract_tool_calls`
finds them and returns the prose around them; `TextGate` holds back streamed text that may
turn out to be a call. `render_prompt` writes a conversation in Meta's Llama 3.1 prompt
format (for raw completions endpoints), and `parse_reply` reads a completion back.
"""

from agentkit.llama._gate import TextGate
from agentkit.llama._prompt import (
    BUILTIN_TOOLS,
    STOP,
    PromptOptions,
    one_call_per_message,
    parse_reply,
    render_prompt,
)
from agentkit.llama._recovery import extract_tool_calls, parse_tool_calls, strip_special_tokens

__all__ = [
    "BUILTIN_TOOLS",
    "STOP",
    "PromptOptions",
    "TextGate",
    "extract_tool_calls",
    "one_call_per_message",
    "parse_reply",
    "parse_tool_calls",
    "render_prompt",
    "strip_special_tokens",
]
