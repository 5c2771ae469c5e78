"""A batch process under real signals: Ctrl-C drains then cancels; SIGKILL loses nothing."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from _batch_helpers import echo, last_user, lines, make_agent, numbered

from agentkit.batch import run_batch_sync
from agentkit.testing import FakeServer

SCRIPT = Path(__file__).with_name("_batch_script.py")
pytestmark = pytest.mark.slow


def wait_for(condition: Callable[[], bool], what: str, limit: float = 30.0) -> None:
    """Poll until `condition` holds; fail naming `what` (a guard against a hang, not a timing)."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.01)


class Batch:
    """The batch script running in a child process, its stderr in a file."""

    def __init__(self, tmp: Path, url: str, rows: int, concurrency: int) -> None:
        self.output = tmp / "out.jsonl"
        self.errors = tmp / "stderr.txt"
        with self.errors.open("w") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, str(SCRIPT), url, str(rows), str(self.output), str(concurrency)],
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )

    def written(self) -> int:
        return len(lines(self.output)) if self.output.exists() else 0

    def stderr(self) -> str:
        return self.errors.read_text()

    def finish(self, limit: float = 30.0) -> tuple[int, str]:
        try:
            out, _ = self.process.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"the batch did not stop; stderr:\n{self.stderr()}") from None
        return self.process.returncode, out.strip()


@pytest.fixture
def batches(tmp_path: Path) -> Iterator[list[Batch]]:
    started: list[Batch] = []
    yield started
    for batch in started:  # only the processes this test started
        if batch.process.poll() is None:
            batch.process.kill()
            batch.process.wait()
        if batch.process.stdout is not None:
            batch.process.stdout.close()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_the_first_interrupt_drains_the_rows_in_flight(
    tmp_path: Path, batches: list[Batch], signum: int
) -> None:
    with FakeServer(handler=echo, latency=1.0) as fake:
        batch = Batch(tmp_path, fake.url, rows=20, concurrency=3)
        batches.append(batch)
        wait_for(lambda: len(fake.chat_requests) == 3, "the first 3 rows to start")
        batch.process.send_signal(signum)
        code, out = batch.finish()
        assert len(fake.chat_requests) == 3  # no row started after the signal
    assert (code, out) == (130, "interrupted")
    records = lines(batch.output)
    assert len(records) == 3 and all(r["status"] == "ok" for r in records)
    assert "draining: finishing the 3 rows in flight" in batch.stderr()


def test_the_second_interrupt_cancels_the_rows_in_flight(
    tmp_path: Path, batches: list[Batch]
) -> None:
    with FakeServer(handler=echo, latency=60.0) as fake:  # no row could finish in time
        batch = Batch(tmp_path, fake.url, rows=20, concurrency=3)
        batches.append(batch)
        wait_for(lambda: len(fake.chat_requests) == 3, "the first 3 rows to start")
        batch.process.send_signal(signal.SIGINT)
        wait_for(lambda: "draining" in batch.stderr(), "the batch to say it drains")
        batch.process.send_signal(signal.SIGINT)
        code, out = batch.finish(limit=20)
    assert (code, out) == (130, "cancelled")
    assert batch.written() == 0  # the cancelled rows have no line: the next run does them
    assert "cancelling the 3 rows in flight" in batch.stderr()


def test_a_killed_batch_resumes_and_every_id_is_written_exactly_once(
    tmp_path: Path, batches: list[Batch]
) -> None:
    with FakeServer(handler=echo, latency=0.1) as fake:
        batch = Batch(tmp_path, fake.url, rows=80, concurrency=4)
        batches.append(batch)
        wait_for(lambda: batch.written() >= 12, "a dozen rows to be written")
        batch.process.send_signal(signal.SIGKILL)
        batch.process.wait()
        assert batch.process.returncode == -signal.SIGKILL
        before = {r["id"] for r in lines(batch.output)}
        assert 12 <= len(before) < 80, "the kill came too late to test anything"
        sent_before = len(fake.chat_requests)

        summary = run_batch_sync(
            make_agent(fake.url), numbered(80), output=batch.output, concurrency=8
        )
        rerun = [last_user(r) for r in fake.chat_requests[sent_before:]]

    counts = Counter(r["id"] for r in lines(batch.output))
    assert counts == Counter(range(80))  # every id, each exactly once
    assert all(r["status"] == "ok" for r in lines(batch.output))
    assert summary.progress.skipped == len(before)
    assert not {f"q{i}" for i in before} & set(rerun)  # nothing finished was paid for twice
    assert len(rerun) == 80 - len(before)
