"""Llama 3.1's built-in tools in the toolbox: brave_search and wolfram_alpha against loopback
stand-ins of their APIs (no internet), a backend of one's own, keys from the environment read
at call time and kept from the model, and code_interpreter on the python sandbox."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from agentkit import Agent, ToolMessage, UserError, UserMessage
from agentkit.llama import render_prompt
from agentkit.testing import ScriptedModel, call
from agentkit.toolbox import brave_search as brave_module, wolfram_alpha as wolfram_module
from agentkit.toolbox.brave_search import BraveSearch, brave_search_tool
from agentkit.toolbox.wolfram_alpha import WolframAlpha, wolfram_alpha_tool
from agentkit.tools import load_tools

KEYS = ("BRAVE_SEARCH_API_KEY", "BRAVE_API_KEY", "WOLFRAM_ALPHA_APP_ID", "WOLFRAM_ALPHA_APPID")

pytestmark = pytest.mark.anyio

BRAVE_REPLY = {
    "web": {
        "results": [
            {"title": "Gold price", "url": "https://example.test/gold", "description": "$2,650/oz"},
            {"title": "Kitco", "url": "https://example.test/kitco", "description": "Live spot"},
        ]
    }
}
WOLFRAM_REPLY = {
    "queryresult": {
        "success": True,
        "pods": [
            {"title": "Input interpretation", "subpods": [{"plaintext": "100th digit | pi"}]},
            {"title": "Result", "subpods": [{"plaintext": "7"}]},
            {"title": "Image only", "subpods": [{"img": {}}]},
        ],
    }
}


class Stub:
    """A loopback stand-in for both APIs; records every request."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        self.body: Any = None
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                stub.requests.append(
                    {
                        "path": parts.path,
                        "query": parse_qs(parts.query),
                        "headers": dict(self.headers),
                    }
                )
                reply = stub.body
                if reply is None:
                    reply = BRAVE_REPLY if parts.path.startswith("/brave") else WOLFRAM_REPLY
                payload = json.dumps(reply).encode()
                self.send_response(stub.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )


@pytest.fixture
def stub() -> Iterator[Stub]:
    server = Stub()
    server.thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()


async def test_brave_search_sends_the_query_and_key_and_lists_the_results(stub: Stub) -> None:
    search = brave_search_tool(BraveSearch("brave-key", endpoint=stub.url + "/brave", count=2))
    result = await search.function(query="latest price of 1oz gold")
    assert result == (
        "Gold price\nhttps://example.test/gold\n$2,650/oz\n\n"
        "Kitco\nhttps://example.test/kitco\nLive spot"
    )
    (request,) = stub.requests
    assert request["query"] == {"q": ["latest price of 1oz gold"], "count": ["2"]}
    assert request["headers"]["X-Subscription-Token"] == "brave-key"


async def test_wolfram_alpha_sends_the_app_id_and_reads_the_pods(stub: Stub) -> None:
    compute = wolfram_alpha_tool(WolframAlpha("wolfram-id", endpoint=stub.url + "/wolfram"))
    result = await compute.function(query="100th decimal of pi")
    assert result == "Input interpretation: 100th digit | pi\nResult: 7"
    (request,) = stub.requests
    assert request["query"]["appid"] == ["wolfram-id"]
    assert request["query"]["input"] == ["100th decimal of pi"]


async def test_a_failing_service_says_which_and_why(stub: Stub) -> None:
    stub.status, stub.body = 429, {"error": "rate limited"}
    search = brave_search_tool(BraveSearch("k", endpoint=stub.url + "/brave"))
    with pytest.raises(RuntimeError, match=r"Brave Search answered HTTP 429: .*rate limited"):
        await search.function(query="x")


async def test_a_query_wolfram_does_not_understand_asks_to_rephrase(stub: Stub) -> None:
    stub.body = {"queryresult": {"success": False}}
    compute = wolfram_alpha_tool(WolframAlpha("id", endpoint=stub.url + "/wolfram"))
    assert "rephrase" in await compute.function(query="blorp")


