"""TextGate: stream a reply's text as it arrives, holding back what may be a tool call."""

from __future__ import annotations

import re

from agentkit.llama._pythonic import call_name_start, starts_statement
from agentkit.llama._recovery import extract_tool_calls, strip_special_tokens

__all__ = ["TextGate"]

_TRIGGER = re.compile(r"\{|\[\s{0,32}\{|```|<\|python_tag\|>|<function=")
_PARTIAL_TOKEN = re.compile(
    r"<(?:\|[a-z0-9_]{0,32}\|?)?|<f(?:u(?:n(?:c(?:t(?:i(?:o(?:n=?)?)?)?)?)?)?)?"
)
_PARTIAL_HEADER = re.compile(r"<\|start_header_id\|>[a-z]{0,16}(?:<\|?[a-z_]{0,16}\|?)?")
_TRAILING_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}(?:\.(?:c(?:a(?:ll?)?)?)?)?\Z")


class TextGate:
    """Release streamed reply text as it arrives, except text that may be a tool call.

    Ordinary prose is released at once. From the first point where a call could begin (`{`,
    `[` then `{`, a ``` fence, `<|python_tag|>`, `<function=`, or `NAME.call(` at the start of
    a statement) the rest of the reply is held: simple, and a call is never shown. A few
    characters at the end of a delta that could still become one of those (`<|eo`, `` ` ``,
    `[`, a name at a statement start) wait for the next delta. Special tokens are never
    released. At `finish`, held text that contains calls releases only its prose; held text
    without calls is released whole.

    ```python
    gate = TextGate()
    for delta in deltas:
        show(gate.feed(delta))
    show(gate.finish())
    ```
    """

    def __init__(self) -> None:
        self._pending = ""
        self._held: list[str] = []
        self._holding = False
        self._statement_start = True

    @property
    def held(self) -> bool:
        """Whether text that may be a tool call is being held until `finish`."""
        return self._holding

    def feed(self, delta: str) -> str:
        """Take the next piece of the reply; return the text that is safe to show now."""
        if self._holding:
            self._held.append(delta)
            return ""
        text = self._pending + delta
        start = self._candidate_start(text)
        if start is not None:
            self._holding = True
            self._held.append(text[start:])
            self._pending = ""
            return self._release(text[:start])
        cut = self._undecided_tail(text)
        self._pending = text[cut:]
        return self._release(text[:cut])

    def finish(self, keep_calls: bool = False) -> str:
        """End the reply; return what is left to show (only the prose when calls were held).

        Args:
            keep_calls: Release held call text too: the calls were not taken as calls (an
                agent without tools recovers none), so they are part of the answer.
        """
        held = self._pending + "".join(self._held)
        self._pending, self._held, self._holding = "", [], False
        self._statement_start = True
        if not keep_calls:
            remaining, calls = extract_tool_calls(held)
            if calls:
                return remaining
        return strip_special_tokens(held)

    def _release(self, text: str) -> str:
        # Whether the next text starts a statement: `NAME.call(` counts only there.
        tail = text.rstrip(" \t")
        if tail:
            self._statement_start = tail[-1] in "\n;>"
        return strip_special_tokens(text)

    def _candidate_start(self, text: str) -> int | None:
        match = _TRIGGER.search(text)
        limit = match.start() if match else len(text)
        dot = text.find(".call(", 0, limit)
        while dot != -1:
            start = call_name_start(text, dot, self._statement_start)
            if start is not None:
                return start
            dot = text.find(".call(", dot + 1, limit)
        return match.start() if match else None

    def _undecided_tail(self, text: str) -> int:
        """Where the end of `text` that could still begin a call or a token starts."""
        cut = len(text)
        header = text.rfind("<|start_header_id|>")
        if header != -1 and _PARTIAL_HEADER.fullmatch(text, header):
            cut = header
        angle = text.rfind("<")
        if angle != -1 and _PARTIAL_TOKEN.fullmatch(text, angle):
            cut = min(cut, angle)
        if text.endswith("`"):
            cut = min(cut, len(text) - (2 if text.endswith("``") else 1))
        bracket = text.rfind("[")
        if bracket != -1 and bracket >= len(text) - 33 and not text[bracket + 1 :].strip():
            cut = min(cut, bracket)
        name = _TRAILING_NAME.search(text, max(0, len(text) - 70))
        if name and starts_statement(text, name.start(), self._statement_start):
            cut = min(cut, name.start())
        return cut
