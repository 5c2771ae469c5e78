"""One supervised run of a sandbox command: limits, capped output, deadline, and a clean end.

A helper of `_sandbox.py` (which builds the command line and picks the mode), not a tool
module. It holds:

- `Limits`, what one run may use, and `Limits.launcher_spec()`, the resource limits in the
  form the launcher applies before it executes the command;
- `execute(argv, ...)`, which starts the command in a new session, feeds its stdin, keeps at
  most `output_bytes` of stdout and of stderr, and stops it at the wall-clock limit, on an
  output overflow, when its processes together pass `memory_bytes`, or when the call is
  cancelled; once the program has ended, it kills what the program left running;
- `Outcome`, how the run ended, and `Outcome.render()`, the text the model reads.

Security role: no process of a run outlives the call, and the run as a whole keeps to its
memory limit. A run's processes are found in /proc: everything below the process agentkit
started (bwrap, whose pid namespace holds the sandbox; or the launcher, a child subreaper that
keeps every orphan below it), plus anything still in its session. A watchdog sums their
memory every `_POLL_SECONDS` (RLIMIT_AS alone bounds each process, not the up to
`processes` of them). Stopping a run kills, with SIGKILL, the sandbox's init under bubblewrap
(which takes the whole pid namespace with it) or else every process below the launcher, and
`execute` returns only once those processes are gone (or, at worst, after `_REAP_SECONDS`,
with the group killed again). The output cap keeps a flood of output from filling memory or
the model's context.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import anyio
from anyio.abc import ByteReceiveStream, ByteSendStream, Process

# Loaded as a tool module, `execute` would run any command, outside any sandbox, without
# approval. Only `_sandbox.py` loads it, under its own prefix.
LOADER_PREFIX = "_agentkit_sandbox_"
if not __name__.startswith(LOADER_PREFIX):
    raise ImportError(
        "_sandbox_process.py is a helper of the `python` and `shell` tools, not a tool module: "
        "load `python` or `shell` instead"
    )

# The sandbox modes: an outcome names the one used, and reads exit statuses by it.
MODE_ENV = "AGENTKIT_SANDBOX"
BUBBLEWRAP = "bubblewrap"
RLIMITS_ONLY = "rlimits-only"
# How long a stopped run may take to end before its process group is killed outright.
_REAP_SECONDS = 10.0
# How long, once the program has ended, the processes it left behind may keep its output open.
_GRACE_SECONDS = 1.0
# How often (at least) the memory of a run's processes is measured.
_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Limits:
    """What one sandboxed run may use.

    Attributes:
        wall_seconds: Wall-clock time before the process group is killed.
        cpu_seconds: CPU time (RLIMIT_CPU soft limit: SIGXCPU, then SIGKILL a second later).
        memory_bytes: Memory of the whole run. Each process's address space (RLIMIT_AS: a
            bigger allocation fails), and the resident and swapped-out memory of all its
            processes together (shared pages counted once), measured every `_POLL_SECONDS`:
            more stops the run.
        file_bytes: Largest file a process may write (RLIMIT_FSIZE).
        tmp_bytes: Size of the private /tmp (bubblewrap mode).
        processes: Processes and threads of the sandbox user (RLIMIT_NPROC).
        open_files: Open file descriptors per process (RLIMIT_NOFILE).
        output_bytes: Bytes kept of stdout and of stderr each; more stops the process.
    """

    wall_seconds: float = 30.0
    cpu_seconds: int = 20
    memory_bytes: int = 512 * 2**20
    file_bytes: int = 16 * 2**20
    tmp_bytes: int = 64 * 2**20
    processes: int = 64
    open_files: int = 128
    output_bytes: int = 16 * 1024

    def launcher_spec(self) -> str:
        """The limits as the launcher reads them: `NAME:soft:hard,...`."""
        pairs = {
            "RLIMIT_CPU": (self.cpu_seconds, self.cpu_seconds + 1),
            "RLIMIT_AS": (self.memory_bytes, self.memory_bytes),
            "RLIMIT_FSIZE": (self.file_bytes, self.file_bytes),
            "RLIMIT_NPROC": (self.processes, self.processes),
            "RLIMIT_NOFILE": (self.open_files, self.open_files),
            "RLIMIT_CORE": (0, 0),
        }
        return ",".join(f"{name}:{soft}:{hard}" for name, (soft, hard) in pairs.items())


@dataclass
class _Capture:
    """Bytes of one output stream, up to a cap."""

    limit: int
    data: bytearray
    cut: bool = False

    def add(self, chunk: bytes) -> bool:
        """Keep what fits; True when the cap was passed."""
        room = self.limit - len(self.data)
        self.data += chunk[: max(room, 0)]
        if len(chunk) > room:
            self.cut = True
        return self.cut


@dataclass(frozen=True)
class Outcome:
    """How a sandboxed run ended, and what it printed.

    Attributes:
        mode: `bubblewrap` or `rlimits-only`.
        status: The exit status (negative: killed by that signal), None if unknown.
        stdout: Standard output, at most `limits.output_bytes`.
        stderr: Standard error, at most `limits.output_bytes`.
        stdout_cut: stdout went past the cap and the process was stopped.
        stderr_cut: stderr went past the cap and the process was stopped.
        timed_out: The wall-clock limit was reached and the process was stopped.
        limits: The limits the run had.
        memory_exceeded: The run's processes together passed the memory limit and were stopped.
        background_killed: The program ended, but processes it started were still running
            (rlimits-only mode): they were killed.
    """

    mode: str
    status: int | None
    stdout: bytes
    stderr: bytes
    stdout_cut: bool
    stderr_cut: bool
    timed_out: bool
    limits: Limits
    memory_exceeded: bool = False
    background_killed: bool = False

    @property
    def stopped(self) -> bool:
        """Whether agentkit stopped the run (then the exit status means nothing)."""
        return self.timed_out or self.stdout_cut or self.stderr_cut or self.memory_exceeded

    def notes(self) -> list[str]:
        """Why the run ended early, or how it was killed, in words."""
        notes = []
        if self.timed_out:
            notes.append(
                f"stopped: the wall-clock limit of {self.limits.wall_seconds:g} s was reached"
            )
        for name, cut in (("stdout", self.stdout_cut), ("stderr", self.stderr_cut)):
            if cut:
                notes.append(
                    f"stopped: {name} passed {self.limits.output_bytes} bytes "
                    f"(only the first {self.limits.output_bytes} are shown); print less"
                )
        if self.memory_exceeded:
            notes.append(
                f"stopped: memory limit of {self.limits.memory_bytes // 2**20} MiB reached "
                "(all the program's processes together)"
            )
        killed_by = self._signal()
        if killed_by is not None and not self.stopped:
            notes.append(f"killed by {_signal_text(killed_by, self.limits)}")
        if self.background_killed:
            notes.append(
                "the program had ended, but processes it started were still running in the "
                "background: they were killed"
            )
        return notes

    def _signal(self) -> int | None:
        if self.status is None:
            return None
        if self.status < 0:
            return -self.status
        # bwrap reports a command killed by signal N as exit status 128 + N.
        if self.mode == BUBBLEWRAP and 128 < self.status < 128 + signal.NSIG:
            return self.status - 128
        return None

    def render(self) -> str:
        """The outcome as text for the model: mode, status, notes, stdout, stderr."""
        status = "none (stopped by agentkit, see the note)" if self.stopped else str(self.status)
        lines = [f"sandbox: {_describe(self.mode)}", f"exit status: {status}"]
        lines += [f"note: {note}" for note in self.notes()]
        for name, data in (("stdout", self.stdout), ("stderr", self.stderr)):
            text = data.decode("utf-8", errors="replace")
            lines.append(f"{name}:\n{text.rstrip()}" if text.strip() else f"{name}: (empty)")
        return "\n".join(lines)


def _describe(mode: str) -> str:
    if mode == BUBBLEWRAP:
        return "bubblewrap (no network, read-only system, private /tmp)"
    return f"rlimits-only ({MODE_ENV}=rlimits: resource limits, NO filesystem or network isolation)"


def _signal_text(number: int, limits: Limits) -> str:
    try:
        name = signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
    hints = {
        "SIGXCPU": f"the CPU-time limit of {limits.cpu_seconds} s was reached",
        "SIGXFSZ": f"a file passed the size limit of {limits.file_bytes} bytes",
    }
    return f"{name}: {hints[name]}" if name in hints else name


# ---------------------------------------------------------------------------- the processes


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


def _bwrap_alive(pid: int) -> bool:
    """Whether the sandbox's init still runs (it ends once every process in it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            name, rest = stat.read().rsplit(b")", 1)
    except (OSError, ValueError):
        return False
    return name.endswith(b"(bwrap") and rest.split()[0] not in (b"Z", b"X")


