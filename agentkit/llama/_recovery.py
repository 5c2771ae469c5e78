"""Recover Llama 3.1 tool calls written as text, and keep them out of streamed answers.

Many Llama 3.1 servers leave the model's tool-call syntax in `content`. `extract_tool_calls`
finds those calls and the prose around them; `TextGate` keeps call text out of a streamed
answer (see `agentkit.llama._gate`). Accepted forms (llama31-tool-calls.md):

```
{"name": "f", "parameters": {...}}      also "arguments", a leading "type": "function", and the
                                         arguments as a JSON string holding an object
{"type": "function", "function": {"name": "f", "arguments": {...}}}
<function=f>{...}</function>             the closing tag is optional
brave_search.call(query="...")           keyword arguments with literal values only; after
                                         <|python_tag|>, or with nothing but calls around
<|python_tag|>print(1 + 1)               raw code: a `code_interpreter` call
```

Several calls may follow each other (separated by `;`, commas or newlines, or inside a JSON
list), behind `<|python_tag|>`, inside one code fence, with prose and leaked special tokens
around them. Broken syntax is never repaired into a call, and values are never coerced.

Scanning is linear in the size of the text: one string-aware pass records every balanced
`{...}` span as a tree; only those spans are decoded, outermost first and at most 64 deep,
and a span's children only when the span is not JSON. So no region is scanned twice by
Python code, and a character is decoded at most 65 times.
"""

from __future__ import annotations

import json
import math
import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain, repeat
from typing import Any, NamedTuple

from agentkit.llama._pythonic import pythonic_calls
from agentkit.messages import ToolCall, new_call_id

__all__ = ["extract_tool_calls", "parse_tool_calls", "strip_special_tokens"]

# Objects nested deeper are not decoded: json recurses per level, and bounding the depth bounds
# how often one character can be decoded again (once per failed enclosing span).
_MAX_DEPTH = 64
_INVALID: Any = object()

_SPECIAL_TOKEN = re.compile(
    r"<\|start_header_id\|>[a-z]{0,16}<\|end_header_id\|>|<\|[a-z][a-z0-9_]{0,31}\|>"
)
_PYTHON_TAG = "<|python_tag|>"
_MARKERS = ('"name"', "<function=", ".call(", _PYTHON_TAG)

_OPEN_RUN = re.compile(r"(\{+)")
# Inside an object: brace runs, or a whole string (group 3 is its closing quote, if any).
_JSON_TOKEN = re.compile(r'(\{+)|(\}+)|"[^"\\]*+(?:\\.[^"\\]*+)*+(")?', re.DOTALL)
_FUNCTION_TAG = re.compile(r"<function=([^<>\s]+)>\s*")
_FUNCTION_CLOSE = re.compile(r"\s*</function>")

_CALL_LIKE = re.compile(r"[{\[]|<function=|[A-Za-z_][A-Za-z0-9_]*\.call\(")
_FENCE_INFO = re.compile(r"[\w+.-]*")


class _Found(NamedTuple):
    start: int
    end: int
    call: ToolCall


@dataclass(slots=True)
class _Span:
    start: int
    end: int
    height: int
    children: Sequence[_Span]


def strip_special_tokens(text: str) -> str:
    """Remove leaked Llama 3 special tokens (`<|eot_id|>`, headers with their role, ...)."""
    return _SPECIAL_TOKEN.sub("", text)


def parse_tool_calls(text: str) -> list[ToolCall]:
    """Return every tool call written in the text, in order; `[]` when there is none."""
    return [found.call for found in _find_calls(text)]


def extract_tool_calls(text: str) -> tuple[str, list[ToolCall]]:
    """Split a reply into its prose and the tool calls written in it.

    Returns:
        The text left once call text, separators, special tokens and an emptied code fence
        are removed (stripped), and the calls in order. Without calls, the text is the whole
        reply minus leaked special tokens, usable as a clean final answer.
    """
    found = _find_calls(text)
    if not found:
        return strip_special_tokens(text).strip(), []
    return _remaining_text(text, found), [f.call for f in found]


