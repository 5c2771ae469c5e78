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
memory limit. Finding a run's processes in /proc, the memory watchdog, killing them and
waiting until they are gone are in `_sandbox_proctree.py`, which this module loads; `execute`
stops the run, whatever happens, and returns only once its processes are gone. The output cap
keeps a flood of output from filling memory or the model's context.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import anyio
from anyio.abc import ByteReceiveStream, ByteSendStream, Process

from . import _sandbox_cgroup as _cgroup, _sandbox_proctree as _proctree

# The sandbox modes: an outcome names the one used, and reads exit statuses by it.
MODE_ENV = "AGENTKIT_SANDBOX"
BUBBLEWRAP = "bubblewrap"
RLIMITS_ONLY = "rlimits-only"
# How long, once the program has ended, the processes it left behind may keep its output open.
_GRACE_SECONDS = 1.0


@dataclass(frozen=True)
class Limits:
    """What one sandboxed run may use.

    Attributes:
        wall_seconds: Wall-clock time before the process group is killed.
        cpu_seconds: CPU time (RLIMIT_CPU soft limit: SIGXCPU, then SIGKILL a second later).
        memory_bytes: Memory of the whole run. Each process's address space (RLIMIT_AS: a
            bigger allocation fails); the resident and swapped-out memory of all its
            processes together (shared pages counted once), measured every `_POLL_SECONDS`
            of `_sandbox_proctree.py`: more stops the run; and, where a cgroup can be made,
            everything the kernel charges to the run's cgroup (`_sandbox_cgroup.py`).
        file_bytes: Largest file a process may write (RLIMIT_FSIZE).
        tmp_bytes: Size of the private /tmp (bubblewrap mode), or of the temporary folder
            (rlimits-only mode, measured every few scans: more stops the run).
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

    def launcher_limits(self) -> list[tuple[str, int, int]]:
        """The limits as the launcher applies them: (name, soft, hard) for `resource`."""
        pairs = {
            "RLIMIT_CPU": (self.cpu_seconds, self.cpu_seconds + 1),
            "RLIMIT_AS": (self.memory_bytes, self.memory_bytes),
            "RLIMIT_FSIZE": (self.file_bytes, self.file_bytes),
            "RLIMIT_NPROC": (self.processes, self.processes),
            "RLIMIT_NOFILE": (self.open_files, self.open_files),
            "RLIMIT_CORE": (0, 0),
            "RLIMIT_MSGQUEUE": (0, 0),
        }
        return [(name, soft, hard) for name, (soft, hard) in pairs.items()]


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
        tmp_exceeded: The temporary folder passed its size or entry limit (rlimits-only
            mode) and the run was stopped.
        left_running: Processes of the run still alive after it was stopped (none, unless
            the kernel would not let agentkit kill them).
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
    tmp_exceeded: bool = False
    left_running: int = 0

    @property
    def stopped(self) -> bool:
        """Whether agentkit stopped the run (then the exit status means nothing)."""
        cut = self.stdout_cut or self.stderr_cut
        return self.timed_out or cut or self.memory_exceeded or self.tmp_exceeded

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
        if self.tmp_exceeded:
            notes.append(
                f"stopped: the temporary folder passed {self.limits.tmp_bytes // 2**20} MiB "
                "(or too many files); write less"
            )
        killed_by = self._signal()
        if killed_by is not None and not self.stopped:
            notes.append(f"killed by {_signal_text(killed_by, self.limits)}")
        if self.background_killed and not self.left_running:
            notes.append(
                "the program had ended, but processes it started were still running in the "
                "background: they were killed"
            )
        if self.left_running:
            notes.append(
                f"{self.left_running} process(es) of the program could not be killed and may "
                "still be running"
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
    return (
        f"rlimits-only ({MODE_ENV}=rlimits: resource limits; Landlock: reads only the system, "
        "writes only its temporary folder; no network sockets; not namespaced)"
    )


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


async def _ended(run: _proctree.Run) -> None:
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
    cgroup: _cgroup.RunCgroup | None = None,
    uid: int | None = None,
    tmp: str | None = None,
) -> Outcome:
    """Run argv in a new session and collect its output; stop it at the end, whatever happens.

    `stdin` is sent to the program's standard input (else it reads /dev/null), a pipe: the
    program never gets agentkit's terminal, nor a controlling terminal (a new session).
    `info` is the (non-blocking) read end of the pipe bwrap got as `--info-fd`; `report`,
    that of the pipe on which the launcher reports the command's wait status (rlimits-only
    mode); `pass_fds` are the descriptors the command line names. `cgroup` and `uid` are the
    run's own, when it has them: their processes are the run's too. `tmp` is the run's
    temporary folder on the host (rlimits-only mode), held to `limits.tmp_bytes`.
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
    run = _proctree.Run(process, info, report, cgroup, uid)
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
                group.start_soon(_proctree.watch, run, limits.memory_bytes, tmp, limits.tmp_bytes)
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
    if cgroup is not None and cgroup.oom_kills():
        run.memory_exceeded = True
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
        and not (timed_out or out.cut or err.cut or run.memory_exceeded or run.tmp_exceeded),
        tmp_exceeded=run.tmp_exceeded,
        left_running=run.left(),
    )
