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
  the real host uid 65534 (so `RLIMIT_NPROC` applies: the kernel exempts uid 0 from it; a user
  namespace is not used, as bwrap would map the sandbox user to host root); otherwise bwrap
  maps uid 65534 in a user namespace (`--unshare-user`, and `--disable-userns` when it has it);
- no nested user namespaces, in either case: a seccomp filter (`userns_filter`, given to
  bwrap with `--seccomp`) makes `unshare`/`clone` with CLONE_NEWUSER and `setns` fail, and
  `clone3` report ENOSYS (so the C library falls back to `clone`); without one (a machine
  other than x86_64 or aarch64) bubblewrap is accepted only when not root and with
  `--disable-userns`. So the code cannot become root in a namespace of its own, mount its own
  filesystems (e.g. a second, uncapped /tmp) or reach the kernel code only such a root can;
- `--die-with-parent` and `--new-session` (no terminal injection): when agentkit or bwrap
  goes, everything in the sandbox goes, and when the main program ends, the pid namespace
  ends with it, so no process can linger.

**rlimits-only**, only when bubblewrap is missing or cannot create namespaces and the user set
`AGENTKIT_SANDBOX=rlimits`: the same limits, clean environment and seccomp filter (installed
by the launcher), a fresh temporary working folder, but no filesystem or network isolation.
The code runs as the same user as agentkit, except that when agentkit runs as root it runs as
uid/gid 65534 (so `RLIMIT_NPROC` bounds a fork bomb; the temporary folder is given to that
user, and the call is refused, saying why, when that user cannot reach the interpreter). The
launcher stays, as a child subreaper: every process the code starts remains below it, even
one that leaves its session, so the memory cap counts it and the end of the call kills it.
As root the code cannot signal the launcher (it is still root); as a normal user, code that
kills the launcher can leave processes behind.

In both modes a small launcher (run with `python -I -S`) sets the resource limits before it
executes the command: CPU time, address space, file size, processes, open files and core
dumps (see `Limits`). agentkit also enforces a wall-clock limit, an output cap, and a memory
cap for all the run's processes together (measured in /proc every 50 ms): on any of them, or
when the call is cancelled (agentkit's tool timeout), the run is killed with SIGKILL (under
bubblewrap its init, which takes the whole pid namespace with it; otherwise every process
below the launcher), and the call returns only once its processes are gone. When the
program ends, processes it left running (rlimits-only mode; under bubblewrap the pid
namespace ends with it) get a second to finish, then are killed, and the outcome says so.

This module holds the settings, the choice of mode (probing bubblewrap once), and the command
line: the bwrap options above and the launcher. Running that command line (limits, output
caps, deadline, killing and reaping, the outcome) is in `_sandbox_process.py`, which this
module loads.

Settings (environment, read at each call):
    AGENTKIT_SANDBOX: `bwrap` (default: bubblewrap or refuse) or `rlimits` (allow the fallback).
    AGENTKIT_BWRAP: path of the bwrap binary to use (default: `bwrap` on PATH).
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import struct
import sys
import tempfile
import types
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from agentkit.tools import import_path

# Loaded as a tool module (`--tools _sandbox`), every public function here would become a tool
# the model could call without approval. Only the `python` and `shell` modules load it, under
# this prefix.
LOADER_PREFIX = "_agentkit_sandbox_"
if not __name__.startswith(LOADER_PREFIX):
    raise ImportError(
        "_sandbox.py is the helper of the `python` and `shell` tools, not a tool module: "
        "load `python` or `shell` instead"
    )


def _load_process() -> types.ModuleType:
    """The sibling `_sandbox_process.py`, loaded once per file path (tools/ is not a package)."""
    path = Path(__file__).resolve().with_name("_sandbox_process.py")
    # This module's own prefix, which `_sandbox_process.py` checks for as well.
    return import_path(path, LOADER_PREFIX.rstrip("_"), reuse=True)


if TYPE_CHECKING:  # a type checker reads the sibling as a plain module of that name
    import _sandbox_process as _process
else:
    _process = _load_process()

