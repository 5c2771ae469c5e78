"""Shared by the batch tests (and importable by Ray workers and subprocesses): agents, rows."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from agentkit import Agent
from agentkit.testing import Completion, FakeRequest, Reply

MODEL = "batch-test-model"


def last_user(request: FakeRequest) -> str:
    """The text of the last user message of a request."""
    users = [m for m in request.messages if m.get("role") == "user"]
    return str(users[-1]["content"]) if users else ""


def echo(request: FakeRequest) -> Reply:
    """Answer every prompt with "answer: PROMPT", so each result shows which row it is."""
    return Completion(f"answer: {last_user(request)}")


def make_agent(url: str, **options: Any) -> Agent[Any]:
    """An agent on the fake server; the SDK's own retries off, so faults reach the batch."""
    return Agent(MODEL, base_url=url, api_key="test-key", max_retries=0, **options)


def make_agent_unless_pid(url: str, driver_pid: int) -> Agent[Any]:
    """The driver's agent in the driver process; other instructions anywhere else."""
    instructions = None if os.getpid() == driver_pid else "a different system prompt"
    return make_agent(url, instructions=instructions)


def write_rows(path: Path, rows: Iterable[Mapping[str, Any] | str]) -> Path:
    """A JSONL input file: dicts as JSON, strings as they are (for broken lines)."""
    with path.open("w", encoding="utf-8") as file:
        for row in rows:
            file.write((row if isinstance(row, str) else json.dumps(row)) + "\n")
    return path


def numbered(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"id": i, "prompt": f"q{i}"} for i in range(start, start + count)]


def lines(path: Path) -> list[dict[str, Any]]:
    """Every result line of an output file, in order."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
