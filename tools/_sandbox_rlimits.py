"""rlimits-only mode: the sandbox without bubblewrap, and when it can be made safe at all.

A helper of `_sandbox.py`, not a tool module, used only when bubblewrap is missing or cannot
create namespaces and the user set `AGENTKIT_SANDBOX=rlimits`. It holds `problem_here()`, why this
machine cannot run the mode safely (then the call is refused, saying so), and `run(...)`.

What the code gets (the launcher, `_sandbox_launcher.py`, sets it up):

- the resource limits, clean environment, new session keyring and seccomp filter of
  bubblewrap mode, and a filter that also refuses `socket` (there is no network namespace);
- a fresh temporary folder as its home and working folder (the `shell` tool's folder
  instead, read-only), removed at the end and held to `tmp_bytes` and a number of entries;
- Landlock (Linux 5.13 and later): it may read and run the system folders, the Python
  installation and the few /etc files the dynamic linker needs, read a few devices (not
  /proc: other processes' command lines are not its to read) and the folder it is given,
  and write only its temporary folder and /dev/null;
  it cannot trace processes outside the run nor read their /proc files (environment,
  memory); with Landlock ABI 6 (Linux 6.12) it cannot signal them or reach their abstract
  UNIX sockets either;
- as root: a uid and gid of its own (`_sandbox_command.run_uid`), never shared with another
  process or a later call, a new IPC namespace where the kernel allows it, and a memory
  cgroup where one can be made (`_sandbox_cgroup.py`);
- as a normal user it runs as that user, so only Landlock keeps it from the user's files and
  processes: the mode is refused below Landlock ABI 6 (signals), the seccomp filter also
  refuses what Landlock does not govern (changing the user's other processes' limits,
  priority and scheduling, and any file's mode, owner, times or extended attributes), and
  RLIMIT_NPROC counts the user's other processes too (the run may start `processes` more).

It is apart from `_sandbox.py` because its guarantees rest on different kernel features
than bubblewrap's (Landlock instead of mount, pid and network namespaces), each checked here.
"""

from __future__ import annotations

import ctypes
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import (
    _sandbox_cgroup as _cgroup,
    _sandbox_command as _command,
    _sandbox_process as _process,
    _sandbox_seccomp as _seccomp,
)
from ._secret_files import readable_except

# Landlock ABI needed: any, as root (the code is another user); 6 for a normal user (the code
# is that user: only Landlock's signal scoping keeps it from killing the user's processes).
ROOT_LANDLOCK_ABI = 1
USER_LANDLOCK_ABI = 6
_DEVICES_READ = ("/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")


class SandboxUnavailable(RuntimeError):
    """No acceptable sandbox on this machine; the message says what the user can do."""


