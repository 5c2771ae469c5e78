"""`agentkit probe`: the table, `--json`, the saved probe and `--refresh`, and the errors;
against behaviour profiles of the fake server (tests/_probe_profiles.py)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from _probe_profiles import PROFILES
from click.testing import CliRunner, Result

from agentkit.cli import main
from agentkit.cli._load import ENDPOINT_VARIABLES
from agentkit.models.openai import _probe

KEY = "sk-probe-0123456789"


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in (*ENDPOINT_VARIABLES, "AGENTKIT_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AGENTKIT_API_KEY", KEY)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path


def probe(*args: str) -> Result:
    return CliRunner().invoke(main, ["probe", *args], catch_exceptions=False)


def test_the_table_shows_each_check_and_the_advice(env: Path) -> None:
    with PROFILES["text-calls"].server() as server:
        done = probe("--base-url", server.url, "--model", "m")
    assert done.exit_code == 0, done.output
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in _rows(done)}
    assert rows["tool_calls"] == "text" and rows["tool_choice required"] == "refused"
    assert rows["stream_usage"] == "refused" and rows["completions"] == "available"
    assert "agentkit: calls come back as text; they are recovered from it" in done.stderr
    assert "--model completions:m" in done.stderr
    assert f"probed just now; kept in {env}/agentkit/probe/" in done.stderr
    assert KEY not in done.output


def _rows(done: Result) -> list[str]:
    return [line for line in done.stdout.splitlines() if line.count("│") == 4]


def test_json_is_one_object_and_a_second_probe_reads_the_saved_one(env: Path) -> None:
    with PROFILES["llama.cpp-like"].server() as server:
        first = probe("--base-url", server.url, "--model", "m", "--json")
        asked = len(server.requests)
        second = probe("--base-url", server.url, "--model", "m", "--json")
        assert len(server.requests) == asked  # no request: the saved probe
        third = probe("--base-url", server.url, "--model", "m", "--json", "--refresh")
        assert len(server.requests) == 2 * asked
    one, two, three = (json.loads(d.stdout) for d in (first, second, third))
    assert one["cached"] is False and two["cached"] is True and three["cached"] is False
    assert one["checks"]["calls_in_history"]["result"] == "refused"
    assert one["advice"] == [
        "tool calls go one per assistant message to this endpoint (its chat template refuses more)"
    ]
    assert two["probed_at"] == one["probed_at"] < three["probed_at"]


def test_a_saved_probe_says_how_to_probe_again() -> None:
    with PROFILES["groq-like"].server() as server:
        probe("--base-url", server.url, "--model", "m")
        again = probe("--base-url", server.url, "--model", "m")
    assert "probed just now; --refresh probes again" in again.stderr


def test_a_closed_port_says_nothing_listens_there_and_keeps_nothing(env: Path) -> None:
    done = probe("--base-url", "http://127.0.0.1:9/v1", "--model", "m")
    assert done.exit_code == 1
    assert done.stderr == (
        "error: nothing is listening at http://127.0.0.1:9/v1: is the server running? "
        "check the URL\n"
    )
    assert done.stdout == ""  # no table of checks that were never made
    assert not (env / "agentkit").exists()


def test_a_closed_port_in_json_names_the_checks_not_tried() -> None:
    done = probe("--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--json")
    found, error = (json.loads(line) for line in done.stdout.splitlines())
    results = {c["result"] for c in found["checks"].values()}
    assert results == {"unreachable", "unknown"} and "timed out" not in done.stdout
    assert error["message"].startswith("nothing is listening at http://127.0.0.1:9/v1")


def test_a_server_that_never_answers_is_told_as_a_timeout(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_probe, "SECONDS", 0.3)
    with socket.socket() as silent:  # connections are made (the backlog), never answered
        silent.bind(("127.0.0.1", 0))
        silent.listen(32)
        done = probe("--base-url", f"http://127.0.0.1:{silent.getsockname()[1]}/v1")
    assert done.exit_code == 1
    rows = {cells[1].strip(): cells[2:4] for cells in (r.split("│") for r in _rows(done))}
    assert [cell.strip() for cell in rows["tool_calls"]] == ["error", "no answer within 0.3 s"]
    assert (
        "error: the endpoint answered none of the checks in time (no answer within 0.3 s "
        "each): is the server still loading the model, or too busy? check the URL"
    ) in " ".join(done.stderr.split())
    assert not (env / "agentkit").exists()


def test_no_key_for_the_default_endpoint_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AGENTKIT_API_KEY")
    done = probe()
    assert done.exit_code == 2
    assert "no API key for the haimaker endpoint" in done.stderr


def test_an_empty_option_is_refused() -> None:
    done = CliRunner().invoke(main, ["probe", "--model", " "])
    assert done.exit_code == 2 and "is empty" in done.output
