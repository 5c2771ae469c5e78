"""`agentkit batch [TARGET] INPUT -o OUTPUT`: the command, its flags, exit statuses and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from agentkit.cli import main
from agentkit.cli._load import ENDPOINT_VARIABLES
from agentkit.testing import Completion, Error, FakeRequest, FakeServer, Reply

REPO = Path(__file__).resolve().parents[2]
WEATHER = str(REPO / "examples" / "weather.py")
AGENTKIT = Path(sys.executable).with_name("agentkit")
QUESTIONS = ['What is the weather in "Paris"?', 'weather in "Tokyo"', 'forecast for "London"']


@pytest.fixture(autouse=True)
def no_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*ENDPOINT_VARIABLES, "AGENTKIT_MODEL"):
        monkeypatch.delenv(name, raising=False)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def write_rows(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def questions(tmp_path: Path) -> Path:
    return write_rows(
        tmp_path / "in.jsonl", [{"id": i, "prompt": q} for i, q in enumerate(QUESTIONS)]
    )


def test_help_lists_batch_with_its_flags() -> None:
    assert "batch" in invoke("--help").stdout
    text = invoke("batch", "--help").stdout
    for flag in (
        "--output",
        "--concurrency",
        "--rps",
        "--tpm",
        "--timeout",
        "--attempts",
        "--retry-errors",
        "--force",
        "--backend",
        "--ray-address",
        "--ray-workers",
        "--tools",
        "--model",
        "--base-url",
        "--system",
        "--max-turns",
        "--offline",
    ):
        assert flag in text, flag  # fmt: skip
    assert "--approve" not in text and "--json" not in text  # a batch runs unattended
    assert "Exit status" in text


def test_every_row_gets_an_ok_line_and_a_rerun_skips_them(tmp_path: Path, questions: Path) -> None:
    output = tmp_path / "out.jsonl"
    result = invoke("batch", WEATHER, str(questions), "-o", str(output), "--offline")
    assert result.exit_code == 0, result.output
    records = read_lines(output)
    assert sorted(r["id"] for r in records) == [0, 1, 2]
    assert all(r["status"] == "ok" for r in records)
    by_id = {r["id"]: r["output"] for r in records}
    assert "Paris, France: 18°C" in by_id[0] and "Tokyo, Japan" in by_id[1]
    assert "3 ok, 0 errors, 0 invalid" in result.stderr
    assert f"results: {output}" in result.stderr

    again = invoke("batch", WEATHER, str(questions), "-o", str(output), "--offline")
    assert again.exit_code == 0
    assert "3 rows were already done by an earlier run" in again.stderr
    assert len(read_lines(output)) == 3


def test_another_configuration_is_refused_unless_forced(tmp_path: Path, questions: Path) -> None:
    output = tmp_path / "out.jsonl"
    assert invoke("batch", WEATHER, str(questions), "-o", str(output), "--offline").exit_code == 0
    refused = invoke(
        "batch", WEATHER, str(questions), "-o", str(output), "--offline", "--system", "other"
    )
    assert refused.exit_code == 2, refused.output
    assert "error: " in refused.stderr and "instructions changed" in refused.stderr
    assert "--force" in refused.stderr and "Traceback" not in refused.output
    forced = invoke(
        "batch", WEATHER, str(questions), "-o", str(output), "--offline", "--system", "other",
        "--force", "--retry-errors",
    )  # fmt: skip
    assert forced.exit_code == 0, forced.output
    assert "resumed with another agent configuration (force)" in forced.stderr


def test_failed_rows_exit_1_and_are_in_the_output(tmp_path: Path) -> None:
    source = write_rows(tmp_path / "in.jsonl", [{"id": "a", "prompt": QUESTIONS[0]}, "{broken"])
    output = tmp_path / "out.jsonl"
    result = invoke("batch", WEATHER, str(source), "-o", str(output), "--offline")
    assert result.exit_code == 1, result.output
    statuses = {r["id"]: r["status"] for r in read_lines(output)}
    assert statuses["a"] == "ok" and "invalid" in statuses.values()
    assert "--retry-errors" in result.stderr


def test_without_target_the_agent_is_built_from_the_flags(tmp_path: Path) -> None:
    source = write_rows(tmp_path / "in.jsonl", [{"id": 1, "prompt": "what is 17*23?"}])
    output = tmp_path / "out.jsonl"
    result = invoke("batch", str(source), "-o", str(output), "--tools", "calculator", "--offline")
    assert result.exit_code == 0, result.output
    assert "391" in read_lines(output)[0]["output"]
    assert "using the offline model" in result.stderr


def test_no_endpoint_is_refused_rather_than_answered_offline(tmp_path: Path) -> None:
    # Offline answers would be finished rows: a rerun with the key would skip them.
    source = write_rows(tmp_path / "in.jsonl", [{"id": 1, "prompt": "what is 17*23?"}])
    output = tmp_path / "out.jsonl"
    result = invoke("batch", WEATHER, str(source), "-o", str(output))
    assert result.exit_code == 2, result.output
    assert "does not fall back to the offline model" in result.stderr
    assert "--offline" in result.stderr and not output.exists()


def test_usage_mistakes_exit_2_with_what_to_fix(tmp_path: Path, questions: Path) -> None:
    out = str(tmp_path / "out.jsonl")
    missing = invoke("batch", WEATHER, str(tmp_path / "nope.jsonl"), "-o", out, "--offline")
    assert missing.exit_code == 2 and "nope.jsonl" in missing.stderr
    assert invoke("batch", WEATHER, str(questions), "--offline").exit_code == 2  # no -o
    zero = invoke("batch", WEATHER, str(questions), "-o", out, "--concurrency", "0")
    assert zero.exit_code == 2 and "--concurrency" in zero.stderr
    same = invoke("batch", WEATHER, str(questions), "-o", str(questions), "--offline")
    assert same.exit_code == 2 and "is the input file" in same.stderr
    many = invoke("batch", WEATHER, str(questions), "extra", "-o", out)
    assert many.exit_code == 2 and "expected [TARGET] INPUT" in many.stderr
    ray_flag = invoke(
        "batch", WEATHER, str(questions), "-o", out, "--ray-workers", "2", "--offline"
    )
    assert ray_flag.exit_code == 2 and 'need backend="ray"' in ray_flag.stderr


def test_a_refused_key_stops_the_batch_with_exit_1(tmp_path: Path, questions: Path) -> None:
    output = tmp_path / "out.jsonl"
    refusal = Error(401, {"error": {"message": "invalid api key"}})
    with FakeServer(handler=lambda _: refusal) as fake:
        result = invoke(
            "batch", str(questions), "-o", str(output), "--base-url", fake.url,
            "--concurrency", "1",
        )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "error: the batch stopped" in result.stderr and "401" in result.stderr
    assert "stopped (fatal)" in result.stderr
    assert [r["status"] for r in read_lines(output)] == ["error"]


def slow(request: FakeRequest) -> Reply:
    return Completion("answer", delay=0.3)


@pytest.mark.slow
def test_ctrl_c_drains_the_rows_in_flight_and_exits_130(tmp_path: Path) -> None:
    source = write_rows(tmp_path / "in.jsonl", [{"id": i, "prompt": f"q{i}"} for i in range(40)])
    output = tmp_path / "out.jsonl"
    env = {k: v for k, v in os.environ.items() if k not in (*ENDPOINT_VARIABLES, "AGENTKIT_MODEL")}
    with FakeServer(handler=slow) as fake:
        command = [
            str(AGENTKIT), "batch", str(source), "-o", str(output), "--base-url", fake.url,
            "--concurrency", "4",
        ]  # fmt: skip
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 60
        while len(fake.chat_requests) < 4:  # the first rows are in flight
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.01)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "draining: finishing the" in stderr and "run again to resume" in stderr
    records = read_lines(output)
    assert records and all(r["status"] == "ok" for r in records)  # the drained rows finished
    assert len(records) < 40


@pytest.mark.slow
def test_the_ray_backend_runs_the_same_command(tmp_path: Path, questions: Path) -> None:
    pytest.importorskip("ray")
    output = tmp_path / "out.jsonl"
    result = invoke(
        "batch", WEATHER, str(questions), "-o", str(output), "--offline", "--backend", "ray",
        "--concurrency", "4", "--ray-workers", "2",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    records = read_lines(output)
    assert sorted(r["id"] for r in records) == [0, 1, 2]
    assert all(r["status"] == "ok" and "°C" in r["output"] for r in records)
