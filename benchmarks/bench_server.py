"""The benchmark's model: agentkit's FakeServer in its own process, zero latency by default.

The scenario is read from the requested model id, so one server serves every scenario:
`bench-k5-n1-l50` means 5 tool-call turns, then an answer; 1 call per turn; 50 ms latency.
`-tpause` makes every call go to the `pause` tool (the parallel-tools scenario).

    python benchmarks/bench_server.py        # prints the port, serves until stdin closes
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agentkit.messages import ToolCall
from agentkit.testing import Completion, FakeRequest, FakeServer, Reply

_SPEC = re.compile(r"bench-k(\d+)-n(\d+)(?:-l(\d+))?(?:-t(\w+))?")
_ARGS = {
    "get_weather": {"city": "Paris, France", "unit": "c"},
    "add": {"a": 17, "b": 25},
    "lookup_user": {"user_id": 42, "fields": ["name", "email"]},
    "pause": {},
}
_ROTATION = ["get_weather", "add", "lookup_user"]
ANSWER = "It is 22 degrees and sunny in Paris; 17 + 25 = 42; user 42 is user42."


def reply(request: FakeRequest) -> Reply:
    """Tool calls for K turns, then the answer, as the model id says."""
    model = str(request.body.get("model", "")) if isinstance(request.body, dict) else ""
    match = _SPEC.fullmatch(model)
    turns, per_turn, latency, only = (5, 1, 0, None)
    if match:
        turns, per_turn = int(match[1]), int(match[2])
        latency, only = int(match[3] or 0), match[4]
    done = sum(1 for m in request.messages if m.get("role") == "assistant")
    delay = latency / 1000
    if done >= turns:
        return Completion(ANSWER, delay=delay, chunk_size=12)
    calls = []
    for i in range(per_turn):
        name = only or _ROTATION[(done + i) % len(_ROTATION)]
        calls.append(ToolCall(name, _ARGS[name], f"call_{done}_{i}"))
    return Completion(tool_calls=calls, delay=delay)


class _NoRecord(list[FakeRequest]):
    """The server's request log, kept empty: a benchmark makes many thousands."""

    def append(self, item: FakeRequest) -> None:
        return None


def main() -> None:
    server = FakeServer(handler=reply)
    server.requests = _NoRecord()
    with server:
        print(server.port, flush=True)
        sys.stdin.read()  # serve until the parent closes our stdin


if __name__ == "__main__":
    main()
