"""Sessions from the command line, at their edges: a failed run, a database that is not
there, a database that cannot be used.

Endpoint cases run against the fake server on 127.0.0.1; the sessions database is the
test's own (the `sessions_db` fixture in tests/conftest.py sets AGENTKIT_SESSIONS).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from click.testing import CliRunner, Result

from agentkit.cli import main
from agentkit.errors import SessionBusy, SessionDatabaseError
from agentkit.models import ENDPOINT_VARIABLES
from agentkit.sessions import SessionInfo, SQLiteStore
from agentkit.testing import Completion, Error, FakeServer, call

KEY = "sk-test-sessions-0123456789"
NOT_FOUND = Error(404, {"error": {"message": "model 'x' not found"}})


@pytest.fixture(autouse=True)
def no_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*ENDPOINT_VARIABLES, "AGENTKIT_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AGENTKIT_API_KEY", KEY)


def invoke(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def error_line(result: Result) -> str:
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.output
    assert "Traceback" not in result.output
    return errors[0]


def infos(db: str) -> list[SessionInfo]:
    store = SQLiteStore(db)
    try:
        return anyio.run(store.sessions)
    finally:
        store.close()


def contents(request_messages: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    return [(m["role"], m.get("content")) for m in request_messages]


# -- a failed run leaves nothing behind, and -c continues the real conversation -------------


def test_a_failed_run_leaves_no_session_and_c_continues_the_conversation(
    fake_server: FakeServer, sessions_db: str
) -> None:
    fake_server.add(Completion("noted: banana"), NOT_FOUND, Completion("banana"))
    base = ("run", "--base-url", fake_server.url)
    assert invoke(*base, "remember banana").exit_code == 0
    (kept,) = infos(sessions_db)
    failed = invoke(*base, "--model", "x", "fails")
    assert failed.exit_code == 1 and "not found" in error_line(failed)
    assert [i.name for i in infos(sessions_db)] == [kept.name]  # no empty session listed
    again = invoke(*base, "-c", "what word?")
    assert again.exit_code == 0, again.output
    assert contents(fake_server.chat_requests[2].messages) == [
        ("user", "remember banana"),
        ("assistant", "noted: banana"),
        ("user", "what word?"),
    ]


def test_a_named_session_a_failed_first_run_started_is_not_kept(
    fake_server: FakeServer, sessions_db: str
) -> None:
    fake_server.add(Completion("kept"), NOT_FOUND, NOT_FOUND)
    base = ("run", "--base-url", fake_server.url)
    assert invoke(*base, "--session", "old", "hello").exit_code == 0
    assert invoke(*base, "--session", "new", "fails").exit_code == 1
    assert invoke(*base, "--session", "old", "fails too").exit_code == 1
    (old,) = infos(sessions_db)  # "new" is gone; "old" keeps its conversation and runs
    assert (old.name, old.messages, old.runs) == ("old", 2, 2)


def test_a_run_that_failed_mid_way_keeps_its_turns_and_c_continues_it(
    fake_server: FakeServer, sessions_db: str
) -> None:
    fake_server.add(
        Completion("noted: banana"),
        Completion(tool_calls=[call("calculator", expression="2+2")]),
        NOT_FOUND,
        Completion("go on"),
    )
    base = ("run", "--base-url", fake_server.url)
    assert invoke(*base, "remember banana").exit_code == 0
    failed = invoke(*base, "--tools", "calculator", "what is 2+2?")
    assert failed.exit_code == 1
    newest = infos(sessions_db)[0]
    assert newest.messages == 3  # the prompt, the call and its result are kept
    assert invoke(*base, "-c", "and then?").exit_code == 0
    assert [role for role, _ in contents(fake_server.chat_requests[3].messages)] == [
        "user",
        "assistant",
        "tool",
        "user",
    ]


def test_a_chat_whose_turns_all_failed_leaves_no_session(
    fake_server: FakeServer, sessions_db: str
) -> None:
    fake_server.add(NOT_FOUND, NOT_FOUND)
    result = invoke("chat", "--base-url", fake_server.url, input="one\ntwo\n")
    assert result.exit_code == 0, result.output
    assert infos(sessions_db) == []


# -- commands that read never create a database ---------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ("list",),
        ("list", "--json"),
        ("show", "trip"),
        ("export", "trip"),
        ("search", "banana"),
        ("rm", "trip", "--yes"),
        ("fork", "trip", "copy"),
    ],
)
def test_a_command_that_reads_never_creates_a_database(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    missing = tmp_path / "typo" / "dir" / "x.db"
    result = invoke("--sessions-db", str(missing), "sessions", *command)
    assert result.exit_code == 2
    line = error_line(result) if "--json" not in command else result.stdout
    assert f"no sessions database at {missing} (given by --sessions-db)" in line
    assert "--sessions-db PATH or AGENTKIT_SESSIONS" in line
    assert not (tmp_path / "typo").exists()  # neither the file nor its folders


def test_the_missing_database_names_the_variable_or_the_default(
    tmp_path: Path, sessions_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = invoke("sessions", "list")
    assert result.exit_code == 2
    assert f"at {sessions_db} (set by AGENTKIT_SESSIONS)" in error_line(result)
    monkeypatch.delenv("AGENTKIT_SESSIONS")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    result = invoke("sessions", "show", "trip")
    default = tmp_path / "data" / "agentkit" / "sessions.db"
    assert f"at {default} (the default)" in error_line(result)
    assert not (tmp_path / "data").exists()
    assert not Path(sessions_db).exists()


def test_c_with_no_database_creates_none_and_import_creates_one(
    tmp_path: Path, sessions_db: str
) -> None:
    result = invoke("run", "--offline", "-c", "hello")
    assert result.exit_code == 2 and "no stored session to continue" in error_line(result)
    assert not Path(sessions_db).exists()
    export = tmp_path / "trip.jsonl"
    export.write_text(
        json.dumps({"agentkit_session": 1, "name": "trip", "created_at": 1, "updated_at": 1}) + "\n"
    )
    imported = invoke("sessions", "import", str(export))
    assert imported.exit_code == 0, imported.output
    assert [i.name for i in infos(sessions_db)] == ["trip"]


# -- a database that cannot be used: the way out the user has -------------------------------


def not_a_database(tmp_path: Path) -> Path:
    path = tmp_path / "notes.db"
    path.write_text("just some notes, not SQLite\n" * 100)
    return path


def test_a_bad_database_given_by_option_names_the_option_and_no_store(tmp_path: Path) -> None:
    bad = str(not_a_database(tmp_path))
    result = invoke("--sessions-db", bad, "run", "--offline", "hello")
    assert result.exit_code == 2
    line = error_line(result)
    assert f"sessions database {bad}" in line and "not a sessions database" in line
    assert "--sessions-db PATH" in line and "--no-store" in line
    assert "AGENTKIT_SESSIONS" not in line  # the user did not use it
    chat = invoke("--sessions-db", bad, "chat", "--offline", "--session", "s", input="hi\n")
    assert chat.exit_code == 2 and "--no-store" in error_line(chat)
    listing = invoke("--sessions-db", bad, "sessions", "list")
    assert listing.exit_code == 2
    line = error_line(listing)
    assert "--sessions-db PATH" in line and "--no-store" not in line  # list has no --no-store
    skipped = invoke("--sessions-db", bad, "run", "--offline", "--no-store", "hello")
    assert skipped.exit_code == 0, skipped.output  # the way past it works


def test_a_bad_database_set_by_the_variable_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTKIT_SESSIONS", str(not_a_database(tmp_path)))
    result = invoke("run", "--offline", "hello")
    assert result.exit_code == 2
    line = error_line(result)
    assert "AGENTKIT_SESSIONS chose it" in line and "--no-store" in line


def test_a_chat_turn_s_database_error_gets_the_same_way_out(tmp_path: Path) -> None:
    from agentkit.cli._stored import SessionChoice, open_conversation

    db = str(tmp_path / "s.db")
    conversation = open_conversation(SessionChoice(db=db), "chat")
    assert conversation is not None
    try:
        failed = SessionDatabaseError(db, "disk I/O error")
        said = str(conversation.explain(failed))
        assert said.startswith(f"sessions database {db}: disk I/O error; ")
        assert "--sessions-db PATH" in said and "--no-store" in said
        other = SessionBusy("in use", name="s", holder="pid 1")
        assert conversation.explain(other) is other  # not a database error: as it is
    finally:
        conversation.close()
