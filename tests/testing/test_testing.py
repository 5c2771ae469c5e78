"""The testing kit's fake server as a user meets it: routes, handlers and their mistakes."""

from __future__ import annotations

import json
from urllib.request import urlopen

import pytest

from agentkit import Agent, ModelError
from agentkit.testing import Completion, FakeRequest, FakeServer, Reply


def agent_for(url: str) -> Agent[str]:
    return Agent("m", base_url=url, api_key="test", max_retries=0)


def test_a_handler_that_raises_is_reported_and_the_server_serves_on() -> None:
    def handler(request: FakeRequest) -> Reply:
        raise RuntimeError("bug in the handler")

    with FakeServer(handler=handler) as server:
        agent = agent_for(server.url)
        with pytest.raises(ModelError, match="the handler raised RuntimeError: bug in the handler"):
            agent.run_sync("x")
        server.add(Completion("after"))
        assert agent.run_sync("x").output == "after"
        assert len(server.chat_requests) == 2


def test_a_handler_that_returns_no_reply_is_told_what_to_return() -> None:
    def handler(request: FakeRequest) -> Reply:
        return "just text"  # type: ignore[return-value]

    with FakeServer(handler=handler) as server, pytest.raises(ModelError) as info:
        agent_for(server.url).run_sync("x")
    assert "the handler returned 'just text'" in str(info.value)
    assert "return a Completion" in str(info.value)


@pytest.mark.parametrize("suffix", ["", "/v2", "/v1/extra"])
def test_a_base_url_without_v1_gets_a_404_as_from_a_real_server(suffix: str) -> None:
    with FakeServer([Completion("unused")]) as server:
        base = server.url.removesuffix("/v1") + suffix
        with pytest.raises(ModelError) as info:
            agent_for(base).run_sync("x")
        assert info.value.status == 404
        assert "use FakeServer.url" in str(info.value)
        assert server.chat_requests == [] and server.pending == 1


def test_models_are_listed_at_v1_models() -> None:
    with FakeServer(models=["a", "b"]) as server, urlopen(server.url + "/models") as response:
        listed = json.load(response)
    assert [m["id"] for m in listed["data"]] == ["a", "b"]


def _post(url: str, body: dict[str, object]) -> tuple[int, dict[str, object]]:
    from urllib.error import HTTPError
    from urllib.request import Request

    request = Request(url, json.dumps(body).encode(), {"content-type": "application/json"})
    try:
        with urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except HTTPError as error:
        return error.code, json.loads(error.read())


def test_text_completions_are_served_and_recorded() -> None:
    from agentkit.testing import TextCompletion

    script: list[Reply] = [
        TextCompletion("unsafe\nS2", usage={"prompt_tokens": 9}),
        Completion("x"),
    ]
    with FakeServer(script) as server:
        status, body = _post(server.url + "/completions", {"model": "guard", "prompt": "Task: ..."})
        assert status == 200
        assert body["object"] == "text_completion"
        assert body["choices"] == [{"index": 0, "text": "unsafe\nS2", "finish_reason": "stop"}]
        assert body["usage"] == {"prompt_tokens": 9}
        # A chat reply where a text completion was asked is the test's mistake, said so.
        status, body = _post(server.url + "/completions", {"prompt": "again"})
        assert status == 500 and "needs a TextCompletion" in str(body)
    assert [r.body["prompt"] for r in server.completion_requests] == ["Task: ...", "again"]
    assert server.chat_requests == []


def test_a_streamed_text_completion_comes_in_pieces_and_an_empty_script_says_which_api() -> None:
    from urllib.request import Request

    from agentkit.testing import TextCompletion

    with FakeServer([TextCompletion("It is 5 degrees.", usage={"prompt_tokens": 3})]) as server:
        body = json.dumps({"model": "m", "prompt": "p", "stream": True}).encode()
        request = Request(server.url + "/completions", body, {"content-type": "application/json"})
        with urlopen(request, timeout=10) as response:
            assert response.headers["content-type"] == "text/event-stream"
            lines = response.read().decode().split("\n\n")
        events = [line.removeprefix("data: ") for line in lines if line]
        assert events[-1] == "[DONE]"
        chunks = [json.loads(e) for e in events[:-1]]
        assert "".join(c["choices"][0]["text"] for c in chunks) == "It is 5 degrees."
        assert len(chunks) == 3  # two 8-character pieces, then the finish with the usage
        assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
        assert chunks[-1]["usage"] == {"prompt_tokens": 3}
        status, error = _post(server.url + "/completions", {"prompt": "again"})
    assert status == 500 and "no reply scripted for text-completion request #2" in str(error)
