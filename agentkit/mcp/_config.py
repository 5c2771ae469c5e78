"""The `mcpServers` JSON file (as Claude Desktop, Cursor and pydantic-ai write it).

```json
{"mcpServers": {
  "time": {"command": "uvx", "args": ["mcp-server-time"], "env": {"TZ": "${TZ:-UTC}"}},
  "docs": {"url": "https://example.com/mcp", "headers": {"Authorization": "Bearer ${TOKEN}"}}
}}
```

`${NAME}` is replaced by the environment variable (an error when it is not set) and
`${NAME:-default}` by it or the default, in every string of a server's entry. A relative
`cwd` is taken from the file's folder. Keys other tools add (`disabled`, `autoApprove`, ...)
are ignored, except `disabled: true`, which leaves the server out; a key that is a near miss
of a known one (`arg`) is reported as a likely typo. agentkit's own keys: `prefix`, `allow`,
`deny`, `timeout`.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentkit import UserError, _env

__all__ = ["ServerEntry", "read_config"]

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_STDIO_KEYS = {"command", "args", "env", "cwd"}
_HTTP_KEYS = {"url", "headers"}
_OWN_KEYS = {"type", "prefix", "allow", "deny", "timeout", "disabled"}
_KNOWN = _STDIO_KEYS | _HTTP_KEYS | _OWN_KEYS
_TYPES = {"stdio": "stdio", "http": "http", "streamable-http": "http", "streamableHttp": "http"}


@dataclass
class ServerEntry:
    """One server of the file, checked and with its variables expanded."""

    name: str
    command: str | None = None
    args: list[str] = field(default_factory=list)
    env: dict[str, str] | None = None
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


def read_config(path: str | os.PathLike[str]) -> list[ServerEntry]:
    """The enabled servers of an `mcpServers` file, in the file's order.

    Raises:
        UserError: The file is missing or not valid; every problem is listed, each naming
            the server and the field.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"MCP config {file}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"MCP config {file}: cannot be read ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(
            f"MCP config {file}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    servers = data.get("mcpServers") if isinstance(data, dict) else None
    if not isinstance(servers, dict):
        raise UserError(
            f'MCP config {file}: expected an object with "mcpServers": '
            '{"NAME": {"command": ..., "args": [...]} or {"url": ...}, ...}'
        )
    problems: list[str] = []
    entries = []
    for name, raw in servers.items():
        entry = _entry(name, raw, file.parent, problems)
        if entry is not None:
            entries.append(entry)
    if problems:
        raise UserError(f"MCP config {file} is not valid:", problems)
    return entries


def _entry(name: str, raw: Any, folder: Path, problems: list[str]) -> ServerEntry | None:
    where = f"server {name!r}"
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected an object, got {_kind(raw)}")
        return None
    if raw.get("disabled") is True:
        return None
    before = len(problems)
    for key in raw:
        close = difflib.get_close_matches(key, _KNOWN, n=1, cutoff=0.75)
        if key not in _KNOWN and close:
            problems.append(f"{where}: unknown field {key!r} (did you mean {close[0]!r}?)")
    raw = {k: _expand(v, f"{where}, field {k!r}", problems) for k, v in raw.items()}
    kind = _kind_of(raw, where, problems)
    entry = ServerEntry(name)
    if kind == "stdio":
        entry.command = _string(raw, "command", where, problems)
        entry.args = _strings(raw, "args", where, problems)
        entry.env = _mapping(raw, "env", where, problems) if "env" in raw else None
        cwd = _string(raw, "cwd", where, problems, required=False)
        entry.cwd = str(folder / cwd) if cwd else None
    elif kind == "http":
        entry.url = _string(raw, "url", where, problems)
        entry.headers = _mapping(raw, "headers", where, problems)
        if entry.url and not entry.url.startswith(("http://", "https://")):
            problems.append(f"{where}, field 'url': expected an http:// or https:// URL")
    for key in ("prefix", "timeout"):
        if key in raw:
            entry.options[key] = raw[key]
    for key in ("allow", "deny"):
        if key in raw:
            entry.options[key] = tuple(_strings(raw, key, where, problems))
    return entry if len(problems) == before else None


def _kind_of(raw: dict[str, Any], where: str, problems: list[str]) -> str | None:
    declared = raw.get("type")
    if declared == "sse":
        problems.append(
            f"{where}, field 'type': the SSE transport is not supported (it is deprecated); "
            "use the server's Streamable HTTP endpoint"
        )
        return None
    if declared is not None and declared not in _TYPES:
        known = ", ".join(repr(t) for t in _TYPES)
        problems.append(f"{where}, field 'type': {declared!r} is not one of {known}")
        return None
    kind = _TYPES.get(declared) if isinstance(declared, str) else None
    if kind is None:
        if "command" in raw and "url" in raw:
            problems.append(f"{where}: give either 'command' (stdio) or 'url' (HTTP), not both")
            return None
        if "command" not in raw and "url" not in raw:
            problems.append(f"{where}: missing 'command' (a stdio server) or 'url' (HTTP)")
            return None
        kind = "stdio" if "command" in raw else "http"
    return kind


def _expand(value: Any, where: str, problems: list[str]) -> Any:
    if isinstance(value, str):

        def variable(match: re.Match[str]) -> str:
            found = _env.variable(match.group(1))
            if found is not None:
                return found
            if match.group(2) is not None:
                return match.group(2)
            problems.append(
                f"{where}: environment variable {match.group(1)} is not set "
                f"(set it, or write ${{{match.group(1)}:-default}})"
            )
            return ""

        return _VAR.sub(variable, value)
    if isinstance(value, list):
        return [_expand(item, where, problems) for item in value]
    if isinstance(value, dict):
        return {k: _expand(v, where, problems) for k, v in value.items()}
    return value


def _string(
    raw: Mapping[str, Any], key: str, where: str, problems: list[str], *, required: bool = True
) -> str | None:
    value = raw.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        field = f"{where}, field {key!r}:"
        if not any(p.startswith(field) for p in problems):  # an unset variable said it already
            problems.append(f"{field} expected a non-empty string, got {_kind(value)}")
        return None
    return value


def _strings(raw: Mapping[str, Any], key: str, where: str, problems: list[str]) -> list[str]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"{where}, field {key!r}: expected a list of strings, got {_kind(value)}")
        return []
    return list(value)


def _mapping(raw: Mapping[str, Any], key: str, where: str, problems: list[str]) -> dict[str, str]:
    value = raw.get(key, {})
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        problems.append(
            f"{where}, field {key!r}: expected an object of strings, got {_kind(value)}"
        )
        return {}
    return dict(value)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    text = json.dumps(value, default=repr)
    return f"{type(value).__name__} {text[:60]}"
