"""The sandbox shared by the `python` and `shell` tool modules (not a tool module itself).

`run(command, ...)` runs an argv in a throwaway sandbox and returns an `Outcome` whose
`render()` is the text the model reads. Two modes, and the outcome always names the one used:

**bubblewrap** (the default, and required unless the user opts out): `bwrap` builds new
mount, network, pid, ipc, uts (and cgroup, where possible) namespaces. Inside:

- no network at all (`--unshare-net`: only a loopback interface that is down);
- a read-only system: `/usr` and the `/bin`, `/sbin`, `/lib*` links or folders, the few
  `/etc` files the dynamic linker needs, and the Python installation prefix when it lives
  outside `/usr` (so the `python` tool runs the interpreter agentkit itself runs on, with the
  standard library and the base installation's packages, not the virtualenv's);
- a private, size-capped tmpfs on `/tmp` (also `HOME`), the only writable place, discarded
  at the end (bwrap's own tmpfs mounts for the root and `/dev`, which have no size limit and
  belong to the sandbox user in a user namespace, are remounted read-only); the `shell` tool
  also sees one folder read-only at `/work`;
- a fresh `/proc` (only the sandbox's own processes) and a minimal `/dev`;
- a clean environment (`--clearenv`, then `PATH`, `HOME`, `LANG`, `TMPDIR` only): API keys and
  other secrets in agentkit's environment never reach the code, nor bwrap itself;
- the code runs without capabilities and with `no_new_privs`: when agentkit runs as root, as
  a uid and gid of its own (`_sandbox_command.run_uid`: from a reserved range, unknown to the
  system, used by no process, a new one per call), to which the launcher drops (bwrap keeps
  only CAP_SETUID/CAP_SETGID for it; a user namespace is not used, as bwrap would map the
  sandbox user to host root), so `RLIMIT_NPROC` applies (the kernel exempts uid 0) and nothing
  it leaves in the kernel under its uid is ever seen by another call; otherwise as uid 65534
  in bwrap's user namespace (`--unshare-user`, and `--disable-userns` when it has it);
- no nested user namespaces, in either case, and none of the kernel state that outlives a
  call or escapes the memory cap: the seccomp filter (`_sandbox_seccomp.py`, installed by the
  launcher) refuses them, and keyrings, System V IPC, POSIX message queues, memfd, ptrace,
  io_uring and bpf; without a filter (a machine other than x86_64 or aarch64) bubblewrap is
  accepted only when not root and with `--disable-userns`. So the code cannot become root in
  a namespace of its own, mount its own filesystems (a second, uncapped /tmp) or reach the
  kernel code only such a root can;
- a new, empty session keyring (the launcher joins one): the keys of agentkit's session are
  not reachable, and none can be added;
- the run's own memory cgroup where one can be made (`_sandbox_cgroup.py`: as root on cgroup
  v1, or where v2 delegates the memory controller): the kernel holds the run to its memory
  limit, counting what no process has resident too (files in /tmp, pipe buffers);
- `--die-with-parent` and `--new-session` (no terminal injection): when agentkit or bwrap
  goes, everything in the sandbox goes, and when the main program ends, the pid namespace
  ends with it, so no process can linger.

**rlimits-only**, only when bubblewrap is missing or cannot create namespaces and the user set
`AGENTKIT_SANDBOX=rlimits`: no namespaces, so its isolation rests on Landlock, a uid of its
own as root, and the seccomp filter, which there also refuses `socket`; when the machine
cannot give what it needs (Landlock; ABI 6 as a normal user) the call is refused, saying
why. `_sandbox_rlimits.py` describes it. The launcher stays, as a child subreaper outside the
Landlock domain: every process the code starts remains below it, even one that leaves its
session, so the memory cap counts it and the end of the call kills it; the code can neither
signal the launcher nor agentkit.

In both modes a small launcher (`_sandbox_launcher.py`, run as `python -I -S -c`) sets the
resource limits before it executes the command: CPU time, address space, file size,
processes, open files, message queues and core dumps (see `Limits`). agentkit also enforces a
wall-clock limit, an output cap, and a memory cap for all the run's processes together
(measured in /proc every 50 ms, besides the cgroup's): on any of them, or when the call is
cancelled (agentkit's tool timeout), the run is killed with SIGKILL (under bubblewrap its
init, which takes the whole pid namespace with it; otherwise every process below the
launcher; and in both every process of its cgroup and uid), and the call returns only once
its processes are gone. When the program ends, processes it left running (rlimits-only mode;
under bubblewrap the pid namespace ends with it) get a second to finish, then are killed,
and the outcome says so (and says so too if any could not be killed).

This module holds the settings, the choice of mode (probing bubblewrap once), the launcher's
plan both modes share, and the running of bubblewrap mode. It loads its siblings: the command
lines (the bwrap options above and the launcher's) are built in `_sandbox_command.py`; the
seccomp filter is `_sandbox_seccomp.py`; the cgroup `_sandbox_cgroup.py`; rlimits-only mode
`_sandbox_rlimits.py`; and running a command line (limits, output caps, deadline, killing and
reaping, the outcome) is `_sandbox_process.py`, which keeps a run's processes with
`_sandbox_proctree.py`.

Settings (environment, read at each call):
    AGENTKIT_SANDBOX: `bwrap` (default: bubblewrap or refuse) or `rlimits` (allow the fallback).
    AGENTKIT_BWRAP: path of the bwrap binary to use (default: `bwrap` on PATH).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from agentkit import _env

from . import (
    _sandbox_cgroup as _cgroup,
    _sandbox_command as _command,
    _sandbox_process as _process,
    _sandbox_rlimits as _rlimits,
    _sandbox_seccomp as _seccomp,
)

# Defined with the run (an outcome names its mode); used here, and by the `python` and `shell`
# modules as `_sandbox.Limits`.
Limits = _process.Limits
Outcome = _process.Outcome
MODE_ENV = _process.MODE_ENV
BUBBLEWRAP = _process.BUBBLEWRAP
RLIMITS_ONLY = _process.RLIMITS_ONLY

BWRAP_ENV = "AGENTKIT_BWRAP"
_PROBE_SECONDS = 20.0


SandboxUnavailable = _rlimits.SandboxUnavailable


# ---------------------------------------------------------------------------- locating things


def interpreter() -> str:
    """The Python interpreter the sandbox runs: the base installation of the current one."""
    candidate = getattr(sys, "_base_executable", "") or sys.executable
    return os.path.abspath(candidate)


def _python_problem() -> str | None:
    too_broad = {"/", "/home", "/root", os.path.expanduser("~")}
    roots = _command.python_roots()
    for root in roots:
        if root in too_broad:
            return f"the Python prefix {root} is too broad to share read-only with the sandbox"
    exe = interpreter()
    if not any(_command.under(exe, d) for d in (*_command.SYSTEM_DIRS, *roots)):
        return f"the interpreter {exe} lies outside {', '.join(roots)}"
    return None


def bwrap_path() -> str | None:
    """The bwrap binary: `AGENTKIT_BWRAP` when set, else `bwrap` on PATH; None if missing."""
    configured = (_env.setting(BWRAP_ENV) or "").strip()
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    return shutil.which("bwrap")


# ---------------------------------------------------------------------------- command lines


@dataclass(frozen=True)
class _Bwrap:
    """A bwrap binary that works here, and the options it understands."""

    path: str
    features: frozenset[str]


def plan(
    limits: Limits,
    *,
    uid: int | None,
    cgroup_fd: int | None,
    network: bool,
    shares_uid: bool = False,
) -> dict[str, Any]:
    """What the launcher sets up in both modes (`_sandbox_rlimits.py` adds its own parts)."""
    rules = _seccomp.sandbox_filter(network=network, shares_uid=shares_uid)
    return {
        "limits": limits.launcher_limits(),
        "uid": uid,
        "gid": uid,
        "cgroup_fd": cgroup_fd,
        "keyctl": _seccomp.syscall_number("keyctl"),
        "seccomp": rules.hex() if rules is not None else None,
    }


# ---------------------------------------------------------------------------- running


async def _run_bwrap(
    bwrap: _Bwrap,
    command: Sequence[str],
    workdir: Path | None,
    limits: Limits,
    stdin: bytes | None = None,
    hidden: Sequence[str] = (),
) -> Outcome:
    as_root = os.geteuid() == 0
    # As root the code runs as a uid of its own (bwrap makes no user namespace then); else as
    # 65534 in bwrap's user namespace, which is the user's own uid outside it.
    uid = _command.run_uid() if as_root else None
    cgroup = _cgroup.create(limits.memory_bytes)
    fds: list[int] = []
    try:
        info = os.pipe()
        fds += info
        os.set_blocking(info[0], False)
        passed = [info[1]]
        cgroup_fd = None
        if cgroup is not None:
            cgroup_fd = cgroup.procs_fd()
            fds.append(cgroup_fd)
            passed.append(cgroup_fd)
        launcher = _command.launcher_argv(
            interpreter(), command, plan(limits, uid=uid, cgroup_fd=cgroup_fd, network=True)
        )
        argv = _command.bwrap_argv(
            bwrap.path,
            bwrap.features,
            launcher,
            as_root=as_root,
            workdir=workdir,
            tmp_bytes=limits.tmp_bytes,
            info_fd=info[1],
            hidden=hidden,
        )
        env = _command.sandbox_env("/")
        return await _process.execute(
            argv,
            cwd=None,
            env=env,
            limits=limits,
            mode=BUBBLEWRAP,
            stdin=stdin,
            info=info[0],
            pass_fds=passed,
            cgroup=cgroup,
            uid=uid,
        )
    finally:
        for fd in fds:
            os.close(fd)
        if cgroup is not None:
            cgroup.remove()


_PROBED: dict[tuple[str, int, str], _Bwrap | str] = {}


async def find_bwrap() -> _Bwrap | str:
    """A working bubblewrap, or why there is none (checked once per binary, uid, interpreter)."""
    bwrap = bwrap_path()
    if bwrap is None:
        where = (_env.setting(BWRAP_ENV) or "").strip() or "`bwrap` on PATH"
        return f"bubblewrap is not installed (looked for {where})"
    key = (bwrap, os.geteuid(), interpreter())
    if key not in _PROBED:
        _PROBED[key] = await _probe(bwrap)
    return _PROBED[key]


async def _probe(bwrap: str) -> _Bwrap | str:
    problem = _python_problem()
    if problem is not None:
        return problem
    env = _command.sandbox_env("/")
    try:
        with anyio.fail_after(_PROBE_SECONDS):
            shown = await anyio.run_process([bwrap, "--help"], env=env, check=False)
    except (OSError, TimeoutError) as exc:
        return f"bubblewrap at {bwrap} cannot be started: {exc}"
    text = (shown.stdout + shown.stderr).decode("utf-8", errors="replace")
    if "--perms" not in text:
        return f"bubblewrap at {bwrap} is too old (it lacks --perms; 0.5 or newer is needed)"
    found = _Bwrap(bwrap, frozenset(o for o in ("--size", "--disable-userns") if o in text))
    guard = _seccomp.userns_guard(found.features)
    if guard is not None:
        return guard
    limits = Limits(wall_seconds=_PROBE_SECONDS)
    command = [interpreter(), "-I", "-S", "-c", "print('ok')"]
    outcome = await _run_bwrap(found, command, None, limits)
    if outcome.status == 0 and outcome.stdout.strip() == b"ok":
        return found
    detail = outcome.stderr.decode("utf-8", errors="replace").strip().splitlines()
    reason = detail[-1] if detail else f"exit status {outcome.status}"
    return f"bubblewrap at {bwrap} cannot create its sandbox here ({reason})"


async def choose_mode() -> _Bwrap | None:
    """A working bubblewrap; None when rlimits-only mode is allowed; else SandboxUnavailable."""
    setting = (_env.setting(MODE_ENV) or "").strip().lower() or "bwrap"
    if setting not in ("bwrap", "rlimits"):
        raise SandboxUnavailable(
            f"{MODE_ENV}={setting!r} is not a sandbox mode: use 'bwrap' (the default: "
            "bubblewrap or nothing) or 'rlimits' (allow the rlimits-only fallback)"
        )
    found = await find_bwrap()
    if isinstance(found, _Bwrap):
        return found
    if setting == "rlimits":
        return None
    problem = found
    raise SandboxUnavailable(
        f"{problem}, so the code was not run: it is never run without isolation unless the "
        f"user allows it. Tell the user; do not retry. The user can install bubblewrap "
        f"(e.g. `apt-get install bubblewrap`) where user namespaces are allowed, or set "
        f"{MODE_ENV}=rlimits to accept rlimits-only mode (Landlock, seccomp and limits instead of "
        "namespaces: see the README's safety table)."
    )


async def run(
    command: Sequence[str],
    *,
    stdin: bytes | None = None,
    workdir: Path | None = None,
    limits: Limits | None = None,
    hidden: Sequence[str] = (),
) -> Outcome:
    """Run `command` (an argv, resolved on the sandbox's PATH) in the best allowed sandbox.

    Args:
        command: The program and its arguments.
        stdin: Bytes for the program's standard input; None gives it /dev/null.
        workdir: A folder to show read-only at /work and run in; None runs in the empty /tmp.
        limits: The limits of this run; None uses the defaults.
        hidden: Paths below `workdir` the program may not read (secret files): empty
            under bubblewrap, unreadable in rlimits-only mode.

    Returns:
        The outcome: mode, exit status, capped stdout and stderr, and why it ended early.

    Raises:
        SandboxUnavailable: Bubblewrap does not work here and rlimits-only mode is not allowed.
    """
    limits = limits or Limits()
    bwrap = await choose_mode()
    if bwrap is not None:
        return await _run_bwrap(bwrap, command, workdir, limits, stdin, hidden)
    return await _rlimits.run(command, workdir, limits, stdin, interpreter(), plan, hidden)
