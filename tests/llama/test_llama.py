"""Llama 3.1 tool-call recovery: each format of llama31-tool-calls.md, and what is not a call."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agentkit.llama import TextGate, extract_tool_calls, parse_tool_calls, strip_special_tokens
from agentkit.messages import ToolCall

WEATHER = '{"name": "get_weather", "parameters": {"city": "Paris"}}'
TIME = '{"name": "get_time", "parameters": {"tz": "UTC"}}'
W = ("get_weather", {"city": "Paris"})
T = ("get_time", {"tz": "UTC"})

PRETTY = """{
    "name": "get_weather",
    "parameters": {
        "city": "Paris"
    }
}"""

# (text, expected calls, expected remaining text)
POSITIVE: dict[str, tuple[str, list[tuple[str, dict[str, Any]]], str]] = {
    "bare compact": ('{"name":"get_weather","parameters":{"city":"Paris"}}', [W], ""),
    "bare pretty-printed": (PRETTY, [W], ""),
    "arguments key": ('{"name": "get_weather", "arguments": {"city": "Paris"}}', [W], ""),
    "type function first": (
        '{"type": "function", "name": "get_weather", "parameters": {"city": "Paris"}}',
        [W],
        "",
    ),
    "parameters before name": ('{"parameters": {"city": "Paris"}, "name": "get_weather"}', [W], ""),
    "arguments as JSON string": (
        '{"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"}',
        [W],
        "",
    ),
    "parameters as JSON string": (
        '{"name": "get_weather", "parameters": "{\\"city\\": \\"Paris\\"}"}',
        [W],
        "",
    ),
    "wrapper, arguments string": (
        '{"type": "function", "function": {"name": "get_weather", '
        '"arguments": "{\\"city\\": \\"Paris\\"}"}}',
        [W],
        "",
    ),
    "wrapper, arguments object": (
        '{"type":"function","function":{"name":"get_weather","arguments":{"city":"Paris"}}}',
        [W],
        "",
    ),
    "wrapper without type": (
        '{"function": {"name": "get_time", "arguments": {"tz": "UTC"}}}',
        [T],
        "",
    ),
    "python_tag before": ("<|python_tag|>" + WEATHER, [W], ""),
    "python_tag and eom_id": ("<|python_tag|>" + WEATHER + "<|eom_id|>", [W], ""),
    "empty parameters": ('{"name": "get_time", "parameters": {}}', [("get_time", {})], ""),
    "no type coercion": (
        '{"name": "f", "parameters": {"n": "10", "ok": "true", "x": 1.5, "none": null}}',
        [("f", {"n": "10", "ok": "true", "x": 1.5, "none": None})],
        "",
    ),
    "nested arguments": (
        '{"name": "f", "parameters": {"a": [1, {"b": [true, null]}], "c": {"d": {}}}}',
        [("f", {"a": [1, {"b": [True, None]}], "c": {"d": {}}})],
        "",
    ),
    "braces and name inside a string": (
        '{"name": "echo", "parameters": {"text": "{\\"name\\": 1} } { ]"}}',
        [("echo", {"text": '{"name": 1} } { ]'})],
        "",
    ),
    "unicode escapes": (
        '{"name": "say", "parameters": {"text": "caf\\u00e9 \\ud83d\\ude00"}}',
        [("say", {"text": "café 😀"})],
        "",
    ),
    "function tag": ('<function=get_weather>{"city": "Paris"}</function>', [W], ""),
    "function tag, no closing": ('<function=get_weather>{"city": "Paris"}', [W], ""),
    "function tag, body on next line": ('<function=get_time>\n{"tz": "UTC"}\n</function>', [T], ""),
    "function tag then prose": (
        '<function=get_time>{"tz": "UTC"}</function>\nOne moment.',
        [T],
        "One moment.",
    ),
    "brave_search": (
        '<|python_tag|>brave_search.call(query="weather in Paris")<|eom_id|>',
        [("brave_search", {"query": "weather in Paris"})],
        "",
    ),
    "brave_search without python_tag": (
        'brave_search.call(query="Menlo Park")',
        [("brave_search", {"query": "Menlo Park"})],
        "",
    ),
    "wolfram_alpha": (
        "<|python_tag|>wolfram_alpha.call(query='solve x^2 = 4')",
        [("wolfram_alpha", {"query": "solve x^2 = 4"})],
        "",
    ),
    "built-in with literals": (
        'search.call(q="a \\"b\\"", n=-3, x=2.5, exact=True, lang=None, )',
        [("search", {"q": 'a "b"', "n": -3, "x": 2.5, "exact": True, "lang": None})],
        "",
    ),
    "built-in, no arguments": ("<|python_tag|>now.call()", [("now", {})], ""),
    "built-in after prose and python_tag": (
        'Let me search.\n<|python_tag|>brave_search.call(query="x")<|eom_id|>',
        [("brave_search", {"query": "x"})],
        "Let me search.",
    ),
    "built-in alone in a fence": (
        '```python\nbrave_search.call(query="x")\n```',
        [("brave_search", {"query": "x"})],
        "",
    ),
    "code_interpreter": (
        "<|python_tag|>print(2 ** 10)<|eom_id|>",
        [("code_interpreter", {"code": "print(2 ** 10)"})],
        "",
    ),
    "code_interpreter, several lines": (
        "<|python_tag|>import math\nx = {'a': 1}\nprint(math.sqrt(x['a']))\n<|eom_id|>",
        [("code_interpreter", {"code": "import math\nx = {'a': 1}\nprint(math.sqrt(x['a']))"})],
        "",
    ),
    "code_interpreter in a fence": (
        "<|python_tag|>```python\nprint(1)\n```<|eom_id|>",
        [("code_interpreter", {"code": "print(1)"})],
        "",
    ),
    "prose then code_interpreter": (
        "Let me compute it.\n<|python_tag|>print(6 * 7)",
        [("code_interpreter", {"code": "print(6 * 7)"})],
        "Let me compute it.",
    ),
    "separated by ;": (WEATHER + ";" + TIME, [W, T], ""),
    "separated by ; and space": (WEATHER + "; " + TIME, [W, T], ""),
    "separated by ; and newline": (WEATHER + ";\n" + TIME, [W, T], ""),
    "separated by newlines": (WEATHER + "\n\n" + TIME + "\n", [W, T], ""),
    "python_tag, several calls": (
        "<|python_tag|>" + WEATHER + "; " + TIME + "<|eom_id|>",
        [W, T],
        "",
    ),
    "JSON list with commas": ("[" + WEATHER + ", " + TIME + "]", [W, T], ""),
    "JSON list without commas": ("[" + WEATHER + " " + TIME + "]", [W, T], ""),
    "JSON list, pretty-printed": ("[\n  " + WEATHER + ",\n  " + TIME + "\n]", [W, T], ""),
    "built-ins separated by ;": (
        'brave_search.call(query="a"); wolfram_alpha.call(query="1+1")',
        [("brave_search", {"query": "a"}), ("wolfram_alpha", {"query": "1+1"})],
        "",
    ),
    "function tags on two lines": (
        '<function=get_weather>{"city": "Paris"}</function>\n'
        '<function=get_time>{"tz": "UTC"}</function>',
        [W, T],
        "",
    ),
    "JSON then built-in": (
        WEATHER + '\nbrave_search.call(query="x")',
        [W, ("brave_search", {"query": "x"})],
        "",
    ),
    "json fence": ("```json\n" + WEATHER + "\n```", [W], ""),
    "plain fence": ("```\n" + PRETTY + "\n```", [W], ""),
    "fence around a list": ("```json\n[" + WEATHER + ",\n" + TIME + "]\n```", [W, T], ""),
    "prose before": ("I'll look that up.\n\n" + WEATHER, [W], "I'll look that up."),
    "prose after": (WEATHER + "\n\nThis gets the weather.", [W], "This gets the weather."),
    "prose around a fence": (
        "Sure! Here is the call:\n```json\n" + WEATHER + "\n```\nLet me know.",
        [W],
        "Sure! Here is the call:\nLet me know.",
    ),
    "brackets in prose are kept": ("See [1] " + WEATHER + " and [2]", [W], "See [1]\nand [2]"),
    "prose between calls": (WEATHER + "\nand then\n" + TIME, [W, T], "and then"),
    "unclosed brace in prose": ("Sets look like {1, 2. " + WEATHER, [W], "Sets look like {1, 2."),
    # A complete call after a stray brace is still complete: nothing is repaired to find it.
    "stray opening brace before": ("{" + WEATHER, [W], "{"),
    "balanced braces in prose around": ("a { b " + WEATHER + " c } d", [W], "a { b\nc } d"),
    "leaked header and eot": (
        "<|start_header_id|>assistant<|end_header_id|>\n\n" + WEATHER + "<|eot_id|>",
        [W],
        "",
    ),
    "two python_tag messages": (
        "<|python_tag|>" + WEATHER + "<|eom_id|><|python_tag|>" + TIME,
        [W, T],
        "",
    ),
}


@pytest.mark.parametrize(("text", "calls", "remaining"), POSITIVE.values(), ids=POSITIVE.keys())
def test_recovers_calls(text: str, calls: list[tuple[str, dict[str, Any]]], remaining: str) -> None:
    rest, found = extract_tool_calls(text)
    assert [(c.name, c.arguments) for c in found] == calls
    assert rest == remaining
    assert [(c.name, c.arguments) for c in parse_tool_calls(text)] == calls


NEGATIVE = {
    "truncated JSON": '{"name": "get_weather", "parameters": {"city": "Par',
    "missing closing brace": '{"name": "get_weather", "parameters": {"city": "Paris"}',
    "nested, one closing brace missing": '{"name": "f", "parameters": {"a": {"b": 1}}',
    "single quotes": "{'name': 'get_weather', 'parameters': {'city': 'Paris'}}",
    "Python True": '{"name": "f", "parameters": {"flag": True}}',
    "Python None": '{"name": "f", "parameters": {"x": None}}',
    "trailing comma": '{"name": "f", "parameters": {"x": 1,}}',
    "NaN": '{"name": "f", "parameters": {"x": NaN}}',
    "parameters a list": '{"name": "f", "parameters": [1, 2]}',
    "parameters a number": '{"name": "f", "parameters": 3}',
    "parameters a plain string": '{"name": "f", "parameters": "Paris"}',
    "parameters a JSON string of a list": '{"name": "f", "parameters": "[1]"}',
    "parameters double-encoded": '{"name": "f", "arguments": "\\"{\\\\\\"a\\\\\\": 1}\\""}',
    "parameters null": '{"name": "f", "parameters": null}',
    "no parameters": '{"name": "get_time"}',
    "missing name": '{"parameters": {"city": "Paris"}}',
    "empty name": '{"name": "", "parameters": {}}',
    "blank name": '{"name": "  ", "parameters": {}}',
    "name not a string": '{"name": 7, "parameters": {}}',
    "type is not function": '{"type": "person", "name": "Ada", "parameters": {}}',
    "prose with braces": "Use {name} and {city} as placeholders; a dict is {}.",
    "JSON without the call shape": 'The result is {"city": "Paris", "temp": 21}.',
    "data dict holding a call-like object": (
        'Stored: {"record": {"name": "get_weather", "parameters": {"city": "Paris"}}}'
    ),
    "name in prose quotes": 'Their "name" is {Ada}.',
    "built-in, positional argument": 'brave_search.call("weather")',
    "built-in, expression argument": "brave_search.call(query=input())",
    "built-in, list argument": "brave_search.call(query=[1, 2])",
    "built-in, repeated keyword": 'brave_search.call(q="a", q="b")',
    "built-in, unclosed": 'brave_search.call(query="weather"',
    "built-in, in a sentence": "You could use client.call(timeout=5) for that.",
    "built-in, more code after": 'brave_search.call(query="x") + 1',
    "built-in shape in a code answer": (
        'Use this:\n\n```python\nimport subprocess\nsubprocess.call(args="ls", shell=True)\n```'
    ),
    "built-in shape after prose, no tag": 'To search, write:\nbrave_search.call(query="x")',
    "function tag, list body": "<function=f>[1, 2]</function>",
    "function tag, truncated body": '<function=f>{"a": 1</function>',
    "python_tag, truncated JSON": '<|python_tag|>{"name": "f", "parameters": {',
    "python_tag, broken built-in": "<|python_tag|>brave_search.call(query=)",
    "python_tag, nothing after": "Done.<|python_tag|><|eom_id|>",
    "empty": "",
    "only special tokens": "<|eot_id|><|eom_id|>",
}


@pytest.mark.parametrize("text", NEGATIVE.values(), ids=NEGATIVE.keys())
def test_no_guessed_call(text: str) -> None:
    assert parse_tool_calls(text) == []
    rest, calls = extract_tool_calls(text)
    assert calls == []
    assert rest == strip_special_tokens(text).strip()


def test_generated_ids_are_unique_and_wrapper_ids_are_kept() -> None:
    calls = parse_tool_calls(WEATHER + "\n" + WEATHER)
    assert calls[0].id != calls[1].id
    assert all(call.id.startswith("call_") for call in calls)
    wrapped = '{"id": "abc", "type": "function", "function": {"name": "f", "arguments": "{}"}}'
    assert parse_tool_calls(wrapped)[0].id == "abc"


def test_calls_carry_their_arguments_as_json_text() -> None:
    (call,) = parse_tool_calls('<function=f>{"n": "10"}</function>')
    assert isinstance(call, ToolCall)
    assert json.loads(call.raw_arguments) == {"n": "10"}


def test_remaining_text_keeps_prose_and_drops_separators() -> None:
    text = (
        "First I'll check.\n```json\n[" + WEATHER + ";\n" + TIME + "]\n```\nThen answer.<|eot_id|>"
    )
    rest, calls = extract_tool_calls(text)
    assert [c.name for c in calls] == ["get_weather", "get_time"]
    assert rest == "First I'll check.\nThen answer."


def test_fence_with_prose_inside_is_kept() -> None:
    rest, calls = extract_tool_calls("```\n" + WEATHER + "\nnote\n```")
    assert [c.name for c in calls] == ["get_weather"]
    assert rest == "```\nnote\n```"


def test_no_calls_returns_text_without_special_tokens() -> None:
    text = "<|start_header_id|>assistant<|end_header_id|>\n\nIt is 21 °C in Paris.<|eot_id|>"
    assert extract_tool_calls(text) == ("It is 21 °C in Paris.", [])


@pytest.mark.parametrize(
    ("text", "clean"),
    [
        ("Hi<|eot_id|>", "Hi"),
        ("<|begin_of_text|><|start_header_id|>user<|end_header_id|>x", "x"),
        ("<|reserved_special_token_3|>a<|eom_id|>b", "ab"),
        ("a <|not a token|> b", "a <|not a token|> b"),
        ("<|start_header_id|>", ""),
    ],
)
def test_strip_special_tokens(text: str, clean: str) -> None:
    assert strip_special_tokens(text) == clean


@pytest.mark.parametrize(
    "text",
    [
        "{" * 100_000,
        '{"a":' * 50_000,
        '{"name":' * 20_000 + "1" + "}" * 20_000,
        "[" * 50_000 + "]" * 50_000,
        '{"name": "f", "parameters": ' + "[" * 50_000 + "]" * 50_000 + "}",
        '{"name": "f", "arguments": "' + "[" * 50_000 + '"}',
        "a.call(" * 20_000,
        "<|python_tag|>" * 10_000,
        '"' * 10_000 + "{" + '\\"' * 10_000,
        "x.call(n=" + "9" * 5000 + ")",
    ],
    ids=lambda text: repr(text[:16]),
)
def test_adversarial_input_does_not_raise(text: str) -> None:
    rest, calls = extract_tool_calls(text)
    assert calls == [] or all(call.name for call in calls)
    assert isinstance(rest, str)


def test_deep_but_reasonable_nesting_is_a_call() -> None:
    arguments: dict[str, Any] = {"leaf": 1}
    for _ in range(40):
        arguments = {"a": arguments}
    (call,) = parse_tool_calls(json.dumps({"name": "f", "parameters": arguments}))
    assert call.arguments == arguments


# --- TextGate ------------------------------------------------------------------------------


def run_gate(deltas: list[str]) -> tuple[list[str], str]:
    gate = TextGate()
    return [gate.feed(delta) for delta in deltas], gate.finish()


def test_gate_releases_prose_as_it_streams() -> None:
    released, rest = run_gate(["The weather ", "in Paris ", "is mild", " today."])
    assert released[:3] == ["The weather ", "in Paris ", "is mild"]
    assert "".join(released) + rest == "The weather in Paris is mild today."


def test_gate_never_releases_a_json_call() -> None:
    text = "<|python_tag|>" + WEATHER + "<|eom_id|>"
    released, rest = run_gate(list(text))
    assert released == [""] * len(text)
    assert rest == ""


def test_gate_releases_the_prose_before_a_call_only() -> None:
    gate = TextGate()
    shown = [
        gate.feed(d) for d in ["Let me check. ", '{"name": "get_', 'weather", "parameters": {}}']
    ]
    assert gate.held
    assert "".join(shown) == "Let me check. "
    assert gate.finish() == ""


def test_gate_releases_prose_after_a_call_at_finish() -> None:
    released, rest = run_gate(["[", WEATHER, "]\nChecking now."])
    assert "".join(released) == ""
    assert rest == "Checking now."


def test_gate_releases_held_text_that_is_not_a_call() -> None:
    released, rest = run_gate(["Use ", "{x} as a", " placeholder."])
    assert "".join(released) == "Use "
    assert rest == "{x} as a placeholder."


@pytest.mark.parametrize(
    "deltas",
    [
        ["Hello<|eo", "t_id|>"],
        ["Hello<", "|eot_id|>"],
        ["Hello<|", "eom_id", "|>"],
        ["<|start_header_id|>assi", "stant<|end_hea", "der_id|>\n\nHello"],
    ],
)
def test_gate_never_shows_split_special_tokens(deltas: list[str]) -> None:
    released, rest = run_gate(deltas)
    assert all("<" not in piece and "|" not in piece for piece in [*released, rest])
    assert ("".join(released) + rest).strip() == "Hello"


@pytest.mark.parametrize(
    "deltas",
    [
        ["<|pyth", "on_tag|>print(1)"],
        ["brave_search", '.call(query="x")'],
        ["brave_search.ca", 'll(query="x")'],
        ["Ok.\n", "wolfram_alpha.", 'call(query="2+2")'],
        ["`", "``json\n", WEATHER, "\n```"],
        ["<func", 'tion=f>{"a": 1}</function>'],
        ["[ ", WEATHER, "]"],
    ],
)
def test_gate_holds_calls_split_across_deltas(deltas: list[str]) -> None:
    released, rest = run_gate(deltas)
    assert "".join(released) in ("", "Ok.\n")
    assert rest == ""


def test_gate_lets_a_word_at_a_statement_start_through_once_it_is_prose() -> None:
    gate = TextGate()
    assert gate.feed("Hello") == ""  # could still become `Hello.call(`
    assert gate.feed(" there") == "Hello there"
    assert not gate.held
    assert gate.finish() == ""
