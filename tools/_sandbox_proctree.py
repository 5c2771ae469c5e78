"""The processes of one sandboxed run: found in /proc, measured, killed, and waited for.

A helper of `_sandbox_process.py` (which starts the run and collects its output), not a tool
module. It holds `Run`, which finds, measures and kills a run's processes and learns when the
program ended, and `watch`, the watchdog that stops a run over its memory limit (or, in
rlimits-only mode, over the size of its temporary folder). It is apart from
`_sandbox_process.py` because it reads the host's process table, not the run's output: its
own concern, with its own failure modes (processes that exit or are reused mid-scan).

Security role: no process of a run outlives the call, and the run as a whole keeps to its
memory limit. A run's processes are everything below the process agentkit started (bwrap,
whose pid namespace holds the sandbox; or the launcher, a child subreaper that keeps every
orphan below it), plus anything still in its session, plus, when the run has them, every
process in its cgroup (`_sandbox_cgroup.py`) or running as its own uid (agentkit is root):
those two hold wherever a process goes in the tree. The watchdog sums their memory every
`_POLL_SECONDS` (RLIMIT_AS alone bounds each process, not the up to `processes` of them),
and stops the run as soon as the kernel killed one of them for passing the cgroup's limit.
Stopping a run kills, with SIGKILL, the sandbox's init under bubblewrap (which takes the
whole pid namespace with it) or else every process below the launcher, and every process of
its cgroup and uid; `Run.wait` returns only once those processes are gone (or, at worst,
after `_REAP_SECONDS`, with the group killed again), and `Run.left` says if any is not.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Iterator, Sequence

import anyio
from anyio.abc import Process

from . import _sandbox_cgroup as _cgroup

# How long a stopped run may take to end before its process group is killed outright.
_REAP_SECONDS = 10.0
# How often (at least) the memory of a run's processes is measured.
_POLL_SECONDS = 0.05
# The temporary folder of a run (rlimits-only mode) is measured every this many scans, and
# may hold at most this many entries (each costs the scan, and an inode of the host's).
_TMP_EVERY = 1
_MAX_TMP_ENTRIES = 10_000


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _stats() -> Iterator[tuple[int, list[bytes]]]:
    """Each host process's pid and the /proc/<pid>/stat fields after its name (state first)."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    yield int(entry), stat.read().rsplit(b")", 1)[1].split()
            except (OSError, IndexError):
                continue


def _start_time(pid: int) -> bytes | None:
    """When a process started (in clock ticks since boot): with its pid, who it is."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _descendants(root: int, root_start: bytes | None) -> list[int]:
    """The live processes below `root` or in its session (`root` excluded), by a /proc scan.

    Fields after the name: state, ppid, pgrp, session, ... starttime (the 20th). The tree is
    followed only while `root` is the process it was (its pid is not reused); a session id
    keeps its number taken as long as any process of the session lives.
    """
    table: dict[int, tuple[bytes, int, int, bytes]] = {}
    for pid, fields in _stats():
        with contextlib.suppress(IndexError, ValueError):
            table[pid] = (fields[0], int(fields[1]), int(fields[3]), fields[19])
    children: dict[int, list[int]] = {}
    for pid, (_, ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found = {pid for pid, (_, _, session, _) in table.items() if session == root}
    todo = list(found)
    if root in table and table[root][3] == root_start:
        todo.append(root)
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    found.discard(root)
    # Zombies hold no memory and only wait to be reaped.
    return sorted(pid for pid in found if table[pid][0] not in (b"Z", b"X"))


def _kib(path: str, keys: tuple[bytes, ...]) -> int | None:
    """The sum of the `Key: N kB` lines of a /proc file; None when it cannot be read."""
    try:
        with open(path, "rb") as file:
            lines = file.read().splitlines()
        return sum(int(line.split()[1]) for line in lines if line.startswith(keys))
    except (OSError, IndexError, ValueError):
        return None


_QUICK = (b"VmRSS:", b"VmSwap:")
_PRECISE = (b"Pss:", b"SwapPss:")


def _memory(pids: Sequence[int], limit: int) -> int:
    """Bytes of memory these processes use: resident plus swapped out.

    First the quick per-process sums (O(1) counters, but pages shared after a fork count once
    per process); only when those pass `limit`, the proportional sums of smaps_rollup (a walk of
    the page tables, counting each shared page once in all).
    """
    quick = sum(_kib(f"/proc/{pid}/status", _QUICK) or 0 for pid in pids)
    if quick * 1024 <= limit:
        return quick * 1024
    total = 0
    for pid in pids:
        precise = _kib(f"/proc/{pid}/smaps_rollup", _PRECISE)
        # Unreadable (no smaps_rollup, or not allowed): the quick sum; gone by now: nothing.
        total += _kib(f"/proc/{pid}/status", _QUICK) or 0 if precise is None else precise
    return total * 1024


def _owned_by(uid: int) -> list[int]:
    """The live processes whose user is `uid` (a run's own uid: they are all the run's)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if os.stat(f"/proc/{entry}").st_uid == uid and not _is_zombie(int(entry)):
                    found.append(int(entry))
    return found


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X")
    except (OSError, IndexError):
        return True


