"""Assembling streamed chunks: a test per server quirk of llama31-tool-calls.md, and properties."""

from __future__ import annotations

import contextlib
import json
import re
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from agentkit.models.openai._chunks import StreamAccumulator, StreamedReply

SETTINGS = settings(max_examples=150, deadline=None)


def chunk(
    content: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    finish_reason: str | None = None,
) -> dict[str, Any]:
    delta: dict[str, Any] = {"role": "assistant"}
    if content is not None:
        delta["content"] = content
    if tool_calls is not None:
        delta["tool_calls"] = tool_calls
    choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [choice]}


def call(
    index: int | None = 0, id: str | None = None, name: str | None = None, arguments: Any = None
) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": "function", "function": {}}
    if index is not None:
        entry["index"] = index
    if id is not None:
        entry["id"] = id
    if name is not None:
        entry["function"]["name"] = name
    if arguments is not None:
        entry["function"]["arguments"] = arguments
    return entry


def assemble(*chunks: dict[str, Any]) -> StreamedReply:
    acc = StreamAccumulator()
    for item in chunks:
        acc.feed(item)
    return acc.finish()


def summary(reply: StreamedReply) -> list[tuple[str, str, Any]]:
    return [(c.id, c.name, c.arguments) for c in reply.tool_calls]


def test_text_deltas_are_returned_and_joined() -> None:
    acc = StreamAccumulator()
    assert [acc.feed(chunk(t)) for t in ["Hel", "lo", None, ""]] == ["Hel", "lo", "", ""]
    reply = acc.finish()
    # The first chunk gives the reply's id (for traces); these chunks name no model.
    assert reply == StreamedReply("Hello", (), None, None, None, "chatcmpl-1")


def test_no_text_gives_none() -> None:
    assert assemble(chunk(""), chunk(finish_reason="stop")).content is None


def test_missing_index_uses_the_position_then_continues_the_current_call() -> None:
    reply = assemble(
        chunk(tool_calls=[call(None, "a", "f", '{"x"'), call(None, "b", "g", "")]),
        chunk(tool_calls=[call(None, arguments=": 1}")]),  # a lone entry continues `g`
    )
    assert summary(reply) == [("a", "f", None), ("b", "g", None)]
    assert reply.tool_calls[0].raw_arguments == '{"x"'
    assert reply.tool_calls[1].raw_arguments == ": 1}"


def test_missing_index_one_call_per_chunk() -> None:
    reply = assemble(
        chunk(tool_calls=[call(None, "a", "f", '{"x": ')]),
        chunk(tool_calls=[call(None, arguments="1}")]),
        chunk(tool_calls=[call(None, "b", "g", "{}")]),
    )
    assert summary(reply) == [("a", "f", {"x": 1}), ("b", "g", {})]


def test_index_always_zero_a_new_id_starts_a_new_call() -> None:
    reply = assemble(
        chunk(tool_calls=[call(0, "call_1", "f", '{"a": 1}')]),
        chunk(tool_calls=[call(0, "call_2", "f", '{"a":')]),
        chunk(tool_calls=[call(0, arguments=" 2}")]),
    )
    assert summary(reply) == [("call_1", "f", {"a": 1}), ("call_2", "f", {"a": 2})]


def test_index_always_zero_without_ids_a_new_name_starts_a_new_call() -> None:
    reply = assemble(
        chunk(tool_calls=[call(0, name="f", arguments="{}")]),
        chunk(tool_calls=[call(0, name="g", arguments="{}")]),
    )
    assert [(c.name, c.arguments) for c in reply.tool_calls] == [("f", {}), ("g", {})]


def test_the_same_name_repeated_continues_the_call() -> None:
    reply = assemble(
        chunk(tool_calls=[call(0, "c1", "f", '{"a"')]),
        chunk(tool_calls=[call(0, "c1", "f", ": 1}")]),
    )
    assert summary(reply) == [("c1", "f", {"a": 1})]