# Defined with the run (an outcome names its mode); used here, and by the `python` and `shell`
# modules as `_sandbox.Limits`.
Limits = _process.Limits
Outcome = _process.Outcome
MODE_ENV = _process.MODE_ENV
BUBBLEWRAP = _process.BUBBLEWRAP
RLIMITS_ONLY = _process.RLIMITS_ONLY

BWRAP_ENV = "AGENTKIT_BWRAP"
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

# Runs as `python -I -S -c _LAUNCHER <limits> <drop|keep> <exec|FD> <filter|-> <argv...>`. The
# process that becomes the command applies the limits, drops to uid/gid 65534 when asked
# (agentkit runs as root), installs the seccomp filter when given one (rlimits-only mode; bwrap
# installs it itself), then replaces itself with argv. With `exec` the launcher is that
# process (bubblewrap). With a file descriptor (rlimits-only mode) the launcher forks it and
# stays, as a child subreaper, so that every process the command starts, even one that leaves
# its session and is orphaned, remains its descendant and agentkit can count and kill it. The
# launcher reaps, writes the command's wait status to FD when it ends, exits once no child is
# left, and ends the way the command did.
_LAUNCHER = f"""\
import os, resource, signal, sys
spec, user, how, rules, *argv = sys.argv[1:]
# Everything is imported before the drop to uid 65534, which may not reach the interpreter's
# own library: execvp imports `warnings` on its first call.
try:
    import warnings
    if how != "exec" or rules != "-":
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        class Prog(ctypes.Structure):
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]
except Exception as exc:
    sys.stderr.write(f"sandbox setup failed: {{exc}}\\n")
    os._exit(126)

def forbid(rules):
    prog = Prog(len(rules) // 8, rules)
    n = ctypes.c_ulong
    if libc.prctl(38, n(1), n(0), n(0), n(0)) or libc.prctl(22, n(2), ctypes.byref(prog)):
        raise OSError(ctypes.get_errno(), "prctl: " + os.strerror(ctypes.get_errno()))

def start():
    try:
        for item in spec.split(","):
            name, soft, hard = item.split(":")
            resource.setrlimit(getattr(resource, name), (int(soft), int(hard)))
        if user == "drop":
            os.setgroups([])
            os.setgid({SANDBOX_GID})
            os.setuid({SANDBOX_UID})
        if rules != "-":
            forbid(bytes.fromhex(rules))
    except Exception as exc:
        sys.stderr.write(f"sandbox setup failed: {{exc}}\\n")
        os._exit(126)
    os.umask(0o077)
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        hint = " (it runs as uid {SANDBOX_UID})" if user == "drop" else ""
        sys.stderr.write(f"cannot run {{argv[0]!r}}: {{exc.strerror}}{{hint}}\\n")
        os._exit(127)

if how == "exec":
    start()
report = int(how)
if libc.prctl(36, *map(ctypes.c_ulong, (1, 0, 0, 0))) != 0:
    sys.stderr.write("sandbox setup failed: cannot become a child subreaper\\n")
    os._exit(126)
main = os.fork()
if main == 0:
    os.close(report)
    start()
for number in (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGPIPE):
    signal.signal(number, signal.SIG_IGN)
status = 0
while True:
    try:
        pid, wait_status = os.wait()
    except ChildProcessError:
        break
    if pid == main:
        status = wait_status
        try:
            os.write(report, b"%d\\n" % wait_status)
        except OSError:
            pass
code = os.waitstatus_to_exitcode(status)
if code < 0:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:
        signal.signal(-code, signal.SIG_DFL)
    except (OSError, ValueError):
        pass
    os.kill(os.getpid(), -code)
    code = 128 - code
os._exit(code)
"""

# A seccomp filter (classic BPF, `struct sock_filter` records) that forbids new user
# namespaces: `unshare` and `clone` with CLONE_NEWUSER and `setns` fail with EPERM, `clone3`
# (whose flags the filter cannot read) with ENOSYS, so that the C library falls back to
# `clone`. Any system call of another ABI (x32, or 32-bit calls on x86-64) kills the process.
# Per machine: the audit architecture, the system call numbers, and whether x32 exists.
_CLONE_NEWUSER = 0x10000000
_SECCOMP_ARCHES = {
    "x86_64": (0xC000003E, {"unshare": 272, "clone": 56, "setns": 308, "clone3": 435}, True),
    "aarch64": (0xC00000B7, {"unshare": 97, "clone": 220, "setns": 268, "clone3": 435}, False),
}
_SECCOMP_ARCHES["amd64"] = _SECCOMP_ARCHES["x86_64"]
_SECCOMP_ARCHES["arm64"] = _SECCOMP_ARCHES["aarch64"]


