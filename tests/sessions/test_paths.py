"""Where the sessions database is by default, and AGENTKIT_SESSIONS over it."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentkit._env import sessions_db
from agentkit.sessions import default_db_path


def test_agentkit_sessions_wins_everywhere() -> None:
    env = {"AGENTKIT_SESSIONS": "~/chats.db", "HOME": "/home/u", "XDG_DATA_HOME": "/x"}
    for platform in ("linux", "darwin", "win32"):
        assert default_db_path(env, platform) == Path("~/chats.db").expanduser()


@pytest.mark.parametrize(
    ("env", "platform", "expected"),
    [
        ({"HOME": "/home/u"}, "linux", "/home/u/.local/share/agentkit/sessions.db"),
        ({"HOME": "/home/u", "XDG_DATA_HOME": "/data"}, "linux", "/data/agentkit/sessions.db"),
        # A relative XDG_DATA_HOME is invalid by the spec: ignored.
        (
            {"HOME": "/home/u", "XDG_DATA_HOME": "rel"},
            "linux",
            "/home/u/.local/share/agentkit/sessions.db",
        ),
        (
            {"HOME": "/Users/u"},
            "darwin",
            "/Users/u/Library/Application Support/agentkit/sessions.db",
        ),
        ({"HOME": "/h", "LOCALAPPDATA": "/appdata"}, "win32", "/appdata/agentkit/sessions.db"),
        (
            {"HOME": "/home/u", "AGENTKIT_SESSIONS": "  "},
            "linux",
            "/home/u/.local/share/agentkit/sessions.db",
        ),
    ],
)
def test_the_users_data_folder_by_platform(
    env: dict[str, str], platform: str, expected: str
) -> None:
    assert default_db_path(env, platform) == Path(expected)


def test_the_env_lookup_reads_only_agentkit_sessions() -> None:
    assert sessions_db({"AGENTKIT_SESSIONS": " /a.db "}) == "/a.db"
    assert sessions_db({}) is None


def test_nothing_is_created_by_asking(tmp_path: Path) -> None:
    default_db_path({"HOME": str(tmp_path)}, "linux")
    assert list(tmp_path.iterdir()) == []


def test_the_process_environment_is_read_through_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AGENTKIT_SESSIONS", str(tmp_path / "mine.db"))
    assert default_db_path() == tmp_path / "mine.db"
    monkeypatch.delenv("AGENTKIT_SESSIONS")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_db_path(platform="linux") == tmp_path / "data" / "agentkit" / "sessions.db"
