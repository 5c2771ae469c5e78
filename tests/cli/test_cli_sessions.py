"""Sessions from the command line: `run --session / -c / --no-store`, `chat --session`,
`agentkit sessions ...`, their errors and exit statuses, and a run killed mid-turn.

Endpoint cases run against the fake server on 127.0.0.1; the sessions database is the
test's own (the `sessions_db` fixture in tests/conftest.py sets AGENTKIT_SESSIONS).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from click.testing import CliRunner, Result

from agentkit import ToolCall
from agentkit.cli import main
from agentkit.messages import AssistantMessage, ToolMessage, UserMessage
from agentkit.models import ENDPOINT_VARIABLES
from agentkit.sessions import SQLiteSession, SQLiteStore, conversation_problems
from agentkit.testing import Completion, FakeServer

AGENTKIT = Path(sys.executable).with_name("agentkit")
KEY = "sk-test-sessions-0123456789"
HOLDER = Path(__file__).resolve().parents[1] / "sessions" / "_holder.py"


@pytest.fixture(autouse=True)
def no_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*ENDPOINT_VARIABLES, "AGENTKIT_MODEL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AGENTKIT_API_KEY", KEY)
    return KEY


def invoke(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def error_line(result: Result) -> str:
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.output
    assert "Traceback" not in result.output
    return errors[0]


def stored(db: str, name: str) -> list[Any]:
    store = SQLiteStore(db)
    try:
        return anyio.run(store.session(name).load)
    finally:
        store.close()


def names(db: str) -> list[str]:
    store = SQLiteStore(db)
    try:
        return [info.name for info in anyio.run(store.sessions)]
    finally:
        store.close()


def contents(request_messages: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    return [(m["role"], m.get("content")) for m in request_messages]


# -- run: a new session each time, -c continues, --session names one -------------------------


def test_run_stores_a_new_session_and_c_continues_the_latest(
    key: str, fake_server: FakeServer, sessions_db: str
) -> None:
    fake_server.add(Completion("first answer"), Completion("second answer"))
    first = invoke("run", "--base-url", fake_server.url, "hello")
    assert first.exit_code == 0, first.output
    (name,) = names(sessions_db)
    assert name.startswith("run-")
    second = invoke("run", "--base-url", fake_server.url, "-c", "and then?")
    assert second.exit_code == 0, second.output
    assert contents(fake_server.chat_requests[1].messages) == [
        ("user", "hello"),
        ("assistant", "first answer"),
        ("user", "and then?"),
    ]
    assert names(sessions_db) == [name]  # continued, not a new one
    assert [m.content for m in stored(sessions_db, name)] == [
        "hello",
        "first answer",
        "and then?",
        "second answer",
    ]


def test_two_runs_in_the_same_minute_get_two_sessions(sessions_db: str) -> None:
    for prompt in ("one", "two"):
        assert invoke("run", "--offline", prompt).exit_code == 0
    first, second = names(sessions_db)
    assert first != second and second.startswith(first.rsplit("-", 1)[0])


def test_run_session_name_resumes_that_session(
    key: str, fake_server: FakeServer, sessions_db: str
) -> None:
    fake_server.add(Completion("a"), Completion("b"), Completion("c"))
    base = ("run", "--base-url", fake_server.url)
    assert invoke(*base, "--session", "trip", "plan a trip").exit_code == 0
    assert invoke(*base, "other topic").exit_code == 0  # a session of its own
    assert invoke(*base, "--session", "trip", "where to?").exit_code == 0
    assert contents(fake_server.chat_requests[2].messages) == [
        ("user", "plan a trip"),
        ("assistant", "a"),
        ("user", "where to?"),
    ]
    assert len(names(sessions_db)) == 2


def test_continue_with_nothing_stored_is_a_usage_error(sessions_db: str) -> None:
    result = invoke("run", "-c", "hello")
    assert result.exit_code == 2
    assert "no stored session to continue" in error_line(result)
    both = invoke("run", "-c", "--session", "x", "hello")
    assert both.exit_code == 2 and "give one" in both.output


def test_no_store_writes_nothing_and_can_read_a_session(
    key: str, fake_server: FakeServer, sessions_db: str
) -> None:
    fake_server.add(Completion("one"), Completion("two"), Completion("three"))
    base = ("run", "--base-url", fake_server.url)
    assert invoke(*base, "--no-store", "hello").exit_code == 0
    assert not Path(sessions_db).exists()  # not even the file
    assert invoke(*base, "--session", "s", "first").exit_code == 0
    assert invoke(*base, "--no-store", "--session", "s", "what if?").exit_code == 0
    assert contents(fake_server.chat_requests[2].messages)[:2] == [
        ("user", "first"),
        ("assistant", "two"),
    ]
    assert [m.content for m in stored(sessions_db, "s")] == ["first", "two"]  # unchanged


def test_the_sessions_db_option_wins_over_the_environment(tmp_path: Path, sessions_db: str) -> None:
    other = tmp_path / "other.db"
    result = invoke("--sessions-db", str(other), "run", "--offline", "--session", "x", "hi")
    assert result.exit_code == 0, result.output
    assert names(str(other)) == ["x"] and not Path(sessions_db).exists()
    listed = invoke("--sessions-db", str(other), "sessions", "list", "--json")
    assert [json.loads(line)["name"] for line in listed.stdout.splitlines()] == ["x"]


def test_a_newer_database_is_refused_with_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 999")
    result = invoke("--sessions-db", str(path), "run", "--offline", "hello")
    assert result.exit_code == 2
    assert "newer than this agentkit knows" in error_line(result)
    listing = invoke("--sessions-db", str(path), "sessions", "list")
    assert listing.exit_code == 2 and "upgrade agentkit" in error_line(listing)


# -- a session in use ---------------------------------------------------------------------


def test_a_busy_session_is_a_run_error_and_chat_stays_open(sessions_db: str) -> None:
    holder = subprocess.Popen(
        [sys.executable, str(HOLDER), sessions_db, "s", "hang"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "committed 3"
        result = invoke("run", "--offline", "--session", "s", "--wait", "0.2", "hello")
        assert result.exit_code == 1
        line = error_line(result)
        assert "session 's' is in use by another run" in line and f"pid {holder.pid}" in line
        chat = invoke("chat", "--offline", "--session", "s", input="hi\n/session free\nhi\n")
        assert chat.exit_code == 0, chat.output
        assert "in use by another run" in chat.stderr
        assert "You said: hi" in chat.stdout  # answered in the session it switched to
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    assert next(m.content for m in stored(sessions_db, "free")) == "hi"


# -- chat ---------------------------------------------------------------------------------


def test_chat_resumes_a_session_and_reset_starts_a_new_one(
    key: str, fake_server: FakeServer, sessions_db: str
) -> None:
    fake_server.add(Completion("a"), Completion("b"), Completion("c"))
    assert invoke("run", "--base-url", fake_server.url, "--session", "trip", "go").exit_code == 0
    script = "next?\n/session\n/reset\nfresh\n/exit\n"
    result = invoke("chat", "--base-url", fake_server.url, "--session", "trip", input=script)
    assert result.exit_code == 0, result.output
    assert "session trip (resumed: 2 messages)" in result.stderr
    assert "session trip (4 messages)" in result.stderr  # /session, after one more exchange
    assert "the conversation was reset: session chat-" in result.stderr
    assert contents(fake_server.chat_requests[1].messages) == [
        ("user", "go"),
        ("assistant", "a"),
        ("user", "next?"),
    ]
    assert contents(fake_server.chat_requests[2].messages) == [("user", "fresh")]
    assert len(names(sessions_db)) == 2
    assert "/session" in invoke("chat", "--offline", input="/help\n").stderr


def test_chat_no_store_keeps_the_conversation_in_memory_only(
    key: str, fake_server: FakeServer, sessions_db: str
) -> None:
    fake_server.add(Completion("a"), Completion("b"))
    result = invoke("chat", "--base-url", fake_server.url, "--no-store", input="one\ntwo\n")
    assert result.exit_code == 0, result.output
    assert "nothing is stored (--no-store)" in result.stderr
    assert contents(fake_server.chat_requests[1].messages) == [
        ("user", "one"),
        ("assistant", "a"),
        ("user", "two"),
    ]
    assert not Path(sessions_db).exists()


# -- the context budget from the command line ----------------------------------------------


BUDGET_AGENT = """
import os
from agentkit import Agent