def userns_filter() -> bytes | None:
    """The seccomp filter forbidding user namespaces here; None on an unsupported machine."""
    if struct.calcsize("P") != 8 or sys.byteorder != "little":
        return None
    arch = _SECCOMP_ARCHES.get(os.uname().machine)
    if arch is None:
        return None
    audit, numbers, x32 = arch
    ld, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    allow, errno_action, kill = 0x7FFF0000, 0x00050000, 0x80000000
    # (code, k, label if true, label if false); labels name the instruction they precede.
    code: list[tuple[int, int, str | None, str | None]] = [
        (ld, 4, None, None),  # seccomp_data.arch
        (jeq, audit, None, "kill"),
        (ld, 0, None, None),  # seccomp_data.nr
        *([(jge, 0x40000000, "kill", None)] if x32 else []),
        (jeq, numbers["clone3"], "nosys", None),
        (jeq, numbers["setns"], "deny", None),
        (jeq, numbers["unshare"], "check", None),
        (jeq, numbers["clone"], "check", "allow"),
    ]
    labels = {"check": len(code)}
    code += [(ld, 16, None, None), (jset, _CLONE_NEWUSER, "deny", "allow")]  # args[0], low half
    for label, action in (("allow", allow), ("deny", errno_action | errno.EPERM)):
        labels[label] = len(code)
        code.append((ret, action, None, None))
    for label, action in (("nosys", errno_action | errno.ENOSYS), ("kill", kill)):
        labels[label] = len(code)
        code.append((ret, action, None, None))
    out = bytearray()
    for index, (op, k, yes, no) in enumerate(code):
        jt = labels[yes] - index - 1 if yes else 0
        jf = labels[no] - index - 1 if no else 0
        out += struct.pack("=HBBI", op, jt, jf, k)
    return bytes(out)


class SandboxUnavailable(RuntimeError):
    """No acceptable sandbox on this machine; the message says what the user can do."""


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


def _launch(
    command: Sequence[str],
    limits: Limits,
    *,
    drop: bool,
    report_fd: int | None = None,
    rules: bytes | None = None,
) -> list[str]:
    """The launcher's command line: it execs `command` itself, or supervises it (`report_fd`)."""
    spec = limits.launcher_spec()
    user = "drop" if drop else "keep"
    how = "exec" if report_fd is None else str(report_fd)
    seccomp = rules.hex() if rules is not None else "-"
    return [interpreter(), "-I", "-S", "-c", _LAUNCHER, spec, user, how, seccomp, *command]


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
    bwrap: _Bwrap,
    command: Sequence[str],
    workdir: Path | None,
    limits: Limits,
    info_fd: int,
    seccomp_fd: int | None,
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
        # No user namespace here: bwrap would map the sandbox user to host root. The seccomp
        # filter (required as root, see `_userns_guard`) forbids nested user namespaces.
        argv += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        argv += ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_GID)]
        argv += ["--disable-userns"] if "--disable-userns" in features else []
    if seccomp_fd is not None:
        argv += ["--seccomp", str(seccomp_fd)]
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


