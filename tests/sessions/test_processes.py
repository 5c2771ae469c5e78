"""Several OS processes on one database, and processes killed in the middle of a run."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _session_turns import turn

from agentkit.messages import UserMessage
from agentkit.sessions import SQLiteSession, SQLiteStore, conversation_problems

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

HERE = Path(__file__).parent
WORKERS, TURNS = 4, 200


async def test_four_processes_append_200_turns_each_without_locks_gaps_or_interleaving(
    tmp_path: Path,
) -> None:
    path = tmp_path / "shared.db"  # a fresh file: the four also race to create the schema
    procs = [
        subprocess.Popen(
            [sys.executable, str(HERE / "_writer.py"), str(path), str(w), str(TURNS)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(WORKERS)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0 and not err, err  # no "database is locked", nothing

    store = SQLiteStore(path)
    lines = [json.loads(x) for x in (await store.export_jsonl("shared")).splitlines()]
    messages = [x for x in lines[1:] if "message" in x]
    runs = [x["run"] for x in lines[1:] if "run" in x and "message" not in x]
    assert len(messages) == WORKERS * TURNS * len(turn("x"))
    assert len(runs) == WORKERS * TURNS and {r["status"] for r in runs} == {"ok"}

    # No gap: turns numbered 0..799, each one block of one worker's turn, whole.
    blocks: dict[int, list[dict[str, object]]] = {}
    for x in messages:
        blocks.setdefault(x["turn"], []).append(x["message"])
    assert sorted(blocks) == list(range(WORKERS * TURNS))
    seen: dict[str, list[int]] = {}
    everything = await store.session("shared").load()
    for number in sorted(blocks):
        first = blocks[number][0]
        match = re.fullmatch(r"question w(\d)-t(\d+)", str(first["content"]))
        assert match, first
        worker, i = match.groups()
        expected = turn(f"w{worker}-t{i}", calls=2)
        loaded = everything[len(expected) * number : len(expected) * (number + 1)]
        assert loaded == expected  # no interleaving inside a turn
        seen.setdefault(worker, []).append(int(i))
    assert all(order == list(range(TURNS)) for order in seen.values())  # each in its order
    assert conversation_problems(everything) == []

    for w in range(WORKERS):
        own = await store.session(f"w{w}").load()
        assert own == [m for i in range(TURNS) for m in turn(f"w{w}-t{i}", calls=2)]
    assert _integrity(path) == "ok"


def _start(path: Path, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(HERE / "_holder.py"), str(path), "s", mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_a_run_killed_mid_turn_leaves_a_session_valid_to_continue(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    proc = _start(path, "hang")
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "committed 3"
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)  # reaps it and closes the pipes

    session = SQLiteSession("s", path)
    kept = [m for i in range(3) for m in turn(f"kept{i}")]
    assert await session.load() == kept  # every committed turn, nothing of the fourth
    async with session.run(model="after") as run:  # the dead run's lease is taken over
        await run.commit([UserMessage("are you there?"), *turn("next")[1:]])
    loaded = await session.load()
    assert loaded[: len(kept)] == kept and conversation_problems(loaded) == []
    statuses = [(r.model, r.status) for r in await session.runs()]
    assert statuses == [("holder", "interrupted"), ("after", "ok")]


async def test_a_process_killed_while_writing_loses_no_committed_turn(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    for delay in (0.3, 0.55, 0.8):  # three kills, at different points of the writes
        proc = _start(path, "spin")
        assert proc.stdout is not None
        reported = 0
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline or reported == 0:
            line = proc.stdout.readline()
            reported = int(line) if line.strip() else reported
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
        loaded = await SQLiteSession("s", path).load()
        assert conversation_problems(loaded) == []  # never half a turn
        assert len(loaded) % len(turn("x", calls=3)) == 0
        info = await SQLiteSession("s", path).info()
        assert info is not None and info.turns >= reported  # what it said was stored is
    assert _integrity(path) == "ok"


def _integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()
