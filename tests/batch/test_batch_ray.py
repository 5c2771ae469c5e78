"""The Ray backend on a real local cluster: rows on actors, one ledger on the driver."""

from __future__ import annotations

import functools
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from _batch_helpers import echo, last_user, lines, make_agent, make_agent_unless_pid, numbered

from agentkit import UserError
from agentkit.batch import read_results, run_batch_sync
from agentkit.testing import FakeServer

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow
HERE = Path(__file__).resolve().parent
# Workers of a cluster started elsewhere import the recipe's module by name: ship its folder.
SHIP_HELPERS = {"env_vars": {"PYTHONPATH": str(HERE)}}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A two-CPU Ray head node on 127.0.0.1 in its own process: an existing cluster."""
    port = _free_port()
    log = tmp_path_factory.mktemp("ray") / "head.log"
    command = [
        str(Path(sys.executable).with_name("ray")),
        "start",
        "--head",
        "--block",
        f"--port={port}",
        "--num-cpus=2",
        "--node-ip-address=127.0.0.1",
        "--include-dashboard=false",
        "--disable-usage-stats",
    ]
    with log.open("w") as out:
        head = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 60
        while "Ray runtime started" not in log.read_text():
            if head.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Ray head did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        _stop(head)


def _stop(head: subprocess.Popen[bytes]) -> None:
    """Stop the head and everything it started (its own process group), only that."""
    if head.poll() is None:
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(3)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()


def test_rows_run_on_the_cluster_and_resume_from_the_drivers_ledger(
    tmp_path: Path, cluster: str
) -> None:
    output = tmp_path / "out.jsonl"
    with FakeServer(handler=echo, latency=0.02) as fake:
        recipe = functools.partial(make_agent, fake.url)
        options = {"backend": "ray", "ray_address": cluster, "ray_runtime_env": SHIP_HELPERS}
        first = run_batch_sync(recipe, numbered(30), output=output, concurrency=8, **options)
        second = run_batch_sync(recipe, numbered(50), output=output, concurrency=8, **options)
        asked = Counter(last_user(r) for r in fake.chat_requests)
    assert first.backend == "ray" and first.progress.ok == 30
    assert second.progress.skipped == 30 and second.progress.ok == 20
    assert Counter(r["id"] for r in lines(output)) == Counter(range(50))
    assert asked == Counter(f"q{i}" for i in range(50))  # each row sent once in all
    results = read_results(output)
    assert all(results[i]["output"] == f"answer: q{i}" for i in range(50))


def test_a_worker_that_builds_another_agent_is_refused(tmp_path: Path, cluster: str) -> None:
    recipe = functools.partial(make_agent_unless_pid, "http://127.0.0.1:9/v1", os.getpid())
    with pytest.raises(UserError, match="built a different agent") as caught:
        run_batch_sync(
            recipe,
            numbered(3),
            output=tmp_path / "out.jsonl",
            backend="ray",
            ray_address=cluster,
            ray_runtime_env=SHIP_HELPERS,
        )
    assert any(line.startswith("instructions changed") for line in caught.value.problems)
    assert not (tmp_path / "out.jsonl").exists()  # refused before any row ran


def test_without_an_address_a_local_cluster_is_started_and_stopped(tmp_path: Path) -> None:
    # The recipe's module is importable here only through the test's sys.path: the local
    # cluster's workers get the driver's path, so nothing has to be shipped.
    with FakeServer(handler=echo) as fake:
        summary = run_batch_sync(
            functools.partial(make_agent, fake.url),
            numbered(10),
            output=tmp_path / "out.jsonl",
            backend="ray",
            concurrency=4,
        )
    assert summary.progress.ok == 10
    assert not ray.is_initialized()  # stopped again: it was ours


def test_the_agent_object_itself_is_refused_with_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=re.escape("needs a recipe for the agent")):
        run_batch_sync(
            make_agent("http://127.0.0.1:9/v1"), ["x"], output=tmp_path / "o.jsonl", backend="ray"
        )


def test_deps_that_cannot_travel_are_refused_before_a_cluster_starts(tmp_path: Path) -> None:
    recipe = functools.partial(make_agent, "http://127.0.0.1:9/v1")
    with pytest.raises(UserError, match="deps .* cannot be sent to Ray workers"):
        run_batch_sync(
            recipe, ["x"], output=tmp_path / "o.jsonl", backend="ray", deps=threading.Lock()
        )
    assert not ray.is_initialized()


def test_ray_options_need_the_ray_backend(tmp_path: Path) -> None:
    with pytest.raises(UserError, match='need backend="ray"'):
        run_batch_sync(
            make_agent("http://127.0.0.1:9/v1"),
            ["x"],
            output=tmp_path / "o.jsonl",
            ray_address="auto",
        )
