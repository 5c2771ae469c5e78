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
