"""What llama.cpp's real server sends, byte for byte, with Meta's Llama 3.1 template.

These pin the facts agentkit is built against (../shared/real-llama-server.md): the shape of
streamed calls, `content: ""` beside calls, and how the server fails. The tiny model's
scripts are in `_tinyllama.py`; a prompt holding " broken" or " twice" switches them.
"""

from __future__ import annotations

import json
from typing import Any

from _llama_server import LlamaServer
from _tinyllama import (
    ANSWER,
    ASSISTANT,
    BROKEN,
    DOUBLE_NEWLINE,
    END_HEADER,
    IPY,
    START_HEADER,
    TOOL_CALL,
    TWICE,
    TWO_CALLS,
)

from agentkit.tools import load_tools

(CALCULATE,) = load_tools("calculator")
TOOLS = [CALCULATE.definition()]
QUESTION = [{"role": "user", "content": "What is 17*23?"}]
CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "calculate", "arguments": '{"expression": "17*23"}'},
}
WITH_RESULT = [
    *QUESTION,
    {"role": "assistant", "content": None, "tool_calls": [CALL]},
    {"role": "tool", "tool_call_id": "call_1", "content": "391"},
]


def chat(server: LlamaServer, messages: list[dict[str, Any]], **extra: Any) -> tuple[int, Any]:
    status, body = server.post(
        "/v1/chat/completions", {"messages": messages, "tools": TOOLS, **extra}
    )
    return status, json.loads(body)


def stream(server: LlamaServer, messages: list[dict[str, Any]], **extra: Any) -> list[Any]:
    """The decoded `data:` payloads of a streamed reply ("[DONE]" kept as the string)."""
    body = {"messages": messages, "tools": TOOLS, "stream": True, **extra}
    status, raw = server.post("/v1/chat/completions", body)
    assert status == 200, raw
    payloads = [line[5:].strip() for line in raw.decode().splitlines() if line.startswith("data:")]
    return [p if p == "[DONE]" else json.loads(p) for p in payloads]


def test_the_prompt_side_tokens_are_those_the_model_was_built_for(
    llama_server: LlamaServer,
) -> None:
    assert llama_server.tokenize("<|start_header_id|>assistant<|end_header_id|>\n\n") == [
        START_HEADER,
        ASSISTANT,
        END_HEADER,
        DOUBLE_NEWLINE,
    ]
    assert llama_server.tokenize("<|start_header_id|>ipython")[:2] == [START_HEADER, IPY]
    assert llama_server.tokenize(" broken twice") == [BROKEN, TWICE]


def test_a_call_comes_as_tool_calls_with_empty_content(llama_server: LlamaServer) -> None:
    status, reply = chat(llama_server, QUESTION)
    assert status == 200
    (choice,) = reply["choices"]
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    assert message["content"] == ""
    (call,) = message["tool_calls"]
    assert call["type"] == "function"
    assert call["function"]["name"] == "calculate"
    assert json.loads(call["function"]["arguments"]) == {"expression": "17*23"}
    assert isinstance(call["id"], str) and call["id"]


def test_a_streamed_call_has_the_recorded_chunk_shapes(llama_server: LlamaServer) -> None:
    chunks = stream(llama_server, QUESTION, stream_options={"include_usage": True})
    assert chunks[-1] == "[DONE]"
    first, opening, *pieces, finish, usage, _ = chunks
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": None}
    (opened,) = opening["choices"][0]["delta"]["tool_calls"]
    assert set(opened) == {"index", "id", "type", "function"}
    assert opened["function"]["name"] == "calculate"
    arguments = [opened["function"]["arguments"]]
    for chunk in pieces:
        (piece,) = chunk["choices"][0]["delta"]["tool_calls"]
        assert set(piece) == {"index", "function"} and set(piece["function"]) == {"arguments"}
        arguments.append(piece["function"]["arguments"])
    assert len(arguments) > 3  # the arguments really arrive in pieces
    assert json.loads("".join(arguments)) == {"expression": "17*23"}
    assert finish["choices"][0] == {"finish_reason": "tool_calls", "index": 0, "delta": {}}
    assert usage["choices"] == [] and usage["usage"]["completion_tokens"] > 0


