"""Where the sessions database lives by default (the variables are read by `agentkit._env`)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from agentkit import _env

__all__ = ["DB_NAME", "default_db_path"]

DB_NAME = "sessions.db"
_VARIABLES = ("AGENTKIT_SESSIONS", "HOME", "XDG_DATA_HOME", "LOCALAPPDATA")


def default_db_path(environ: Mapping[str, str] | None = None, platform: str | None = None) -> Path:
    """The sessions database: AGENTKIT_SESSIONS, else a file in the user's data folder.

    Linux and other Unixes: `$XDG_DATA_HOME/agentkit/sessions.db` (`~/.local/share/...`
    when XDG_DATA_HOME is unset or not absolute, as the XDG spec says); macOS:
    `~/Library/Application Support/agentkit/`; Windows: `%LOCALAPPDATA%\\agentkit\\`.
    Nothing is created here: the folder is made when the database is first opened.

    Args:
        environ: The environment to read instead of the process's (for tests).
        platform: `sys.platform` to assume.
    """
    env = _env.settings(_VARIABLES) if environ is None else environ
    chosen = _env.sessions_db(env)
    if chosen is not None:
        return Path(chosen).expanduser()
    platform = sys.platform if platform is None else platform
    home = Path(env.get("HOME") or Path.home())
    if platform == "win32":
        base = Path(env.get("LOCALAPPDATA") or home / "AppData" / "Local")
    elif platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        xdg = env.get("XDG_DATA_HOME", "")
        base = Path(xdg) if xdg and Path(xdg).is_absolute() else home / ".local" / "share"
    return base / "agentkit" / DB_NAME