@pytest.fixture
def no_keys(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in KEYS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


async def test_the_tools_load_without_keys_and_say_which_to_set_when_called(
    no_keys: pytest.MonkeyPatch,
) -> None:
    (search,) = load_tools("brave_search")
    (compute,) = load_tools("wolfram_alpha")
    with pytest.raises(UserError, match="set BRAVE_SEARCH_API_KEY \\(or BRAVE_API_KEY\\)"):
        await search.function(query="x")
    with pytest.raises(UserError, match="set WOLFRAM_ALPHA_APP_ID"):
        await compute.function(query="x")


async def test_a_missing_key_is_a_tool_result_the_run_goes_on_from(
    no_keys: pytest.MonkeyPatch,
) -> None:
    script = [call("brave_search", query="gold price"), "I cannot search the web here."]
    with ScriptedModel(script) as model:
        result = await Agent(model, tools=load_tools("brave_search")).run("Gold price?")
    (text,) = [m.content for m in result.messages if isinstance(m, ToolMessage)]
    assert "brave_search needs a Brave Search API key: set BRAVE_SEARCH_API_KEY" in text
    assert result.output == "I cannot search the web here."


async def test_keys_come_from_the_environment_and_never_reach_the_model(
    stub: Stub, no_keys: pytest.MonkeyPatch
) -> None:
    no_keys.setenv("BRAVE_API_KEY", "brave-secret-from-env")
    no_keys.setenv("WOLFRAM_ALPHA_APPID", "wolfram-secret-from-env")
    no_keys.setattr(brave_module, "BRAVE_ENDPOINT", stub.url + "/brave")
    no_keys.setattr(wolfram_module, "WOLFRAM_ENDPOINT", stub.url + "/wolfram")
    stub.body = {"web": {"results": [{"title": "echo brave-secret-from-env", "url": "u"}]}}
    (search,) = load_tools("brave_search")
    assert await search.function(query="q") == "echo ***\nu\n"
    stub.status, stub.body = 403, {"error": "bad app id wolfram-secret-from-env"}
    (compute,) = load_tools("wolfram_alpha")
    with pytest.raises(RuntimeError) as caught:
        await compute.function(query="q")
    assert "HTTP 403" in str(caught.value) and "wolfram-secret" not in str(caught.value)
    assert stub.requests[0]["headers"]["X-Subscription-Token"] == "brave-secret-from-env"
    assert stub.requests[1]["query"]["appid"] == ["wolfram-secret-from-env"]


async def test_a_backend_of_ones_own_in_an_agent_run() -> None:
    asked: list[str] = []

    def backend(query: str) -> str:
        asked.append(query)
        return "Gold: $2,650/oz"

    script = [call("brave_search", query="gold price"), "Gold is $2,650/oz."]
    with ScriptedModel(script) as model:
        result = await Agent(model, tools=[brave_search_tool(backend)]).run("Gold price?")
    assert asked == ["gold price"]
    assert [m.content for m in result.messages if isinstance(m, ToolMessage)] == ["Gold: $2,650/oz"]


def test_the_native_prompt_names_them_as_built_ins() -> None:
    names = ("brave_search", "wolfram_alpha", "code_interpreter")
    tools = [tool.definition() for name in names for tool in load_tools(name)]
    prompt = render_prompt([UserMessage("hi")], tools)
    assert "Environment: ipython\nTools: brave_search, wolfram_alpha\n" in prompt
    assert "Given the following functions" not in prompt  # no custom tools


def test_code_interpreter_is_the_sandboxed_python_tool() -> None:
    (interpreter,) = load_tools("code_interpreter")
    (python,) = load_tools("python")
    assert interpreter.name == "code_interpreter" and interpreter.requires_approval
    assert list(interpreter.parameters["properties"]) == ["code"]
    assert interpreter.description == python.description and "sandbox" in python.description
    assert interpreter.timeout == python.timeout


@pytest.mark.slow
async def test_code_interpreter_runs_the_code_in_the_sandbox(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AGENTKIT_SANDBOX", raising=False)
    (interpreter,) = load_tools("code_interpreter")
    result = await interpreter.function(code="print(17*23)")
    if "bubblewrap" not in result:
        pytest.skip(f"the python sandbox cannot run here: {result[:200]}")
    assert "exit status: 0" in result and "391" in result
