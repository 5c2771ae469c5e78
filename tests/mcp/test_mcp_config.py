"""`MCPServer.from_config`: the `mcpServers` JSON file, `${ENV}` expansion, clear errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from _mcp_servers import EDGE

from agentkit import UserError
from agentkit.mcp import MCPServer


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "mcp.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def problems_of(path: Path) -> str:
    with pytest.raises(UserError) as info:
        MCPServer.from_config(path)
    return str(info.value)


@pytest.mark.anyio
@pytest.mark.slow
async def test_a_config_server_runs_with_its_expanded_args_env_and_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKEN", "s3cret")
    monkeypatch.delenv("NOT_SET", raising=False)
    (tmp_path / "work").mkdir()
    path = write(
        tmp_path,
        {
            "mcpServers": {
                "edge": {
                    "command": sys.executable,
                    "args": [str(EDGE), "--ttl-ms=${NOT_SET:-0}"],
                    "env": {"AUTH": "Bearer ${TOKEN}"},
                    "cwd": "work",
                    "prefix": "e_",
                    "allow": ["get*", "cwd"],
                    "autoApprove": ["x"],  # another client's key: ignored
                },
                "off": {"command": "nothing", "disabled": True},
                "docs": {
                    "type": "streamable-http",
                    "url": "http://127.0.0.1:9/mcp",
                    "headers": {"Authorization": "Bearer ${TOKEN}"},
                },
            }
        },
    )
    server, docs = MCPServer.from_config(path)
    assert (server.name, docs.name) == ("edge", "docs")
    assert "http://127.0.0.1:9/mcp" in repr(docs)
    assert "--ttl-ms=0" in repr(server)
    async with server:
        assert [t.name for t in await server.list_tools()] == ["e_cwd", "e_getenv"]
        assert await server.call_tool("getenv", {"name": "AUTH"}) == "Bearer s3cret"
        # agentkit's own environment stays out of the server's unless the config puts it in
        assert await server.call_tool("getenv", {"name": "TOKEN"}) == "(not set)"
        assert await server.call_tool("cwd") == str(tmp_path / "work")


def test_options_given_to_from_config_apply_to_every_server(tmp_path: Path) -> None:
    path = write(tmp_path, {"mcpServers": {"a": {"command": "a"}, "b": {"command": "b"}}})
    with pytest.raises(UserError) as info:
        MCPServer.from_config(path, restarts=-1)
    assert "server 'a': MCP server `a` is not valid:" in str(info.value)
    assert "server 'b': MCP server `b` is not valid:" in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    assert (
        problems_of(tmp_path / "nope.json") == f"MCP config {tmp_path / 'nope.json'}: no such file"
    )


def test_invalid_json_says_where(tmp_path: Path) -> None:
    text = problems_of(write(tmp_path, '{"mcpServers": {\n  "a": {"command": "x",}\n}}'))
    assert "mcp.json: not valid JSON (line 2, column" in text


def test_no_mcp_servers_object(tmp_path: Path) -> None:
    text = problems_of(write(tmp_path, {"servers": {}}))
    assert 'expected an object with "mcpServers"' in text


def test_every_problem_names_the_file_the_server_and_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MISSING_VAR", raising=False)
    path = write(
        tmp_path,
        {
            "mcpServers": {
                "both": {"command": "x", "url": "http://h/mcp"},
                "neither": {"args": []},
                "badargs": {"command": "x", "args": "one two"},
                "typo": {"command": "x", "arg": ["y"]},
                "env": {"command": "x", "env": {"KEY": "${MISSING_VAR}"}},
                "sse": {"type": "sse", "url": "http://h/sse"},
                "ftp": {"url": "ftp://h/mcp"},
                "slow": {"command": "x", "timeout": -1},
                "notobject": ["x"],
            }
        },
    )
    text = problems_of(path)
    assert text.startswith(f"MCP config {path} is not valid:")
    for expected in [
        "server 'both': give either 'command' (stdio) or 'url' (HTTP), not both",
        "server 'neither': missing 'command' (a stdio server) or 'url' (HTTP)",
        "server 'badargs', field 'args': expected a list of strings, got str",
        "server 'typo': unknown field 'arg' (did you mean 'args'?)",
        "server 'env', field 'env': environment variable MISSING_VAR is not set",
        "server 'sse', field 'type': the SSE transport is not supported",
        "server 'ftp', field 'url': expected an http:// or https:// URL",
        "server 'notobject': expected an object, got list",
    ]:
        assert expected in text, expected
    # An unset variable as the whole command is said once, not again as an empty command.
    unset = write(tmp_path, {"mcpServers": {"cmd": {"command": "${MISSING_VAR}"}}})
    lines = [line for line in problems_of(unset).splitlines() if "server 'cmd'" in line]
    assert len(lines) == 1 and "MISSING_VAR is not set" in lines[0], lines
    # The option check runs when the servers are made, and still names the file and server.
    fixed = write(tmp_path, {"mcpServers": {"slow": {"command": "x", "timeout": -1}}})
    text = problems_of(fixed)
    assert f"MCP config {fixed} is not valid:" in text
    assert "server 'slow': MCP server `slow` is not valid:" in text
    assert "timeout must be a positive number of seconds or None: -1" in text


def test_bad_options_are_all_reported_at_construction() -> None:
    with pytest.raises(UserError) as info:
        MCPServer.stdio(
            "x",
            name="bad",
            prefix="no spaces",
            timeout=0,
            restarts=-1,
            protocol="2099",  # type: ignore[typeddict-item]
            require_approval="sometimes",  # type: ignore[typeddict-item]
            colour="red",  # type: ignore[typeddict-unknown-key]
        )
    text = str(info.value)
    assert text.startswith("MCP server `bad` is not valid:")
    for fragment in [
        "unknown option 'colour'",
        "prefix must be",
        "timeout must be",
        "restarts must be",
        "protocol must be",
        "require_approval must be",
    ]:
        assert fragment in text, fragment
    with pytest.raises(UserError, match="must start with http:// or https://"):
        MCPServer.http("127.0.0.1:80/mcp")
    with pytest.raises(UserError, match="args must be a list of strings"):
        MCPServer.stdio("uvx", "mcp-server-time")  # type: ignore[arg-type]