# ---------------------------------------------------------------------------- running


class _Run:
    """One started run: finds, measures and kills its processes, and learns when it ended.

    `process` is bwrap, or (rlimits-only mode) the launcher, a child subreaper that stays the
    ancestor of every process of the run. Stopping under bubblewrap kills the sandbox's init
    (pid 1 of its namespace; bwrap reports its host pid on `--info-fd`): the kernel then kills
    every process in the namespace, and bwrap exits only once they are all gone. Stopping in
    rlimits-only mode kills every process below the launcher, or still in its session, round
    after round until none is left (the launcher first would orphan them out of reach); the
    launcher then exits on its own. `main_ended` is set when the program (the command itself)
    has ended: bwrap or the launcher exited, or the launcher reported the command's status.
    """

    def __init__(self, process: Process, info: int | None, report: int | None) -> None:
        self.process = process
        self.info = info
        self.report = report
        self.root_start = _start_time(process.pid)
        self.init_pid: int | None = None
        self.main_status: int | None = None
        self.main_ended = anyio.Event()
        self.memory_exceeded = False

    def members(self) -> list[int]:
        return _descendants(self.process.pid, self.root_start)

    def stop(self) -> bool:
        """Kill the run's processes now; True when some (besides bwrap or the launcher) ran."""
        if self.info is not None:
            if self.process.returncode is not None:
                return False
            pid = self._init_pid()
            if pid is None:
                _kill_group(self.process.pid)
            else:
                _kill(pid)
            return True
        members = self.members()
        for pid in members:
            _kill(pid)
        return bool(members)

    def over_memory(self, limit: int) -> bool:
        """Whether the run's processes use more than `limit` bytes (run in a worker thread)."""
        return _memory(self.members(), limit) > limit

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
                    if pid is None or not _bwrap_alive(pid):
                        break
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


