"""A separate agentkit process that calls one sandboxed tool: run as a script by the tests.

`python _sandbox_runner.py JOB` where JOB is JSON: `tool` (`python` or `shell`; or
`_sandbox_probe`, whether bubblewrap works here, and `_sandbox_run`, the sandbox itself run on
`argv` in `workdir`), `arguments`,
`out` (a file to write the result to: stdout may be a terminal under test), and optionally
`keyring_secret`: before the call, this process joins a session keyring of its own and adds
a key holding that secret to it, as a user's login session would hold one. Environment
settings (the sandbox mode, an API key) come from the environment the test gives it. In a
`python` call, `__AGENTKIT_PID__` in the code becomes this process's pid.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio

from agentkit.toolbox import _sandbox
from agentkit.tools import load_tools

# keyctl numbers (x86_64, aarch64), and its operations used here.
_KEYCTL = {"x86_64": 250, "aarch64": 219}
_ADD_KEY = {"x86_64": 248, "aarch64": 217}
_JOIN_SESSION_KEYRING = 1
_SESSION_KEYRING = -3


def _seed_keyring(secret: str) -> int:
    """Join a new session keyring and add a key with `secret` to it; the key's serial."""
    libc = ctypes.CDLL(None, use_errno=True)
    machine = os.uname().machine
    if libc.syscall(_KEYCTL[machine], _JOIN_SESSION_KEYRING, None) < 0:
        raise OSError(ctypes.get_errno(), "keyctl(JOIN_SESSION_KEYRING)")
    payload = secret.encode()
    serial: int = libc.syscall(
        _ADD_KEY[machine], b"user", b"agentkit-canary", payload, len(payload), _SESSION_KEYRING
    )
    if serial < 0:
        raise OSError(ctypes.get_errno(), "add_key")
    return serial


async def _call(job: dict[str, Any]) -> str:
    if job["tool"] == "_sandbox_probe":  # whether bubblewrap works for this process
        found = await _sandbox.find_bwrap()
        return found if isinstance(found, str) else "ok"
    if job["tool"] == "_sandbox_run":  # the sandbox itself, past any tool's argument check
        arguments = job["arguments"]
        limits = _sandbox.Limits(wall_seconds=20)
        outcome = await _sandbox.run(
            arguments["argv"], workdir=Path(arguments["workdir"]), limits=limits
        )
        return str(outcome.render())
    tools = {t.name: t for t in load_tools(job["tool"])}
    tool = tools[job["tool"]]
    if "code" in job["arguments"]:  # what an attacker would guess: pids come in order
        code = job["arguments"]["code"].replace("__AGENTKIT_PID__", str(os.getpid()))
        job["arguments"] = {**job["arguments"], "code": code}
    try:
        result = await tool.invoke(tool.validate(job["arguments"]), None)
    except Exception as exc:  # the test reads what the model would have been told
        return f"{type(exc).__name__}: {exc}"
    return str(result)


def main() -> None:
    job = json.loads(sys.argv[1])
    serial = _seed_keyring(job["keyring_secret"]) if job.get("keyring_secret") else None
    result = anyio.run(_call, job)
    with open(job["out"], "w", encoding="utf-8") as out:
        json.dump({"result": result, "pid": os.getpid(), "key": serial}, out)


if __name__ == "__main__":
    main()