def _find_calls(text: str) -> list[_Found]:
    if not any(marker in text for marker in _MARKERS):
        return []
    others = _code_calls(text) + _object_calls(text)
    builtins = _builtin_calls(text)
    kept = _outermost(others + builtins)
    # `NAME.call(...)` is the built-in form after <|python_tag|>. Without the tag (a server
    # that drops special tokens) it is a call only when the reply holds nothing but calls:
    # next to prose or other code it is a snippet in an answer (`subprocess.call(...)`).
    tagged = _in_regions(builtins, _tag_regions(text))
    if len(tagged) < len(builtins):
        loose = {id(f.call) for f in builtins} - {id(f.call) for f in tagged}
        if any(id(f.call) in loose for f in kept) and _remaining_text(text, kept):
            kept = _outermost(others + tagged)
    return kept


def _in_regions(found: list[_Found], regions: list[tuple[int, int]]) -> list[_Found]:
    """The calls that start inside one of the regions; both lists are in text order."""
    inside, r = [], 0
    for item in found:
        while r < len(regions) and regions[r][1] <= item.start:
            r += 1
        if r < len(regions) and regions[r][0] <= item.start:
            inside.append(item)
    return inside


def _outermost(found: list[_Found]) -> list[_Found]:
    """The calls in order; one found inside another's text (a tag inside a JSON string, a dict
    inside code) is part of that call, not a call of its own."""
    kept: list[_Found] = []
    for item in sorted(found, key=lambda f: f.start):
        if not kept or item.start >= kept[-1].end:
            kept.append(item)
    return kept


def _tag_regions(text: str) -> list[tuple[int, int]]:
    """The stretches after each <|python_tag|>, up to the next special token."""
    regions = []
    at = text.find(_PYTHON_TAG)
    while at != -1:
        begin = at + len(_PYTHON_TAG)
        token = _SPECIAL_TOKEN.search(text, begin)
        end = token.start() if token else len(text)
        regions.append((begin, end))
        at = text.find(_PYTHON_TAG, end)
    return regions


# --- JSON objects and <function=NAME> --------------------------------------------------------


def _balanced_spans(text: str) -> list[_Span]:
    """Every balanced `{...}` span, found in one string-aware pass; the outermost in order."""
    roots: list[_Span] = []
    opens: list[int] = []  # positions of the braces not closed yet
    kids: list[list[_Span] | None] = []  # the spans closed inside each of them
    heights: list[int] = []  # the height of the tallest of those
    pos = 0
    while True:
        # Outside any object, quotes are prose (apostrophes, quoted words), not strings.
        match = (_JSON_TOKEN if opens else _OPEN_RUN).search(text, pos)
        if match is None or match.lastindex is None:
            break  # the end, or an unterminated string that runs to the end
        start, pos = match.span()
        if match.lastindex == 1:
            opens.extend(range(start, pos))
            kids.extend(repeat(None, pos - start))
            heights.extend(repeat(0, pos - start))
            continue
        if match.lastindex == 3:
            continue  # a string: braces inside it are text
        # Closing braces beyond the open ones are prose.
        for end in range(start + 1, min(pos, start + len(opens)) + 1):
            span = _Span(opens.pop(), end, heights.pop() + 1, kids.pop() or ())
            if not opens:
                roots.append(span)
                continue
            siblings = kids[-1]
            if siblings is None:
                siblings = kids[-1] = []
            siblings.append(span)
            heights[-1] = max(heights[-1], span.height)
    # Braces never closed were prose; the objects they enclose are still candidates.
    roots.extend(chain.from_iterable(filter(None, kids)))
    return roots


def _object_calls(text: str) -> list[_Found]:
    marks = sorted(_positions(text, '"name"') + _positions(text, "<function="))
    if not marks:
        return []
    tags = {m.end(): (m.start(), m.group(1)) for m in _FUNCTION_TAG.finditer(text)}
    found: list[_Found] = []
    todo = _balanced_spans(text)[::-1]
    while todo:
        span = todo.pop()
        tag = tags.get(span.start)
        at = bisect_left(marks, span.start)
        if tag is None and (at == len(marks) or marks[at] >= span.end):
            continue  # neither a name nor a function tag inside: nothing to find
        # Decode a copy: a JSON error computes its line number over the whole string it got.
        value = _decode(text[span.start : span.end]) if span.height <= _MAX_DEPTH else _INVALID
        if tag is not None:
            if isinstance(value, dict):
                close = _FUNCTION_CLOSE.match(text, span.end)
                end = close.end() if close else span.end
                found.append(_Found(tag[0], end, ToolCall(name=tag[1], arguments=value)))
        elif value is _INVALID:
            todo.extend(reversed(span.children))  # braces in prose: look inside
        elif (call := _call_from_object(value)) is not None:
            found.append(_Found(span.start, span.end, call))
    return found


