"""One supervised run of a sandbox command: limits, capped output, deadline, and a clean end.

A helper of `_sandbox.py` (which builds the command line and picks the mode), not a tool
module. It holds:

- `Limits`, what one run may use, and `Limits.launcher_spec()`, the resource limits in the
  form the launcher applies before it executes the command;
- `execute(argv, ...)`, which starts the command in a new session, feeds its stdin, keeps at
  most `output_bytes` of stdout and of stderr, and stops it at the wall-clock limit, on an
  output overflow, or when the call is cancelled;
- `Outcome`, how the run ended, and `Outcome.render()`, the text the model reads.

Security role: no process of a run outlives the call. Stopping a run kills, with SIGKILL, the
sandbox's init under bubblewrap (which takes the whole pid namespace with it) or else the
process group, and `execute` returns only once those processes are gone (or, at worst,
after `_REAP_SECONDS`, with the group killed again). The output cap keeps a flood of output
from filling memory or the model's context.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
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


@dataclass(frozen=True)
class Limits:
    """What one sandboxed run may use.

    Attributes:
        wall_seconds: Wall-clock time before the process group is killed.
        cpu_seconds: CPU time (RLIMIT_CPU soft limit: SIGXCPU, then SIGKILL a second later).
        memory_bytes: Address space of each process (RLIMIT_AS): a bigger allocation fails.
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
    """

    mode: str
    status: int | None
    stdout: bytes
    stderr: bytes
    stdout_cut: bool
    stderr_cut: bool
    timed_out: bool
    limits: Limits

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
        killed_by = self._signal()
        if killed_by is not None and not (self.timed_out or self.stdout_cut or self.stderr_cut):
            notes.append(f"killed by {_signal_text(killed_by, self.limits)}")
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
        stopped = self.timed_out or self.stdout_cut or self.stderr_cut
        status = "none (stopped by agentkit, see the note)" if stopped else str(self.status)
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


# ---------------------------------------------------------------------------- running


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


def _group_alive(pgid: int) -> bool:
    """Whether a process group still has a live (not zombie) member."""
    if not os.path.isdir("/proc/self"):
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    # Fields after the name: state, ppid, pgrp. Zombies only wait to be reaped.
    return any(int(f[2]) == pgid and f[0] != b"Z" for _, f in _stats())


def _bwrap_alive(pid: int) -> bool:
    """Whether the sandbox's init still runs (it ends once every process in it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            name, rest = stat.read().rsplit(b")", 1)
    except (OSError, ValueError):
        return False
    return name.endswith(b"(bwrap") and rest.split()[0] not in (b"Z", b"X")


class _Stopper:
    """Ends a run for good, whichever way it is running.

    Under bubblewrap it kills the sandbox's init (pid 1 of its namespace; bwrap reports its
    host pid on `--info-fd`): the kernel then kills every process in the namespace, and bwrap
    exits only once they are all gone, so waiting for bwrap waits for all of them. Otherwise
    (rlimits-only mode, or before bwrap reported) it kills the process group.
    """

    def __init__(self, process: Process, info: int | None) -> None:
        self.process = process
        self.info = info
        self.init_pid: int | None = None
        self.killed_group = False

    def __call__(self) -> None:
        if self.info is None:
            _kill_group(self.process.pid)
            self.killed_group = True
        elif self.process.returncode is None:
            pid = self._init_pid()
            if pid is None:
                _kill_group(self.process.pid)
            else:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    async def wait(self) -> None:
        """Wait until every process of the run is gone (at most `_REAP_SECONDS`)."""
        with anyio.move_on_after(_REAP_SECONDS):
            await self.process.wait()
            # bwrap may exit as soon as the command has, while its init is still killing the
            # rest of the namespace; killed members of a group take a moment to die too. No
            # event says when (their parent may be gone): poll.
            for _ in range(int(_REAP_SECONDS * 100)):
                if not self._leftovers():
                    break
                await anyio.sleep(0.01)
        if self.process.returncode is None:
            _kill_group(self.process.pid)

    def _leftovers(self) -> bool:
        if self.info is None:
            return self.killed_group and _group_alive(self.process.pid)
        pid = self._init_pid()
        return pid is not None and _bwrap_alive(pid)

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


async def _drain(stream: ByteReceiveStream, sink: _Capture, overflow: Callable[[], None]) -> None:
    with contextlib.suppress(anyio.EndOfStream, anyio.ClosedResourceError):
        while True:
            if sink.add(await stream.receive(65536)):
                overflow()
                return


async def execute(
    argv: Sequence[str],
    *,
    cwd: str | None,
    env: dict[str, str],
    limits: Limits,
    mode: str,
    stdin: bytes | None,
    info: tuple[int, int] | None = None,
) -> Outcome:
    """Run argv in a new session and collect its output; stop it at the end, whatever happens.

    `stdin` is sent to the program's standard input (else it reads /dev/null); `info` is the
    (read, write) pipe whose write end bwrap got as `--info-fd`.
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
        pass_fds=(info[1],) if info else (),
    )
    stop = _Stopper(process, info[0] if info else None)
    try:
        with anyio.move_on_after(limits.wall_seconds) as deadline:
            async with anyio.create_task_group() as group:
                stdout, stderr = process.stdout, process.stderr
                assert stdout is not None
                assert stderr is not None
                group.start_soon(_drain, stdout, out, stop)
                group.start_soon(_drain, stderr, err, stop)
                if process.stdin is not None and stdin is not None:
                    group.start_soon(_feed, process.stdin, stdin)
                await process.wait()
                # Children left in the group (rlimits-only mode) would hold the pipes open.
                stop()
    finally:
        stop()
        with anyio.CancelScope(shield=True):
            await stop.wait()
            await process.aclose()
    return Outcome(
        mode=mode,
        status=process.returncode,
        stdout=bytes(out.data),
        stderr=bytes(err.data),
        stdout_cut=out.cut,
        stderr_cut=err.cut,
        timed_out=deadline.cancelled_caught,
        limits=limits,
    )
