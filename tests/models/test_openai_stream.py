"""Streamed tool calls as real servers send them: each quirk of llama31-tool-calls.md, end to end.

Each test scripts the fake server with the exact SSE chunk dicts of one quirk, runs
`Agent.stream()` through the real `openai` client, and checks what ran, what the user was
shown, and the next request the server receives (a valid tool-call conversation).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from _recovery import Calls, Ran, make_agent, same_calls
from _reliability import (
    assert_valid_history,
    close_open_agents,  # noqa: F401 - autouse: closes OPEN_AGENTS
)

from agentkit import AssistantMessage
from agentkit.events import Event, ModelRequestStarted, RunFinished, TextDelta
from agentkit.testing import Chunks, Completion, FakeServer

pytestmark = pytest.mark.anyio

ANSWER = "It is sunny in Paris, and the sum is 3."
W = ("get_weather", {"city": "Paris"})
ADD = ("add", {"a": 1, "b": 2})


# --- chunk dicts -------------------------------------------------------------------------------

ABSENT: Any = object()  # a field the server leaves out (unlike None, sent as null)


def chunk(
    delta: dict[str, Any] | None = None, finish: str | None = None, **top: Any
) -> dict[str, Any]:
    """One `chat.completion.chunk` with one choice; `top` adds top-level keys."""
    choice: dict[str, Any] = {"index": 0, "finish_reason": finish}
    if delta is not None:
        choice["delta"] = delta
    body = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    return {**body, "choices": [choice], **top}


def text(content: str | None, finish: str | None = None) -> dict[str, Any]:
    return chunk({"content": content}, finish)


def calls(*entries: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return chunk({"tool_calls": list(entries)}, finish)


def entry(
    index: int | None = 0,
    id: Any = ABSENT,
    name: Any = ABSENT,
    arguments: Any = ABSENT,
) -> dict[str, Any]:
    """A `delta.tool_calls[]` entry; `index=None` leaves the index out."""
    function: dict[str, Any] = {}
    if name is not ABSENT:
        function["name"] = name
    if arguments is not ABSENT:
        function["arguments"] = arguments
    item: dict[str, Any] = {"type": "function", "function": function}
    if index is not None:
        item["index"] = index
    if id is not ABSENT:
        item["id"] = id
    return item


def usage(prompt: int, completion: int) -> dict[str, Any]:
    """The final usage chunk of `stream_options.include_usage`: no choices."""
    counts = {"prompt_tokens": prompt, "completion_tokens": completion}
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [], "usage": counts}


ROLE = chunk({"role": "assistant", "content": ""})
STOP = chunk({}, "stop")
TOOL_CALLS = chunk({}, "tool_calls")


# --- the tools, the agent and the run ----------------------------------------------------------


@dataclass
class Streamed:
    output: Any
    messages: list[Any]
    usage: Any
    deltas: list[list[str]]  # the TextDelta texts of each model turn
    ran: Calls


async def stream_run(server: FakeServer, *replies: Chunks | Completion) -> Streamed:
    server.add(*replies)
    ran = Ran()
    agent = make_agent(server, ran)
    events: list[Event] = [event async for event in agent.stream("go")]
    deltas: list[list[str]] = []
    for event in events:
        if isinstance(event, ModelRequestStarted):
            deltas.append([])
        elif isinstance(event, TextDelta):
            deltas[-1].append(event.text)
    last = events[-1]
    assert isinstance(last, RunFinished)
    result = last.result
    return Streamed(result.output, result.messages, result.usage, deltas, ran.calls)


def check_next_request(server: FakeServer, expected: Calls) -> list[dict[str, Any]]:
    """The request after the tool-call reply: the calls as sent, then one result per id.

    Returns the tool messages.
    """
    wire = server.chat_requests[1].messages
    assistant, results = wire[1], wire[2:]
    assert assistant["role"] == "assistant"
    sent = [
        (c["function"]["name"], json.loads(c["function"]["arguments"]))
        for c in assistant["tool_calls"]
    ]
    assert sent == expected
    ids = [c["id"] for c in assistant["tool_calls"]]
    assert all(ids) and len(set(ids)) == len(ids)
    assert [m["role"] for m in results] == ["tool"] * len(ids)
    assert [m["tool_call_id"] for m in results] == ids
    return results


# --- each quirk, end to end --------------------------------------------------------------------

# id: (the exact chunks of the first reply, the calls that must run, the stored message's text)
QUIRKS: dict[str, tuple[list[dict[str, Any]], Calls, str | None]] = {
    "plain, by the book": (
        [
            ROLE,
            calls(entry(0, "call_1", "get_weather", "")),
            calls(entry(0, arguments='{"city": ')),
            calls(entry(0, arguments='"Paris"}')),
            TOOL_CALLS,
        ],
        [W],
        None,
    ),
    "index missing, several calls by position": (
        [
            ROLE,
            calls(
                entry(None, "call_1", "get_weather", '{"city": "Paris"}'),
                entry(None, "call_2", "add", '{"a": 1, "b": 2}'),
            ),
            TOOL_CALLS,
        ],
        [W, ADD],
        None,
    ),
    "index missing, lone entries continue the current call": (
        [
            ROLE,
            calls(entry(None, "call_1", "get_weather", '{"ci')),
            calls(entry(None, arguments='ty": "Paris"}')),
            calls(entry(None, "call_2", "add", '{"a": 1,')),
            calls(entry(None, arguments=' "b": 2}')),
            TOOL_CALLS,
        ],
        [W, ADD],
        None,
    ),
    "index always 0, a new id starts a new call": (
        [
            ROLE,
            calls(entry(0, "call_1", "get_weather", "")),
            calls(entry(0, arguments='{"city": "Paris"}')),
            calls(entry(0, "call_2", "add", "")),
            calls(entry(0, arguments='{"a": 1, "b": 2}')),
            TOOL_CALLS,
        ],
        [W, ADD],
        None,
    ),
    "index always 0, no ids, a new name starts a new call": (
        [
            calls(entry(0, name="get_weather", arguments='{"city": "Paris"}')),
            calls(entry(0, name="add", arguments='{"a": 1, "b": 2}')),
            TOOL_CALLS,
        ],
        [W, ADD],
        None,
    ),
    "non-contiguous indices": (
        [
            ROLE,
            calls(entry(1, "call_1", "get_weather", '{"city"')),
            calls(entry(1, arguments=': "Paris"}')),
            calls(entry(5, "call_2", "add", '{"a": 1, "b": 2}')),
            TOOL_CALLS,
        ],
        [W, ADD],
        None,
    ),
    "interleaved indices": (
        [
            calls(entry(0, "call_1", "get_weather", ""), entry(1, "call_2", "add", "")),
            calls(entry(1, arguments='{"a": 1, ')),
            calls(entry(0, arguments='{"city": "Paris"}')),
            calls(entry(1, arguments='"b": 2}')),
            TOOL_CALLS,
        ],
        [W, ADD],
        None,
    ),
    'name "" and id "" on continuations': (
        [
            ROLE,
            calls(entry(0, "call_1", "get_weather", "")),
            calls(entry(0, "", "", '{"city": ')),
            calls(entry(0, "", "", '"Paris"}')),
            TOOL_CALLS,
        ],
        [W],
        None,
    ),
    "the same name repeated on every delta": (
        [
            calls(entry(0, "call_1", "add", '{"a": 1')),
            calls(entry(0, name="add", arguments=', "b": 2}')),
            TOOL_CALLS,
        ],
        [ADD],
        None,
    ),
    "id and name repeated on every delta": (
        [
            calls(entry(0, "call_1", "get_weather", '{"city"')),
            calls(entry(0, "call_1", "get_weather", ': "Paris"}')),
            calls(entry(1, "call_2", "add", '{"a": 1, ')),
            calls(entry(1, "call_2", "add", '"b": 2}')),
            TOOL_CALLS,
        ],
        [W, ADD],
        None,
    ),
    "first arguments null": (
        [
            ROLE,
            calls(entry(0, "call_1", "get_weather", None)),
            calls(entry(0, arguments='{"city": "Paris"}')),
            TOOL_CALLS,
        ],
        [W],
        None,
    ),
    'first arguments ""': (
        [
            calls(entry(0, "call_1", "add", "")),
            calls(entry(0, arguments='{"a": 1, "b": 2}')),
            TOOL_CALLS,
        ],
        [ADD],
        None,
    ),
    "fragments split mid-word and mid-escape": (
        [
            calls(entry(0, "call_1", "get_weather", "")),
            *[
                calls(entry(0, arguments=piece))
                for piece in ['{"c', "it", 'y": "P', "ar", "is", '"', "}"]
            ],
            TOOL_CALLS,
        ],
        [W],
        None,
    ),
    "the whole call in one chunk": (
        [calls(entry(0, "call_1", "get_weather", '{"city": "Paris"}'), finish="tool_calls")],
        [W],
        None,
    ),
    "arguments as an object": (
        [
            calls(entry(0, "call_1", "get_weather", {"city": "Paris"})),
            calls(entry(1, "call_2", "add", {"a": 1, "b": 2})),
            TOOL_CALLS,
        ],
        [W, ADD],
        None,
    ),
    "no ids at all": (
        [
            calls(entry(0, name="get_weather", arguments='{"city": "Paris"}')),
            calls(entry(1, name="add", arguments='{"a": 1, "b": 2}')),
            TOOL_CALLS,
        ],
        [W, ADD],
        None,
    ),
    "the same id twice": (
        [
            calls(entry(0, "call_0", "get_weather", '{"city": "Paris"}')),
            calls(entry(1, "call_0", "add", '{"a": 1, "b": 2}')),
            TOOL_CALLS,
        ],
        [W, ADD],
        None,
    ),
    "json residue as content after the call": (
        [
            calls(entry(0, "call_1", "get_weather", '{"city": "Paris"}')),
            text("}"),
            text('"}\n'),
            text("<|eom_id|>"),
            TOOL_CALLS,
        ],
        [W],
        None,
    ),
    "prose before the call": (
        [
            ROLE,
            text("Let me "),
            text("check."),
            calls(entry(0, "call_1", "get_weather", '{"city": "Paris"}')),
            TOOL_CALLS,
        ],
        [W],
        "Let me check.",
    ),
    "content null next to the calls": (
        [
            chunk({"role": "assistant", "content": None}),
            chunk({"content": None, "tool_calls": [entry(0, "call_1", "add", '{"a": 1, "b": 2}')]}),
            chunk({"content": None}, "tool_calls"),
        ],
        [ADD],
        None,
    ),
    'finish_reason "stop" with tool calls': (
        [calls(entry(0, "call_1", "get_weather", '{"city": "Paris"}')), STOP],
        [W],
        None,
    ),
    'finish_reason "tool"': (
        [calls(entry(0, "call_1", "get_weather", '{"city": "Paris"}')), chunk({}, "tool")],
        [W],
        None,
    ),
    "no finish_reason at all": (
        [calls(entry(0, "call_1", "get_weather", '{"city": "Paris"}'))],
        [W],
        None,
    ),
    "extra keys, a choice without delta, a keep-alive chunk": (
        [
            {"id": "chatcmpl-1", "object": "chat.completion.chunk", "x_groq": {"id": "req_1"}},
            chunk(None, system_fingerprint="fp_1"),
            chunk(
                {
                    "role": "assistant",
                    "tool_calls": [entry(0, "call_1", "add", '{"a": 1, "b": 2}')],
                },
                x_extra={"anything": [1, 2]},
            ),
            chunk(None, "tool_calls", x_groq={"usage": {"queue_time": 0.01}}),
        ],
        [ADD],
        None,
    ),
    "llama json as content, finish_reason tool_calls": (
        [
            ROLE,
            text('{"name": "get_'),
            text('weather", "parameters": {"ci'),
            text('ty": "Paris"}}'),
            TOOL_CALLS,
        ],
        [W],
        None,
    ),
}


@pytest.mark.parametrize(("chunks", "expected", "content"), QUIRKS.values(), ids=QUIRKS.keys())
async def test_stream_quirk(
    fake_server: FakeServer, chunks: list[dict[str, Any]], expected: Calls, content: str | None
) -> None:
    streamed = await stream_run(fake_server, Chunks(chunks), Completion(ANSWER))

    assert same_calls(streamed.ran, expected)
    assert streamed.output == ANSWER
    assert_valid_history(streamed.messages)
    results = check_next_request(fake_server, expected)
    assert all(not r["content"].startswith(("Unknown", "The arguments")) for r in results)
    assert fake_server.chat_requests[1].messages[1]["content"] == content
    shown = "".join(streamed.deltas[0])
    assert shown == (content or "")
    assert "".join(streamed.deltas[1]) == ANSWER


async def test_usage_in_a_final_chunk_without_choices_is_counted(fake_server: FakeServer) -> None:
    first = [
        calls(entry(0, "call_1", "add", '{"a": 1, "b": 2}')),
        TOOL_CALLS,
        usage(100, 20),
    ]
    second = [text("Three."), STOP, usage(150, 5)]
    streamed = await stream_run(fake_server, Chunks(first), Chunks(second))
    assert streamed.output == "Three."
    assert streamed.usage.requests == 2
    assert (streamed.usage.prompt_tokens, streamed.usage.completion_tokens) == (250, 25)
    assert fake_server.chat_requests[0].body["stream_options"] == {"include_usage": True}


async def test_usage_on_the_finish_chunk_is_counted(fake_server: FakeServer) -> None:
    counts = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
    streamed = await stream_run(fake_server, Chunks([text("Hi."), chunk({}, "stop", usage=counts)]))
    assert streamed.output == "Hi."
    assert (streamed.usage.prompt_tokens, streamed.usage.completion_tokens) == (7, 3)


@pytest.mark.parametrize("reason", ["tool_calls", "tool", "function_call"])
async def test_finish_reason_says_tools_but_only_text_arrived(
    fake_server: FakeServer, reason: str
) -> None:
    chunks = [ROLE, text("The answer "), text("is 42."), chunk({}, reason)]
    streamed = await stream_run(fake_server, Chunks(chunks))
    assert streamed.output == "The answer is 42."
    assert streamed.ran == []
    assert len(fake_server.chat_requests) == 1
    assert len(streamed.deltas[0]) > 1  # released as it came, not held
    assert "".join(streamed.deltas[0]) == "The answer is 42."
    assert streamed.messages[-1] == AssistantMessage("The answer is 42.")


async def test_prose_after_the_call_is_kept_and_shown(fake_server: FakeServer) -> None:
    chunks = [
        calls(entry(0, "call_1", "get_weather", '{"city": "Paris"}')),
        text(" I will check"),
        text(" the forecast."),
        TOOL_CALLS,
    ]
    streamed = await stream_run(fake_server, Chunks(chunks), Completion(ANSWER))
    assert streamed.ran == [W]
    assert "".join(streamed.deltas[0]).strip() == "I will check the forecast."
    check_next_request(fake_server, [W])
    stored = fake_server.chat_requests[1].messages[1]["content"]
    assert stored.strip() == "I will check the forecast."


async def test_length_cut_inside_the_arguments_tells_the_model(fake_server: FakeServer) -> None:
    chunks = [
        ROLE,
        calls(entry(0, "call_1", "add", '{"a": 1, "b": 2}')),
        calls(entry(1, "call_2", "get_weather", '{"city": "Pa')),
        chunk({}, "length"),
    ]
    streamed = await stream_run(fake_server, Chunks(chunks), Completion(ANSWER))

    assert streamed.ran == [ADD]  # the complete call still runs
    assert streamed.output == ANSWER
    assert_valid_history(streamed.messages)
    wire = fake_server.chat_requests[1].messages
    assert wire[1]["tool_calls"][1]["function"]["arguments"] == "{}"  # valid JSON for the server
    added, cut = check_next_request(fake_server, [ADD, ("get_weather", {})])
    assert added["content"] == "3"
    assert "cut off (finish_reason=length)" in cut["content"]
    assert '{"city": "Pa' in cut["content"]
    assert "Call `get_weather` again" in cut["content"]


async def test_length_cut_inside_a_text_call_stays_text(fake_server: FakeServer) -> None:
    partial = '{"name": "get_weather", "parameters": {"city": "Pa'
    chunks = [ROLE, text(partial[:20]), text(partial[20:]), chunk({}, "length")]
    streamed = await stream_run(fake_server, Chunks(chunks))
    assert streamed.ran == []
    assert streamed.output == partial  # never repaired into a guessed call
    assert "".join(streamed.deltas[0]) == partial