def _tree_size(root: str, max_entries: int) -> tuple[int, int]:
    """The bytes allocated to the files under `root`, and their number (up to `max_entries`)."""
    size = entries = 0
    todo = [root]
    while todo and entries <= max_entries:
        try:
            scan = os.scandir(todo.pop())
        except OSError:
            continue
        with scan:
            for entry in scan:
                entries += 1
                with contextlib.suppress(OSError):
                    info = entry.stat(follow_symlinks=False)
                    size += info.st_blocks * 512
                    if entry.is_dir(follow_symlinks=False):
                        todo.append(entry.path)
    return size, entries


def _bwrap_alive(pid: int) -> bool:
    """Whether the sandbox's init still runs (it ends once every process in it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            name, rest = stat.read().rsplit(b")", 1)
    except (OSError, ValueError):
        return False
    return name.endswith(b"(bwrap") and rest.split()[0] not in (b"Z", b"X")


class Run:
    """One started run: finds, measures and kills its processes, and learns when it ended.

    `process` is bwrap, or (rlimits-only mode) the launcher, a child subreaper that stays the
    ancestor of every process of the run. Stopping under bubblewrap kills the sandbox's init
    (pid 1 of its namespace; bwrap reports its host pid on `--info-fd`): the kernel then kills
    every process in the namespace, and bwrap exits only once they are all gone. Stopping in
    rlimits-only mode kills every process below the launcher, or still in its session, round
    after round until none is left (the launcher first would orphan them out of reach); the
    launcher then exits on its own. When the run has a `cgroup` or a `uid` of its own, every
    process in that cgroup or of that user is the run's too, wherever it went in the process
    tree, and is killed with the rest. `main_ended` is set when the program (the command
    itself) has ended: bwrap or the launcher exited, or the launcher reported its status.
    """

    def __init__(
        self,
        process: Process,
        info: int | None,
        report: int | None,
        cgroup: _cgroup.RunCgroup | None = None,
        uid: int | None = None,
    ) -> None:
        self.process = process
        self.info = info
        self.report = report
        self.cgroup = cgroup
        self.uid = uid
        self.root_start = _start_time(process.pid)
        self.init_pid: int | None = None
        self.main_status: int | None = None
        self.main_ended = anyio.Event()
        self.memory_exceeded = False
        self.tmp_exceeded = False

    def strays(self) -> list[int]:
        """Processes of the run found by its cgroup or its uid, not by the process tree."""
        found = set(self.cgroup.members()) if self.cgroup is not None else set()
        if self.uid is not None:
            found.update(_owned_by(self.uid))
        found.discard(self.process.pid)
        return sorted(pid for pid in found if not _is_zombie(pid))

    def members(self) -> list[int]:
        return _descendants(self.process.pid, self.root_start)

    def stop(self) -> bool:
        """Kill the run's processes now; True when some (besides bwrap or the launcher) ran."""
        strays = self.strays()
        for stray in strays:
            _kill(stray)
        if self.info is not None:
            if self.process.returncode is not None:
                return bool(strays)
            init = self._init_pid()
            if init is None:
                _kill_group(self.process.pid)
            else:
                _kill(init)
            return True
        members = self.members()
        for pid in members:
            _kill(pid)
        return bool(members or strays)

    def left(self) -> int:
        """How many of the run's processes are still alive (after `wait`: none, normally)."""
        alive = set(self.strays())
        if self.process.returncode is None:
            alive.update(self.members())
        return len(alive)

    def over_memory(self, limit: int) -> bool:
        """Whether the run's processes use more than `limit` bytes (run in a worker thread)."""
        return _memory(sorted({*self.members(), *self.strays()}), limit) > limit

    def read_report(self) -> None:
        """Take the command's wait status when the launcher has reported it."""
        if self.report is None or self.main_status is not None:
            return
        with contextlib.suppress(OSError, ValueError):
            self.main_status = int(os.read(self.report, 64).split(b"\n", 1)[0])
            self.main_ended.set()

    def status(self) -> int | None:
        """The command's exit status (negative: killed by that signal), None if unknown."""
        self.read_report()
        if self.main_status is not None:
            with contextlib.suppress(ValueError):
                return os.waitstatus_to_exitcode(self.main_status)
        return self.process.returncode

    async def wait(self) -> None:
        """Wait until every process of the run is gone (at most `_REAP_SECONDS`)."""
        with anyio.move_on_after(_REAP_SECONDS):
            if self.info is not None:
                await self.process.wait()
                # bwrap may exit as soon as the command has, while its init is still killing
                # the rest of the namespace. No event says when (its parent is gone): poll.
                for _ in range(int(_REAP_SECONDS * 100)):
                    pid = self._init_pid()
                    if (pid is None or not _bwrap_alive(pid)) and not self.strays():
                        break
                    self.stop()
                    await anyio.sleep(0.01)
            else:
                for _ in range(int(_REAP_SECONDS * 100)):
                    if not self.stop():
                        break
                    await anyio.sleep(0.01)
                # With no child left, the launcher exits; unless it was stopped or killed.
                with anyio.move_on_after(1.0):
                    await self.process.wait()
        if self.process.returncode is None:
            _kill(self.process.pid)
            _kill_group(self.process.pid)

    def _init_pid(self) -> int | None:
        if self.init_pid is None and self.info is not None:
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                report, _ = json.JSONDecoder().raw_decode(os.read(self.info, 65536).decode())
                self.init_pid = int(report["child-pid"])
        return self.init_pid


