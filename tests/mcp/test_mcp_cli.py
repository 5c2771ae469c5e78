"""The command line with MCP: `--mcp`, `--mcp-config`, `agentkit tools --mcp`, `serve-mcp`.

Each test runs the real `agentkit` command in a child process on the offline model (no key,
no network), against the real edge server or mcp-server-time, and checks what it printed,
its exit status, and that no server process outlived it.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from _mcp_servers import EDGE, proc_alive, time_server

from agentkit.mcp import MCPServer

pytestmark = pytest.mark.slow

AGENTKIT = [sys.executable, "-m", "agentkit"]
EDGE_COMMAND = shlex.join([sys.executable, str(EDGE)])
ENDPOINT = ("AGENTKIT_API_KEY", "OPENAI_API_KEY", "AGENTKIT_BASE_URL", "OPENAI_BASE_URL")


def agentkit(
    *args: str, stdin: str = "", cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in (*ENDPOINT, "AGENTKIT_MODEL")}
    return subprocess.run(
        [*AGENTKIT, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=cwd,
        check=False,
    )


def config(tmp_path: Path, **servers: dict[str, Any]) -> str:
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"mcpServers": servers}), encoding="utf-8")
    return str(path)


def edge_entry(*allow: str) -> dict[str, Any]:
    return {"command": sys.executable, "args": [str(EDGE)], "allow": list(allow)}


def finished_calls(stdout: str) -> list[dict[str, Any]]:
    events = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    return [e for e in events if e["type"] == "tool_call_finished"]


def test_run_with_a_real_server_over_stdio() -> None:
    time_server()  # skips without mcp-server-time
    command = shlex.join([sys.executable, "-m", "mcp_server_time"])
    done = agentkit("run", "--offline", "--json", "--mcp", command, 'Time in "Asia/Tokyo"?')
    assert done.returncode == 0, done.stderr
    calls = {c["name"]: c for c in finished_calls(done.stdout)}
    assert json.loads(calls["get_current_time"]["result"])["timezone"] == "Asia/Tokyo"


def test_chat_starts_a_server_once_and_stops_it_at_the_end(tmp_path: Path) -> None:
    file = config(tmp_path, edge=edge_entry("pid"))
    done = agentkit("chat", "--offline", "--json", "--mcp-config", file, stdin="pid?\nagain?\n")
    assert done.returncode == 0, done.stderr
    first, second = (int(c["result"]) for c in finished_calls(done.stdout))
    assert first == second  # one server process for the whole chat
    assert not proc_alive(first)


def test_servers_of_an_agent_file_run_for_the_command(tmp_path: Path) -> None:
    agent_file = tmp_path / "mcp_agent.py"
    agent_file.write_text(
        "import sys\n"
        "from agentkit import Agent\n"
        "from agentkit.mcp import MCPServer\n"
        f"edge = MCPServer.stdio(sys.executable, [{str(EDGE)!r}], allow=['pid'])\n"
        "agent = Agent('offline', tools=[edge])\n",
        encoding="utf-8",
    )
    done = agentkit("run", "--json", str(agent_file), "pid?")
    assert done.returncode in (0, 3), done.stderr  # 3: answered offline, no endpoint set
    (call,) = finished_calls(done.stdout)
    assert not call["is_error"] and not proc_alive(int(call["result"]))


def test_tools_shows_what_the_model_gets_and_notes_approvals(tmp_path: Path) -> None:
    file = config(tmp_path, edge={**edge_entry("order", "wipe"), "prefix": "e_"})
    done = agentkit("tools", "--mcp-config", file)
    assert done.returncode == 0, done.stderr
    definitions = json.loads(done.stdout)
    assert [d["function"]["name"] for d in definitions] == ["e_order", "e_wipe"]
    assert "$ref" not in done.stdout  # inlined for Llama, as the model gets it
    assert "note: `e_wipe` asks for approval before each call" in done.stderr


def test_mistakes_and_failures_have_their_exit_status(tmp_path: Path) -> None:
    empty = agentkit("run", "--offline", "--mcp", " ", "hi")
    assert empty.returncode == 2 and "--mcp is empty" in empty.stderr
    bad_file = agentkit("tools", "--mcp-config", str(tmp_path / "missing.json"))
    assert bad_file.returncode == 2 and "missing.json" in bad_file.stderr
    missing = agentkit("run", "--offline", "--mcp", "/nonexistent/server --flag", "hi")
    assert missing.returncode == 1
    assert "could not start MCP server `server` (/nonexistent/server --flag)" in missing.stderr
    clash = config(tmp_path, a=edge_entry("pid"), b=edge_entry("pid"))
    named = agentkit("run", "--offline", "--mcp-config", clash, "hi")
    assert named.returncode == 2 and "two tools are named `pid`" in named.stderr


def test_verbose_shows_the_servers_stderr(tmp_path: Path) -> None:
    file = config(tmp_path, edge={**edge_entry("crash"), "restarts": 0})
    quiet = agentkit("run", "--offline", "--mcp-config", file, "crash it")
    loud = agentkit("run", "--offline", "-v", "--mcp-config", file, "crash it")
    assert quiet.returncode == loud.returncode == 0, loud.stderr
    assert "stderr: crashing now" in loud.stderr
    assert "crashing now" not in quiet.stderr
    assert "stopped during the call (it exited with status 7)" in quiet.stderr


@pytest.mark.anyio
async def test_serve_mcp_over_stdio_serves_tools_and_an_agent(tmp_path: Path) -> None:
    agent_file = tmp_path / "helper.py"
    agent_file.write_text(
        "from agentkit import Agent\n\n"
        "def shout(text: str) -> str:\n"
        '    """Say it loudly."""\n'
        "    return text.upper()\n\n"
        "agent = Agent('offline', tools=[shout], name='helper', description='Shouts.')\n",
        encoding="utf-8",
    )
    server = MCPServer.stdio(
        sys.executable, ["-m", "agentkit", "serve-mcp", "calculator", str(agent_file)]
    )
    async with server:
        assert [t.name for t in await server.list_tools()] == ["calculate", "helper"]
        assert await server.call_tool("calculate", {"expression": "17 * 23"}) == "391"
        answer = await server.call_tool("helper", {"prompt": 'shout "hello"'})
        assert "HELLO" in answer


def test_serve_mcp_over_http_until_ctrl_c() -> None:
    command = [*AGENTKIT, "serve-mcp", "--http", "127.0.0.1:0", "clock"]
    with subprocess.Popen(command, stderr=subprocess.PIPE, text=True) as serving:
        try:
            assert serving.stderr is not None
            line = serving.stderr.readline()
            assert line.startswith("agentkit: serving 4 tools over MCP at http://127.0.0.1:")
            url = line.split(" at ", 1)[1].strip()
            listed = agentkit("tools", "--mcp", url)
            assert listed.returncode == 0, listed.stderr
            assert "weekday" in [d["function"]["name"] for d in json.loads(listed.stdout)]
            serving.send_signal(signal.SIGINT)
            assert serving.wait(timeout=20) == 130
        finally:
            if serving.poll() is None:
                serving.kill()


def test_serve_mcp_says_what_is_wrong() -> None:
    bad = agentkit("serve-mcp", "--http", "localhost", "calculator")
    assert bad.returncode == 2 and "is not HOST:PORT" in bad.stderr
    unknown = agentkit("serve-mcp", "no_such_tools")
    assert unknown.returncode == 2 and "no_such_tools" in unknown.stderr


def test_ctrl_c_in_chat_cancels_the_turn_and_its_mcp_call_not_the_server(tmp_path: Path) -> None:
    file = config(tmp_path, edge=edge_entry("sleep", "events"))
    command = [*AGENTKIT, "chat", "--offline", "--json", "--mcp-config", file]
    env = {k: v for k, v in os.environ.items() if k not in (*ENDPOINT, "AGENTKIT_MODEL")}
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    ) as chat:
        try:
            assert chat.stdin is not None and chat.stdout is not None
            chat.stdin.write("sleep 30 seconds\n")
            chat.stdin.flush()
            for line in chat.stdout:
                if '"tool_call_started"' in line:
                    break
            time.sleep(1.0)  # the call reaches the server (a second is plenty, not a measure)
            chat.send_signal(signal.SIGINT)  # cancels the turn, and so its MCP call
            chat.stdin.write("events\n")
            chat.stdin.close()
            rest = chat.stdout.read()
            assert chat.wait(timeout=30) == 0
        finally:
            if chat.poll() is None:
                chat.kill()
    (events,) = (c for c in finished_calls(rest) if c["name"] == "events")
    # The same server process heard the call cancelled, then answered the next turn.
    assert json.loads(events["result"]) == ["sleep started", "sleep cancelled"]