def test_index_always_zero_without_ids_the_same_name_after_a_whole_call_is_a_new_call() -> None:
    reply = assemble(
        chunk(tool_calls=[call(0, name="f", arguments='{"a": 1}')]),
        chunk(tool_calls=[call(0, name="f", arguments='{"a": ')]),
        chunk(tool_calls=[call(0, name="f", arguments='{"b": 2}}')]),
        chunk(tool_calls=[call(0, name="f", arguments={"c": 3})]),
    )
    assert [(c.name, c.arguments) for c in reply.tool_calls] == [
        ("f", {"a": 1}),
        ("f", {"a": {"b": 2}}),
        ("f", {"c": 3}),
    ]
    assert len({c.id for c in reply.tool_calls}) == 3


def test_the_same_whole_call_sent_again_without_ids_is_taken_once() -> None:
    reply = assemble(
        chunk(tool_calls=[call(0, name="f", arguments='{"a": ')]),
        chunk(tool_calls=[call(0, name="f", arguments="1}")]),
        chunk(tool_calls=[call(0, name="f", arguments={"a": 1})], finish_reason="tool_calls"),
    )
    assert [(c.name, c.arguments) for c in reply.tool_calls] == [("f", {"a": 1})]


def test_a_numeric_id_is_kept_as_text() -> None:
    reply = assemble(chunk(tool_calls=[call(0, 7, "f", "{}")]))  # type: ignore[arg-type]
    assert summary(reply) == [("7", "f", {})]


def test_non_contiguous_indexes() -> None:
    reply = assemble(
        chunk(tool_calls=[call(0, "a", "f", "{")]),
        chunk(tool_calls=[call(2, "b", "g", '{"y": 2}')]),
        chunk(tool_calls=[call(0, arguments="}")]),
    )
    assert summary(reply) == [("a", "f", {}), ("b", "g", {"y": 2})]


def test_empty_name_and_id_on_continuations_are_absent() -> None:
    reply = assemble(
        chunk(tool_calls=[call(0, "a", "get_weather", "")]),
        chunk(tool_calls=[call(0, "", "", '{"city": ')]),
        chunk(tool_calls=[call(0, "", "", '"Paris"}')]),
    )
    assert summary(reply) == [("a", "get_weather", {"city": "Paris"})]


@pytest.mark.parametrize("first", [None, ""])
def test_first_arguments_null_or_empty(first: str | None) -> None:
    entry = call(0, "a", "f")
    entry["function"]["arguments"] = first
    reply = assemble(chunk(tool_calls=[entry]), chunk(tool_calls=[call(0, arguments='{"n": 1}')]))
    assert summary(reply) == [("a", "f", {"n": 1})]


def test_a_call_without_arguments_has_empty_arguments() -> None:
    assert summary(assemble(chunk(tool_calls=[call(0, "a", "now")]))) == [("a", "now", {})]


def test_fragments_split_mid_word_and_mid_escape() -> None:
    text = '{"city": "Sa\\u00e3o \\"Paulo\\"", "note": "a\\\\b"}'
    pieces = ['{"ci', 'ty": "Sa\\', "u00", "e3o \\", '"Paulo\\"', '", "note": "a\\', '\\b"}']
    assert "".join(pieces) == text
    reply = assemble(
        chunk(tool_calls=[call(0, "a", "f", "")]),
        *(chunk(tool_calls=[call(0, arguments=p)]) for p in pieces),
    )
    assert reply.tool_calls[0].arguments == {"city": 'Saão "Paulo"', "note": "a\\b"}
    assert reply.tool_calls[0].raw_arguments == text


def test_whole_call_in_one_chunk() -> None:
    reply = assemble(
        chunk(tool_calls=[call(0, "a", "f", '{"q": "x"}')], finish_reason="tool_calls")
    )
    assert summary(reply) == [("a", "f", {"q": "x"})]


