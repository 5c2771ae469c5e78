"""Fuzzing the edges where outside data enters: streamed replies and tool arguments.

Properties (Hypothesis):

- a valid stream gives the same reply however its deltas and its bytes are split;
- any stream, valid or not, gives a reply or a `ModelError`, never another exception;
- text without the shape of a call never becomes a call;
- the built-in tools accept every instance of their schema, and anything else either passes
  as a schema-valid coercion or fails with `ModelRetry` (nothing else escapes `validate`);
- the executor turns any arguments text into validated arguments or a result for the model.

CI runs a few hundred examples in all. Run long with `AGENTKIT_FUZZ=long pytest
tests/test_fuzz.py` (the `long` Hypothesis profile of tests/conftest.py).
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx2
import jsonschema
import openai
import pytest
from _reliability import BOUND, KEY, MODEL_ID, add, assert_valid_history, chunk, server_agent
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis_jsonschema import from_schema

from agentkit import ModelError, ModelRetry, Tool, ToolCall, UserMessage
from agentkit._loop.execute import CallOutcome, Executor
from agentkit.events import RunFinished
from agentkit.llama import extract_tool_calls
from agentkit.models import ModelResponse, OpenAIModel
from agentkit.models.openai import call_from_wire
from agentkit.testing import Chunks, FakeServer
from agentkit.tools import ToolRegistry, load_tools

pytestmark = pytest.mark.anyio

LONG = os.environ.get("AGENTKIT_FUZZ") == "long"


def fuzz(examples: int) -> settings:
    """`examples` examples; under AGENTKIT_FUZZ=long, the `long` profile's count instead."""
    return settings(
        max_examples=settings().max_examples if LONG else examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    """One fake server for all examples of the module (a fixture per example would not do)."""
    with FakeServer() as fake:
        yield fake


TOOLS = [{"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}]

json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=12)
json_values = st.recursive(
    json_scalars | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
json_objects = st.dictionaries(st.text(max_size=8), json_values, max_size=4)
names = st.sampled_from(["add", "get_weather", "final_result", "f"])


@st.composite
def splits(draw: st.DrawFn, text: str) -> list[str]:
    """`text` cut at random places (empty pieces included: servers send them)."""
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=6)))
    edges = [0, *cuts, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(edges)]


@st.composite
def valid_streams(
    draw: st.DrawFn,
) -> tuple[list[dict[str, Any]], str | None, list[tuple[str, str, Any]]]:
    """Chunks of a well-formed reply, split at random; with the reply they must assemble to."""
    text = draw(st.text(max_size=40))
    calls = draw(st.lists(st.tuples(names, json_objects), max_size=3))
    chunks = [chunk(piece) for piece in draw(splits(text))]
    expected = []
    for index, (name, arguments) in enumerate(calls):
        call_id = f"call_{index}"
        raw = json.dumps(arguments)
        first = {"index": index, "id": call_id, "type": "function", "function": {"name": name}}
        chunks.append(chunk(tool_calls=[first]))
        for piece in draw(splits(raw)):
            entry = {"index": index, "function": {"arguments": piece}}
            chunks.append(chunk(tool_calls=[entry]))
        expected.append((call_id, name, arguments))
    chunks.append(chunk(finish_reason="tool_calls" if calls else "stop"))
    chunks.append({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}})
    return chunks, text or None, expected


def _summary(response: ModelResponse) -> tuple[str | None, list[tuple[str, str, Any]]]:
    calls = [(c.id, c.name, c.arguments) for c in response.message.tool_calls]
    return response.message.content, calls


async def _stream_reply(model: OpenAIModel) -> ModelResponse:
    """The final response of one streamed request; the text deltas are checked against it."""
    texts: list[str] = []
    response: ModelResponse | None = None
    async for item in model.request_stream([UserMessage("go")], TOOLS, {}):
        if isinstance(item, ModelResponse):
            response = item
        else:
            texts.append(item)
    assert response is not None
    # Text that follows a tool call is held back (it may be JSON residue), never streamed.
    assert (response.message.content or "").startswith("".join(texts))
    return response


@fuzz(60)
@given(valid_streams())
@pytest.mark.slow
async def test_valid_stream_split_anywhere_gives_the_same_reply(
    server: FakeServer, stream: tuple[list[dict[str, Any]], str | None, list[Any]]
) -> None:
    chunks, text, expected = stream
    server.add(Chunks(chunks))
    model = OpenAIModel(MODEL_ID, base_url=server.url, api_key=KEY, max_retries=0)
    try:
        with anyio.fail_after(BOUND):
            response = await _stream_reply(model)
    finally:
        await model.aclose()
    assert _summary(response) == (text, expected)
    assert response.usage.prompt_tokens == 3 and response.usage.completion_tokens == 4


