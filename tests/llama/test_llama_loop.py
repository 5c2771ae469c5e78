"""Llama 3.1 tool calls written as text, recovered by the loop: end to end through the fake server.

Every format of llama31-tool-calls.md goes through `run()` and `stream()`: the tool runs with
the right arguments, the stored assistant message is rewritten as a proper tool-call message
(checked in the next request the server receives), streamed text never shows the call, and
look-alikes that are not calls stay final answers, text intact. Also: unknown names, and
Groq's HTTP 400 `tool_use_failed`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from _recovery import Calls, Ran, make_agent, same_calls
from _reliability import (
    OPEN_AGENTS,
    assert_valid_history,
    close_open_agents,  # noqa: F401 - autouse: closes OPEN_AGENTS
)

from agentkit import Agent, AssistantMessage, ModelError, UsageLimitExceeded, UsageLimits
from agentkit.events import Event, ModelRequestStarted, RunFinished, TextDelta
from agentkit.models import ToolUseFailed
from agentkit.testing import Chunks, Completion, Error, FakeRequest, FakeServer, Raw

pytestmark = pytest.mark.anyio

MODES = ["run", "stream", "stream-1"]  # stream-1: one character per streamed delta
CHUNK_SIZES = {"stream": 3, "stream-1": 1}
ANSWER = "It is sunny in Paris, and the sum is 3."
# Pieces of call syntax that must never reach the user as answer text.
CALL_MARKERS = ("{", "}", '"name"', "<|", "|>", "<function", "</function>", ".call(", "```")


# --- the tools, the agent and the run ----------------------------------------------------------


@pytest.fixture
def ran() -> Ran:
    return Ran()


def reply(mode: str, content: str) -> Completion:
    """A completion with `content` as text, streamed in small pieces in the stream modes."""
    return Completion(content, chunk_size=CHUNK_SIZES.get(mode, 8))


@dataclass
class Outcome:
    output: Any
    messages: list[Any]
    # The TextDelta texts of each model turn (all empty lists for run()).
    deltas: list[list[str]]


async def drive(agent: Agent[str], mode: str, prompt: str = "go") -> Outcome:
    if mode == "run":
        result = await agent.run(prompt)
        return Outcome(result.output, result.messages, [])
    events: list[Event] = [event async for event in agent.stream(prompt)]
    deltas: list[list[str]] = []
    for event in events:
        if isinstance(event, ModelRequestStarted):
            deltas.append([])
        elif isinstance(event, TextDelta):
            deltas[-1].append(event.text)
    last = events[-1]
    assert isinstance(last, RunFinished)
    return Outcome(last.result.output, last.result.messages, deltas)


# --- what a valid conversation looks like -----------------------------------------------------


def assert_valid_wire(messages: Sequence[dict[str, Any]]) -> None:
    """The same, on the wire: what a strict server checks in the request it receives."""
    pending: list[str] = []
    for message in messages:
        if message["role"] == "tool":
            assert message["tool_call_id"] in pending, f"unexpected result {message}"
            pending.remove(message["tool_call_id"])
            continue
        assert not pending, f"calls left unanswered: {pending}"
        for wire_call in message.get("tool_calls", ()):
            assert wire_call["type"] == "function" and wire_call["id"]
            assert isinstance(json.loads(wire_call["function"]["arguments"]), dict)
            pending.append(wire_call["id"])
        if message["role"] == "assistant":
            assert len(set(pending)) == len(pending), "duplicate call ids"
    assert not pending, f"calls left unanswered: {pending}"


def wire_calls(message: dict[str, Any]) -> Calls:
    return [
        (c["function"]["name"], json.loads(c["function"]["arguments"]))
        for c in message.get("tool_calls", ())
    ]


def assert_no_call_text(text: str) -> None:
    for marker in CALL_MARKERS:
        assert marker not in text, f"call text {marker!r} leaked into {text!r}"


def same_words(text: str | None) -> str:
    return " ".join((text or "").split())


def check_rewritten(request: FakeRequest, calls: Calls, prose: str) -> None:
    """The request after the recovered reply: a proper tool-call message, then its results."""
    wire = request.messages
    assert_valid_wire(wire)
    assistant = wire[1]
    assert assistant["role"] == "assistant"
    assert wire_calls(assistant) == calls
    assert assistant["content"] == (prose or None)
    assert_no_call_text(assistant["content"] or "")
    results = wire[2:]
    assert [m["role"] for m in results] == ["tool"] * len(calls)
    assert [m["tool_call_id"] for m in results] == [c["id"] for c in assistant["tool_calls"]]


# --- every text format, through run() and stream() -------------------------------------------

W = ("get_weather", {"city": "Paris"})
ADD = ("add", {"a": 1, "b": 2})
WEATHER = '{"name": "get_weather", "parameters": {"city": "Paris"}}'
SUM = '{"name": "add", "parameters": {"a": 1, "b": 2}}'
W_WIRE = {"name": "get_weather", "arguments": {"city": "Paris"}}
PRETTY = '{\n  "name": "get_weather",\n  "parameters": {\n    "city": "Paris"\n  }\n}'
HEADER = "<|start_header_id|>assistant<|end_header_id|>\n\n"

# id: (the reply's content, the calls that must run, the prose the rewritten message keeps)
FORMATS: dict[str, tuple[str, Calls, str]] = {
    "bare json, parameters": (WEATHER, [W], ""),
    "bare json, arguments": ('{"name": "get_weather", "arguments": {"city": "Paris"}}', [W], ""),
    "bare json, compact": ('{"name":"add","parameters":{"a":1,"b":2}}', [ADD], ""),
    "bare json, pretty-printed": (PRETTY, [W], ""),
    "arguments as a json string": (
        '{"name": "add", "arguments": "{\\"a\\": 1, \\"b\\": 2}"}',
        [ADD],
        "",
    ),
    "type function first": (
        '{"type": "function", "name": "get_weather", "parameters": {"city": "Paris"}}',
        [W],
        "",
    ),
    "openai wrapper, arguments object": (
        '{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}',
        [W],
        "",
    ),
    "openai wrapper, arguments string": (
        '{"type": "function", "function": {"name": "add", '
        '"arguments": "{\\"a\\": 1, \\"b\\": 2}"}}',
        [ADD],
        "",
    ),
    "python_tag prefix": (f"<|python_tag|>{WEATHER}<|eom_id|>", [W], ""),
    "function tag, closed": ('<function=get_weather>{"city": "Paris"}</function>', [W], ""),
    "function tag, not closed": ('<function=get_weather>{"city": "Paris"}', [W], ""),
    "function tags, two": (
        '<function=get_weather>{"city": "Paris"}</function>'
        '<function=add>{"a": 1, "b": 2}</function>',
        [W, ADD],
        "",
    ),
    "built-in brave_search": (
        '<|python_tag|>brave_search.call(query="Llama 3.1 release date")<|eom_id|>',
        [("brave_search", {"query": "Llama 3.1 release date"})],
        "",
    ),
    "built-in wolfram_alpha": (
        '<|python_tag|>wolfram_alpha.call(query="solve x^2 = 4")',
        [("wolfram_alpha", {"query": "solve x^2 = 4"})],
        "",
    ),
    "built-in without python_tag": (
        'brave_search.call(query="weather Paris")',
        [("brave_search", {"query": "weather Paris"})],
        "",
    ),
    "code_interpreter raw code": (
        "<|python_tag|>import math\nprint(math.sqrt(2))<|eom_id|>",
        [("code_interpreter", {"code": "import math\nprint(math.sqrt(2))"})],
        "",
    ),
    "several, separated by ;": (f"{WEATHER};{SUM}", [W, ADD], ""),
    "several, separated by '; '": (f"<|python_tag|>{WEATHER}; {SUM}", [W, ADD], ""),
    "several, separated by ;newline": (f"{WEATHER};\n{SUM}", [W, ADD], ""),
    "several, separated by newlines": (f"{WEATHER}\n{SUM}\n", [W, ADD], ""),
    "several, in a json list": (f"[{WEATHER}, {SUM}]", [W, ADD], ""),
    "several, in a list without commas": (f"[\n  {WEATHER}\n  {SUM}\n]", [W, ADD], ""),
    "several built-ins": (
        '<|python_tag|>brave_search.call(query="a"); wolfram_alpha.call(query="b")',
        [("brave_search", {"query": "a"}), ("wolfram_alpha", {"query": "b"})],
        "",
    ),
    "json code fence": (f"```json\n{WEATHER}\n```", [W], ""),
    "bare code fence": (f"```\n{SUM}\n```", [ADD], ""),
    "prose before": (
        f"Let me check the weather for you. {WEATHER}",
        [W],
        "Let me check the weather for you.",
    ),
    "prose after": (f"{WEATHER}\nI will report back.", [W], "I will report back."),
    "prose before and after, fenced": (
        f"Checking now:\n```json\n{WEATHER}\n```\nOne moment.",
        [W],
        "Checking now:\nOne moment.",
    ),
    "leaked special tokens": (f"{HEADER}<|python_tag|>{SUM}<|eom_id|><|eot_id|>", [ADD], ""),
    "unicode and escapes kept": (
        '{"name": "get_weather", "parameters": {"city": "Z\\u00fcrich \\"Altstadt\\""}}',
        [("get_weather", {"city": 'Zürich "Altstadt"'})],
        "",
    ),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("content", "calls", "prose"), FORMATS.values(), ids=FORMATS.keys())
async def test_text_call_is_recovered_and_run(
    fake_server: FakeServer, ran: Ran, mode: str, content: str, calls: Calls, prose: str
) -> None:
    fake_server.add(reply(mode, content), reply(mode, ANSWER))
    outcome = await drive(make_agent(fake_server, ran), mode)

    assert same_calls(ran.calls, calls)
    assert outcome.output == ANSWER
    assert_valid_history(outcome.messages)
    assert len(fake_server.chat_requests) == 2
    check_rewritten(fake_server.chat_requests[1], calls, prose)
    recovered = outcome.messages[1]
    assert isinstance(recovered, AssistantMessage)
    assert recovered.content == (prose or None)
    if mode != "run":
        shown = "".join(outcome.deltas[0])
        assert_no_call_text(shown)
        assert same_words(shown) == same_words(prose)
        assert "".join(outcome.deltas[1]) == ANSWER


async def test_parser_keeps_the_model_text_and_validation_coerces(
    fake_server: FakeServer, ran: Ran
) -> None:
    fake_server.add(
        Completion('{"name": "add", "parameters": {"a": "1", "b": 2}}'), Completion("3")
    )
    await drive(make_agent(fake_server, ran), "run")
    assert ran.calls == [ADD]  # the tool got an integer
    second = fake_server.chat_requests[1]
    assert wire_calls(second.messages[1]) == [("add", {"a": "1", "b": 2})]  # as the model wrote it
    assert second.messages[2]["content"] == "3"


def completion_body(message: dict[str, Any], finish: str | None = "stop") -> Raw:
    choice = {"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}
    body = {"id": "chatcmpl-1", "object": "chat.completion", "choices": [choice]}
    return Raw(json.dumps(body), headers={"content-type": "application/json"})


# id: (the reply's message fields, the finish reason, the calls that must run)
NON_STREAMED: dict[str, tuple[dict[str, Any], str | None, Calls]] = {
    "tool_calls [] and a text call": ({"content": WEATHER, "tool_calls": []}, "tool_calls", [W]),
    "tool_calls null and a text call": ({"content": SUM, "tool_calls": None}, "stop", [ADD]),
    "content as text parts": ({"content": [{"type": "text", "text": WEATHER}]}, None, [W]),
    "empty id, arguments as an object": (
        {
            "content": "",
            "tool_calls": [{"id": "", "type": "function", "function": W_WIRE}],
        },
        "stop",
        [W],
    ),
    "no id, arguments null": (
        {
            "content": None,
            "tool_calls": [{"function": {"name": "get_weather", "arguments": None}}],
        },
        "tool_calls",
        [],  # the call has no city: validation answers it, the tool does not run
    ),
}


@pytest.mark.parametrize(
    ("message", "finish", "expected"), NON_STREAMED.values(), ids=NON_STREAMED.keys()
)
async def test_non_streamed_reply_quirks(
    fake_server: FakeServer,
    ran: Ran,
    message: dict[str, Any],
    finish: str | None,
    expected: Calls,
) -> None:
    fake_server.add(completion_body(message, finish), Completion(ANSWER))
    outcome = await drive(make_agent(fake_server, ran), "run")
    assert same_calls(ran.calls, expected)
    assert outcome.output == ANSWER
    assert_valid_history(outcome.messages)
    assert_valid_wire(fake_server.chat_requests[1].messages)


# --- look-alikes that are not calls stay final answers, text intact ---------------------------

NOT_CALLS: dict[str, str] = {
    "prose with braces": "Use a set like {1, 2, 3} or a dict like {a: 1}; both work.",
    "json without the call shape": 'The user record is {"name": "Ada", "age": 36}.',
    "json name without arguments": 'I would call {"name": "get_weather"} but need a city.',
    "arguments not an object": '{"name": "get_weather", "parameters": ["Paris"]}',
    "arguments string not an object": '{"name": "add", "arguments": "1, 2"}',
    "empty name": '{"name": "", "parameters": {"city": "Paris"}}',
    "type is not function": '{"type": "tool", "name": "add", "parameters": {"a": 1, "b": 2}}',
    "truncated json": '{"name": "get_weather", "parameters": {"city": "Par',
    "unbalanced closing braces": '{"name": "add", "parameters": {"a": 1, "b": 2}',
    "single-quoted pseudo-json": "{'name': 'get_weather', 'parameters': {'city': 'Paris'}}",
    "python literals in json": '{"name": "add", "parameters": {"a": True, "b": None}}',
    "NaN is not json": '{"name": "add", "parameters": {"a": NaN, "b": 1}}',
    "trailing comma": '{"name": "add", "parameters": {"a": 1, "b": 2,}}',
    "built-in mid-sentence": 'You could run brave_search.call(query="paris") yourself.',
    "built-in with a variable": "brave_search.call(query=q)",
    "built-in with positional": 'brave_search.call("paris")',
    "function tag without json": "<function=get_weather>Paris</function>",
    "code fence without a call": "```python\nprint('hello')\n```",
    "template placeholder": "Reply with {name} and {parameters} filled in.",
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("content", NOT_CALLS.values(), ids=NOT_CALLS.keys())
async def test_look_alike_stays_a_final_answer(
    fake_server: FakeServer, ran: Ran, mode: str, content: str
) -> None:
    fake_server.add(reply(mode, content))
    outcome = await drive(make_agent(fake_server, ran), mode)

    assert ran.calls == []
    assert outcome.output == content
    assert len(fake_server.chat_requests) == 1
    final = outcome.messages[-1]
    assert isinstance(final, AssistantMessage)
    assert final == AssistantMessage(content)
    if mode != "run":
        assert "".join(outcome.deltas[0]) == content


async def test_prose_answer_streams_progressively(fake_server: FakeServer, ran: Ran) -> None:
    fake_server.add(Completion(ANSWER, chunk_size=4))
    outcome = await drive(make_agent(fake_server, ran), "stream")
    assert outcome.output == ANSWER
    assert len(outcome.deltas[0]) > 5
    assert "".join(outcome.deltas[0]) == ANSWER


async def test_prose_before_a_call_streams_before_the_call_arrives(
    fake_server: FakeServer, ran: Ran
) -> None:
    prose = "Let me look that up for you, it will only take a moment."
    fake_server.add(Completion(f"{prose}\n{WEATHER}", chunk_size=4), Completion(ANSWER))
    outcome = await drive(make_agent(fake_server, ran), "stream")
    first_turn = outcome.deltas[0]
    assert len(first_turn) > 5  # released piece by piece, not held until the end
    assert "".join(first_turn).strip() == prose
    assert ran.calls == [W]


# --- a recovered call to a name that is not a tool -------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "content",
    [
        '{"name": "get_stock_price", "parameters": {"ticker": "META"}}',
        '<function=get_stock_price>{"ticker": "META"}</function>',
        '<|python_tag|>get_stock_price.call(ticker="META")',
    ],
    ids=["json", "function tag", "built-in"],
)
async def test_recovered_unknown_name_goes_through_the_unknown_tool_path(
    fake_server: FakeServer, ran: Ran, mode: str, content: str
) -> None:
    fake_server.add(reply(mode, content), reply(mode, ANSWER))
    outcome = await drive(make_agent(fake_server, ran), mode)

    assert ran.calls == []
    assert outcome.output == ANSWER
    assert_valid_history(outcome.messages)
    second = fake_server.chat_requests[1]
    check_rewritten(second, [("get_stock_price", {"ticker": "META"})], "")
    result = second.messages[-1]["content"]
    assert result.startswith("Unknown tool 'get_stock_price'")
    assert "`get_weather`, `add`, `brave_search`" in result
    if mode != "run":
        assert outcome.deltas[0] == []


async def test_recovered_and_unknown_calls_in_one_reply(fake_server: FakeServer, ran: Ran) -> None:
    content = f'{WEATHER}; {{"name": "nope", "parameters": {{}}}}'
    fake_server.add(Completion(content), Completion(ANSWER))
    outcome = await drive(make_agent(fake_server, ran), "run")
    assert ran.calls == [W]
    second = fake_server.chat_requests[1]
    check_rewritten(second, [W, ("nope", {})], "")
    assert [m["content"][:20] for m in second.messages[2:]] == [
        "Sunny in Paris",
        "Unknown tool 'nope'.",
    ]
    assert_valid_history(outcome.messages)


async def test_recovered_call_ids_are_fresh_and_unique(fake_server: FakeServer, ran: Ran) -> None:
    wrapped = (
        '{"id": "call_same", "type": "function", '
        '"function": {"name": "add", "arguments": {"a": 1, "b": 2}}}'
    )
    fake_server.add(Completion(f"[{wrapped}, {wrapped}, {WEATHER}, {WEATHER}]"), Completion(ANSWER))
    outcome = await drive(make_agent(fake_server, ran), "run")
    assert same_calls(ran.calls, [ADD, ADD, W, W])
    ids = [c["id"] for c in fake_server.chat_requests[1].messages[1]["tool_calls"]]
    assert ids[0] == "call_same" and len(set(ids)) == 4
    assert_valid_history(outcome.messages)


@pytest.mark.parametrize("mode", MODES)
async def test_without_tools_nothing_is_recovered(fake_server: FakeServer, mode: str) -> None:
    agent: Agent[str] = Agent("m", base_url=fake_server.url, api_key="test-key", max_retries=0)
    OPEN_AGENTS.append(agent)
    fake_server.add(reply(mode, f"{HEADER}Here: {WEATHER}<|eot_id|>"))
    outcome = await drive(agent, mode)
    assert outcome.output == f"Here: {WEATHER}"
    if mode != "run":
        # The streamed text is the answer: the call text is not dropped from it.
        assert "".join(outcome.deltas[0]).strip() == outcome.output


@pytest.mark.parametrize("mode", MODES)
async def test_code_in_an_answer_that_looks_like_a_builtin_call_stays_the_answer(
    fake_server: FakeServer, ran: Ran, mode: str
) -> None:
    answer = 'Run this:\n\n```python\nimport subprocess\nsubprocess.call(args="ls")\n```'
    fake_server.add(reply(mode, answer))
    outcome = await drive(make_agent(fake_server, ran), mode)
    assert outcome.output == answer
    assert ran.calls == []
    if mode != "run":
        assert "".join(outcome.deltas[0]) == answer


# --- Groq's HTTP 400 tool_use_failed ---------------------------------------------------------


def tool_use_failed(
    generation: str, message: str = "Failed to call a function. Please adjust your prompt."
) -> Error:
    return Error(
        400,
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "code": "tool_use_failed",
                "failed_generation": generation,
            }
        },
    )


def in_stream_tool_use_failed(generation: str) -> Chunks:
    error = tool_use_failed(generation).body
    assert isinstance(error, dict)
    return Chunks([dict(error)])


FAILED_WITH_CALLS: dict[str, tuple[str, Calls, str]] = {
    "function tag": ('<function=get_weather>{"city": "Paris"}</function>', [W], ""),
    "json with prose": (f"Sure! {SUM}", [ADD], "Sure!"),
    "python_tag, two calls": (f"<|python_tag|>{WEATHER}; {SUM}", [W, ADD], ""),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("generation", "calls", "prose"), FAILED_WITH_CALLS.values(), ids=FAILED_WITH_CALLS.keys()
)
async def test_tool_use_failed_generation_is_recovered(
    fake_server: FakeServer, ran: Ran, mode: str, generation: str, calls: Calls, prose: str
) -> None:
    fake_server.add(tool_use_failed(generation), reply(mode, ANSWER))
    outcome = await drive(make_agent(fake_server, ran), mode)

    assert same_calls(ran.calls, calls)
    assert outcome.output == ANSWER
    assert_valid_history(outcome.messages)
    check_rewritten(fake_server.chat_requests[1], calls, prose)
    assert len(fake_server.chat_requests) == 2


async def test_tool_use_failed_inside_a_stream_is_recovered(
    fake_server: FakeServer, ran: Ran
) -> None:
    fake_server.add(
        in_stream_tool_use_failed('<function=get_weather>{"city": "Paris"}</function>'),
        Completion(ANSWER),
    )
    outcome = await drive(make_agent(fake_server, ran), "stream")
    assert ran.calls == [W]
    assert outcome.output == ANSWER
    check_rewritten(fake_server.chat_requests[1], [W], "")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "generation",
    [
        "",
        "I think I should call the weather tool",
        '{"name": "get_weather", "par',
        '<function=get_weather{"city": "Paris"}</function>',  # broken tag: not repaired
    ],
    ids=["empty", "prose", "truncated", "function tag without >"],
)
async def test_tool_use_failed_without_a_call_asks_once_more(
    fake_server: FakeServer, ran: Ran, mode: str, generation: str
) -> None:
    fake_server.add(tool_use_failed(generation), reply(mode, ANSWER))
    outcome = await drive(make_agent(fake_server, ran), mode)

    assert outcome.output == ANSWER
    assert ran.calls == []
    first, second = fake_server.chat_requests
    assert second.messages[: len(first.messages)] == first.messages
    retry = second.messages[-1]
    assert retry["role"] == "user"
    assert "rejected" in retry["content"]
    assert "Failed to call a function" in retry["content"]  # the server's reason
    assert_valid_wire(second.messages)
    assert_valid_history(outcome.messages)


@pytest.mark.parametrize("mode", MODES)
async def test_second_tool_use_failed_is_a_model_error(
    fake_server: FakeServer, ran: Ran, mode: str
) -> None:
    fake_server.add(tool_use_failed(""), tool_use_failed("nothing useful"))
    with pytest.raises(ModelError) as info:
        await drive(make_agent(fake_server, ran), mode)
    assert isinstance(info.value, ToolUseFailed)
    assert info.value.status == 400
    assert info.value.failed_generation == "nothing useful"
    assert len(fake_server.chat_requests) == 2
    assert_valid_history(info.value.messages)


@pytest.mark.parametrize("mode", MODES)
async def test_a_later_tool_use_failed_gets_its_own_retry(
    fake_server: FakeServer, ran: Ran, mode: str
) -> None:
    fake_server.add(
        tool_use_failed(""),
        reply(mode, WEATHER),  # the retry worked: the run goes on
        tool_use_failed("still not a call"),
        reply(mode, ANSWER),
    )
    outcome = await drive(make_agent(fake_server, ran), mode)
    assert outcome.output == ANSWER
    assert ran.calls == [W]
    assert len(fake_server.chat_requests) == 4
    assert_valid_history(outcome.messages)


@pytest.mark.parametrize("mode", MODES)
async def test_tool_use_failed_retry_shows_the_servers_reason(
    fake_server: FakeServer, ran: Ran, mode: str
) -> None:
    why = "parameters for tool get_weather did not match schema: missing properties: 'city'"
    fake_server.add(tool_use_failed("", f"tool call validation failed: {why}"), reply(mode, ANSWER))
    await drive(make_agent(fake_server, ran), mode)
    assert why in fake_server.chat_requests[1].messages[-1]["content"]


@pytest.mark.parametrize("stream", [False, True], ids=["run", "stream"])
async def test_a_rejected_request_counts_against_the_request_limit(
    fake_server: FakeServer, ran: Ran, stream: bool
) -> None:
    agent = make_agent(fake_server, ran)

    async def go(limits: UsageLimits | None = None) -> Any:
        if not stream:
            return await agent.run("go", usage_limits=limits)
        events = [event async for event in agent.stream("go", usage_limits=limits)]
        assert isinstance(events[-1], RunFinished)
        return events[-1].result

    fake_server.add(tool_use_failed("not a call"))
    with pytest.raises(UsageLimitExceeded) as info:
        await go(UsageLimits(requests=1))
    assert len(fake_server.chat_requests) == 1
    assert info.value.usage.requests == 1
    assert_valid_history(info.value.messages)
    fake_server.add(tool_use_failed("not a call"), Completion(ANSWER))
    assert (await go()).usage.requests == 2


async def test_every_request_gets_its_started_event(fake_server: FakeServer) -> None:
    # A refused reply is asked again: two requests, so two ModelRequestStarted (same turn).
    fake_server.add(in_stream_tool_use_failed("I think I should call a tool"), Completion(ANSWER))
    async with Agent("m", base_url=fake_server.url, api_key="sk-events-0123456789") as agent:
        events = [e async for e in agent.stream("hi")]
    started = [e.turn for e in events if isinstance(e, ModelRequestStarted)]
    assert started == [1, 1]
    assert len(fake_server.chat_requests) == 2
    assert isinstance(events[-1], RunFinished)
    assert events[-1].result.output == ANSWER
