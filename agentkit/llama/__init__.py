"""Llama 3.1's tool calls as they really arrive: recovered from text, kept out of streams.

Providers often leave Llama's tool calls in `content` instead of `tool_calls`: bare JSON,
`<|python_tag|>`, `<function=NAME>{...}</function>`, `NAME.call(...)`. `extract_tool_calls`
finds them and returns the prose around them; `TextGate` holds back streamed text that may
turn out to be a call.
"""

from agentkit.llama._gate import TextGate
from agentkit.llama._recovery import extract_tool_calls, parse_tool_calls, strip_special_tokens

__all__ = ["TextGate", "extract_tool_calls", "parse_tool_calls", "strip_special_tokens"]
