"""What a `ModelError` for an HTTP status says: the retries made before it (issue 12, item 20).

A connection error says "after 2 retries"; a 429 or a 500 said nothing of the retries the
SDK had made. Now every status the SDK retries says how many retries were made (counted by
the SDK's own `x-stainless-retry-count` header), or that none was and why.
"""

from __future__ import annotations

import pytest
from _reliability import FAST, error_on_server

from agentkit import ModelError
from agentkit.testing import Error, FakeServer

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("status", [429, 500, 503])
async def test_a_retried_status_says_how_many_retries_were_made(
    fake_server: FakeServer, status: int, stream: bool
) -> None:
    fake_server.add(*[Error(status, headers=FAST)] * 3)
    error = await error_on_server(fake_server, ModelError, stream=stream, max_retries=2)
    assert f"HTTP {status}" in str(error)
    assert str(error).endswith("(after 2 retries)"), str(error)
    assert len(fake_server.chat_requests) == 3


async def test_one_retry_is_said_in_the_singular(fake_server: FakeServer) -> None:
    fake_server.add(*[Error(502, headers=FAST)] * 2)
    error = await error_on_server(fake_server, ModelError, max_retries=1)
    assert str(error).endswith("(after 1 retry)"), str(error)


async def test_a_status_the_server_forbids_retrying_says_it_was_not_retried(
    fake_server: FakeServer,
) -> None:
    fake_server.add(Error(429, headers={"retry-after": "3600"}))
    error = await error_on_server(fake_server, ModelError, max_retries=2)
    assert "(not retried:" in str(error), str(error)
    assert len(fake_server.chat_requests) == 1


async def test_retries_turned_off_say_so(fake_server: FakeServer) -> None:
    fake_server.add(Error(500, headers=FAST))
    error = await error_on_server(fake_server, ModelError, max_retries=0)
    assert str(error).endswith("(after 0 retries)"), str(error)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_a_status_never_retried_says_nothing_of_retries(
    fake_server: FakeServer, status: int
) -> None:
    fake_server.add(Error(status))
    error = await error_on_server(fake_server, ModelError, max_retries=2)
    assert "retr" not in str(error)


async def test_a_long_reason_kept_whole_still_says_the_retries(fake_server: FakeServer) -> None:
    # llama.cpp quotes its template before the reason: that reason is kept whole (_hints), and
    # the retries made before it are said as for any other retried status.
    detail = "template: " + "{% for m in messages %}" * 40 + "\nError: the model is loading"
    fake_server.add(*[Error(503, {"error": {"message": detail}}, headers=FAST)] * 3)
    error = await error_on_server(fake_server, ModelError, max_retries=2)
    assert "Error: the model is loading" in str(error)
    assert str(error).endswith("(after 2 retries)"), str(error)