def test_after_the_tool_result_the_model_answers(llama_server: LlamaServer) -> None:
    status, reply = chat(llama_server, WITH_RESULT)
    assert status == 200
    assert reply["choices"][0]["message"] == {"role": "assistant", "content": ANSWER}
    assert reply["choices"][0]["finish_reason"] == "stop"


def test_tool_choice_none_leaves_the_call_as_text(llama_server: LlamaServer) -> None:
    status, reply = chat(llama_server, QUESTION, tool_choice="none")
    assert status == 200
    assert reply["choices"][0]["message"] == {"role": "assistant", "content": TOOL_CALL}
    assert reply["choices"][0]["finish_reason"] == "stop"


def test_tool_choice_required_after_the_result_runs_to_the_token_cap(
    llama_server: LlamaServer,
) -> None:
    status, reply = chat(llama_server, WITH_RESULT, tool_choice="required", max_tokens=24)
    assert status == 200
    choice = reply["choices"][0]
    assert choice["finish_reason"] == "length"
    assert reply["usage"]["completion_tokens"] == 24  # every token it was allowed
    assert choice["message"]["content"].startswith(ANSWER)
    assert "tool_calls" not in choice["message"]


def test_max_tokens_cuts_the_answer_with_finish_reason_length(llama_server: LlamaServer) -> None:
    status, reply = chat(llama_server, WITH_RESULT, max_tokens=3)
    assert status == 200
    assert reply["choices"][0] == {
        "finish_reason": "length",
        "index": 0,
        "message": {"role": "assistant", "content": "The answer is"},
    }


MISMATCH = "The model produced output that does not match the expected peg-native format"


def test_a_call_the_server_cannot_parse_is_http_500(llama_server: LlamaServer) -> None:
    status, reply = chat(llama_server, [{"role": "user", "content": "A broken call: 17*23?"}])
    assert status == 500
    assert reply == {"error": {"code": 500, "message": MISMATCH, "type": "server_error"}}


def test_two_calls_in_one_reply_are_http_500(llama_server: LlamaServer) -> None:
    status, reply = chat(llama_server, [{"role": "user", "content": "Do it twice: 17*23?"}])
    assert status == 500
    assert reply["error"]["message"] == MISMATCH
    # Without tools parsing, the same reply is the two calls as text.
    status, reply = chat(
        llama_server, [{"role": "user", "content": "Do it twice."}], tool_choice="none"
    )
    assert reply["choices"][0]["message"]["content"] == TWO_CALLS


def test_streamed_the_parse_failure_is_an_error_line_without_done(
    llama_server: LlamaServer,
) -> None:
    chunks = stream(llama_server, [{"role": "user", "content": "A broken call: 17*23?"}])
    assert "[DONE]" not in chunks
    assert chunks[-1] == {"error": {"code": 500, "message": MISMATCH, "type": "server_error"}}
    # The call's name and first argument pieces were already sent.
    assert chunks[1]["choices"][0]["delta"]["tool_calls"][0]["function"]["name"] == "calculate"


def test_two_calls_in_one_assistant_message_are_refused_with_http_400(
    llama_server: LlamaServer,
) -> None:
    second = {**CALL, "id": "call_2"}
    messages = [
        *QUESTION,
        {"role": "assistant", "content": None, "tool_calls": [CALL, second]},
        {"role": "tool", "tool_call_id": "call_1", "content": "391"},
        {"role": "tool", "tool_call_id": "call_2", "content": "391"},
    ]
    status, reply = chat(llama_server, messages)
    assert status == 400
    assert "This model only supports single tool-calls at once!" in reply["error"]["message"]


def test_the_template_puts_the_tools_in_the_first_user_message(llama_server: LlamaServer) -> None:
    status, body = llama_server.post("/apply-template", {"messages": QUESTION, "tools": TOOLS})
    assert status == 200
    prompt = json.loads(body)["prompt"]
    system, user, assistant = prompt.split("<|eot_id|>")
    assert system.startswith("<|start_header_id|>system<|end_header_id|>\n\nEnvironment: ipython\n")
    assert "Cutting Knowledge Date: December 2023\nToday Date: " in system
    assert user.startswith("<|start_header_id|>user<|end_header_id|>\n\nGiven the following")
    assert json.dumps(TOOLS[0], indent=4) in user and user.endswith("What is 17*23?")
    assert assistant == "<|start_header_id|>assistant<|end_header_id|>\n\n"
