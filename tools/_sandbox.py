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

This module holds the settings, the choice of mode (probing bubblewrap once), and the command
line: the bwrap options above and the launcher. Running that command line (limits, output
caps, deadline, killing and reaping, the outcome) is in `_sandbox_process.py`, which this
module loads.

Settings (environment, read at each call):
    AGENTKIT_SANDBOX: `bwrap` (default: bubblewrap or refuse) or `rlimits` (allow the fallback).
    AGENTKIT_BWRAP: path of the bwrap binary to use (default: `bwrap` on PATH).
"""

from __future__ import annotations

import os
import shutil
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
        return await _process.execute(
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
        return await _process.execute(
            argv, cwd=cwd, env=env, limits=limits, mode=RLIMITS_ONLY, stdin=stdin
        )
