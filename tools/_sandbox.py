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
  at the end; the `shell` tool also sees one folder read-only at `/work`;
- a fresh `/proc` (only the sandbox's own processes) and a minimal `/dev`;
- a clean environment (`--clearenv`, then `PATH`, `HOME`, `LANG`, `TMPDIR` only): API keys and
  other secrets in agentkit's environment never reach the code, nor bwrap itself;
- the code runs as uid/gid 65534 ("nobody") without capabilities and with `no_new_privs`:
  when agentkit runs as root, bwrap keeps only CAP_SETUID/CAP_SETGID and the launcher drops to
  the real host uid 65534 (so `RLIMIT_NPROC` applies: the kernel exempts uid 0 from it);
  otherwise bwrap maps uid 65534 in a user namespace and forbids nested user namespaces;
- `--die-with-parent` and `--new-session` (no terminal injection): when agentkit or bwrap
  goes, everything in the sandbox goes, and when the main program ends, the pid namespace
  ends with it, so no process can linger.

**rlimits-only**, only when bubblewrap is missing or cannot create namespaces and the user set
`AGENTKIT_SANDBOX=rlimits`: the same launcher, limits, clean environment, fresh temporary
working folder and process-group kill, but no filesystem or network isolation, the code runs
as the same user as agentkit, and a process that starts its own session can outlive the call.

In both modes a small launcher (run with `python -I -S`) sets the resource limits before it
executes the command: CPU time, address space, file size, processes, open files and core
dumps (see `Limits`). agentkit also enforces a wall-clock limit and an output cap: on either,
or when the call is cancelled (agentkit's tool timeout), the run is killed with SIGKILL (under
bubblewrap its init, which takes the whole pid namespace with it; otherwise its process
group), and the call returns only once its processes are gone.

Settings (environment, read at each call):
    AGENTKIT_SANDBOX: `bwrap` (default: bubblewrap or refuse) or `rlimits` (allow the fallback).
    AGENTKIT_BWRAP: path of the bwrap binary to use (default: `bwrap` on PATH).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio
from anyio.abc import ByteReceiveStream, ByteSendStream, Process

# Loaded as a tool module (`--tools _sandbox`), every public function here would become a tool
# the model could call without approval. Only the `python` and `shell` modules load it, under
# this prefix.
LOADER_PREFIX = "_agentkit_sandbox_"
if not __name__.startswith(LOADER_PREFIX):
    raise ImportError(
        "_sandbox.py is the helper of the `python` and `shell` tools, not a tool module: "
        "load `python` or `shell` instead"
    )

MODE_ENV = "AGENTKIT_SANDBOX"
BWRAP_ENV = "AGENTKIT_BWRAP"
BUBBLEWRAP = "bubblewrap"
RLIMITS_ONLY = "rlimits-only"
WORKDIR = "/work"
SANDBOX_UID = 65534
SANDBOX_GID = 65534

_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ETC_FILES = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/alternatives",
)
_PATH = "/usr/local/bin:/usr/bin:/bin"
_PROBE_SECONDS = 20.0
# How long a stopped run may take to end before its process group is killed outright.
_REAP_SECONDS = 10.0

# Runs as `python -I -S -c _LAUNCHER <limits> <drop|keep> <argv...>`: it applies the limits,
# drops to uid/gid 65534 when asked (bubblewrap as root), then replaces itself with argv.
_LAUNCHER = f"""\
import os, resource, sys
for item in sys.argv[1].split(","):
    name, soft, hard = item.split(":")
    resource.setrlimit(getattr(resource, name), (int(soft), int(hard)))
if sys.argv[2] == "drop":
    os.setgroups([])
    os.setgid({SANDBOX_GID})
    os.setuid({SANDBOX_UID})
os.umask(0o077)
try:
    os.execvp(sys.argv[3], sys.argv[3:])
except OSError as exc:
    sys.stderr.write(f"cannot run {{sys.argv[3]!r}}: {{exc.strerror}}\\n")
    sys.exit(127)
"""


