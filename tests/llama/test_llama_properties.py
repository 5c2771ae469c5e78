"""Properties of the Llama tool-call parser and the text gate, over generated text."""

from __future__ import annotations

import json
import keyword
import re
from itertools import pairwise
from typing import Any

from hypothesis import assume, given, settings, strategies as st

from agentkit.llama import TextGate, extract_tool_calls, parse_tool_calls, strip_special_tokens

SETTINGS = settings(max_examples=150, deadline=None)

MARKERS = ('"name"', "<function=", ".call(", "<|python_tag|>")

# Pieces that make the scanner work: braces, strings, escapes, tokens, separators, near-misses.
FRAGMENTS = [
    "{", "}", "[", "]", '"', "'", "\\", ":", ",", ";", " ", "\n", "`", "```", "```json\n",
    '"name"', '"parameters"', '"arguments"', '"function"', '"type"', '"f"', "1", "-2.5e3",
    "true", "null", "True", "None", "NaN", "<", "|", ">", "<|python_tag|>", "<|eom_id|>",
    "<|eot_id|>", "<|start_header_id|>", "assistant", "<|end_header_id|>", "<function=f>",
    "</function>", "brave_search", ".call(", "query=", "(", ")", "=", "x", "é", "\x00",
]  # fmt: skip

json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=10)
json_values = st.recursive(
    json_scalars | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
json_objects = st.dictionaries(st.text(max_size=10), json_values, max_size=4)
tool_names = st.from_regex(r"^[a-zA-Z0-9_-]{1,64}$", fullmatch=True)
fragment_text = st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join)
any_text = st.one_of(st.text(max_size=200), fragment_text)


@SETTINGS
@given(any_text)
def test_parser_never_raises(text: str) -> None:
    rest, calls = extract_tool_calls(text)
    assert isinstance(rest, str)
    assert [c.name for c in calls] == [c.name for c in parse_tool_calls(text)]
    for call in calls:
        assert call.name
        assert isinstance(call.arguments, dict)


@SETTINGS
@given(any_text)
def test_no_call_without_the_call_shape(text: str) -> None:
    assume(not any(marker in text for marker in MARKERS))
    assert parse_tool_calls(text) == []
    assert extract_tool_calls(text) == (strip_special_tokens(text).strip(), [])


def render(name: str, arguments: dict[str, Any], style: str) -> str:
    args = json.dumps(arguments)
    forms = {
        "parameters": json.dumps({"name": name, "parameters": arguments}),
        "arguments": json.dumps({"name": name, "arguments": arguments}),
        "pretty": json.dumps({"type": "function", "name": name, "parameters": arguments}, indent=2),
        "string": json.dumps({"name": name, "arguments": args}),
        "wrapper": json.dumps({"type": "function", "function": {"name": name, "arguments": args}}),
        "wrapper object": json.dumps({"function": {"name": name, "arguments": arguments}}),
        "function tag": f"<function={name}>{args}</function>",
        "function tag open": f"<function={name}>{args}",
    }
    return forms[style]


STYLES = [
    "parameters", "arguments", "pretty", "string", "wrapper", "wrapper object", "function tag",
    "function tag open",
]  # fmt: skip
WRAPPINGS = ["{}", "<|python_tag|>{}<|eom_id|>", "```json\n{}\n```", "Sure.\n\n{}\n\nDone.", "[{}]"]
SEPARATORS = [";", "; ", ";\n", "\n", "\n\n", ", "]


@SETTINGS
@given(
    st.lists(st.tuples(tool_names, json_objects, st.sampled_from(STYLES)), min_size=1, max_size=3),
    st.sampled_from(SEPARATORS),
    st.sampled_from(WRAPPINGS),
)
def test_rendered_calls_parse_back(
    calls: list[tuple[str, dict[str, Any], str]], separator: str, wrapping: str
) -> None:
    text = wrapping.replace("{}", separator.join(render(*call) for call in calls))
    assert [(c.name, c.arguments) for c in parse_tool_calls(text)] == [
        (name, arguments) for name, arguments, _ in calls
    ]
    rest, _ = extract_tool_calls(text)
    assert rest == ("Sure.\nDone." if wrapping.startswith("Sure") else "")


python_names = st.from_regex(r"^[A-Za-z_][A-Za-z0-9_]{0,20}$", fullmatch=True).filter(
    lambda name: not keyword.iskeyword(name)  # `in=1` is not Python: no call, rightly
)
literals = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)


@SETTINGS
@given(python_names, st.dictionaries(python_names, literals, max_size=4), st.booleans())
def test_built_in_calls_parse_back(name: str, arguments: dict[str, Any], tagged: bool) -> None:
    text = f"{name}.call({', '.join(f'{k}={v!r}' for k, v in arguments.items())})"
    if tagged:
        text = f"<|python_tag|>{text}<|eom_id|>"
    assert [(c.name, c.arguments) for c in parse_tool_calls(text)] == [(name, arguments)]


code_text = st.text(
    st.characters(blacklist_characters="<`{[", blacklist_categories=("Cs",)), min_size=1
).filter(lambda code: code.strip() and not re.match(r"\s*[A-Za-z_][A-Za-z0-9_]*\.call\(", code))


@SETTINGS
@given(code_text, st.sampled_from(["", "<|eom_id|>", "<|eot_id|>"]))
def test_code_after_python_tag_parses_back(code: str, end: str) -> None:
    (call,) = parse_tool_calls(f"<|python_tag|>{code}{end}")
    assert (call.name, call.arguments) == ("code_interpreter", {"code": code.strip()})


def split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({0, len(text), *(c % (len(text) + 1) for c in cuts)})
    return [text[a:b] for a, b in pairwise(points)]


def gate_output(deltas: list[str]) -> tuple[list[str], str]:
    gate = TextGate()
    return [gate.feed(d) for d in deltas], gate.finish()


prose = st.text(
    st.characters(blacklist_characters="{[`<", blacklist_categories=("Cs",)), max_size=200
)


@SETTINGS
@given(prose, st.lists(st.integers(min_value=0), max_size=12))
def test_gate_releases_all_prose(text: str, cuts: list[int]) -> None:
    assume(not parse_tool_calls(text))
    released, rest = gate_output(split(text, cuts))
    assert "".join(released) + rest == text


@SETTINGS
@given(any_text, st.lists(st.integers(min_value=0), max_size=12))
def test_gate_shows_everything_but_tokens_when_there_is_no_call(text: str, cuts: list[int]) -> None:
    assume(not parse_tool_calls(text))
    released, rest = gate_output(split(text, cuts))
    assert "".join(released) + rest == strip_special_tokens(text)


@SETTINGS
@given(
    prose, tool_names, json_objects, st.sampled_from(STYLES), st.lists(st.integers(0), max_size=12)
)
def test_gate_never_shows_call_text(
    before: str, name: str, arguments: dict[str, Any], style: str, cuts: list[int]
) -> None:
    assume(not parse_tool_calls(before))
    call = render(name, arguments, style)
    released, rest = gate_output(split(before + "\n" + call, cuts))
    assert "".join(released) == before + "\n"
    assert rest == ""
