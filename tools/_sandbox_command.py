"""The command lines of a sandboxed run: bubblewrap's options, and the launcher's.

A helper of `_sandbox.py`, not a tool module. It holds:

- `bwrap_argv(...)`: bwrap's namespaces, binds and options (`_sandbox.py` describes what they
  build), ending with the launcher's command line;
- `LAUNCHER` and `launcher_argv(...)`: the small program (run with `python -I -S -c`) that
  starts the command in both modes, and the argv that runs it;
- `sandbox_env(home)`, the whole environment of a run, and `python_roots()`, the Python
  installation folders bound read-only next to the system ones.

They are apart from `_sandbox.py`, which decides the mode and runs these command lines, so that
what the sandbox shows and how the command is started can be read, and reviewed, in one place.
Everything here only builds argv lists and the environment: nothing is started here.

Security role: the launcher applies the resource limits (see `Limits.launcher_spec()` in
`_sandbox_process.py`), drops to uid/gid 65534 when agentkit runs as root, installs the seccomp
filter when given one (rlimits-only mode; bwrap installs it itself), then executes the command;
in rlimits-only mode it stays, as a child subreaper, so that no process of the run escapes it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

WORKDIR = "/work"
# The user and group the code runs as: "nobody".
SANDBOX_UID = 65534
SANDBOX_GID = 65534

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ETC_FILES = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/alternatives",
)
_PATH = "/usr/local/bin:/usr/bin:/bin"

# Runs as `python -I -S -c LAUNCHER <limits> <drop|keep> <exec|FD> <filter|-> <argv...>`. The
# process that becomes the command applies the limits, drops to uid/gid 65534 when asked
# (agentkit runs as root), installs the seccomp filter when given one (rlimits-only mode; bwrap
# installs it itself), then replaces itself with argv. With `exec` the launcher is that
# process (bubblewrap). With a file descriptor (rlimits-only mode) the launcher forks it and
# stays, as a child subreaper, so that every process the command starts, even one that leaves
# its session and is orphaned, remains its descendant and agentkit can count and kill it. The
# launcher reaps, writes the command's wait status to FD when it ends, exits once no child is
# left, and ends the way the command did.
LAUNCHER = f"""\
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


def launcher_argv(
    interpreter: str,
    command: Sequence[str],
    spec: str,
    *,
    drop: bool,
    report_fd: int | None = None,
    rules: bytes | None = None,
) -> list[str]:
    """The launcher's command line: it execs `command` itself, or supervises it (`report_fd`).

    `interpreter` runs the launcher; `spec` is `Limits.launcher_spec()`; `drop` makes it
    drop to uid/gid 65534; `rules` is a seccomp filter for it to install (rlimits-only mode).
    """
    user = "drop" if drop else "keep"
    how = "exec" if report_fd is None else str(report_fd)
    seccomp = rules.hex() if rules is not None else "-"
    return [interpreter, "-I", "-S", "-c", LAUNCHER, spec, user, how, seccomp, *command]


def sandbox_env(home: str) -> dict[str, str]:
    """The whole environment of a run (and of bwrap itself): nothing of agentkit's."""
    return {"PATH": _PATH, "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8"}


def under(path: str, folder: str) -> bool:
    """Whether `path` is `folder` or lies below it."""
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def python_roots() -> list[str]:
    """The installation prefixes to bind, leaving out those the system folders cover."""
    roots = {os.path.normpath(p) for p in (sys.base_prefix, sys.base_exec_prefix)}
    return sorted(r for r in roots if not any(under(r, d) for d in SYSTEM_DIRS))


def _system_binds() -> list[str]:
    args: list[str] = []
    for folder in SYSTEM_DIRS:
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
    for root in python_roots():
        # Folders bwrap creates on the way are 0700 for root; the sandbox user must pass them.
        for parent in reversed(Path(root).parents[:-1]):
            if str(parent) not in made:
                made.add(str(parent))
                args += ["--perms", "0755", "--dir", str(parent)]
        args += ["--ro-bind", root, root]
    return args


def bwrap_argv(
    bwrap: str,
    features: frozenset[str],
    launcher: Sequence[str],
    *,
    as_root: bool,
    workdir: Path | None,
    tmp_bytes: int,
    info_fd: int,
    seccomp_fd: int | None,
) -> list[str]:
    """bwrap's command line, ending with `launcher` (which must drop to 65534 when `as_root`).

    `features` are the options this bwrap understands (`--size`, `--disable-userns`).
    """
    argv = [bwrap, "--info-fd", str(info_fd), "--unshare-net", "--unshare-pid"]
    argv += ["--unshare-ipc", "--unshare-uts"]
    argv += ["--unshare-cgroup-try", "--hostname", "sandbox", "--die-with-parent"]
    argv += ["--new-session", "--clearenv"]
    for key, value in sandbox_env("/tmp").items():
        argv += ["--setenv", key, value]
    if as_root:
        # No user namespace here: bwrap would map the sandbox user to host root. The seccomp
        # filter (required as root: `userns_guard` in `_sandbox_seccomp.py`) forbids nested
        # user namespaces.
        argv += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        argv += ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_GID)]
        argv += ["--disable-userns"] if "--disable-userns" in features else []
    if seccomp_fd is not None:
        argv += ["--seccomp", str(seccomp_fd)]
    argv += _system_binds() + _python_binds()
    argv += ["--proc", "/proc", "--dev", "/dev"]
    argv += ["--size", str(tmp_bytes)] if "--size" in features else []
    argv += ["--perms", "1777", "--tmpfs", "/tmp"]
    if workdir is not None:
        argv += ["--ro-bind", str(workdir), WORKDIR, "--chdir", WORKDIR]
    else:
        argv += ["--chdir", "/tmp"]
    return [*argv, "--", *launcher]