class SandboxUnavailable(RuntimeError):
    """No acceptable sandbox on this machine; the message says what the user can do."""


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


# ---------------------------------------------------------------------------- locating things


def interpreter() -> str:
    """The Python interpreter the sandbox runs: the base installation of the current one."""
    candidate = getattr(sys, "_base_executable", "") or sys.executable
    return os.path.abspath(candidate)


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _python_roots() -> list[str]:
    """The installation prefixes to bind, leaving out those the system folders cover."""
    roots = {os.path.normpath(p) for p in (sys.base_prefix, sys.base_exec_prefix)}
    return sorted(r for r in roots if not any(_under(r, d) for d in _SYSTEM_DIRS))


def _python_problem() -> str | None:
    too_broad = {"/", "/home", "/root", os.path.expanduser("~")}
    for root in _python_roots():
        if root in too_broad:
            return f"the Python prefix {root} is too broad to share read-only with the sandbox"
    exe = interpreter()
    if not any(_under(exe, d) for d in (*_SYSTEM_DIRS, *_python_roots())):
        return f"the interpreter {exe} lies outside {', '.join(_python_roots())}"
    return None


def bwrap_path() -> str | None:
    """The bwrap binary: `AGENTKIT_BWRAP` when set, else `bwrap` on PATH; None if missing."""
    configured = os.environ.get(BWRAP_ENV, "").strip()
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    return shutil.which("bwrap")


# ---------------------------------------------------------------------------- command lines


@dataclass(frozen=True)
class _Bwrap:
    """A bwrap binary that works here, and the options it understands."""

    path: str
    features: frozenset[str]


def _launch(command: Sequence[str], limits: Limits, *, drop: bool) -> list[str]:
    spec = limits.launcher_spec()
    return [interpreter(), "-I", "-S", "-c", _LAUNCHER, spec, "drop" if drop else "keep", *command]


def _system_binds() -> list[str]:
    args: list[str] = []
    for folder in _SYSTEM_DIRS:
        if os.path.islink(folder):
            args += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            args += ["--ro-bind", folder, folder]
    # The dynamic linker (running as the sandbox user) must be able to read /etc/ld.so.cache.
    args += ["--perms", "0755", "--dir", "/etc"]
    for name in _ETC_FILES:
        args += ["--ro-bind-try", name, name]
    return args


def _python_binds() -> list[str]:
    args: list[str] = []
    made: set[str] = set()
    for root in _python_roots():
        # Folders bwrap creates on the way are 0700 for root; the sandbox user must pass them.
        for parent in reversed(Path(root).parents[:-1]):
            if str(parent) not in made:
                made.add(str(parent))
                args += ["--perms", "0755", "--dir", str(parent)]
        args += ["--ro-bind", root, root]
    return args


def _bwrap_argv(
    bwrap: _Bwrap, command: Sequence[str], workdir: Path | None, limits: Limits, info_fd: int
) -> list[str]:
    as_root = os.geteuid() == 0
    features = bwrap.features
    argv = [bwrap.path, "--info-fd", str(info_fd), "--unshare-net", "--unshare-pid"]
    argv += ["--unshare-ipc", "--unshare-uts"]
    argv += ["--unshare-cgroup-try", "--hostname", "sandbox", "--die-with-parent"]
    argv += ["--new-session", "--clearenv"]
    for key, value in _sandbox_env("/tmp").items():
        argv += ["--setenv", key, value]
    if as_root:
        argv += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        argv += ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_GID)]
        argv += ["--disable-userns"] if "--disable-userns" in features else []
    argv += _system_binds() + _python_binds()
    argv += ["--proc", "/proc", "--dev", "/dev"]
    argv += ["--size", str(limits.tmp_bytes)] if "--size" in features else []
    argv += ["--perms", "1777", "--tmpfs", "/tmp"]
    if workdir is not None:
        argv += ["--ro-bind", str(workdir), WORKDIR, "--chdir", WORKDIR]
    else:
        argv += ["--chdir", "/tmp"]
    return [*argv, "--", *_launch(command, limits, drop=as_root)]


