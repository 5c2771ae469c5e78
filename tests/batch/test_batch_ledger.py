"""The output file as the ledger: torn tails repaired, foreign lines refused, last line wins."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from _batch_helpers import last_user, lines, make_agent, numbered

from agentkit import UserError
from agentkit.batch import read_results, run_batch_sync
from agentkit.testing import FakeServer


def test_a_torn_last_line_is_cut_off_and_its_row_runs_again(
    tmp_path: Path, server: FakeServer
) -> None:
    output = tmp_path / "out.jsonl"
    run_batch_sync(make_agent(server.url), numbered(5), output=output)
    whole = output.read_bytes()
    torn = b'{"id":5,"line":6,"status":"ok","output":"answ'  # the writer died mid-line
    output.write_bytes(whole + torn)

    summary = run_batch_sync(make_agent(server.url), numbered(8), output=output)

    assert summary.repaired_bytes == len(torn)
    assert any("torn last line" in note for note in summary.notes)
    assert output.read_bytes().startswith(whole)
    records = lines(output)  # every line is whole JSON again
    assert Counter(r["id"] for r in records) == Counter(range(8))
    rerun = sorted(last_user(r) for r in server.chat_requests[5:])
    assert rerun == ["q5", "q6", "q7"]  # row 5 again (its line was torn), then the new ones


def test_a_file_that_is_only_a_torn_line_starts_over(tmp_path: Path, server: FakeServer) -> None:
    output = tmp_path / "out.jsonl"
    output.write_bytes(b'{"id":0,"sta')
    summary = run_batch_sync(make_agent(server.url), numbered(2), output=output)
    assert summary.repaired_bytes == 12
    assert sorted(r["id"] for r in lines(output)) == [0, 1]


def test_a_line_that_is_no_result_is_refused_with_its_number(
    tmp_path: Path, server: FakeServer
) -> None:
    output = tmp_path / "out.jsonl"
    run_batch_sync(make_agent(server.url), numbered(3), output=output)
    text = output.read_text().splitlines()
    text.insert(1, "# my notes")
    output.write_text("\n".join(text) + "\n")
    before = output.read_bytes()

    with pytest.raises(UserError, match=r"line 2 is not a result line"):
        run_batch_sync(make_agent(server.url), numbered(5), output=output)
    with pytest.raises(UserError, match=r"line 2 is not a result line"):
        read_results(output)
    assert output.read_bytes() == before
    assert len(server.chat_requests) == 3


def test_read_results_gives_the_last_line_of_each_id(tmp_path: Path) -> None:
    output = tmp_path / "out.jsonl"
    rows = [
        {"id": 1, "status": "error", "error": {"message": "boom"}},
        {"id": "a", "status": "ok", "output": "x"},
        {"id": 1, "status": "ok", "output": "fixed"},
    ]
    output.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"id": 2, "st')
    results = read_results(output)
    assert results == {1: rows[2], "a": rows[1]}  # the torn tail is no result


def test_each_result_line_is_one_whole_json_object(tmp_path: Path, server: FakeServer) -> None:
    output = tmp_path / "out.jsonl"
    prompts = ["line\nbreak", "unicode: \u00e9\u4e2d\U0001f600", 'quote " and \\']
    run_batch_sync(make_agent(server.url), prompts, output=output)
    raw = output.read_bytes().split(b"\n")
    assert raw[-1] == b"" and len(raw) == 4
    outputs = sorted(json.loads(line)["output"] for line in raw[:-1])
    assert outputs == sorted(f"answer: {p}" for p in prompts)
