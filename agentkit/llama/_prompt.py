"""Meta's Llama 3.1 prompt format, rendered from agentkit messages and tool definitions.

For raw completion endpoints (`/v1/completions`), which take the prompt as text. It follows
the chat template Meta ships with Llama-3.1-8B-Instruct (the one llama.cpp, vLLM and
transformers render), and Meta's reference code and prompt-format document where they
differ from it:

```
<|start_header_id|>system<|end_header_id|>\\n\\n
Environment: ipython\\n                      with any tool (built-in or custom)
Tools: brave_search, wolfram_alpha\\n       the built-ins offered, code_interpreter implied
Cutting Knowledge Date: December 2023\\n
Today Date: 26 July 2024\\n\\n
{system prompt}<|eot_id|>
<|start_header_id|>user<|end_header_id|>\\n\\n
{instructions, each custom tool as indented JSON}{first user message}<|eot_id|>
<|start_header_id|>assistant<|end_header_id|>\\n\\n
{"name": "f", "parameters": {...}}<|eot_id|>           a custom call (<|eom_id|> with built-ins)
<|python_tag|>brave_search.call(query="...")<|eom_id|>   a built-in call
<|python_tag|>print(1)<|eom_id|>                         code_interpreter: the code itself
<|start_header_id|>ipython<|end_header_id|>\\n\\n{result}<|eot_id|>
<|start_header_id|>assistant<|end_header_id|>\\n\\n        the model writes from here
```

Where they differ, Meta's reference wins: a tool result is sent as its text (the template
JSON-quotes strings, because a string "is iterable" in Jinja); the `Tools:` line ends in one
newline, not two, and is left out for code_interpreter alone (the template writes an empty
one); the date reads "26 July 2024" (the template: "26 Jul 2024"); the system prompt is kept
as given (the template trims it). Llama 3.1 takes one call per assistant message: a
reply that made several is written as one message per call, each followed by its result.
Special-token text inside message contents is broken up, so a tool result cannot close its
message and speak as another role. `<|begin_of_text|>` is left out unless asked for: servers
add it when they tokenize (a second one degrades the model).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from agentkit.llama._recovery import extract_tool_calls
from agentkit.messages import (
    AssistantMessage,
    Message,
    SystemMessage,
    ToolCall,
    ToolMessage,
    UserMessage,
)

__all__ = [
    "BUILTIN_TOOLS",
    "STOP",
    "PromptOptions",
    "one_call_per_message",
    "parse_reply",
    "render_prompt",
]

BUILTIN_TOOLS = ("brave_search", "wolfram_alpha", "code_interpreter")
STOP = ("<|eom_id|>", "<|eot_id|>")

BEGIN = "<|begin_of_text|>"
EOT, EOM, PYTHON_TAG = "<|eot_id|>", "<|eom_id|>", "<|python_tag|>"

# The instruction Meta's template puts before the custom tools, in its own words.
CUSTOM_TOOLS_INTRO = (
    "Given the following functions, please respond with a JSON for a function call with its "
    "proper arguments that best answers the given prompt.\n\n"
    'Respond in the format {"name": function name, "parameters": dictionary of argument name '
    "and its value}.Do not use variables.\n\n"
)

# English month names whatever the locale (strftime's %B follows it).
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_SPECIAL = re.compile(r"<\|([a-z][a-z0-9_]{0,40})\|>")


@dataclass(frozen=True, slots=True)
class PromptOptions:
    """How the prompt is rendered.

    Attributes:
        today: The "Today Date" (default: the day the prompt is rendered).
        knowledge_cutoff: The "Cutting Knowledge Date" of Llama 3.1.
        begin_of_text: Start with `<|begin_of_text|>` (only for a server that adds none).
    """

    today: date | None = None
    knowledge_cutoff: str = "December 2023"
    begin_of_text: bool = False


def header(role: str) -> str:
    return f"<|start_header_id|>{role}<|end_header_id|>\n\n"


def plain(text: str) -> str:
    """Text with special-token spellings broken up (`<|eot_id|>` becomes `<\u200b|eot_id|>`),
    so that content can never end its message or open another."""
    return _SPECIAL.sub(lambda m: f"<\u200b|{m.group(1)}|>", text)


def render_prompt(
    messages: Sequence[Message],
    tools: Sequence[Mapping[str, Any]] = (),
    options: PromptOptions = PromptOptions(),
) -> str:
    """The Llama 3.1 prompt of a conversation, ending in the assistant header.

    Args:
        messages: The conversation (a leading `SystemMessage` becomes the system prompt).
        tools: Tool definitions in the OpenAI wire form; those named brave_search,
            wolfram_alpha or code_interpreter are offered as Llama's built-in tools.
        options: Dates and the begin-of-text token.

    Raises:
        ValueError: Custom tools are offered but the conversation has no first user message
            to carry them (Llama 3.1 reads them there).
    """
    builtins = [name for t in tools if (name := _function(t).get("name")) in BUILTIN_TOOLS]
    custom = [t for t in tools if _function(t).get("name") not in BUILTIN_TOOLS]
    rest = list(messages)
    system = ""
    if rest and isinstance(rest[0], SystemMessage):
        system = rest[0].content
        del rest[0]
    parts = [BEGIN] if options.begin_of_text else []
    parts.append(_system(system, builtins, bool(custom), options))
    if custom:
        first = rest[0] if rest else None
        if not isinstance(first, UserMessage):
            raise ValueError(
                "Llama 3.1 reads custom tools in the first user message, and the conversation "
                "does not start with one (after the system prompt): add the user's message"
            )
        del rest[0]
        described = "".join(json.dumps(t, indent=4, ensure_ascii=False) + "\n\n" for t in custom)
        parts.append(
            header("user") + CUSTOM_TOOLS_INTRO + plain(described) + plain(first.content.strip())
        )
        parts.append(EOT)
    ipython_mode = bool(builtins)
    parts.extend(_turn(m, ipython_mode) for m in one_call_per_message(rest))
    parts.append(header("assistant"))
    return "".join(parts)


def _function(definition: Mapping[str, Any]) -> Mapping[str, Any]:
    function = definition.get("function", definition)
    return function if isinstance(function, Mapping) else {}


def _system(system: str, builtins: list[str], custom: bool, options: PromptOptions) -> str:
    lines = []
    if builtins or custom:
        lines.append("Environment: ipython\n")
    named = [b for b in builtins if b != "code_interpreter"]
    if named:
        lines.append(f"Tools: {', '.join(named)}\n")
    today = options.today or date.today()
    lines.append(f"Cutting Knowledge Date: {options.knowledge_cutoff}\n")
    lines.append(f"Today Date: {today.day:02d} {_MONTHS[today.month - 1]} {today.year}\n\n")
    return header("system") + "".join(lines) + plain(system) + EOT


def one_call_per_message(messages: Sequence[Message]) -> Iterator[Message]:
    """The conversation with each multi-call reply split: call 1, its result, call 2, ...

    For Llama 3.1, which takes one call per assistant message (Meta's chat template refuses
    a message with several). A result that answers no call of the reply stays after them.
    """
    i = 0
    while i < len(messages):
        message = messages[i]
        i += 1
        if not isinstance(message, AssistantMessage) or len(message.tool_calls) < 2:
            yield message
            continue
        results: dict[str, ToolMessage] = {}
        while i < len(messages) and isinstance(messages[i], ToolMessage):
            result = messages[i]
            assert isinstance(result, ToolMessage)
            results.setdefault(result.tool_call_id, result)
            i += 1
        for n, call in enumerate(message.tool_calls):
            yield AssistantMessage(message.content if n == 0 else None, (call,))
            if call.id in results:
                yield results.pop(call.id)
        yield from results.values()  # results answering no call of this reply


def _turn(message: Message, ipython_mode: bool) -> str:
    if isinstance(message, ToolMessage):
        return header("ipython") + plain(message.content) + EOT
    if isinstance(message, AssistantMessage) and message.tool_calls:
        (call,) = message.tool_calls
        prose = plain(message.content.strip()) + "\n" if message.content else ""
        builtin = call.name in BUILTIN_TOOLS
        end = EOM if ipython_mode or builtin else EOT
        return header("assistant") + prose + _call_text(call) + end
    content = message.content or ""
    return header(message.role) + plain(content.strip()) + EOT


def _call_text(call: ToolCall) -> str:
    arguments = call.arguments if call.arguments is not None else {}
    if call.name == "code_interpreter" and isinstance(arguments.get("code"), str):
        return PYTHON_TAG + plain(arguments["code"])
    if call.name in BUILTIN_TOOLS:
        keywords = ", ".join(
            f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in arguments.items()
        )
        return f"{PYTHON_TAG}{call.name}.call({plain(keywords)})"
    encoded = json.dumps({"name": call.name, "parameters": arguments}, ensure_ascii=False)
    return plain(encoded)


def parse_reply(text: str) -> tuple[AssistantMessage, bool]:
    """The model's completion as a message, with calls recovered; and whether it expects a
    tool result (it ended with `<|eom_id|>` or made a call)."""
    expects_result = text.rstrip().endswith(EOM)
    prose, calls = extract_tool_calls(text)
    message = AssistantMessage(prose or None, tuple(calls))
    return message, expects_result or bool(calls)
