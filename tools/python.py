"""Run Python code the model writes, in an isolated throwaway sandbox.

Offers one tool, `python`, which always requires the user's approval. The code runs as a
script in a fresh interpreter (`python -I -u`): the interpreter agentkit runs on, with its
standard library and base-installation packages (not the virtualenv's).

Security model (details in `_sandbox.py`, shared with the `shell` tool): under bubblewrap the
code has no network, sees a read-only system and nothing of the host's files (no home folder,
no project, no `/etc` beyond what the dynamic linker needs), writes only to a private,
size-capped `/tmp` that is discarded afterwards, runs as an unprivileged user without
capabilities (as root, a uid of its own for each call), cannot create user namespaces, gets
a clean environment (no API keys) and a new, empty session keyring, and can use neither
keyrings nor System V IPC, message queues or memfd (kernel state that would outlive the
call or escape the memory cap).
Resource limits (CPU time, memory per process and for all its processes together, file size,
processes, open files), a wall-clock limit and an output cap stop runaway code, and when the
program ends, times out or is cancelled, every process it started is killed.

Without a working bubblewrap the tool refuses to run anything, unless the user set
`AGENTKIT_SANDBOX=rlimits`, which allows rlimits-only mode: no namespaces, but Landlock (the
code reads only the system and writes only its temporary folder), no network sockets, the
same limits and filter, and as root a uid of its own; it is refused where the kernel cannot
give that (see `_sandbox_rlimits.py`). The result always names the mode used.
"""

from __future__ import annotations

from agentkit.errors import ModelRetry
from agentkit.tools import tool

from . import _sandbox

_LIMITS = _sandbox.Limits()
_MAX_CODE_BYTES = 100_000


@tool(requires_approval=True, timeout=_LIMITS.wall_seconds + 30)
async def python(code: str) -> str:
    """Run a Python 3 program in an isolated sandbox and return its output and exit status.

    Each call starts a fresh interpreter with nothing kept between calls. Print the results
    you need: only stdout, stderr and the exit status come back. The sandbox has no network
    and no access to the user's files; only /tmp is writable. Standard library only. Limits:
    30 s wall clock, 20 s CPU, 512 MiB memory for all its processes together, 16 MiB per
    file, 16 KiB of output per stream. Background processes are killed when the program ends.

    Args:
        code: The complete Python source to run as a script, e.g. "print(sum(range(10)))".

    Returns:
        The sandbox mode, the exit status, any notes (timeout, truncated output, a limit
        reached), then stdout and stderr.
    """
    source = _checked(code)
    # The source goes in on stdin, not in argv: other users on the host can read command lines.
    command = [_sandbox.interpreter(), "-I", "-u", "-X", "utf8", "-"]
    outcome = await _sandbox.run(command, stdin=source, limits=_LIMITS)
    return str(outcome.render())


def _checked(code: str) -> bytes:
    """The source as UTF-8, when it can run; otherwise ModelRetry saying what to change."""
    if not code.strip():
        raise ModelRetry("`code` is empty: pass the complete Python source to run.")
    if "\x00" in code:
        raise ModelRetry("`code` contains a NUL character: remove it and send plain source.")
    source = code.encode("utf-8", errors="replace")
    if len(source) > _MAX_CODE_BYTES:
        raise ModelRetry(
            f"`code` is {len(source)} bytes; the limit is {_MAX_CODE_BYTES}. Send a shorter "
            "program (generate large data in the code instead of pasting it)."
        )
    return source