agent = Agent(os.environ.get("AGENTKIT_MODEL", "m"), max_input_tokens={budget})
"""


def test_a_trimmed_history_is_said_in_one_line_and_over_budget_is_exit_1(
    key: str, fake_server: FakeServer, tmp_path: Path
) -> None:
    agent = tmp_path / "small.py"
    agent.write_text(BUDGET_AGENT.format(budget=600), encoding="utf-8")
    fake_server.add(*[Completion("noted " * 30) for _ in range(8)])
    base = ("run", "--base-url", fake_server.url, "--session", "long", str(agent))
    for i in range(6):
        assert invoke(*base, f"remember fact {i}: " + "detail " * 40).exit_code == 0
    result = invoke(*base, "what do you remember?")
    assert result.exit_code == 0, result.output
    assert "(context: " in result.stderr and "old turns left out" in result.stderr
    assert "to fit 600 tokens" in result.stderr
    sent = fake_server.chat_requests[-1].messages
    assert len(sent) < 2 * 7 and sent[-1]["content"] == "what do you remember?"
    as_json = invoke(*base, "--json", "and now?").stdout
    events = [json.loads(line) for line in as_json.splitlines()]
    # A new process decides the cuts afresh (a chat keeps them from turn to turn).
    kinds = [e["type"] for e in events]
    assert kinds[:3] == ["run_started", "context_trimmed", "model_request_started"]
    assert events[1]["budget"] == 600 and events[1]["dropped_turns"] > 0
    huge = invoke(*base, "x " * 5_000)
    assert huge.exit_code == 1
    assert "over the budget of 600 (max_input_tokens)" in error_line(huge)


# -- agentkit sessions ...  ----------------------------------------------------------------


def seed(db: str) -> None:
    session = SQLiteSession("trip", db)
    call = ToolCall("weather", {"city": "Paris"}, "c1")
    turn = [
        UserMessage("Weather in Paris? Bring an umbrella?"),
        AssistantMessage("Let me check.", (call,)),
        ToolMessage("c1", "rain, 12°C", "weather"),
        AssistantMessage("Take the umbrella."),
    ]
    anyio.run(session.append, turn)
    session.store.close()


def test_list_show_and_search(sessions_db: str) -> None:
    seed(sessions_db)
    listed = invoke("sessions", "list")
    assert listed.exit_code == 0
    header, row = listed.stdout.splitlines()
    assert header.split() == ["NAME", "UPDATED", "MESSAGES", "TOKENS", "COST", "TITLE"]
    assert row.startswith("trip ") and "Weather in Paris?" in row
    shown = invoke("sessions", "show", "trip").stdout.splitlines()
    assert shown[1:6] == [
        "> Weather in Paris? Bring an umbrella?",
        "Let me check.",
        '→ weather(city="Paris")',
        "← weather: rain, 12°C",
        "Take the umbrella.",
    ]
    as_json = [
        json.loads(line)
        for line in invoke("sessions", "show", "trip", "--json").stdout.splitlines()
    ]
    assert [e["type"] for e in as_json] == ["session", "message", "message", "message", "message"]
    assert as_json[3]["message"] == {
        "v": 1,
        "role": "tool",
        "content": "rain, 12°C",
        "tool_call_id": "c1",
        "name": "weather",
    }
    found = invoke("sessions", "search", "umbrella")
    assert found.exit_code == 0
    hits = found.stdout.splitlines()
    assert len(hits) == 2 and all(hit.startswith("trip[") for hit in hits)
    assert invoke("sessions", "search", "nothing-like-this").stderr.startswith("nothing found")


def test_export_import_fork_and_rm(sessions_db: str, tmp_path: Path) -> None:
    seed(sessions_db)
    exported = invoke("sessions", "export", "trip")
    assert exported.exit_code == 0
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    assert lines[0]["agentkit_session"] == 1 and lines[0]["name"] == "trip"
    file = tmp_path / "trip.jsonl"
    assert invoke("sessions", "export", "trip", "-o", str(file)).exit_code == 0
    assert file.read_text(encoding="utf-8") == exported.stdout
    taken = invoke("sessions", "import", str(file))
    assert taken.exit_code == 2 and "exists already" in error_line(taken)
    imported = invoke("sessions", "import", str(file), "--name", "copy")
    assert imported.exit_code == 0 and "imported session copy (4 messages)" in imported.stderr
    assert (
        invoke("sessions", "import", "-", "--name", "piped", input=exported.stdout).exit_code == 0
    )
    assert invoke("sessions", "fork", "trip", "branch").exit_code == 0
    assert stored(sessions_db, "branch") == stored(sessions_db, "trip")
    asked = invoke("sessions", "rm", "branch")  # stdin is no terminal: it will not ask
    assert asked.exit_code == 2 and "--yes" in error_line(asked)
    assert invoke("sessions", "rm", "branch", "--yes").exit_code == 0
    assert sorted(names(sessions_db)) == ["copy", "piped", "trip"]


def test_unknown_sessions_and_bad_files_are_usage_errors(sessions_db: str, tmp_path: Path) -> None:
    seed(sessions_db)
    for command in (
        ("show", "nope"),
        ("export", "nope"),
        ("rm", "nope", "--yes"),
        ("fork", "nope", "x"),
    ):
        result = invoke("sessions", *command)
        assert result.exit_code == 2
        assert "no session named 'nope'" in error_line(result)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"agentkit_session": 1, "name": "b", "created_at": 1, "updated_at": 1}\n{"turn": 0\n'
    )
    result = invoke("sessions", "import", str(bad))
    assert result.exit_code == 2 and "line 2" in error_line(result)
    missing = invoke("sessions", "import", str(tmp_path / "missing.jsonl"))
    assert missing.exit_code == 2 and "cannot read" in error_line(missing)
    as_json = invoke("sessions", "show", "nope", "--json").stdout.splitlines()
    assert json.loads(as_json[-1])["error"] == "SessionNotFound"


# -- a run killed in the middle of a turn --------------------------------------------------


HANG_TOOLS = """
import time
from pathlib import Path