async def watch(run: Run, memory_bytes: int, tmp: str | None = None, tmp_bytes: int = 0) -> None:
    """Every `_POLL_SECONDS` or so: take the launcher's report, and stop a run over a limit.

    Over memory on two scans in a row (a process caught in the middle of exiting can look
    bigger), or once the kernel killed one of the run's processes for passing the cgroup's
    limit. Every `_TMP_EVERY` scans, the size of the run's temporary folder `tmp` (rlimits-only
    mode, where it is a folder of the host's): past `tmp_bytes`, or past `_MAX_TMP_ENTRIES`
    entries, the run is stopped.
    """
    over = scans = 0
    while True:
        run.read_report()
        started = time.monotonic()
        over = over + 1 if await anyio.to_thread.run_sync(run.over_memory, memory_bytes) else 0
        if over >= 2 or (run.cgroup is not None and run.cgroup.oom_kills()):
            run.memory_exceeded = True
            run.stop()
            return
        scans += 1
        if tmp is not None and scans % _TMP_EVERY == 0:
            size, entries = await anyio.to_thread.run_sync(_tree_size, tmp, _MAX_TMP_ENTRIES)
            if size > tmp_bytes or entries > _MAX_TMP_ENTRIES:
                run.tmp_exceeded = True
                run.stop()
                return
        # On a host with many processes a scan takes longer: keep its cost a small share.
        await anyio.sleep(max(_POLL_SECONDS, 4 * (time.monotonic() - started)))
