"""The launcher: the small program that starts a sandboxed command, in both modes.

Not a tool module, and never imported: `_sandbox_command.py` passes this file's text to the
sandbox's interpreter (`python -I -S -c SOURCE PLAN ARGV...`), so it uses only the standard
library and runs as whatever user the sandbox starts it as. PLAN is a JSON object, built by
`_sandbox_command.launch_plan`, naming what to set up; ARGV is the command.

The process that becomes the command, in this order: applies the resource limits; drops to
the run's uid and gid (agentkit runs as root); joins a new, empty session keyring (the one
inherited from agentkit is left, with every key it holds); restricts itself with Landlock
(rlimits-only mode: it may read the system and the folders named, and write only its own
temporary folder; it may not signal, trace or reach the abstract sockets of processes outside
the run); installs the seccomp filter (`_sandbox_seccomp.py`); then replaces itself with
ARGV. Each step that the plan asks for and that fails stops the launch (exit status 126),
saying why; nothing runs half-confined.

Under bubblewrap the launcher is that process itself. In rlimits-only mode it forks it and
stays, outside the Landlock domain, as a child subreaper: every process the command starts,
even one that leaves its session and is orphaned, remains its descendant, so that agentkit
can count and kill it. It reaps, writes the command's wait status to the report descriptor
when it ends, exits once no child is left, and ends the way the command did. Before it forks
it moves itself into the run's cgroup (when the plan names one: every process of the run is
then counted against its memory limit) and, as root, into a new IPC namespace. Should agentkit
die (even by SIGKILL), the kernel tells it (PR_SET_PDEATHSIG) and it kills the whole run, so
nothing outlives agentkit either (under bubblewrap, `--die-with-parent` does the same).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import signal
import stat
import struct
import sys
import warnings  # noqa: F401 - `os.execvp` imports it, after the drop to a uid that may not reach it
from typing import Any

_LANDLOCK_CREATE_RULESET, _LANDLOCK_ADD_RULE, _LANDLOCK_RESTRICT_SELF = 444, 445, 446
_KEYCTL_JOIN_SESSION_KEYRING = 1
_CLONE_NEWIPC = 0x08000000
_PR_SET_NO_NEW_PRIVS, _PR_SET_SECCOMP, _PR_SET_CHILD_SUBREAPER = 38, 22, 36
_PR_SET_PDEATHSIG = 1
# Landlock access rights to files (ABI 1, 3 and 5 add to them) and to folders.
_EXECUTE, _WRITE_FILE, _READ_FILE, _READ_DIR = 1, 2, 4, 8
_TRUNCATE, _IOCTL_DEV = 1 << 14, 1 << 15
_FILE_RIGHTS = _EXECUTE | _WRITE_FILE | _READ_FILE | _TRUNCATE | _IOCTL_DEV
_RIGHTS = {
    "list": _READ_DIR,
    "read": _READ_FILE | _READ_DIR,
    "read_exec": _READ_FILE | _READ_DIR | _EXECUTE,
    "read_write": _READ_FILE | _WRITE_FILE | _TRUNCATE,
    "all": -1,
}

libc = ctypes.CDLL(None, use_errno=True)
_NO_FLAGS = ctypes.c_uint32(0)


class SetupError(Exception):
    """A step of the plan failed: the command must not run."""


def _syscall(number: int, *args: Any) -> int:
    result: int = libc.syscall(ctypes.c_long(number), *args)
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result


def _prctl(option: int, *args: Any) -> None:
    """prctl(option, args...): the arguments as ctypes values (unsigned longs or pointers)."""
    if libc.prctl(ctypes.c_int(option), *args) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"prctl {option}: {os.strerror(code)}")


def _flag(value: int) -> ctypes.c_ulong:
    return ctypes.c_ulong(value)


def _threads_of(uid: int) -> int:
    """How many threads the user runs now (RLIMIT_NPROC counts them all)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", "rb") as status:
                lines = status.read().splitlines()
            fields = dict(line.split(b":", 1) for line in lines if b":" in line)
            if int(fields[b"Uid"].split()[0]) == uid:
                total += int(fields[b"Threads"])
        except (OSError, KeyError, ValueError, IndexError):
            continue
    return total


def _limits(plan: dict[str, Any]) -> None:
    for name, soft, hard in plan["limits"]:
        number = getattr(resource, name)
        if name == "RLIMIT_NPROC" and plan.get("nproc_extra"):
            # A normal user's other processes count too: the run may start `soft` more.
            ceiling = resource.getrlimit(number)[1]
            wanted = _threads_of(os.getuid()) + soft
            unlimited = ceiling == resource.RLIM_INFINITY
            soft = hard = wanted if unlimited else min(ceiling, wanted)
        resource.setrlimit(number, (soft, hard))


