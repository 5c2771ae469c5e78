"""One of the processes of the concurrency test.

    python _writer.py DB WORKER TURNS

Each turn: hold the shared session "shared" for one run (waiting as long as it takes),
commit one whole turn tagged with the worker and turn number, and append the same turn to
the worker's own session. Exits 0 with nothing on stderr when every write succeeded.
"""

from __future__ import annotations

import math
import os
import sys

import anyio

from agentkit.sessions import SQLiteStore

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _session_turns import turn


async def main(db: str, worker: str, turns: str) -> None:
    store = SQLiteStore(db)
    shared, own = store.session("shared"), store.session(f"w{worker}")
    for i in range(int(turns)):
        block = turn(f"w{worker}-t{i}", calls=2)
        async with shared.run(model=f"worker-{worker}", wait=math.inf) as run:
            await run.commit(block)
        await own.append(block)


if __name__ == "__main__":
    db, name, third = sys.argv[1:4]
    anyio.run(main, db, name, third)
