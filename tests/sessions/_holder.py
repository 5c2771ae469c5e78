"""A process that holds a session, for the lease and crash tests.

    python _holder.py DB SESSION MODE

MODE "exit": take the run lease and leave at once without giving it back (os._exit).
MODE "hang": commit three whole turns, print "committed 3", then hang inside a fourth
turn (as in a long tool call) until killed.
MODE "spin": append whole turns as fast as it can, printing each count, until killed.
"""

from __future__ import annotations

import os
import sys

import anyio

from agentkit.sessions import SQLiteSession

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _session_turns import turn


async def main(db: str, name: str, mode: str) -> None:
    session = SQLiteSession(name, db)
    if mode == "spin":
        i = 0
        while True:
            await session.append(turn(f"spin{i}", calls=3))
            i += 1
            print(i, flush=True)
    async with session.run(model="holder") as run:
        if mode == "exit":
            print("holding", flush=True)
            os._exit(0)
        for i in range(3):
            await run.commit(turn(f"kept{i}"))
        print("committed 3", flush=True)
        await anyio.sleep(3600)  # the fourth turn's tool call, never finished


if __name__ == "__main__":
    db, name, third = sys.argv[1:4]
    anyio.run(main, db, name, third)