def landlock_abi() -> int:
    """The Landlock ABI version of this kernel; 0 without Landlock."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        version: int = libc.syscall(ctypes.c_long(444), None, ctypes.c_size_t(0), 1)
    except (OSError, AttributeError):
        return 0
    return max(version, 0)


def problem(*, filter_exists: bool, as_root: bool, abi: int) -> str | None:
    """Why rlimits-only mode cannot be made safe here; None when it can.

    Args:
        filter_exists: There is a seccomp filter for this machine.
        as_root: agentkit runs as root (the code then runs as a uid of its own).
        abi: The kernel's Landlock ABI (`landlock_abi()`; 0 without Landlock).
    """
    machine = os.uname().machine
    if not filter_exists:
        return f"rlimits-only mode has no seccomp filter for {machine} (x86_64 and aarch64 only)"
    if as_root:
        if abi < ROOT_LANDLOCK_ABI:
            return (
                "rlimits-only mode needs Landlock (Linux 5.13 or later, enabled) to keep the "
                "code from writing outside its temporary folder, and this kernel has none"
            )
        return None
    if abi < USER_LANDLOCK_ABI:
        have = f"ABI {abi}" if abi else "no Landlock"
        return (
            "as a normal user, rlimits-only mode would run the code as you: only Landlock ABI "
            f"{USER_LANDLOCK_ABI} (Linux 6.12 or later) keeps it from your files and from "
            f"signalling your processes, and this kernel has {have}"
        )
    return None


def problem_here() -> str | None:
    """Why rlimits-only mode cannot be made safe on this machine, as agentkit runs; or None."""
    filter_exists = _seccomp.sandbox_filter(network=False) is not None
    return problem(filter_exists=filter_exists, as_root=os.geteuid() == 0, abi=landlock_abi())


def _refusal(why: str) -> SandboxUnavailable:
    return SandboxUnavailable(
        f"{why}, so the code was not run. Tell the user; do not retry. The user can install "
        "bubblewrap where user namespaces are allowed, or run agentkit as root in a container "
        "with Landlock."
    )


def not_searchable(path: str, uid: int) -> str | None:
    """The first folder above `path` that `uid` may not pass (by its mode bits), if any."""
    for folder in reversed(Path(os.path.realpath(path)).parents):
        try:
            info = os.stat(folder)
        except OSError:
            return str(folder)
        if info.st_uid != uid and not info.st_mode & stat.S_IXOTH:
            return str(folder)
    return None


def check_reachable(command: Sequence[str], uid: int) -> None:
    """Refuse, saying why, when the run's uid could not even start the program (as root).

    The launcher itself starts as root and loads everything it needs before it drops to the
    run's uid: only the command must be within that uid's reach.
    """
    paths = [command[0]] if os.path.isabs(command[0]) else []
    own = getattr(sys, "_base_executable", "") or sys.executable
    if paths and os.path.realpath(command[0]) == os.path.realpath(own):
        # The interpreter agentkit runs on also needs its installation (standard library).
        paths += [os.path.join(root, "lib") for root in _command.python_roots()]
    for path in paths:
        folder = not_searchable(path, uid)
        if folder is not None:
            raise SandboxUnavailable(
                "rlimits-only mode runs the code as a user of its own when agentkit runs as "
                f"root, and that user cannot reach {path} ({folder} is not searchable by "
                "others), so the code was not run. Tell the user; do not retry. The user can "
                "install bubblewrap, run agentkit as a normal user, or use a Python installed "
                "where every user can read it."
            )


def landlock_rules(
    interpreter: str, workdir: Path | None, home: str, hidden: Sequence[str] = ()
) -> dict[str, list[str]]:
    """What the code may reach: by kind of access (see `_sandbox_launcher._RIGHTS`), paths.

    `hidden` are paths below `workdir` it may not read (secret files): the rest of it is.
    """
    system = [os.path.realpath(d) for d in _command.SYSTEM_DIRS if os.path.exists(d)]
    roots = [os.path.realpath(r) for r in _command.python_roots()]
    runnable = [*system, *roots, os.path.dirname(os.path.realpath(interpreter))]
    # Not /proc: the command lines of the host's processes (a password given as an argument)
    # are not the code's to read.
    readable = [*_command.ETC_FILES, *_DEVICES_READ]
    listed: list[str] = []
    if workdir is not None:
        trees, listed = readable_except(str(workdir), list(hidden))
        readable += trees
    return {
        "read_exec": sorted(set(runnable)),
        "read": readable,
        "list": listed,
        "read_write": ["/dev/null"],
        "all": [home],
    }


Plan = Callable[..., dict[str, Any]]


async def run(
    command: Sequence[str],
    workdir: Path | None,
    limits: _process.Limits,
    stdin: bytes | None,
    interpreter: str,
    base_plan: Plan,
    hidden: Sequence[str] = (),
) -> _process.Outcome:
    """Run `command` in rlimits-only mode, or refuse (SandboxUnavailable) where it is unsafe.

    `base_plan` is `_sandbox.plan`, the part of the launcher's plan both modes share;
    `hidden`, paths below `workdir` the code may not read.
    """
    why = problem_here()
    if why is not None:
        raise _refusal(why)
    as_root = os.geteuid() == 0
    uid = _command.run_uid() if as_root else None
    if uid is not None:
        check_reachable(command, uid)
    cgroup = _cgroup.create(limits.memory_bytes) if as_root else None
    report = os.pipe()
    fds = list(report)
    try:
        os.set_blocking(report[0], False)
        with tempfile.TemporaryDirectory(prefix="agentkit-sandbox-") as home:
            if uid is not None:
                os.chown(home, uid, uid)  # its home and working folder are its own
            cgroup_fd = cgroup.procs_fd() if cgroup is not None else None
            if cgroup_fd is not None:
                fds.append(cgroup_fd)
            plan = base_plan(
                limits, uid=uid, cgroup_fd=cgroup_fd, network=False, shares_uid=not as_root
            )
            plan.update(
                report_fd=report[1],
                ipc_namespace=as_root,
                nproc_extra=not as_root,
                landlock={
                    "abi": ROOT_LANDLOCK_ABI if as_root else USER_LANDLOCK_ABI,
                    "rules": landlock_rules(interpreter, workdir, home, hidden),
                },
            )
            argv = _command.launcher_argv(interpreter, command, plan)
            return await _process.execute(
                argv,
                cwd=str(workdir) if workdir is not None else home,
                env=_command.sandbox_env(home),
                limits=limits,
                mode=_process.RLIMITS_ONLY,
                stdin=stdin,
                report=report[0],
                pass_fds=[fd for fd in fds if fd != report[0]],
                cgroup=cgroup,
                uid=uid,
                tmp=home,
            )
    finally:
        for fd in fds:
            os.close(fd)
        if cgroup is not None:
            cgroup.remove()