def _sandbox_env(home: str) -> dict[str, str]:
    return {"PATH": _PATH, "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8"}


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


async def _execute(
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


async def _run_bwrap(
    bwrap: _Bwrap,
    command: Sequence[str],
    workdir: Path | None,
    limits: Limits,
    stdin: bytes | None = None,
) -> Outcome:
    info = os.pipe()
    try:
        os.set_blocking(info[0], False)
        argv = _bwrap_argv(bwrap, command, workdir, limits, info[1])
        env = _sandbox_env("/")
        return await _execute(
            argv, cwd=None, env=env, limits=limits, mode=BUBBLEWRAP, stdin=stdin, info=info
        )
    finally:
        os.close(info[0])
        os.close(info[1])


_PROBED: dict[tuple[str, int, str], _Bwrap | str] = {}


async def find_bwrap() -> _Bwrap | str:
    """A working bubblewrap, or why there is none (checked once per binary, uid, interpreter)."""
    bwrap = bwrap_path()
    if bwrap is None:
        where = os.environ.get(BWRAP_ENV, "").strip() or "`bwrap` on PATH"
        return f"bubblewrap is not installed (looked for {where})"
    key = (bwrap, os.geteuid(), interpreter())
    if key not in _PROBED:
        _PROBED[key] = await _probe(bwrap)
    return _PROBED[key]


async def _probe(bwrap: str) -> _Bwrap | str:
    problem = _python_problem()
    if problem is not None:
        return problem
    env = _sandbox_env("/")
    try:
        with anyio.fail_after(_PROBE_SECONDS):
            shown = await anyio.run_process([bwrap, "--help"], env=env, check=False)
    except (OSError, TimeoutError) as exc:
        return f"bubblewrap at {bwrap} cannot be started: {exc}"
    text = (shown.stdout + shown.stderr).decode("utf-8", errors="replace")
    if "--perms" not in text:
        return f"bubblewrap at {bwrap} is too old (it lacks --perms; 0.5 or newer is needed)"
    found = _Bwrap(bwrap, frozenset(o for o in ("--size", "--disable-userns") if o in text))
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
    setting = os.environ.get(MODE_ENV, "").strip().lower() or "bwrap"
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
        f"{MODE_ENV}=rlimits to accept rlimits-only mode (no filesystem or network isolation)."
    )


async def run(
    command: Sequence[str],
    *,
    stdin: bytes | None = None,
    workdir: Path | None = None,
    limits: Limits | None = None,
) -> Outcome:
    """Run `command` (an argv, resolved on the sandbox's PATH) in the best allowed sandbox.

    Args:
        command: The program and its arguments.
        stdin: Bytes for the program's standard input; None gives it /dev/null.
        workdir: A folder to show read-only at /work and run in; None runs in the empty /tmp.
        limits: The limits of this run; None uses the defaults.

    Returns:
        The outcome: mode, exit status, capped stdout and stderr, and why it ended early.

    Raises:
        SandboxUnavailable: Bubblewrap does not work here and rlimits-only mode is not allowed.
    """
    limits = limits or Limits()
    bwrap = await choose_mode()
    if bwrap is not None:
        return await _run_bwrap(bwrap, command, workdir, limits, stdin)
    with tempfile.TemporaryDirectory(prefix="agentkit-sandbox-") as home:
        argv = _launch(command, limits, drop=False)
        cwd = str(workdir) if workdir is not None else home
        env = _sandbox_env(home)
        return await _execute(argv, cwd=cwd, env=env, limits=limits, mode=RLIMITS_ONLY, stdin=stdin)