async def _feed(stream: ByteSendStream, data: bytes) -> None:
    with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
        await stream.send(data)
        await stream.aclose()


async def _drain(
    stream: ByteReceiveStream, sink: _Capture, overflow: Callable[[], object], done: anyio.Event
) -> None:
    """Keep what fits of a stream until it ends; past the cap, stop the run and read no more."""
    try:
        with contextlib.suppress(anyio.EndOfStream, anyio.ClosedResourceError):
            while True:
                if sink.add(await stream.receive(65536)):
                    overflow()
                    return
    finally:
        done.set()


async def _watch(run: _Run, limits: Limits) -> None:
    """Every `_POLL_SECONDS` or so: take the launcher's report, and stop a run over memory.

    Over on two scans in a row: a process caught in the middle of exiting can look bigger.
    """
    over = 0
    while True:
        run.read_report()
        started = time.monotonic()
        over = (
            over + 1 if await anyio.to_thread.run_sync(run.over_memory, limits.memory_bytes) else 0
        )
        if over >= 2:
            run.memory_exceeded = True
            run.stop()
            return
        # On a host with many processes a scan takes longer: keep its cost a small share.
        await anyio.sleep(max(_POLL_SECONDS, 4 * (time.monotonic() - started)))


async def _ended(run: _Run) -> None:
    await run.process.wait()
    run.main_ended.set()


async def _settled(process: Process, *closed: anyio.Event) -> bool:
    """Whether the output streams close and `process` exits within `_GRACE_SECONDS`."""
    with anyio.move_on_after(_GRACE_SECONDS):
        for event in closed:
            await event.wait()
        await process.wait()
        return True
    return False


async def execute(
    argv: Sequence[str],
    *,
    cwd: str | None,
    env: dict[str, str],
    limits: Limits,
    mode: str,
    stdin: bytes | None,
    info: int | None = None,
    report: int | None = None,
    pass_fds: Sequence[int] = (),
) -> Outcome:
    """Run argv in a new session and collect its output; stop it at the end, whatever happens.

    `stdin` is sent to the program's standard input (else it reads /dev/null). `info` is the
    (non-blocking) read end of the pipe bwrap got as `--info-fd`; `report`, that of the pipe on
    which the launcher reports the command's wait status (rlimits-only mode); `pass_fds` are
    the descriptors the command line names.
    """
    out = _Capture(limits.output_bytes, bytearray())
    err = _Capture(limits.output_bytes, bytearray())
    process: Process = await anyio.open_process(
        list(argv),
        stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=env,
        start_new_session=True,
        pass_fds=tuple(pass_fds),
    )
    run = _Run(process, info, report)
    background = False
    try:
        with anyio.move_on_after(limits.wall_seconds) as deadline:
            async with anyio.create_task_group() as group:
                stdout, stderr = process.stdout, process.stderr
                assert stdout is not None
                assert stderr is not None
                closed = (anyio.Event(), anyio.Event())
                group.start_soon(_drain, stdout, out, run.stop, closed[0])
                group.start_soon(_drain, stderr, err, run.stop, closed[1])
                if process.stdin is not None and stdin is not None:
                    group.start_soon(_feed, process.stdin, stdin)
                group.start_soon(_watch, run, limits)
                group.start_soon(_ended, run)
                await run.main_ended.wait()
                # The program has ended: only processes it left behind can keep its output open
                # (or keep the launcher waiting). Give them a moment, then kill them.
                if not await _settled(process, *closed):
                    background = run.stop()
                    await _settled(process, *closed)
                group.cancel_scope.cancel()
    finally:
        left = run.stop()
        with anyio.CancelScope(shield=True):
            await run.wait()
            await process.aclose()
    timed_out = deadline.cancelled_caught and not run.main_ended.is_set()
    return Outcome(
        mode=mode,
        status=run.status(),
        stdout=bytes(out.data),
        stderr=bytes(err.data),
        stdout_cut=out.cut,
        stderr_cut=err.cut,
        timed_out=timed_out,
        limits=limits,
        memory_exceeded=run.memory_exceeded,
        background_killed=(background or left)
        and run.main_ended.is_set()
        and not (timed_out or out.cut or err.cut or run.memory_exceeded),
    )
