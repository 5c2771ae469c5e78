"""A memory cgroup for one sandboxed run, where the machine lets agentkit make one.

A helper of `_sandbox.py`, not a tool module. It holds `create(limit)`, which makes a child
of agentkit's own memory cgroup with the run's memory limit (cgroup v1, or v2 where the
memory controller is enabled for agentkit's children), and `RunCgroup`: the descriptor the
launcher writes itself into, the number of processes the kernel killed for going over the
limit, the processes still in it, and its removal.

Security role: the kernel counts everything a run's processes use against one limit, not
only what is resident in them: shared memory, files in memory-backed folders, pipe and
socket buffers, and the kernel's own memory for them (v2). Over the limit the kernel stops
the allocation or kills a process of the run. And membership cannot be left: a process that
escapes the process tree is still in the cgroup, so it is found and killed at the end.

Where no cgroup can be made (not root on v1, no delegation on v2, a read-only cgroupfs in a
container) `create` returns None, and the memory cap is the watchdog's alone (resident and
swapped memory, polled; see `_sandbox_proctree.py`).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
from dataclasses import dataclass
from pathlib import Path


@dataclass
class RunCgroup:
    """The cgroup of one run: `path` and the cgroup version (1 or 2)."""

    path: Path
    version: int

    def procs_fd(self) -> int:
        """A descriptor of its `cgroup.procs`, to be passed to the launcher."""
        return os.open(self.path / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC)

    def oom_kills(self) -> int:
        """How many of its processes the kernel killed for passing the memory limit."""
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        with contextlib.suppress(OSError, ValueError):
            for line in (self.path / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        return 0

    def members(self) -> list[int]:
        """The processes in it now."""
        try:
            text = (self.path / "cgroup.procs").read_text()
        except OSError:
            return []
        return [int(pid) for pid in text.split()]

    def kill(self) -> bool:
        """Kill every process in it; True when there were some."""
        members = self.members()
        for pid in members:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        return bool(members)

    def remove(self) -> None:
        """Remove it (it must be empty: call once the run's processes are gone)."""
        with contextlib.suppress(OSError):
            self.path.rmdir()


def _own(version: int) -> tuple[Path, str] | None:
    """Where the hierarchy of `version` is mounted, and agentkit's cgroup in it."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
        mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    wanted = None
    for line in lines:
        number, controllers, path = line.split(":", 2)
        unified = number == "0" and not controllers
        if unified if version == 2 else "memory" in controllers.split(","):
            wanted = path
    if wanted is None:
        return None
    for mount in mounts:
        fields = mount.split()
        if "-" not in fields:
            continue
        rest = fields[fields.index("-") + 1 :]
        kind, options = rest[0], rest[2].split(",") if len(rest) > 2 else []
        if (version == 2 and kind == "cgroup2") or (
            version == 1 and kind == "cgroup" and "memory" in options
        ):
            root, point = fields[3], fields[4]
            if wanted == root or wanted.startswith(root.rstrip("/") + "/"):
                inside = wanted[len(root.rstrip("/")) :].lstrip("/")
                return Path(point, inside), wanted
    return None


def _limited(path: Path, version: int, limit: int) -> bool:
    """Set the limit (and no swap) on a new cgroup; False when the kernel refuses."""
    settings = (
        [("memory.limit_in_bytes", limit), ("memory.memsw.limit_in_bytes", limit)]
        if version == 1
        else [("memory.max", limit), ("memory.swap.max", 0)]
    )
    for index, (name, value) in enumerate(settings):
        try:
            (path / name).write_text(str(value))
        except OSError:
            if index == 0:
                return False  # the limit itself; without swap accounting, the second may fail
    return True


def create(limit: int) -> RunCgroup | None:
    """A new cgroup below agentkit's own, limited to `limit` bytes; None where none can be."""
    for version in (2, 1):
        found = _own(version)
        if found is None:
            continue
        parent, _ = found
        if version == 2:
            try:
                enabled = (parent / "cgroup.subtree_control").read_text().split()
            except OSError:
                continue
            if "memory" not in enabled:
                continue
        path = parent / f"agentkit-sandbox-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            path.mkdir()
        except OSError:
            continue
        if _limited(path, version, limit):
            return RunCgroup(path, version)
        with contextlib.suppress(OSError):
            path.rmdir()
    return None
