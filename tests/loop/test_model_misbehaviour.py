"""Model misbehaviour: bad calls, broken ids, empty replies, runaway loops, bad structured output.

Driven through the fake server (real HTTP, the real adapter) wherever the wire matters: ids,
arguments text, what goes back to the endpoint. Every bad call must come back to the model as
a tool result it can act on, the conversation must stay valid, and a model that never
recovers must stop at a typed error, in bounded time, after a known number of requests.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from _reliability import (
    BOUND,
    add,
    assert_valid_history,
    chunk,
    error_on_server,
    run_on_server,
)
from pydantic import BaseModel

from agentkit import (
    Agent,
    AssistantMessage,
    MaxTurnsExceeded,
    ModelError,
    ToolCall,
    ToolMessage,
    ToolRetriesExceeded,
    UsageLimitExceeded,
    UsageLimits,
)
from agentkit.testing import Chunks, Completion, Error, FakeRequest, FakeServer, Raw, ScriptedModel

pytestmark = pytest.mark.anyio

JSON = {"content-type": "application/json"}


def tool_results(messages: list[Any]) -> list[str]:
    return [m.content for m in messages if isinstance(m, ToolMessage)]


def both_ways(test: Any) -> Any:
    """Run the scenario with a JSON reply and with a streamed one."""
    return pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])(test)


# -- bad calls become results the model can act on ------------------------------------------------


@both_ways
@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        pytest.param('{"a": 2, "b": 3}', "Unknown tool 'multiply'", id="unknown-tool"),
        pytest.param(
            "{a: 2, b: 3}", "could not be read: they are not a JSON object", id="not-json"
        ),
        pytest.param("[2, 3]", "could not be read: they are not a JSON object", id="json-array"),
        pytest.param('{"a": "two", "b": 3}', "- `a`: Input should be a valid integer", id="types"),
        pytest.param('{"a": 2}', "- `b`: required, but missing", id="missing-required"),
        pytest.param(
            '{"a": 2, "b": 3, "c": 4}', "- `c`: not a parameter of this tool", id="extra-argument"
        ),
    ],
)
async def test_bad_call_goes_back_to_the_model_then_it_answers(
    fake_server: FakeServer, arguments: str, expected: str, stream: bool
) -> None:
    name = "multiply" if "Unknown" in expected else "add"
    bad = {"id": "call_bad", "name": name, "arguments": arguments}
    fake_server.add(Completion(tool_calls=[bad]), Completion("5"))
    result = await run_on_server(fake_server, stream=stream)
    assert result.output == "5"
    [text] = tool_results(result.messages)
    assert expected in text
    assert "Traceback" not in text
    assert len(fake_server.chat_requests) == 2
    # The model saw the explanation under its own call id.
    assert fake_server.chat_requests[1].messages[-1] == {
        "role": "tool",
        "tool_call_id": "call_bad",
        "content": text,
    }


async def test_unknown_tool_result_lists_the_available_tools(fake_server: FakeServer) -> None:
    fake_server.add(Completion(tool_calls=[{"name": "", "arguments": "{}"}]), Completion("ok"))
    result = await run_on_server(fake_server)
    [text] = tool_results(result.messages)
    assert text.startswith("Unknown tool '(no name)'. The available tools are: `add`.")
    assert len(fake_server.chat_requests) == 2


async def test_double_encoded_arguments_are_accepted(fake_server: FakeServer) -> None:
    double = json.dumps(json.dumps({"a": 2, "b": 3}))
    fake_server.add(Completion(tool_calls=[{"name": "add", "arguments": double}]), Completion("5"))
    result = await run_on_server(fake_server)
    assert tool_results(result.messages) == ["5"]
    assert len(fake_server.chat_requests) == 2


def count(text: str) -> int:
    """Count characters.

    Args:
        text: The text.
    """
    return len(text)


@both_ways
async def test_huge_argument_of_several_megabytes(fake_server: FakeServer, stream: bool) -> None:
    size = 4_000_000
    huge = {"name": "count", "arguments": json.dumps({"text": "y" * size})}
    fake_server.add(Completion(tool_calls=[huge], chunk_size=256_000), Completion("counted"))
    # A budget past the 4 MB (the default one refuses it before sending: see tests/sessions).
    budget = 10 * size
    result = await run_on_server(fake_server, stream=stream, tools=[count], max_input_tokens=budget)
    assert result.output == "counted"
    assert tool_results(result.messages) == [str(size)]
    assert len(fake_server.chat_requests) == 2
    sent = fake_server.chat_requests[1].messages[-2]["tool_calls"][0]["function"]["arguments"]
    assert len(sent) > size  # the call goes back whole: the history is the model's own


# -- the failure budget -------------------------------------------------------------------------


async def test_same_failing_call_repeated_until_the_budget_ends(fake_server: FakeServer) -> None:
    bad = {"name": "add", "arguments": '{"a": "two", "b": 3}'}
    fake_server.add(*[Completion(tool_calls=[bad])] * 3)
    error = await error_on_server(fake_server, ToolRetriesExceeded)
    assert error.tool_name == "add"
    assert "failed 2 times in a row" in str(error)  # the default budget
    assert len(fake_server.chat_requests) == 2
    assert fake_server.pending == 1
    assert len(tool_results(error.messages)) == 2  # both failures were answered


async def test_unknown_tool_repeated_until_the_budget_ends(fake_server: FakeServer) -> None:
    fake_server.add(*[Completion(tool_calls=[{"name": "search", "arguments": "{}"}])] * 2)
    error = await error_on_server(fake_server, ToolRetriesExceeded)
    assert error.tool_name == "search"
    assert len(fake_server.chat_requests) == 2


async def test_a_good_call_between_failures_resets_the_budget(fake_server: FakeServer) -> None:
    bad = {"name": "add", "arguments": '{"a": "x", "b": 1}'}
    good = {"name": "add", "arguments": '{"a": 1, "b": 1}'}
    replies = [bad, good, bad, good, bad]
    fake_server.add(*[Completion(tool_calls=[c]) for c in replies], Completion("done"))
    result = await run_on_server(fake_server)
    assert result.output == "done"
    assert len(fake_server.chat_requests) == 6


# -- empty replies ----------------------------------------------------------------------------


@both_ways
@pytest.mark.parametrize(
    "content", [None, "", "<|eot_id|>", "  \n"], ids=["none", "empty", "special-token", "blank"]
)
async def test_empty_reply_is_asked_again_once(
    fake_server: FakeServer, content: str | None, stream: bool
) -> None:
    # A reply without text and without calls (or only whitespace or special tokens) gets one
    # more request with a note; a second empty reply ends the run with "".
    fake_server.add(Completion(content), Completion("the answer"))
    result = await run_on_server(fake_server, stream=stream)
    assert result.output == "the answer"
    retry = fake_server.chat_requests[1].messages[-1]
    assert retry == {
        "role": "user",
        "content": "Your reply was empty. Answer the question, or call one of the tools.",
    }
    fake_server.add(Completion(content), Completion(content))
    result = await run_on_server(fake_server, stream=stream)
    assert result.output == ""
    assert len(fake_server.chat_requests) == 4


# -- call ids -----------------------------------------------------------------------------------


@both_ways
async def test_duplicate_call_ids_are_made_unique(fake_server: FakeServer, stream: bool) -> None:
    calls = [
        {"id": "call_1", "name": "add", "arguments": '{"a": 1, "b": 1}'},
        {"id": "call_1", "name": "add", "arguments": '{"a": 2, "b": 2}'},
    ]
    fake_server.add(Completion(tool_calls=calls), Completion("2 and 4"))
    result = await run_on_server(fake_server, stream=stream)  # checks the history
    assert tool_results(result.messages) == ["2", "4"]
    sent = fake_server.chat_requests[1].messages
    ids = [c["id"] for c in sent[-3]["tool_calls"]]
    assert ids[0] == "call_1" and ids[1] != "call_1"
    assert [m["tool_call_id"] for m in sent[-2:]] == ids
    assert len(fake_server.chat_requests) == 2


async def test_call_ids_reused_on_every_turn(fake_server: FakeServer) -> None:
    # Some servers number calls per reply: "call_0" on every turn.
    again = {"id": "call_0", "name": "add", "arguments": '{"a": 1, "b": 1}'}
    fake_server.add(Completion(tool_calls=[again]), Completion(tool_calls=[again]), Completion("2"))
    result = await run_on_server(fake_server)  # checks the history
    assert tool_results(result.messages) == ["2", "2"]
    assert len(fake_server.chat_requests) == 3


def _call_without_id(arguments: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": "add", "arguments": arguments}}


async def test_missing_call_ids_in_a_json_reply_are_generated(fake_server: FakeServer) -> None:
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [_call_without_id('{"a": 1, "b": 1}'), _call_without_id('{"a": 2, "b": 2}')],
    }
    body = json.dumps({"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]})
    fake_server.add(Raw(body, headers=JSON), Completion("done"))
    result = await run_on_server(fake_server)
    assert tool_results(result.messages) == ["2", "4"]
    sent = fake_server.chat_requests[1].messages
    ids = [c["id"] for c in sent[-3]["tool_calls"]]
    assert all(ids) and len(set(ids)) == 2
    assert [m["tool_call_id"] for m in sent[-2:]] == ids
    assert len(fake_server.chat_requests) == 2


async def test_missing_call_ids_in_a_stream_are_generated(fake_server: FakeServer) -> None:
    def entry(index: int, arguments: str, name: str | None = None) -> dict[str, Any]:
        function = {"arguments": arguments} if name is None else {"name": name, "arguments": ""}
        return {"index": index, "function": function}

    chunks = [
        chunk(tool_calls=[entry(0, "", "add")]),
        chunk(tool_calls=[entry(0, '{"a": 1, "b": 1}')]),
        chunk(tool_calls=[entry(1, "", "add")]),
        chunk(tool_calls=[entry(1, '{"a": 2, "b": 2}')]),
        chunk(finish_reason="tool_calls"),
    ]
    fake_server.add(Chunks(chunks), Completion("done"))
    result = await run_on_server(fake_server, stream=True)
    assert tool_results(result.messages) == ["2", "4"]
    assert len(fake_server.chat_requests) == 2


# -- calls and text in one reply ------------------------------------------------------------------


@both_ways
async def test_tool_call_with_answer_text_runs_the_call_and_continues(
    fake_server: FakeServer, stream: bool
) -> None:
    # Text next to a call is narration, not the answer: the call runs, the next reply answers.
    both = Completion(
        "The answer is 5.", tool_calls=[{"name": "add", "arguments": '{"a": 2, "b": 3}'}]
    )
    fake_server.add(both, Completion("2 + 3 = 5"))
    result = await run_on_server(fake_server, stream=stream)
    assert result.output == "2 + 3 = 5"
    assistant = result.messages[1]
    assert isinstance(assistant, AssistantMessage)
    assert assistant.content == "The answer is 5." and len(assistant.tool_calls) == 1
    assert len(fake_server.chat_requests) == 2


async def test_call_left_as_llama_text_is_recovered(fake_server: FakeServer) -> None:
    text = '<|python_tag|>{"name": "add", "parameters": {"a": 2, "b": 3}}<|eom_id|>'
    fake_server.add(Completion(text), Completion("5"))
    result = await run_on_server(fake_server)
    assert tool_results(result.messages) == ["5"]
    assert len(fake_server.chat_requests) == 2


async def test_call_text_naming_an_unknown_tool_takes_the_unknown_tool_path(
    fake_server: FakeServer,
) -> None:
    text = '{"name": "web_search", "parameters": {"query": "weather"}}'
    fake_server.add(Completion(text), Completion("I cannot search."))
    result = await run_on_server(fake_server)
    assert result.output == "I cannot search."
    [answer] = tool_results(result.messages)
    assert answer.startswith("Unknown tool 'web_search'")
    assert len(fake_server.chat_requests) == 2


@both_ways
async def test_broken_call_text_is_never_guessed_into_a_call(
    fake_server: FakeServer, stream: bool
) -> None:
    text = '{"name": "add", "parameters": {"a": 2, "b": 3'  # cut off: not a call
    fake_server.add(Completion(text))
    result = await run_on_server(fake_server, stream=stream)
    assert result.output == text
    assert tool_results(result.messages) == []
    assert len(fake_server.chat_requests) == 1


# -- tool_use_failed (Groq) -------------------------------------------------------------------


def _tool_use_failed(generation: str) -> Error:
    body = {
        "error": {
            "message": "Failed to call a function. Please adjust your prompt.",
            "type": "invalid_request_error",
            "code": "tool_use_failed",
            "failed_generation": generation,
        }
    }
    return Error(400, body)


async def test_tool_use_failed_with_a_readable_call_is_recovered(fake_server: FakeServer) -> None:
    generation = '<function=add>{"a": 2, "b": 3}</function>'
    fake_server.add(_tool_use_failed(generation), Completion("5"))
    result = await run_on_server(fake_server)
    assert result.output == "5"
    assert tool_results(result.messages) == ["5"]
    assert len(fake_server.chat_requests) == 2


async def test_tool_use_failed_twice_is_a_model_error(fake_server: FakeServer) -> None:
    fake_server.add(_tool_use_failed("<function=add>{broken"), _tool_use_failed(""))
    error = await error_on_server(fake_server, ModelError)
    assert "tool_use_failed" in str(error)
    assert len(fake_server.chat_requests) == 2  # asked once more, then stopped
    assert "rejected by the server" in fake_server.chat_requests[1].messages[-1]["content"]


# -- runaway models ---------------------------------------------------------------------------


def _always_calls(request: FakeRequest) -> Completion:
    return Completion(tool_calls=[{"name": "add", "arguments": '{"a": 1, "b": 1}'}])


async def test_model_that_never_stops_calling_tools_hits_max_turns() -> None:
    with FakeServer(handler=_always_calls) as server:
        error = await error_on_server(server, MaxTurnsExceeded, max_turns=4)
    assert "after 4 turns" in str(error)
    assert len(server.chat_requests) == 4
    assert error.usage is not None and error.usage.requests == 4
    assert len(tool_results(error.messages)) == 4  # every call of every turn was answered


@pytest.mark.parametrize(
    ("limits", "requests", "message"),
    [
        (UsageLimits(requests=3), 3, "request limit of 3"),
        (UsageLimits(tool_calls=2), 3, "tool-call limit of 2"),
        (UsageLimits(total_tokens=250), 3, "token limit of 250 was exceeded"),
    ],
    ids=["requests", "tool-calls", "tokens"],
)
async def test_model_that_exceeds_a_usage_limit(
    limits: UsageLimits, requests: int, message: str
) -> None:
    def calls_at_100_tokens(request: FakeRequest) -> Completion:
        usage = {"prompt_tokens": 90, "completion_tokens": 10}
        return Completion(
            tool_calls=[{"name": "add", "arguments": '{"a": 1, "b": 1}'}], usage=usage
        )

    with FakeServer(handler=calls_at_100_tokens) as server:
        error = await error_on_server(server, UsageLimitExceeded, usage_limits=limits)
    assert message in str(error)
    assert len(server.chat_requests) == requests
    if limits.requests is None:  # the calls it would not run were answered, not dropped
        assert tool_results(error.messages)[-1].startswith("Not run: the run's")


# -- structured output ------------------------------------------------------------------------


class Weather(BaseModel):
    """A weather report."""

    city: str
    celsius: float


def _final(arguments: dict[str, Any]) -> Completion:
    return Completion(tool_calls=[{"name": "final_result", "arguments": json.dumps(arguments)}])


@both_ways
async def test_output_type_failing_then_succeeding(fake_server: FakeServer, stream: bool) -> None:
    fake_server.add(
        _final({"city": "Paris", "celsius": "warm"}), _final({"city": "Paris", "celsius": 21})
    )
    result = await run_on_server(fake_server, stream=stream, output_type=Weather)
    assert result.output == Weather(city="Paris", celsius=21)
    assert "- `celsius`: Input should be a valid number" in tool_results(result.messages)[0]
    assert len(fake_server.chat_requests) == 2


async def test_output_type_failing_until_the_budget_ends(fake_server: FakeServer) -> None:
    fake_server.add(_final({"city": "Paris"}), _final({"celsius": 3}), _final({}))
    error = await error_on_server(fake_server, ToolRetriesExceeded, output_type=Weather)
    assert error.tool_name == "final_result"
    assert len(fake_server.chat_requests) == 2
    assert fake_server.pending == 1


async def test_output_type_answered_with_prose_until_the_budget_ends(
    fake_server: FakeServer,
) -> None:
    fake_server.add(Completion("It is warm."), Completion("Really warm."))
    error = await error_on_server(fake_server, ToolRetriesExceeded, output_type=Weather)
    assert error.tool_name == "final_result"
    assert len(fake_server.chat_requests) == 2
    assert "final_result" in fake_server.chat_requests[1].messages[-1]["content"]


# -- scripted: shapes the wire cannot carry -------------------------------------------------------


async def test_call_with_unreadable_arguments_from_a_scripted_model() -> None:
    # A Model implementation may hand over a call with arguments=None (not a JSON object).
    broken = ToolCall("add", None, "call_x", "a=1, b=2")
    with anyio.fail_after(BOUND), ScriptedModel([broken, "ok"]) as model:
        result = await Agent(model, tools=[add]).run("go")
    assert "Received: 'a=1, b=2'" in tool_results(result.messages)[0]
    assert len(model.requests) == 2
    assert_valid_history(result.messages)


async def test_parallel_good_and_bad_calls_are_all_answered_in_order() -> None:
    script = [
        [
            ToolCall("add", {"a": 1, "b": 1}, "c1"),
            ToolCall("nope", {}, "c2"),
            ToolCall("add", {"a": "x"}, "c3"),
            ToolCall("add", {"a": 2, "b": 2}, "c4"),
        ],
        "done",
    ]
    with anyio.fail_after(BOUND), ScriptedModel(script) as model:
        result = await Agent(model, tools=[add]).run("go")
    texts = tool_results(result.messages)
    assert texts[0] == "2" and texts[3] == "4"
    assert texts[1].startswith("Unknown tool 'nope'")
    assert "Invalid arguments for tool `add`" in texts[2]
    assert [m.tool_call_id for m in result.messages if isinstance(m, ToolMessage)] == [
        "c1",
        "c2",
        "c3",
        "c4",
    ]
    assert len(model.requests) == 2
    assert_valid_history(result.messages)


async def test_reply_with_a_lone_surrogate_escape_can_be_sent_back(fake_server: FakeServer) -> None:
    # JSON may carry "\ud800" (half of a pair): Python decodes it to a str no UTF-8 encoder
    # takes. The reply goes into the history and back to the server on the next request.
    message = {
        "role": "assistant",
        "content": "Adding \ud800 now",
        "tool_calls": [
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'},
            }
        ],
    }
    body = json.dumps(
        {"choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}]}
    )
    assert "\\ud800" in body
    fake_server.add(Raw(body, headers=JSON), Completion("5"))
    result = await run_on_server(fake_server)
    assert result.output == "5"
    assert len(fake_server.chat_requests) == 2
    assert fake_server.chat_requests[1].messages[-2]["content"] == "Adding \ufffd now"
