"""Who holds a session: this process's identity, and whether a recorded holder is still alive.

A run lease records the holder's host, pid and process start (on Linux, the boot id and the
start time of the process), so a lease left by a process that died, even one whose pid was
since reused, is recognised as stale and taken over. A holder on another host cannot be
checked (SQLite's WAL needs every process on one host anyway): it is treated as alive.
"""

from __future__ import annotations

import functools
import os
import socket
import sys
import time
from dataclasses import dataclass

__all__ = ["Holder", "describe", "is_alive", "this_process"]


@dataclass(frozen=True, slots=True)
class Holder:
    """A process that may hold leases."""

    host: str
    pid: int
    start: str  # "" where the platform does not tell


def _proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name; None when unreadable."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode("ascii", "replace")
    except OSError:
        return None
    # The command name is in parentheses and may itself hold spaces and parentheses.
    return raw[raw.rfind(")") + 2 :].split()


@functools.lru_cache(maxsize=1)
def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""


def _start_of(pid: int) -> str:
    """A token that differs between two processes that had the same pid; "" if unknown."""
    fields = _proc_stat(pid)
    if fields is None or len(fields) < 20:
        return ""
    return f"{_boot_id()}:{fields[19]}"  # field 22 of stat: start time since boot


def this_process() -> Holder:
    """This process (computed on each call: a forked child is another holder)."""
    pid = os.getpid()
    return Holder(socket.gethostname(), pid, _start_of(pid))


def is_alive(holder: Holder) -> bool:
    """Whether the holder's process still runs (True when this host cannot tell)."""
    if holder.host != socket.gethostname():
        return True
    if sys.platform == "win32":  # os.kill(pid, 0) would not probe there
        return True
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, under another user
        pass
    fields = _proc_stat(holder.pid)
    if fields is not None and fields and fields[0] in ("Z", "X"):
        return False  # a zombie: killed, not yet reaped by its parent
    return not holder.start or _start_of(holder.pid) in ("", holder.start)


def describe(holder: Holder, since: float) -> str:
    """The holder, for an error message."""
    at = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since))
    return f"pid {holder.pid} on {holder.host}, since {at}"
