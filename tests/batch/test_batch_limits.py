"""Rate limits: Retry-After on 429s honoured for the whole batch, rps and tpm buckets."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from _batch_helpers import echo, last_user, lines, make_agent, numbered

from agentkit import ModelError
from agentkit.batch import run_batch_sync
from agentkit.batch._limits import MAX_RETRY_AFTER, RateLimiter
from agentkit.testing import Completion, Error, FakeRequest, FakeServer, Reply


class Stamped:
    """A handler that notes when each request arrived and answers from a script, then echoes."""

    def __init__(self, *script: Reply) -> None:
        self.script = list(script)
        self.arrivals: list[tuple[float, str]] = []

    def __call__(self, request: FakeRequest) -> Reply:
        self.arrivals.append((time.monotonic(), last_user(request)))
        if self.script:
            return self.script.pop(0)
        return Completion(f"answer: {last_user(request)}", delay=0.05)


def test_a_429_is_waited_out_for_its_retry_after_and_the_request_sent_again(
    tmp_path: Path,
) -> None:
    handler = Stamped(Error(429, headers={"retry-after": "0.5"}))
    with FakeServer(handler=handler) as fake:
        summary = run_batch_sync(make_agent(fake.url), ["only"], output=tmp_path / "o.jsonl")
    (record,) = lines(tmp_path / "o.jsonl")
    assert record["status"] == "ok" and record["attempts"] == 1  # the row itself never failed
    (first, _), (second, _) = handler.arrivals
    assert second - first >= 0.45
    assert summary.progress.rate_limited == 1


def test_a_429_pauses_every_row_not_only_its_own(tmp_path: Path) -> None:
    # The first request is refused at once; the others of the first wave take 50 ms, so
    # the pause is in force before any row starts its next request.
    handler = Stamped(Error(429, headers={"retry-after-ms": "400"}))
    with FakeServer(handler=handler) as fake:
        run_batch_sync(
            make_agent(fake.url), numbered(9), output=tmp_path / "o.jsonl", concurrency=3
        )
    start = handler.arrivals[0][0]
    later = [t for t, _ in handler.arrivals[3:]]
    assert len(later) == 7 and all(t - start >= 0.35 for t in later)
    assert all(r["status"] == "ok" for r in lines(tmp_path / "o.jsonl"))


def test_a_429_without_retry_after_backs_off(tmp_path: Path) -> None:
    handler = Stamped(Error(429), Error(429))
    with FakeServer(handler=handler) as fake:
        run_batch_sync(make_agent(fake.url), ["x"], output=tmp_path / "o.jsonl", backoff=0.01)
    assert lines(tmp_path / "o.jsonl")[0]["status"] == "ok"
    assert len(handler.arrivals) == 3


def test_a_request_refused_429_attempts_times_fails_the_row(tmp_path: Path) -> None:
    refuse = Error(429, {"error": {"message": "slow down"}}, {"retry-after": "0"})
    with FakeServer(handler=lambda request: refuse) as fake:
        run_batch_sync(make_agent(fake.url), ["x"], output=tmp_path / "o.jsonl", attempts=3)
        assert len(fake.chat_requests) == 3  # sent 3 times, the row not tried again on top
    (record,) = lines(tmp_path / "o.jsonl")
    assert record["status"] == "error" and record["error"]["status"] == 429


@pytest.mark.slow
def test_requests_per_second_hold_for_the_whole_batch(tmp_path: Path) -> None:
    import openai  # noqa: F401  # imported up front: the first request would import it

    handler = Stamped()
    with FakeServer(handler=handler) as fake:
        run_batch_sync(
            make_agent(fake.url), numbered(16), output=tmp_path / "o.jsonl", concurrency=16, rps=8
        )
    times = sorted(t for t, _ in handler.arrivals)
    # A second's worth (8) at once, then 8 per second: the 16th a second after the first
    # took its slot (unlimited, all 16 arrive within milliseconds). The first may reach the
    # server late, after the client's first connection, hence some slack below 1 s.
    assert times[-1] - times[0] >= 0.8


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await anyio.lowlevel.checkpoint()


@pytest.mark.anyio
async def test_the_request_bucket_gives_a_seconds_worth_then_the_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rps=2, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        await limiter.acquire()
    assert clock.now - 100.0 == pytest.approx(1.5)  # 2 at once, then one per 0.5 s


@pytest.mark.anyio
async def test_the_token_bucket_reserves_the_mean_reply_and_settles_the_rest() -> None:
    clock = FakeClock()
    limiter = RateLimiter(tpm=600, clock=clock, sleep=clock.sleep)  # 10 tokens a second
    reserved, _ = await limiter.acquire()
    assert reserved == 0  # nothing known yet
    limiter.settle(reserved, 600)  # that reply used the whole minute's worth
    reserved, waited = await limiter.acquire()
    assert reserved == 600 and waited == pytest.approx(60.0)
    limiter.settle(reserved, 300)  # half of the reservation comes back
    assert limiter.tokens is not None and limiter.tokens.level == pytest.approx(300)


@pytest.mark.anyio
async def test_a_cool_down_holds_every_request() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    limiter.cool_down(7.5)
    _, waited = await limiter.acquire()
    assert waited == pytest.approx(7.5) and limiter.stats.rate_limited == 1


def test_a_retry_after_past_the_cap_fails_the_row_instead_of_stalling_the_batch(
    tmp_path: Path,
) -> None:
    ban = Error(429, {"error": {"message": "banned"}}, {"retry-after": str(MAX_RETRY_AFTER + 1)})
    handler = Stamped(ban)
    with FakeServer(handler=handler) as fake:
        summary = run_batch_sync(make_agent(fake.url), ["x"], output=tmp_path / "o.jsonl")
    (record,) = lines(tmp_path / "o.jsonl")
    assert record["status"] == "error" and record["error"]["status"] == 429
    assert len(handler.arrivals) == 1 and summary.progress.rate_limited == 0


def test_the_real_adapters_429_carries_its_retry_after() -> None:
    # Through the real openai client: the header must be readable from what agentkit raises.
    with FakeServer([Error(429, headers={"retry-after": "4"})], handler=echo) as fake:
        agent = make_agent(fake.url)

        async def first_request() -> Any:
            try:
                await agent.model.request([], [], {})
            except ModelError as exc:
                return exc
            finally:
                await agent.aclose()

        error = anyio.run(first_request)
    assert isinstance(error, ModelError) and error.status == 429
    assert error.retry_after == 4.0  # what the batch waits for