def test_arguments_sent_as_an_object() -> None:
    reply = assemble(chunk(tool_calls=[call(0, "a", "f", {"q": "x", "n": [1]})]))
    assert summary(reply) == [("a", "f", {"q": "x", "n": [1]})]
    assert json.loads(reply.tool_calls[0].raw_arguments) == {"q": "x", "n": [1]}


@pytest.mark.parametrize("residue", ["}", '"}\n', "]}", " ", "\n}<|eom_id|>", "<|eot_id|>", '", }'])
def test_json_residue_after_a_call_is_dropped(residue: str) -> None:
    acc = StreamAccumulator()
    acc.feed(chunk("Checking."))
    acc.feed(chunk(tool_calls=[call(0, "a", "f", "{}")]))
    assert acc.feed(chunk(residue)) == ""
    assert acc.finish().content == "Checking."


def test_prose_after_a_call_is_kept_but_not_streamed() -> None:
    acc = StreamAccumulator()
    acc.feed(chunk(tool_calls=[call(0, "a", "f", "{}")]))
    assert acc.feed(chunk(" I called f.")) == ""
    reply = acc.finish()
    assert reply.content == " I called f."
    assert summary(reply) == [("a", "f", {})]


def test_final_chunk_with_no_choices_carries_usage() -> None:
    first = {"prompt_tokens": 1, "completion_tokens": 1}
    last = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    reply = assemble(
        {**chunk("Hi"), "usage": first},
        chunk(finish_reason="stop") | {"usage": None},
        {"id": "x", "choices": [], "usage": last},
    )
    assert reply.usage == last
    assert reply.content == "Hi"


def test_extra_keys_are_ignored() -> None:
    item = chunk("Hi")
    item.update(system_fingerprint="fp", x_groq={"id": "q"}, created=1, model="m")
    item["choices"][0].update(logprobs=None, extra={"a": 1})
    item["choices"][0]["delta"].update(reasoning_content="...", refusal=None)
    assert assemble(item).content == "Hi"


@pytest.mark.parametrize(
    ("reason", "with_call"),
    [("stop", True), ("tool_calls", False), ("tool", True), ("length", False)],
)
def test_finish_reason_is_recorded_not_trusted(reason: str, with_call: bool) -> None:
    calls = [call(0, "a", "f", "{}")] if with_call else None
    reply = assemble(chunk("x" if not with_call else None, calls), chunk(finish_reason=reason))
    assert reply.finish_reason == reason
    assert len(reply.tool_calls) == (1 if with_call else 0)


def test_a_nameless_call_is_kept_with_arguments_and_dropped_without() -> None:
    reply = assemble(
        chunk(tool_calls=[call(0, "a", None, '{"x": 1}'), call(1, "b", None, None)]),
        chunk(tool_calls=[call(2, "c", None, " ")]),
    )
    assert summary(reply) == [("a", "", {"x": 1})]


def test_a_missing_id_is_generated() -> None:
    (made,) = assemble(chunk(tool_calls=[call(0, None, "f", "{}")])).tool_calls
    assert made.id.startswith("call_")


@pytest.mark.parametrize("arguments", ['{"a": 1', "[1, 2]", "not json"])
def test_arguments_that_are_not_an_object_give_none(arguments: str) -> None:
    (made,) = assemble(chunk(tool_calls=[call(0, "a", "f", arguments)])).tool_calls
    assert made.arguments is None
    assert made.raw_arguments == arguments


