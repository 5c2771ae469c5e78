"""Where the sessions database lives by default.

`sessions_env()` is the only place in this package that reads an environment variable;
phase 2 moves it into `agentkit/_env.py`, the one module that reads them (INTEGRATION.md).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["DB_NAME", "default_db_path", "sessions_env"]

DB_NAME = "sessions.db"


def sessions_env(environ: Mapping[str, str] | None = None) -> str | None:
    """AGENTKIT_SESSIONS, the database file to use instead of the default; None when unset."""
    value = (os.environ if environ is None else environ).get("AGENTKIT_SESSIONS", "")
    return value.strip() or None


def default_db_path(environ: Mapping[str, str] | None = None, platform: str | None = None) -> Path:
    """The sessions database: AGENTKIT_SESSIONS, else a file in the user's data folder.

    Linux and other Unixes: `$XDG_DATA_HOME/agentkit/sessions.db` (`~/.local/share/...`
    when XDG_DATA_HOME is unset or not absolute, as the XDG spec says); macOS:
    `~/Library/Application Support/agentkit/`; Windows: `%LOCALAPPDATA%\\agentkit\\`.
    Nothing is created here: the folder is made when the database is first opened.
    """
    env = os.environ if environ is None else environ
    chosen = sessions_env(env)
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