def _landlock_ruleset(spec: dict[str, Any]) -> int:
    """A Landlock ruleset granting what `spec` lists; fails below the ABI `spec` requires."""
    try:
        version = ctypes.c_uint32(1)  # LANDLOCK_CREATE_RULESET_VERSION
        abi = _syscall(_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), version)
    except OSError as exc:
        raise SetupError(f"Landlock is not available ({exc.strerror})") from None
    if abi < spec["abi"]:
        raise SetupError(f"Landlock ABI {abi} is older than the {spec['abi']} needed")
    handled = (1 << 13) - 1 | (1 << 13 if abi >= 2 else 0)
    handled |= (_TRUNCATE if abi >= 3 else 0) | (_IOCTL_DEV if abi >= 5 else 0)
    fields = [handled]
    if abi >= 4:
        fields.append(3)  # TCP bind and connect: none is granted
    if abi >= 6:
        fields.append(3)  # scoped: abstract UNIX sockets and signals stay inside the run
    data = struct.pack(f"={len(fields)}Q", *fields)
    attr = ctypes.create_string_buffer(data, len(data))
    ruleset = _syscall(_LANDLOCK_CREATE_RULESET, attr, ctypes.c_size_t(len(data)), _NO_FLAGS)
    for kind, paths in spec["rules"].items():
        for path in paths:
            try:
                # A link is granted as itself, never as where it leads.
                fd = os.open(path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            try:
                access = _RIGHTS[kind] & handled
                if not stat.S_ISDIR(os.fstat(fd).st_mode):
                    access &= _FILE_RIGHTS
                data = struct.pack("=Qi", access, fd)
                rule = ctypes.create_string_buffer(data, len(data))
                path_beneath = ctypes.c_int(1)
                _syscall(_LANDLOCK_ADD_RULE, ctypes.c_int(ruleset), path_beneath, rule, _NO_FLAGS)
            finally:
                os.close(fd)
    return ruleset


def _join_new_session_keyring(number: int | None) -> None:
    if number is None:
        return
    try:
        _syscall(number, ctypes.c_long(_KEYCTL_JOIN_SESSION_KEYRING), None)
    except OSError as exc:
        # Forbidden by a filter agentkit itself runs under: the code cannot use keyrings then.
        if exc.errno not in (1, 13, 38):  # EPERM, EACCES, ENOSYS
            raise


class _Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]


def _start(plan: dict[str, Any], argv: list[str]) -> None:
    """Set up the confinement the plan asks for, then become the command (never returns)."""
    uid = plan.get("uid")
    try:
        _limits(plan)
        landlock = plan.get("landlock")
        ruleset = _landlock_ruleset(landlock) if landlock else None
        if uid is not None:
            os.setgroups([])
            os.setgid(plan["gid"])
            os.setuid(uid)
        _join_new_session_keyring(plan.get("keyctl"))
        _prctl(_PR_SET_NO_NEW_PRIVS, _flag(1), _flag(0), _flag(0), _flag(0))
        if ruleset is not None:
            _syscall(_LANDLOCK_RESTRICT_SELF, ctypes.c_int(ruleset), _NO_FLAGS)
            os.close(ruleset)
        if plan.get("seccomp"):
            rules = bytes.fromhex(plan["seccomp"])
            program = _Prog(len(rules) // 8, rules)
            _prctl(_PR_SET_SECCOMP, _flag(2), ctypes.byref(program))  # SECCOMP_MODE_FILTER
    except (OSError, SetupError, ValueError) as exc:
        sys.stderr.write(f"sandbox setup failed: {exc}\n")
        os._exit(126)
    os.umask(0o077)
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        hint = f" (it runs as uid {uid})" if uid is not None else ""
        sys.stderr.write(f"cannot run {argv[0]!r}: {exc.strerror}{hint}\n")
        os._exit(127)


def _enter_cgroup(plan: dict[str, Any]) -> None:
    fd = plan.get("cgroup_fd")
    if fd is None:
        return
    try:
        os.write(fd, b"0\n")  # this process; its children follow it
    except OSError as exc:
        sys.stderr.write(f"sandbox setup failed: cannot join the run's cgroup: {exc.strerror}\n")
        os._exit(126)
    os.close(fd)


def _descendants() -> list[int]:
    """Every process below this one (orphans of the run are its children: it is their
    subreaper)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as file:
                    ppid = int(file.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [os.getpid()]
    while todo:
        for child in children.get(todo.pop(), ()):
            found.append(child)
            todo.append(child)
    return found


def _orphaned(number: int, frame: object) -> None:
    """agentkit is gone, so no one will stop the run: kill all of it, then end."""
    for _ in range(100):
        below = _descendants()
        if not below:
            break
        for pid in below:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
    os._exit(137)


def _supervise(plan: dict[str, Any], argv: list[str]) -> None:
    """Fork the command and stay its subreaper; end as the command did (never returns)."""
    report = plan["report_fd"]
    if plan.get("ipc_namespace"):
        # Refused in some containers: the seccomp filter forbids System V IPC anyway.
        libc.unshare(ctypes.c_int(_CLONE_NEWIPC))
    parent = os.getppid()
    try:
        _prctl(_PR_SET_CHILD_SUBREAPER, _flag(1), _flag(0), _flag(0), _flag(0))
        # When agentkit dies (even by SIGKILL), the kernel sends SIGTERM: end the run then.
        _prctl(_PR_SET_PDEATHSIG, _flag(signal.SIGTERM), _flag(0), _flag(0), _flag(0))
    except OSError as exc:
        sys.stderr.write(f"sandbox setup failed: {exc}\n")
        os._exit(126)
    signal.signal(signal.SIGTERM, _orphaned)
    if os.getppid() != parent:  # agentkit died before the request took effect
        _orphaned(signal.SIGTERM, None)
    main = os.fork()
    if main == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.close(report)
        _start(plan, argv)
    for number in (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGPIPE):
        signal.signal(number, signal.SIG_IGN)
    status = 0
    while True:
        try:
            pid, wait_status = os.wait()
        except ChildProcessError:
            break
        if pid == main:
            status = wait_status
            with contextlib.suppress(OSError):
                os.write(report, b"%d\n" % wait_status)
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        with contextlib.suppress(OSError, ValueError):
            signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
        code = 128 - code
    os._exit(code)


def main() -> None:
    plan: dict[str, Any] = json.loads(sys.argv[1])
    argv = sys.argv[2:]
    _enter_cgroup(plan)
    if plan.get("report_fd") is None:
        _start(plan, argv)
    _supervise(plan, argv)


if __name__ == "__main__":
    main()