def note(text: str) -> str:
    '''Note something.

    Args:
        text: What.
    '''
    return "noted " + text


def hang(reason: str) -> str:
    '''Take forever.

    Args:
        reason: Why.
    '''
    Path(__file__).with_name("hanging").write_text(reason)
    time.sleep(120)
    return "never"
"""


@pytest.mark.slow
def test_sigkill_mid_run_then_continue(sessions_db: str, tmp_path: Path) -> None:
    tools = tmp_path / "hang_tools.py"
    tools.write_text(textwrap.dedent(HANG_TOOLS), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in (*ENDPOINT_VARIABLES, "AGENTKIT_MODEL")}
    env |= {"AGENTKIT_API_KEY": KEY, "NO_COLOR": "1"}
    replies = [
        Completion(tool_calls=[ToolCall("note", {"text": "a"}, "call-1")]),
        Completion(tool_calls=[ToolCall("hang", {"reason": "b"}, "call-2")]),
    ]
    with FakeServer(replies) as server:
        command = [str(AGENTKIT), "run", "--base-url", server.url, "--tools", str(tools)]
        process = subprocess.Popen(
            [*command, "--session", "killed", "note a, then hang"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while not (tmp_path / "hanging").exists():
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    kept = stored(sessions_db, "killed")
    # The first turn, committed before the second was asked for; nothing of the one in flight.
    assert [m.role for m in kept] == ["user", "assistant", "tool"]
    assert conversation_problems(kept) == []
    with FakeServer([Completion("continued")]) as server:
        done = subprocess.run(
            [str(AGENTKIT), "run", "--base-url", server.url, "--tools", str(tools), "-c", "again"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        sent = server.chat_requests[0].messages
    assert done.returncode == 0, done.stderr
    assert "continued" in done.stdout
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "user"]
    assert sent[2] == {"role": "tool", "tool_call_id": "call-1", "content": "noted a"}
    session = SQLiteSession("killed", sessions_db)
    runs = anyio.run(session.runs)
    assert [r.status for r in runs] == ["interrupted", "ok"]
    assert conversation_problems(anyio.run(session.load)) == []