def _sse(chunks: list[Any], done: bool = True) -> bytes:
    lines = [f"data: {c if isinstance(c, str) else json.dumps(c)}\n\n" for c in chunks]
    return ("".join(lines) + ("data: [DONE]\n\n" if done else "")).encode()


def _client_over_bytes(pieces: list[bytes]) -> openai.AsyncOpenAI:
    """A client that reads every response in exactly these byte pieces."""

    async def body() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body())

    http = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    return openai.AsyncOpenAI(
        base_url="http://fuzz.invalid/v1", api_key=KEY, http_client=http, max_retries=0
    )


@st.composite
def byte_splits(draw: st.DrawFn, data: bytes) -> list[bytes]:
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=12)))
    edges = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


@fuzz(40)
@given(st.data())
async def test_valid_stream_bytes_split_anywhere_give_the_same_reply(data: st.DataObject) -> None:
    chunks, text, expected = data.draw(valid_streams())
    pieces = data.draw(byte_splits(_sse(chunks)))  # cuts inside lines and UTF-8 sequences too
    with anyio.fail_after(BOUND):
        async with _client_over_bytes(pieces) as client:
            response = await _stream_reply(OpenAIModel(MODEL_ID, client=client))
    assert _summary(response) == (text, expected)


# -- invalid streams ----------------------------------------------------------------------------

bad_fields = st.one_of(json_values, st.just({}), st.just([]), st.just([{}]), st.just(None))


@st.composite
def broken_chunks(draw: st.DrawFn) -> Any:
    """A chunk with one part replaced by something of the wrong shape, or a non-chunk."""
    kind = draw(st.sampled_from(["field", "choice", "delta", "call", "function", "raw", "value"]))
    bad = draw(bad_fields)
    if kind == "field":
        return {draw(st.sampled_from(["choices", "usage", "error"])): bad}
    if kind == "choice":
        return {"choices": [bad]}
    if kind == "delta":
        return {"choices": [{"delta": bad, "finish_reason": draw(json_scalars)}]}
    if kind == "call":
        return chunk(tool_calls=bad if isinstance(bad, list) else [bad])
    if kind == "function":
        key = draw(st.sampled_from(["function", "index", "id"]))
        return chunk(tool_calls=[{"index": 0, key: bad}])
    if kind == "raw":  # any text after `data: ` (lone surrogates cannot be sent at all)
        return draw(st.text(st.characters(exclude_categories=["Cs"]), max_size=30))
    return json.dumps(bad)


@st.composite
def mutated_streams(draw: st.DrawFn) -> list[Any]:
    """A valid stream with broken chunks put in, chunks left out, or chunks swapped."""
    chunks: list[Any] = list(draw(valid_streams())[0])
    for _ in range(draw(st.integers(0, 3))):
        how = draw(st.sampled_from(["insert", "drop", "swap"]))
        if how == "insert" or len(chunks) < 2:
            chunks.insert(draw(st.integers(0, len(chunks))), draw(broken_chunks()))
        elif how == "drop":
            chunks.pop(draw(st.integers(0, len(chunks) - 1)))
        else:
            i, j = draw(st.integers(0, len(chunks) - 1)), draw(st.integers(0, len(chunks) - 1))
            chunks[i], chunks[j] = chunks[j], chunks[i]
    return chunks


@fuzz(80)
@given(
    mutated_streams(),
    st.booleans(),
    st.dictionaries(st.integers(0, 8), st.sampled_from(["error", "message", "ping"]), max_size=2),
)
@pytest.mark.slow
async def test_any_stream_gives_a_reply_or_a_model_error(
    server: FakeServer, chunks: list[Any], done: bool, events: dict[int, str]
) -> None:
    server.add(Chunks(chunks, done=done, event=events))
    model = OpenAIModel(MODEL_ID, base_url=server.url, api_key=KEY, max_retries=0)
    outcome: ModelResponse | ModelError
    try:
        with anyio.fail_after(BOUND):
            outcome = await _stream_reply(model)
    except ModelError as exc:  # the only exception allowed
        outcome = exc
    finally:
        await model.aclose()
    if isinstance(outcome, ModelError):
        assert outcome.endpoint == model.endpoint and KEY not in str(outcome)
    else:
        assert all(isinstance(c, ToolCall) and c.id for c in outcome.message.tool_calls)


# -- no call invented from text -------------------------------------------------------------------

PROSE = [
    "The", " answer", " is", " 5", ".", "\n", "{", "}", "[", "]", ":", ",", '"', "'", "add",
    "(", ")", "a=1", "b: 2", "```", "json", "<|eot_id|>", "<|eom_id|>", "parameters", "arguments",
    "function", "tool", "é", "😀", " ",
]  # fmt: skip
MARKERS = ('"name"', "<function=", ".call(", "<|python_tag|>")


