"""The command lines of a sandboxed run: bubblewrap's options, and the launcher's.

A helper of `_sandbox.py`, not a tool module. It holds:

- `bwrap_argv(...)`: bwrap's namespaces, binds and options (`_sandbox.py` describes what they
  build), ending with the launcher's command line;
- `LAUNCHER` and `launcher_argv(...)`: the small program (`_sandbox_launcher.py`, run with
  `python -I -S -c`) that starts the command in both modes, and the argv that runs it;
- `run_uid()`: a uid of its own for a run, when agentkit runs as root;
- `sandbox_env(home)`, the whole environment of a run, and `python_roots()`, the Python
  installation folders bound read-only next to the system ones.

They are apart from `_sandbox.py`, which decides the mode and runs these command lines, so that
what the sandbox shows and how the command is started can be read, and reviewed, in one place.
Everything here only builds argv lists and the environment: nothing is started here.

Security role: the launcher applies the resource limits (see `Limits.launcher_limits()` in
`_sandbox_process.py`), joins the run's cgroup, drops to the run's own uid when agentkit runs
as root, leaves agentkit's session keyring, confines itself with Landlock (rlimits-only mode)
and installs the seccomp filter, then executes the command; in rlimits-only mode it stays, as
a child subreaper, so that no process of the run escapes it.
"""

from __future__ import annotations

import contextlib
import grp
import json
import os
import pwd
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

WORKDIR = "/work"
# The user and group the code runs as inside bubblewrap's user namespace (agentkit is not
# root): "nobody". As root, each run has a uid of its own instead (`run_uid`).
SANDBOX_UID = 65534
SANDBOX_GID = 65534

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/alternatives",
)
_PATH = "/usr/local/bin:/usr/bin:/bin"

# The launcher's source (`_sandbox_launcher.py`), passed to the interpreter with `-c`: the
# sandbox user may not be able to read agentkit's files, and under bubblewrap cannot see them.
LAUNCHER = Path(__file__).with_name("_sandbox_launcher.py").read_text(encoding="utf-8")

# The uids (and gids) a run gets when agentkit runs as root: one of its own per run, drawn at
# random from this range (and checked to be unknown to the system and unused), so that no
# other process, and no later run, shares its processes, keyrings or files.
RUN_IDS = range(2_000_000_000, 2_000_000_000 + 2**24)


def run_uid() -> int:
    """A uid (also used as the gid) for one run: in `RUN_IDS`, unknown here and unused.

    Raises:
        RuntimeError: No free uid was found (a dozen random tries all taken).
    """
    taken = _subordinate_ranges()
    for _ in range(12):
        uid = RUN_IDS[secrets.randbelow(len(RUN_IDS))]
        if any(uid in r for r in taken) or _known_id(uid) or _running_as(uid):
            continue
        return uid
    raise RuntimeError("no free uid for the sandbox in its reserved range")


def _known_id(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
    except KeyError:
        try:
            grp.getgrgid(uid)
        except KeyError:
            return False
    return True


def _subordinate_ranges() -> list[range]:
    """The uid and gid ranges /etc/subuid and /etc/subgid give to users' namespaces."""
    found = []
    for name in ("/etc/subuid", "/etc/subgid"):
        try:
            lines = Path(name).read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            with contextlib.suppress(ValueError):
                _, start, count = line.split(":")
                found.append(range(int(start), int(start) + int(count)))
    return found


def _running_as(uid: int) -> bool:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    return True
    return False


def launcher_argv(interpreter: str, command: Sequence[str], plan: dict[str, Any]) -> list[str]:
    """The launcher's command line: it sets up what `plan` says, then runs `command`.

    `plan` (see `_sandbox_launcher.py`): `limits` (name, soft, hard triples), and optionally
    `uid`/`gid` to drop to, `report_fd` (stay as a subreaper and report the status there),
    `cgroup_fd` (join that cgroup), `keyctl` (the system call number: join a new session
    keyring), `landlock` (the rules), `seccomp` (the filter, hex), `ipc_namespace`, and
    `nproc_extra` (count the user's other threads into RLIMIT_NPROC).
    """
    text = json.dumps(plan, separators=(",", ":"))
    return [interpreter, "-I", "-S", "-c", LAUNCHER, text, *command]


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
    for name in ETC_FILES:
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
    hidden: Sequence[str] = (),
) -> list[str]:
    """bwrap's command line, ending with `launcher` (which must drop to its uid when `as_root`).

    `features` are the options this bwrap understands (`--size`, `--disable-userns`);
    `hidden` are paths below `workdir` shown empty (secret files as /dev/null, secret
    folders as empty read-only folders).
    """
    argv = [bwrap, "--info-fd", str(info_fd), "--unshare-net", "--unshare-pid"]
    argv += ["--unshare-ipc", "--unshare-uts"]
    argv += ["--unshare-cgroup-try", "--hostname", "sandbox", "--die-with-parent"]
    argv += ["--new-session", "--clearenv"]
    for key, value in sandbox_env("/tmp").items():
        argv += ["--setenv", key, value]
    if as_root:
        # No user namespace here: bwrap would map the sandbox user to host root. The seccomp
        # filter the launcher installs (required as root: `userns_guard` in
        # `_sandbox_seccomp.py`) forbids nested user namespaces.
        argv += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        argv += ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_GID)]
        argv += ["--disable-userns"] if "--disable-userns" in features else []
    argv += _system_binds() + _python_binds()
    argv += ["--proc", "/proc", "--dev", "/dev"]
    argv += ["--size", str(tmp_bytes)] if "--size" in features else []
    argv += ["--perms", "1777", "--tmpfs", "/tmp"]
    if workdir is not None:
        argv += ["--ro-bind", str(workdir), WORKDIR, "--chdir", WORKDIR]
        for path in hidden:
            inside = f"{WORKDIR}/{path}"
            if os.path.isdir(workdir / path):
                argv += ["--perms", "0555", "--tmpfs", inside, "--remount-ro", inside]
            else:
                argv += ["--ro-bind", "/dev/null", inside]
    else:
        argv += ["--chdir", "/tmp"]
    # The root and /dev are bwrap's own tmpfs mounts, of no size limit, and owned by the
    # sandbox user in a user namespace: read-only, /tmp stays the one place it can write.
    argv += ["--remount-ro", "/dev", "--remount-ro", "/"]
    return [*argv, "--", *launcher]