async def _run_bwrap(
    bwrap: _Bwrap,
    command: Sequence[str],
    workdir: Path | None,
    limits: Limits,
    stdin: bytes | None = None,
) -> Outcome:
    rules = userns_filter()
    fds: list[int] = []
    try:
        info = os.pipe()
        fds += info
        os.set_blocking(info[0], False)
        seccomp_fd = None
        if rules is not None:
            # bwrap reads the filter from this pipe up to its end (it fits in the pipe buffer).
            seccomp = os.pipe()
            fds += seccomp
            os.write(seccomp[1], rules)
            os.close(seccomp[1])
            fds.remove(seccomp[1])
            seccomp_fd = seccomp[0]
        argv = _bwrap_argv(bwrap, command, workdir, limits, info[1], seccomp_fd)
        env = _sandbox_env("/")
        passed = (info[1],) if seccomp_fd is None else (info[1], seccomp_fd)
        return await _process.execute(
            argv,
            cwd=None,
            env=env,
            limits=limits,
            mode=BUBBLEWRAP,
            stdin=stdin,
            info=info[0],
            pass_fds=passed,
        )
    finally:
        for fd in fds:
            os.close(fd)


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


def _userns_guard(features: frozenset[str]) -> str | None:
    """Why nested user namespaces could not be forbidden under bwrap here; None if they can."""
    if userns_filter() is not None:
        return None
    if os.geteuid() != 0 and "--disable-userns" in features:
        return None
    machine = os.uname().machine
    if os.geteuid() == 0:
        return (
            f"agentkit runs as root on {machine}, where the sandbox has no seccomp filter to "
            "forbid nested user namespaces (x86_64 and aarch64 only)"
        )
    return (
        f"this bubblewrap lacks --disable-userns (0.8 or newer is needed) and the sandbox has "
        f"no seccomp filter for {machine}, so nested user namespaces cannot be forbidden"
    )


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
    guard = _userns_guard(found.features)
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
    return await _run_rlimits(command, workdir, limits, stdin)


async def _run_rlimits(
    command: Sequence[str], workdir: Path | None, limits: Limits, stdin: bytes | None
) -> Outcome:
    rules = userns_filter()
    if rules is None:
        raise SandboxUnavailable(
            f"rlimits-only mode has no seccomp filter to forbid user namespaces on "
            f"{os.uname().machine} (x86_64 and aarch64 only), so the code was not run. Tell "
            "the user; do not retry. The user can install bubblewrap."
        )
    drop = os.geteuid() == 0
    if drop:
        _check_reachable(command)
    report = os.pipe()
    try:
        os.set_blocking(report[0], False)
        with tempfile.TemporaryDirectory(prefix="agentkit-sandbox-") as home:
            if drop:
                # The code runs as uid 65534: its home and working folder must be its own.
                os.chown(home, SANDBOX_UID, SANDBOX_GID)
            argv = _launch(command, limits, drop=drop, report_fd=report[1], rules=rules)
            cwd = str(workdir) if workdir is not None else home
            env = _sandbox_env(home)
            return await _process.execute(
                argv,
                cwd=cwd,
                env=env,
                limits=limits,
                mode=RLIMITS_ONLY,
                stdin=stdin,
                report=report[0],
                pass_fds=(report[1],),
            )
    finally:
        os.close(report[0])
        os.close(report[1])


def _not_searchable(path: str) -> str | None:
    """The first folder above `path` that uid 65534 may not pass (by its mode bits), if any."""
    for folder in reversed(Path(os.path.realpath(path)).parents):
        try:
            info = os.stat(folder)
        except OSError:
            return str(folder)
        if info.st_uid != SANDBOX_UID and not info.st_mode & stat.S_IXOTH:
            return str(folder)
    return None


def _check_reachable(command: Sequence[str]) -> None:
    """Refuse, saying why, when uid 65534 could not even start the program (rlimits as root)."""
    paths = [command[0]] if os.path.isabs(command[0]) else []
    own = getattr(sys, "_base_executable", "") or sys.executable
    if paths and os.path.realpath(command[0]) == os.path.realpath(own):
        # The interpreter agentkit runs on also needs its installation (standard library).
        paths += [os.path.join(root, "lib") for root in _python_roots()]
    for path in paths:
        folder = _not_searchable(path)
        if folder is not None:
            raise SandboxUnavailable(
                f"rlimits-only mode runs the code as uid {SANDBOX_UID} when agentkit runs as "
                f"root, and that user cannot reach {path} ({folder} is not searchable by "
                "others), so the code was not run. Tell the user; do not retry. The user can "
                "install bubblewrap, run agentkit as a normal user, or use a Python installed "
                "where every user can read it."
            )
