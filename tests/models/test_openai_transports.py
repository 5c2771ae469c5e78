"""The same guarantees on both HTTP transports: aiohttp (the default on asyncio) and httpx."""

from __future__ import annotations

import pytest

from agentkit import Agent, ModelError, ToolCall, UserError
from agentkit.events import TextDelta
from agentkit.models import OpenAIModel
from agentkit.testing import Chunks, Completion, Drop, Error, FakeServer, Hang, Raw

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("transport", ["aiohttp", "httpx"])]

KEY = "sk-transport-test-0123456789"


def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: The first.
        b: The second.
    """
    return a + b


def agent_for(server: FakeServer, transport: str, **kwargs: object) -> Agent[str]:
    model = OpenAIModel(
        "m",
        base_url=server.url,
        api_key=KEY,
        transport=transport,  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )
    return Agent(model, tools=[add])


async def test_round_trip_and_stream(fake_server: FakeServer, transport: str) -> None:
    fake_server.add(
        Completion(tool_calls=[ToolCall("add", {"a": 2, "b": 3})]),
        Completion("five"),
        Completion(tool_calls=[ToolCall("add", {"a": 1, "b": 1})], chunk_size=2),
        Completion("two, streamed", chunk_size=3),
    )
    async with agent_for(fake_server, transport) as agent:
        assert (await agent.run("2+3")).output == "five"
        events = [e async for e in agent.stream("1+1")]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "two, streamed"
    assert fake_server.chat_requests[1].messages[-1]["content"] == "5"


async def test_retry_then_client_error(fake_server: FakeServer, transport: str) -> None:
    fake_server.add(Error(503, headers={"retry-after-ms": "1"}), Completion("ok"), Error(401))
    async with agent_for(fake_server, transport) as agent:
        assert (await agent.run("x")).output == "ok"
        with pytest.raises(ModelError, match="HTTP 401") as info:
            await agent.run("x")
    assert info.value.status == 401
    assert KEY not in str(info.value)
    assert len(fake_server.chat_requests) == 3


@pytest.mark.parametrize(
    ("reply", "stream", "message"),
    [
        (Drop(), False, "cannot connect"),
        (Hang(), False, "no answer within 0.3 s"),
        (Raw("<html>oops</html>"), False, "not JSON"),
        (Chunks([{"choices": [{"delta": {"content": "a"}}]}, "{bad"]), True, "malformed"),
        (Chunks([{"choices": [{"delta": {"content": "a"}}]}], done=False), True, "DONE"),
        (Chunks([{"choices": [{"delta": {"content": "a"}}]}], reset=True), True, "stream"),
        (Hang(after_headers=True), True, "no data within 0.3 s"),
    ],
)
async def test_faults_are_model_errors(
    fake_server: FakeServer, transport: str, reply: object, stream: bool, message: str
) -> None:
    fake_server.add(reply)  # type: ignore[arg-type]

    async def drive(agent: Agent[str]) -> None:
        if stream:
            async for _ in agent.stream("x"):
                pass
        else:
            await agent.run("x")

    async with agent_for(fake_server, transport, max_retries=0, timeout=0.3) as agent:
        with pytest.raises(ModelError, match=message):
            await drive(agent)


async def test_connection_refused(transport: str) -> None:
    model = OpenAIModel(
        "m",
        base_url="http://127.0.0.1:9/v1",
        api_key=KEY,
        max_retries=0,
        transport=transport,  # type: ignore[arg-type]
    )
    async with Agent(model) as agent:
        with pytest.raises(ModelError, match=r"cannot connect \(Connection") as info:
            await agent.run("x")
    # The aiohttp transport calls it a timeout; it is told by its cause, with what to check.
    assert str(info.value).endswith("after 0 retries: is the server running? check the URL")


async def test_large_body_is_sent(fake_server: FakeServer, transport: str) -> None:
    # Over 1 MiB: aiohttp warns about such bodies, and agentkit quiets that warning.
    fake_server.add(Completion("got it"))
    async with agent_for(fake_server, transport) as agent:
        assert (await agent.run("x" * 2_000_000)).output == "got it"
    assert len(fake_server.chat_requests[0].messages[-1]["content"]) == 2_000_000


def test_unknown_transport_is_a_user_error(transport: str) -> None:
    with pytest.raises(UserError, match="transport must be"):
        OpenAIModel("m", base_url="http://x/v1", transport="curl")  # type: ignore[arg-type]
