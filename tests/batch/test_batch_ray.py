"""The Ray backend on a real local cluster: rows on actors, one ledger on the driver."""

from __future__ import annotations

import functools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _batch_helpers import echo, last_user, lines, make_agent, make_agent_unless_pid, numbered

from agentkit import Agent, UserError
from agentkit.batch import _ray, read_results, run_batch_sync
from agentkit.batch._chunks import Lane
from agentkit.models import OpenAIModel
from agentkit.testing import Completion, FakeRequest, FakeServer, Reply
from agentkit.tools import load_tools

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
            ray_workers=2,  # two actors, however many cores the machine has
        )
    assert summary.progress.ok == 10
    assert not ray.is_initialized()  # stopped again: it was ours


TOOL_FILE = '''
from agentkit import tool

@tool
def where(city: str) -> str:
    """Say which process answers."""
    import os
    return f"{city} from {os.getpid()}"
'''


def call_where(request: FakeRequest) -> Reply:
    """Call `where` for the row's prompt, then answer with what it said."""
    if request.messages[-1].get("role") == "tool":
        return Completion(f"answer: {request.messages[-1]['content']}")
    return Completion(tool_calls=[{"name": "where", "arguments": {"city": last_user(request)}}])


def test_the_agent_itself_travels_with_its_tool_files_tools(tmp_path: Path, cluster: str) -> None:
    # The Agent pickles as its configuration: the tool of a file goes as "import this file".
    tools_file = tmp_path / "place_tools.py"
    tools_file.write_text(TOOL_FILE)
    with FakeServer(handler=call_where) as fake:
        agent = make_agent(fake.url, tools=load_tools(tools_file))
        summary = run_batch_sync(
            agent, numbered(6), output=tmp_path / "out.jsonl", backend="ray", ray_address=cluster
        )
    assert summary.progress.ok == 6
    results = read_results(tmp_path / "out.jsonl")
    pids = {int(results[i]["output"].rsplit(" ", 1)[1]) for i in range(6)}
    assert all(results[i]["output"].startswith(f"answer: q{i} from ") for i in range(6))
    assert os.getpid() not in pids  # the tool ran on the workers, not in the driver


def test_rows_sharing_a_call_each_get_their_own_result(
    tmp_path: Path, cluster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_ray, "CHUNK_RATE", 0.0)  # share calls from the first row on
    sent: list[int] = []
    original = Lane._lead

    async def counted(self: Lane, slot: Any) -> Any:
        sent.append(len(self._waiting) + 1)
        return await original(self, slot)

    monkeypatch.setattr(Lane, "_lead", counted)
    output = tmp_path / "out.jsonl"
    with FakeServer(handler=echo) as fake:
        summary = run_batch_sync(
            make_agent(fake.url), numbered(60), output=output, backend="ray",
            ray_address=cluster, concurrency=16,
        )  # fmt: skip
        asked = Counter(last_user(r) for r in fake.chat_requests)
    assert summary.progress.ok == 60 and len(sent) < 60  # fewer calls than rows
    assert asked == Counter(f"q{i}" for i in range(60))
    results = read_results(output)
    assert all(results[i]["output"] == f"answer: q{i}" for i in range(60))


def test_an_agent_that_cannot_travel_says_to_pass_a_recipe(tmp_path: Path) -> None:
    import openai

    client = openai.AsyncOpenAI(api_key="test-key", base_url="http://127.0.0.1:9/v1")
    agent = Agent(OpenAIModel("m", client=client))
    with pytest.raises(UserError, match="pass a function that builds it") as caught:
        run_batch_sync(agent, ["x"], output=tmp_path / "o.jsonl", backend="ray")
    assert "cannot be sent to Ray workers" in str(caught.value)
    assert not ray.is_initialized()


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