@fuzz(40)
@given(st.lists(st.sampled_from(PROSE), max_size=30).map("".join), st.data())
@pytest.mark.slow
async def test_text_without_the_call_shape_never_becomes_a_call(
    server: FakeServer, text: str, data: st.DataObject
) -> None:
    assert not any(marker in text for marker in MARKERS)
    server.add(Chunks([chunk(piece) for piece in data.draw(splits(text))]))
    if not extract_tool_calls(text)[0]:
        server.add(Chunks([chunk("")]))  # an empty answer is asked for once more
    with anyio.fail_after(BOUND):
        async with server_agent(server, tools=[add]) as agent:
            events = [e async for e in agent.stream("go")]
    finished = events[-1]
    assert isinstance(finished, RunFinished)
    assert all(not getattr(m, "tool_calls", ()) for m in finished.result.messages)
    assert_valid_history(finished.result.messages)


# -- tool arguments -------------------------------------------------------------------------------

BUILTIN = [t for module in ("calculator", "clock", "files") for t in load_tools(module)]
BY_NAME = {t.name: t for t in BUILTIN}


def _conforms(arguments: dict[str, Any], tool: Tool) -> None:
    jsonschema.validate(arguments, tool.parameters, cls=jsonschema.Draft202012Validator)


def instances(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Valid instances of a tool's object schema.

    hypothesis-jsonschema's own object strategy uses Hypothesis internals that the installed
    Hypothesis no longer has (`'many' object has no attribute 'more'`), so its `from_schema`
    draws each property and the object is put together here: the required properties always,
    the others sometimes, nothing else (the schemas say `additionalProperties: false`).
    """
    assert schema.get("additionalProperties") is False
    required = set(schema.get("required", ()))
    properties = {k: from_schema(v) for k, v in schema["properties"].items()}
    return st.fixed_dictionaries(
        {k: v for k, v in properties.items() if k in required},
        optional={k: v for k, v in properties.items() if k not in required},
    )


def tool_and_instance() -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    return st.sampled_from(sorted(BY_NAME)).flatmap(
        lambda name: st.tuples(st.just(name), instances(BY_NAME[name].parameters))
    )


@fuzz(100)
@given(tool_and_instance())
@pytest.mark.slow
def test_builtin_tools_accept_every_instance_of_their_schema(case: tuple[str, Any]) -> None:
    name, arguments = case
    tool = BY_NAME[name]
    _conforms(arguments, tool)  # the strategy is right
    accepted = tool.validate(arguments)
    assert set(accepted) <= set(tool.parameters["properties"])
    _conforms(accepted, tool)


@st.composite
def wrong_arguments(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """Arguments that are likely wrong for a tool: wrong types, missing, extra, random."""
    name, arguments = draw(tool_and_instance())
    properties = sorted(BY_NAME[name].parameters["properties"])
    how = draw(st.sampled_from(["retype", "drop", "extra", "random"]))
    if how == "retype":
        for key in draw(st.lists(st.sampled_from(properties), min_size=1, max_size=3)):
            arguments[key] = draw(json_values)
    elif how == "drop":
        for key in draw(st.lists(st.sampled_from(properties), min_size=1, max_size=3)):
            arguments.pop(key, None)
    elif how == "extra":
        arguments.update(draw(json_objects))
    else:
        arguments = draw(json_objects)
    return name, arguments


@fuzz(100)
@given(wrong_arguments())
def test_builtin_tools_reject_bad_arguments_only_with_model_retry(case: tuple[str, Any]) -> None:
    name, arguments = case
    tool = BY_NAME[name]
    outcome: dict[str, Any] | ModelRetry
    try:
        outcome = tool.validate(arguments)
    except ModelRetry as exc:  # the only exception allowed
        outcome = exc
    if isinstance(outcome, ModelRetry):
        assert outcome.message.startswith(f"Invalid arguments for tool `{name}`")
    else:
        _conforms(outcome, tool)  # what passes (after coercion) fits the schema


@fuzz(60)
@given(
    st.sampled_from([*sorted(BY_NAME), "nope", ""]),
    st.one_of(
        st.text(max_size=60),
        json_values.map(json.dumps),
        json_objects.map(json.dumps),
        json_objects.map(lambda o: json.dumps(json.dumps(o))),
    ),
)
def test_executor_turns_any_arguments_text_into_arguments_or_a_result(name: str, raw: str) -> None:
    executor = Executor(
        ToolRegistry(BUILTIN), approval=None, max_parallel=4, max_result_chars=1000, secrets=[KEY]
    )
    call = call_from_wire("call_1", name, raw)
    prepared = executor.prepare(call, truncated=False)
    if isinstance(prepared, CallOutcome):
        assert prepared.is_error and prepared.result and prepared.call is call
    else:
        assert name in BY_NAME
        _conforms(prepared, BY_NAME[name])
