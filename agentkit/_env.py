"""Every environment variable agentkit reads, in one place.

| variable | what it sets |
|---|---|
| AGENTKIT_BASE_URL, else OPENAI_BASE_URL | the endpoint when `base_url` is not given |
| AGENTKIT_API_KEY, else OPENAI_API_KEY | the key when `api_key` is not given |
| AGENTKIT_MODEL | the model id of demos and agent files that ask `model_from_env()` |
| XDG_STATE_HOME | where `agentkit chat` keeps its input history (`~/.local/state` when unset) |
| OTEL_EXPORTER_OTLP_ENDPOINT | `--otel`: the collector (its exporters read OTEL_* too) |
| OTEL_SERVICE_NAME | `--otel`: the service name, default "agentkit" |
| AGENTKIT_SESSIONS | the sessions database (else the data folder: XDG_DATA_HOME, HOME...) |
| any `${NAME}` in an `mcpServers` file | its value there (`agentkit.mcp`, through `variable()`) |
| XDG_CACHE_HOME | where `agentkit probe` keeps its findings (default `~/.cache`) |
| BRAVE_SEARCH_API_KEY, else BRAVE_API_KEY | the `brave_search` tool's Brave Search API key |
| WOLFRAM_ALPHA_APP_ID, else WOLFRAM_ALPHA_APPID | the `wolfram_alpha` tool's app id |

Nothing else in `agentkit` reads `os.environ`; the ready-made tools read their own settings
(`AGENTKIT_FILES_ROOT`, `AGENTKIT_SANDBOX`, ...) through `setting()`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MODEL",
    "ENDPOINT_VARIABLES",
    "api_key",
    "base_url",
    "cache_home",
    "endpoint_configured",
    "model_from_env",
    "otlp_endpoint",
    "overridden",
    "sessions_db",
    "setting",
    "settings",
    "variable",
]

DEFAULT_BASE_URL = "https://api.haimaker.ai/v1"
DEFAULT_MODEL = "meta-llama/llama-3.1-70b-instruct"
# Any of these set means an endpoint is configured.
ENDPOINT_VARIABLES = ("AGENTKIT_API_KEY", "OPENAI_API_KEY", "AGENTKIT_BASE_URL", "OPENAI_BASE_URL")


def setting(name: str) -> str | None:
    """The variable's value; None when unset or empty (an empty value sets nothing)."""
    return os.environ.get(name) or None


def variable(name: str) -> str | None:
    """The variable's value as set (an empty value too); None only when unset."""
    return os.environ.get(name)


def base_url() -> str | None:
    """The endpoint the environment names: AGENTKIT_BASE_URL, else OPENAI_BASE_URL."""
    return setting("AGENTKIT_BASE_URL") or setting("OPENAI_BASE_URL")


def api_key() -> str | None:
    """The key the environment holds: AGENTKIT_API_KEY, else OPENAI_API_KEY."""
    return setting("AGENTKIT_API_KEY") or setting("OPENAI_API_KEY")


def otlp_endpoint() -> str | None:
    """The OTLP collector `--otel` sends to: OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT."""
    return setting("OTEL_EXPORTER_OTLP_ENDPOINT") or setting("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def cache_home() -> Path:
    """The user's cache folder: XDG_CACHE_HOME, else ~/Library/Caches on macOS, LOCALAPPDATA
    on Windows, ~/.cache elsewhere."""
    chosen = setting("XDG_CACHE_HOME")
    if chosen:
        return Path(chosen)
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches"
    if sys.platform == "win32" and (local := setting("LOCALAPPDATA")):
        return Path(local)
    return Path.home() / ".cache"


def endpoint_configured() -> bool:
    """Whether the environment names an endpoint (an API key or a base URL)."""
    return any(setting(v) for v in ENDPOINT_VARIABLES)


def model_from_env(default: str = DEFAULT_MODEL) -> str:
    """The model id for demos and scripts that should run anywhere.

    AGENTKIT_MODEL when set; else `default` when an endpoint is configured (an API key or a
    base URL in the environment); else "offline", the built-in offline model.
    """
    chosen = setting("AGENTKIT_MODEL")
    if chosen:
        return chosen
    return default if endpoint_configured() else "offline"


def settings(names: Iterable[str]) -> dict[str, str]:
    """The named variables that are set, for code that takes an environment as a mapping."""
    return {name: os.environ[name] for name in names if name in os.environ}


def sessions_db(environ: Mapping[str, str] | None = None) -> str | None:
    """AGENTKIT_SESSIONS (from `environ` when given): the sessions database; None when unset."""
    value = (os.environ if environ is None else environ).get("AGENTKIT_SESSIONS", "")
    return value.strip() or None


@contextmanager
def overridden(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the block only (the CLI's choices, for an agent file)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
