"""agentkit.mcp as a package: an optional extra with a clear error, and its public names."""

from __future__ import annotations

import subprocess
import sys

import _mcp_servers  # noqa: F401 - skips this module without the SDK

import agentkit.mcp


def test_missing_sdk_names_the_extra_to_install() -> None:
    # `sys.modules["mcp"] = None` makes `import mcp` fail as if it were not installed.
    code = "import sys; sys.modules['mcp'] = None; import agentkit.mcp"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert run.returncode == 1
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: agentkit.mcp needs the MCP SDK")
    assert "pip install 'agentkit-llama[mcp]'" in last


def test_agentkit_itself_imports_without_the_sdk() -> None:
    code = "import sys; sys.modules['mcp'] = None; import agentkit; print(agentkit.Agent)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr


def test_public_names_are_sorted_and_exported() -> None:
    names = agentkit.mcp.__all__
    assert names == sorted(names)
    assert set(names) == {
        "MCPServer",
        "MCPServerError",
        "ServerOptions",
        "agent_tool",
        "mcp_server",
        "serve_http",
        "serve_stdio",
    }
    for name in names:
        assert getattr(agentkit.mcp, name) is not None
    assert issubclass(agentkit.mcp.MCPServerError, agentkit.AgentkitError)
