"""What `agentkit batch` shows: a rich bar on a terminal, plain lines otherwise, a summary."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

from _batch_helpers import make_agent, numbered
from rich.console import Console

from agentkit.batch import BatchProgress, BatchSummary, run_batch_sync
from agentkit.cli._batch_progress import (
    PlainProgress,
    RichProgress,
    progress_for,
    progress_line,
    summary_lines,
)
from agentkit.testing import FakeServer

SNAPSHOT = BatchProgress(
    total=10_000,
    skipped=300,
    done=1_200,
    ok=1_190,
    errors=7,
    invalid=3,
    in_flight=16,
    prompt_tokens=1_000_000,
    completion_tokens=250_000,
    cost=0.5,
    elapsed=4.0,
    rate_limited=2,
    state="running",
)


def test_a_plain_line_has_rows_speed_errors_tokens_and_cost() -> None:
    assert progress_line(SNAPSHOT) == (
        "batch: 1,500/10,000 rows (300 from earlier runs), 300.0 rows/s, 7 errors, 3 invalid, "
        "1.2M tokens, $0.5000, 2 rate-limited, 16 in flight"
    )
    unknown = replace(SNAPSHOT, total=None, skipped=0, cost=None, invalid=0, rate_limited=0)
    assert progress_line(unknown).startswith("batch: 1,200 rows, 300.0 rows/s, 7 errors, 1.2M")
    assert "cost unknown" in progress_line(unknown)


def test_plain_progress_writes_a_line_every_so_often_and_at_each_change() -> None:
    now = [0.0]
    out = io.StringIO()
    plain = PlainProgress(out, every=10.0, clock=lambda: now[0])
    plain(SNAPSHOT)
    now[0] = 5.0
    plain(SNAPSHOT)  # too soon: nothing
    now[0] = 10.5
    plain(SNAPSHOT)
    plain(replace(SNAPSHOT, state="draining"))
    plain(replace(SNAPSHOT, state="done"))  # the summary says the rest
    text = out.getvalue().splitlines()
    assert len(text) == 4
    assert text[2] == "draining: finishing the 16 rows in flight (Ctrl-C again to cancel them)"
    assert text[3].startswith("batch: 1,500/10,000 rows")


def test_the_rich_bar_shows_the_same_figures() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=200, color_system=None)
    with RichProgress(console) as bar:
        bar(SNAPSHOT)
        bar(replace(SNAPSHOT, state="cancelling"))
    text = out.getvalue()
    for part in ("1500/10000", "300.0 rows/s", "7 errors", "1.2M tokens", "$0.5000"):
        assert part in text
    assert "cancelling the 16 rows in flight" in text


def test_a_terminal_gets_the_bar_and_anything_else_plain_lines() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert isinstance(progress_for(io.StringIO()), PlainProgress)
    assert isinstance(progress_for(Terminal()), RichProgress)


def test_the_summary_says_what_happened_and_what_to_do_next(tmp_path: Path) -> None:
    done = replace(SNAPSHOT, state="done", in_flight=0)
    stopped = BatchSummary(tmp_path / "out.jsonl", done, stopped="interrupted")
    text = "\n".join(summary_lines(stopped))
    assert "1,190 ok, 7 errors, 3 invalid in 4.0 s (300.0 rows/s)" in text
    assert "300 rows were already done" in text
    assert "stopped (interrupted): 8,500 rows not done; run again to resume" in text
    assert "--retry-errors" in text
    only_invalid = BatchSummary(tmp_path / "out.jsonl", replace(done, errors=0))
    advice = [line for line in summary_lines(only_invalid) if "run again" in line]
    assert len(advice) == 1 and "fix them in the input" in advice[0]
    assert "new id from its fixed content" in advice[0]  # --retry-errors alone would not do
    clean = BatchSummary(tmp_path / "out.jsonl", replace(done, errors=0, invalid=0, skipped=0))
    assert not any("retry" in line or "stopped" in line for line in summary_lines(clean))


def test_a_real_batch_feeds_the_plain_lines(tmp_path: Path, server: FakeServer) -> None:
    out = io.StringIO()
    summary = run_batch_sync(
        make_agent(server.url),
        numbered(5),
        output=tmp_path / "o.jsonl",
        progress=PlainProgress(out, every=0.0),
    )
    assert "batch: 5/5 rows" in out.getvalue()
    assert summary_lines(summary)[-1] == f"results: {tmp_path / 'o.jsonl'}"