def _positions(text: str, needle: str) -> list[int]:
    out = []
    at = text.find(needle)
    while at != -1:
        out.append(at)
        at = text.find(needle, at + 1)
    return out


def _reject(value: str) -> Any:
    raise ValueError(f"{value} is not JSON")


def _finite(value: str) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{value} is out of range")
    return number


_DECODER = json.JSONDecoder(parse_constant=_reject, parse_float=_finite)


def _decode(text: str) -> Any:
    try:
        return _DECODER.decode(text)
    except (ValueError, RecursionError):
        return _INVALID


def _call_from_object(value: object) -> ToolCall | None:
    """The call an object describes, or None when it does not have the call shape."""
    if not isinstance(value, dict) or value.get("type", "function") != "function":
        return None
    call_id = None
    function = value.get("function")
    if "name" not in value and isinstance(function, dict):
        call_id, value = value.get("id"), function
    name = value.get("name")
    if not isinstance(name, str) or not name.strip():
        return None
    key = "parameters" if "parameters" in value else "arguments"
    arguments = value.get(key)
    if isinstance(arguments, str):
        arguments = _decode(arguments)
    if not isinstance(arguments, dict):
        return None
    if not isinstance(call_id, str) or not call_id:
        call_id = new_call_id()
    return ToolCall(name=name, arguments=arguments, id=call_id)


# --- built-in tools: NAME.call(...) and code after <|python_tag|> ----------------------------


def _builtin_calls(text: str) -> list[_Found]:
    return [_Found(*found) for found in pythonic_calls(text, _positions(text, ".call("))]


def _code_calls(text: str) -> list[_Found]:
    found = []
    for begin, end in _tag_regions(text):
        code = _unwrap_fence(text[begin:end].strip())
        # JSON or `.call(` after the tag is a call in that syntax, valid or not: never code.
        if code and not _CALL_LIKE.match(code):
            call = ToolCall(name="code_interpreter", arguments={"code": code})
            found.append(_Found(begin, end, call))
    return found


def _unwrap_fence(code: str) -> str:
    if not code.startswith("```"):
        return code
    body = code[3:]
    if body.endswith("```"):
        body = body[:-3]
    info, newline, rest = body.partition("\n")
    if newline and _FENCE_INFO.fullmatch(info.strip()):
        body = rest
    return body.strip()


# --- the prose that remains -------------------------------------------------------------------

_BEFORE_CALL = " \t\r\n["
_AFTER_CALL = " \t\r\n;,]"


def _remaining_text(text: str, found: list[_Found]) -> str:
    """The text outside the calls, with separators, brackets and an emptied fence removed."""
    pieces, pos = [], 0
    for item in found:
        pieces.append(strip_special_tokens(text[pos : item.start]))
        pos = item.end
    pieces.append(strip_special_tokens(text[pos:]))
    last = len(pieces) - 1
    for i, piece in enumerate(pieces):
        if i > 0:
            piece = piece.lstrip(_AFTER_CALL)
        if i < last:
            piece = piece.rstrip(_BEFORE_CALL)
        pieces[i] = piece
    for i in range(last):
        _drop_emptied_fence(pieces, i)
    return "\n".join(piece for piece in pieces if piece).strip()


def _drop_emptied_fence(pieces: list[str], i: int) -> None:
    """Remove a fence opened at the end of `pieces[i]` if it closes right after the calls."""
    piece = pieces[i]
    opener = piece.rfind("```")
    if opener == -1 or not _FENCE_INFO.fullmatch(piece, opener + 3):
        return
    after = i + 1
    while after < len(pieces) - 1 and not pieces[after]:
        after += 1
    if pieces[after] and not pieces[after].startswith("```"):
        return  # prose after the calls: the fence was not emptied
    pieces[i] = piece[:opener].rstrip()
    pieces[after] = pieces[after][3:].lstrip()
