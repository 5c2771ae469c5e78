"""`ModelError.retry_after`: how long a 429 or 503 answer asked to wait, read from its headers."""

from __future__ import annotations

import email.utils
import time

import pytest
from _reliability import error_on_server

from agentkit import ModelError
from agentkit.models.openai._retry_after import retry_after
from agentkit.testing import Error, FakeServer

pytestmark = pytest.mark.anyio


def test_seconds_milliseconds_and_http_dates_are_read() -> None:
    assert retry_after(429, {"retry-after": "2"}) == 2.0
    assert retry_after(429, {"retry-after": "0.25"}) == 0.25
    assert retry_after(503, {"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    soon = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (retry_after(429, {"retry-after": soon}) or 0) <= 31
    past = email.utils.formatdate(time.time() - 30, usegmt=True)
    assert retry_after(429, {"retry-after": past}) == 0.0
    assert retry_after(429, {"retry-after": "-5"}) == 0.0


@pytest.mark.parametrize(
    "headers",
    [{}, {"retry-after": "soon"}, {"retry-after": ""}, {"retry-after": "NaN"}],
    ids=["absent", "garbage", "empty", "nan"],
)
def test_an_unreadable_or_missing_header_is_not_said(headers: dict[str, str]) -> None:
    assert retry_after(429, headers) is None


def test_an_unreadable_milliseconds_header_falls_back_to_seconds() -> None:
    assert retry_after(429, {"retry-after-ms": "soon", "retry-after": "3"}) == 3.0


def test_only_429_and_503_are_read() -> None:
    assert retry_after(500, {"retry-after": "2"}) is None
    assert retry_after(400, {"retry-after": "2"}) is None


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (429, {"retry-after": "3600"}, 3600.0),  # past the SDK's cap: raised at once, with it
        (503, {"retry-after-ms": "250"}, 0.25),
        (429, {}, None),
        (500, {"retry-after": "5"}, None),
    ],
    ids=["429-seconds", "503-ms", "429-none", "500"],
)
async def test_the_adapters_model_error_carries_it(
    fake_server: FakeServer, status: int, headers: dict[str, str], expected: float | None
) -> None:
    fake_server.add(Error(status, {"error": {"message": "wait"}}, headers))
    error = await error_on_server(fake_server, ModelError, max_retries=0)
    assert error.status == status
    assert error.retry_after == expected
