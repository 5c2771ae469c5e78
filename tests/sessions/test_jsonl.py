"""Importing a JSON-lines file checks all of it first, and says which line is wrong."""

from __future__ import annotations

import json

import pytest
from _session_turns import turn

from agentkit.messages import message_to_json
from agentkit.sessions import MemoryStore, SessionError

pytestmark = pytest.mark.anyio

HEADER = {"agentkit_session": 1, "name": "s", "created_at": 1.0, "updated_at": 2.0}


def lines(*items: object) -> str:
    return "".join(json.dumps(i) + "\n" for i in items)


def message(m: object, turn_number: int = 0) -> dict[str, object]:
    return {"turn": turn_number, "run": None, "at": 1.5, "message": message_to_json(m)}  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "empty"),
        ("not json\n", "line 1: not JSON"),
        (lines([1, 2]), "line 1: expected a JSON object"),
        (lines({**HEADER, "agentkit_session": 9}), "newer agentkit"),
        (lines({**HEADER, "name": " "}), "name is empty"),
        (lines(HEADER, {"other": 1}), "line 2: expected a run or a message"),
        (lines(HEADER, {"run": {"id": 1, "status": "weird"}}), "unknown run status"),
        (lines(HEADER, {**message(turn("a")[0]), "message": {"v": 7}}), "newer agentkit"),
        (lines(HEADER, *[message(m) for m in turn("a")[:2]]), "turn 0 is not a whole turn"),
        (lines(HEADER, message(turn("a")[0], 3), message(turn("a")[0], 1)), "comes after"),
        (lines(HEADER, {**message(turn("a")[0]), "run": 5}), "names run 5"),
    ],
)
async def test_a_bad_file_is_refused_whole(text: str, error: str) -> None:
    store = MemoryStore()
    with pytest.raises(SessionError, match=error):
        await store.import_jsonl(text)
    assert await store.sessions() == []


async def test_a_file_with_a_header_and_messages_imports() -> None:
    store = MemoryStore()
    session = await store.import_jsonl(lines(HEADER, *[message(m) for m in turn("a")]))
    assert await session.load() == turn("a")
