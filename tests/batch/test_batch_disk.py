"""An output that cannot be written (a full disk): a clear stop, whole lines kept, nothing lost.

The batch runs in a child process whose files are capped by RLIMIT_FSIZE: past the cap the
kernel refuses the write (EFBIG), the way a full disk refuses it (ENOSPC), through the same
`os.write` and `OSError`.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from _batch_helpers import echo, last_user, lines, make_agent, numbered

from agentkit.batch import manifest_path, run_batch_sync
from agentkit.testing import FakeServer

SCRIPT = Path(__file__).with_name("_batch_script.py")
pytestmark = pytest.mark.slow


def run_capped(url: str, output: Path, rows: int, cap: int) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(SCRIPT), url, str(rows), str(output), "4", str(cap)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_a_full_disk_stops_the_batch_with_whole_lines_and_a_resume_finishes_it(
    tmp_path: Path,
) -> None:
    output = tmp_path / "out.jsonl"
    with FakeServer(handler=echo) as fake:
        done = run_capped(fake.url, output, 40, cap=2_000)  # room for about eight lines
        assert done.returncode == 1, done.stdout + done.stderr
        message = done.stdout
        assert f"cannot write the results to {output} (File too large)" in message
        assert "free space (or fix the disk), then run the same command again" in message
        assert "Traceback" not in done.stderr
        kept = output.read_bytes()
        assert kept.endswith(b"\n") and 0 < len(kept) <= 2_000
        first = lines(output)  # every line whole: the group that did not fit was cut off
        assert f"\n{len(first)} ok, 0 errors" in done.stderr  # the summary counts what was kept
        assert f"The {len(first)} rows written by this run are kept" in message

        summary = run_batch_sync(make_agent(fake.url), numbered(40), output=output)
        asked = Counter(last_user(r) for r in fake.chat_requests)
    assert summary.repaired_bytes == 0  # nothing torn was left to repair
    assert summary.progress.skipped == len(first)
    assert Counter(r["id"] for r in lines(output)) == Counter(range(40))  # each id once
    assert all(asked[f"q{r['id']}"] == 1 for r in first)  # what was written never ran again


def test_a_manifest_that_cannot_be_written_is_a_clear_refusal(tmp_path: Path) -> None:
    output = tmp_path / "out.jsonl"
    with FakeServer(handler=echo) as fake:
        done = run_capped(fake.url, output, 3, cap=0)
        assert done.returncode == 2, done.stdout + done.stderr
        assert len(fake.chat_requests) == 0  # refused before any row ran
    assert f"refused: cannot write the output {output}" in done.stdout
    assert "File too large" in done.stdout and "free space" in done.stdout
    assert "Traceback" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no half-written manifest left
    assert not manifest_path(output).exists()
