"""Text the CLI prints, made safe and short: no escapes, cut to a few lines, usage in words.

Everything the model or a tool wrote goes through `clean` (or `StreamCleaner` for text that
streams in pieces) before it reaches a terminal: terminal escape sequences, control
characters and bidirectional overrides are removed, so such text cannot recolour the
terminal, move the cursor, or forge the approval prompt.
"""

from __future__ import annotations

import json
import re
from typing import Any

from agentkit._hygiene import clean_text
from agentkit.events import ContextTrimmed
from agentkit.messages import ToolCall, Usage

__all__ = [
    "CALL_CHARS",
    "LINE_CHARS",
    "RESULT_LINES",
    "StreamCleaner",
    "arguments_lines",
    "call_summary",
    "clean",
    "context_note",
    "cut",
    "format_usage",
    "plural",
]

# Bidirectional embeddings, overrides and isolates: they reorder what the terminal shows.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")

# Without -v: lines of a tool result shown, characters per line, characters of a call.
RESULT_LINES = 5
LINE_CHARS = 160
CALL_CHARS = 160


def clean(text: str) -> str:
    """Text safe to print: no escape sequences, control characters or bidi overrides."""
    return _BIDI.sub("", clean_text(text))


class StreamCleaner:
    """`clean` for streamed text: a sequence cut between two pieces is held back, not shown.

    Without it, the `[31m` half of a colour code split across two deltas would be printed.
    """

    _PARTIAL = re.compile(r"\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*)?$")

    def __init__(self) -> None:
        self._held = ""

    def feed(self, text: str) -> str:
        """The printable part of `text` (with any held-back start of a sequence before it)."""
        text = self._held + text
        partial = self._PARTIAL.search(text)
        self._held = partial.group() if partial else ""
        return clean(text[: partial.start()] if partial else text)

    def finish(self) -> None:
        """Drop a sequence left incomplete at the end of a reply."""
        self._held = ""


def cut(text: str, limit: int) -> str:
    """`text`, cut to `limit` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plural(count: int, word: str) -> str:
    """`1 request`, `2 requests`."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def format_usage(usage: Usage, scope: str = "") -> str:
    """One line: requests, tokens, tool calls and the estimated cost (`usage (scope): ...`)."""
    parts = [plural(usage.requests, "request")]
    if usage.total_tokens:
        parts.append(
            f"{usage.total_tokens:,} tokens ({usage.prompt_tokens:,} in, "
            f"{usage.completion_tokens:,} out)"
        )
    else:
        parts.append("no tokens reported")
    parts.append(plural(usage.tool_calls, "tool call"))
    parts.append("cost unknown" if usage.cost is None else f"estimated cost ${usage.cost:.4f}")
    label = f"usage ({scope})" if scope else "usage"
    return f"{label}: " + ", ".join(parts)


def _value_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def arguments_lines(call: ToolCall) -> list[str]:
    """Every argument in full, one per line (multi-line strings indented below their name)."""
    if call.arguments is None:
        return [f"(arguments that are not a JSON object) {clean(call.raw_arguments)}"]
    lines: list[str] = []
    for name, value in call.arguments.items():
        text = clean(_value_text(value))
        if "\n" in text:
            lines.append(f"{clean(name)}:")
            lines.extend("  " + line for line in text.splitlines())
        else:
            lines.append(f"{clean(name)}: {text}")
    return lines


def call_summary(call: ToolCall) -> str:
    """`name(a=1, b="x")` on one line, cut to CALL_CHARS."""
    if call.arguments is None:
        inside = call.raw_arguments
    else:
        inside = ", ".join(
            f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in call.arguments.items()
        )
    return cut(clean(f"{call.name}({inside})").replace("\n", " "), CALL_CHARS)


def context_note(event: ContextTrimmed) -> str:
    """`(context: 31 old turns left out, 4 long tool results cut, to fit 114,688 tokens)`."""
    parts = []
    if event.dropped_turns:
        parts.append(plural(event.dropped_turns, "old turn") + " left out")
    if event.cut_results:
        parts.append(plural(event.cut_results, "long tool result") + " cut")
    what = ", ".join(parts) or "trimmed"
    return f"(context: {what}, to fit {event.budget:,} tokens; the session keeps everything)"