def test_absurdly_nested_arguments_give_none_instead_of_crashing() -> None:
    (made,) = assemble(chunk(tool_calls=[call(0, "a", "f", "[" * 100_000)])).tool_calls
    assert made.arguments is None


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ([1], "chunk must be a JSON object"),
        ("data: {}", "chunk must be a JSON object"),
        ({"choices": {"delta": {}}}, "`choices` must be a list"),
        ({"choices": ""}, "`choices` must be a list"),
        ({"choices": ["x"]}, "`choices[0]` must be an object"),
        ({"choices": [{"delta": "hi"}]}, "`choices[0].delta` must be an object"),
        ({"choices": [{"delta": {"content": 5}}]}, "`delta.content` must be a string"),
        ({"choices": [{"delta": {"tool_calls": {}}}]}, "`delta.tool_calls` must be a list"),
        ({"choices": [{"delta": {"tool_calls": [3]}}]}, "`delta.tool_calls[0]` must be an object"),
        (
            {"choices": [{"delta": {"tool_calls": [{"function": "f"}]}}]},
            "`delta.tool_calls[0].function`",
        ),
        ({"choices": [{"delta": {"tool_calls": [{"id": [7]}]}}]}, "`delta.tool_calls[0].id` must"),
    ],
)
def test_malformed_chunks_raise_value_error(bad: Any, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        StreamAccumulator().feed(bad)


# --- properties ------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
arguments = st.dictionaries(st.text(max_size=5), json_values, max_size=3)
names = st.from_regex(r"^[a-zA-Z0-9_-]{1,64}$", fullmatch=True)
MODES = ["index", "sparse index", "always zero", "no index"]  # ids tell calls apart in the last two


def split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({0, len(text), *(c % (len(text) + 1) for c in cuts)})
    return [text[a:b] for a, b in pairwise(points)]


def render(
    content: str, calls: list[tuple[str, str, dict[str, Any]]], mode: str, data: st.DataObject
) -> list[dict[str, Any]]:
    cut_lists = st.lists(st.integers(min_value=0), max_size=6)
    chunks = [chunk(piece) for piece in split(content, data.draw(cut_lists))]
    for number, (call_id, name, arguments) in enumerate(calls):
        index = {"index": number, "sparse index": 3 * number, "always zero": 0}.get(mode)
        first_arguments = data.draw(st.sampled_from([None, ""]))
        chunks.append(chunk(tool_calls=[call(index, call_id, name, first_arguments)]))
        blanks = data.draw(st.booleans())  # continuations with name "" and id ""
        for piece in split(json.dumps(arguments), data.draw(cut_lists)):
            entry = call(index, "" if blanks else None, "" if blanks else None, piece)
            chunks.append(chunk(tool_calls=[entry]))
    chunks.append(chunk(finish_reason=data.draw(st.sampled_from(["stop", "tool_calls", None]))))
    chunks.append({"choices": [], "usage": {"total_tokens": 3}})
    return chunks


@SETTINGS
@given(
    st.text(max_size=50),
    st.lists(st.tuples(names, arguments), max_size=3),
    st.sampled_from(MODES),
    st.data(),
)
def test_rendered_replies_assemble_back(
    content: str, raw_calls: list[tuple[str, Any]], mode: str, data: st.DataObject
) -> None:
    calls = [(f"call_{n}", name, arguments) for n, (name, arguments) in enumerate(raw_calls)]
    acc = StreamAccumulator()
    streamed = [acc.feed(item) for item in render(content, calls, mode, data)]
    reply = acc.finish()
    assert "".join(streamed) == content
    assert reply.content == (content or None)
    assert summary(reply) == calls
    assert reply.usage == {"total_tokens": 3}


KEYS = "choices delta content tool_calls function name arguments id index usage finish_reason"
junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS.split()) | st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=20,
)
shaped_junk = st.builds(lambda delta: {"choices": [{"delta": delta}]}, junk) | st.builds(
    lambda entries: {"choices": [{"delta": {"tool_calls": entries}}]}, junk
)


@SETTINGS
@given(st.lists(junk | shaped_junk, max_size=6))
@pytest.mark.slow
def test_junk_chunks_only_raise_value_error(chunks: list[Any]) -> None:
    acc = StreamAccumulator()
    for item in chunks:
        with contextlib.suppress(ValueError):
            assert isinstance(acc.feed(item), str)
    assert isinstance(acc.finish(), StreamedReply)
