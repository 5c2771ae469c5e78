"""A third attacker's pass: what is left to code that runs as the user agentkit runs as.

Found when this branch met main and was attacked again, in each mode and as each user:

- under bubblewrap as a normal user, the sandbox's root, `/etc`, `/dev` and `/dev/shm` were
  bubblewrap's own tmpfs mounts, owned by the sandbox user and of no size limit: the code
  could write there (outside the 64 MiB of /tmp, and outside the memory cap without a cgroup);
- in rlimits-only mode as a normal user, Landlock kept the code from the user's files and
  signals, but not from changing the user's other processes (`prlimit` on agentkit itself,
  `setpriority`, CPU affinity, scheduling) nor from changing the mode, owner, times or
  extended attributes of the user's files (`chmod 777` on a private file).

Each runs from a separate agentkit process (`_sandbox_users.Runner`), as the fixtures of
test_sandbox_attacks.py give it, and is skipped, with the reason, where the mode cannot run.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from _sandbox_users import Runner
from test_sandbox_attacks import runner, stdout_of  # noqa: F401

pytestmark = pytest.mark.slow


def python(runner: Runner, code: str) -> dict[str, str]:  # noqa: F811
    """What the code printed as `name value` lines, as a dict (the run must end well)."""
    found = runner.call("python", {"code": textwrap.dedent(code)})
    result: str = found["result"]
    assert "exit status: 0" in result, result
    return dict(line.split(" ", 1) for line in stdout_of(result).splitlines() if " " in line)


WRITES = """
import os, json
home = os.environ["HOME"]
written = []
for folder in ("/", "/etc", "/dev", "/dev/shm", "/usr", home):
    try:
        with open(os.path.join(folder, "planted"), "wb") as out:
            out.write(b"x" * (1 << 20))
        written.append(folder)
    except OSError:
        pass
print("home", home)
print("written", json.dumps(written))
"""


def test_only_the_temporary_folder_can_be_written(runner: Runner) -> None:  # noqa: F811
    found = python(runner, WRITES)
    assert json.loads(found["written"]) == [found["home"]]


@pytest.fixture
def bystander(runner: Runner) -> Iterator[subprocess.Popen[bytes]]:  # noqa: F811
    """A process of the runner's user, unrelated to the run (the user's editor, say)."""
    argv = ["sleep", "120"]
    if runner.user is not None:
        argv = ["setpriv", "--reuid", runner.user, "--regid", runner.user, "--clear-groups", *argv]
    process = subprocess.Popen(argv)
    yield process
    process.kill()
    process.wait()


def _settings(pid: int) -> tuple[object, ...]:
    # The limits as /proc shows them: prlimit on another uid's process needs CAP_SYS_RESOURCE.
    return (
        Path(f"/proc/{pid}/limits").read_text(),
        os.getpriority(os.PRIO_PROCESS, pid),
        os.sched_getaffinity(pid),
        os.sched_getscheduler(pid),
    )


# Each change the code tries on another process, then the same on itself (which must work).
PROCESS_CHANGES = """
import os, resource
others = {{"bystander": {bystander}, "agentkit": __AGENTKIT_PID__}}
for name, pid in others.items():
    for what, change in [
        ("nofile", lambda: resource.prlimit(pid, resource.RLIMIT_NOFILE, (3, 3))),
        ("cpu", lambda: resource.prlimit(pid, resource.RLIMIT_CPU, (1, 1))),
        ("nice", lambda: os.setpriority(os.PRIO_PROCESS, pid, 19)),
        ("affinity", lambda: os.sched_setaffinity(pid, {{min(os.sched_getaffinity(0))}})),
        ("idle", lambda: os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0))),
    ]:
        try:
            change()
            print(name + "-" + what, "changed")
        except OSError as exc:
            print(name + "-" + what, exc.strerror)
try:
    # Every process of the caller's uid (under bubblewrap, of those in its pid namespace).
    os.setpriority(os.PRIO_USER, 0, 19)
except OSError:
    pass
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
os.nice(1)
os.sched_setaffinity(0, os.sched_getaffinity(0))
print("own ok")
"""


def test_the_users_other_processes_keep_their_limits_and_priority(
    runner: Runner,  # noqa: F811
    bystander: subprocess.Popen[bytes],
) -> None:
    before = _settings(bystander.pid)
    found = python(runner, PROCESS_CHANGES.format(bystander=bystander.pid))
    assert "changed" not in found.values(), found
    assert found["own"] == "ok"
    assert _settings(bystander.pid) == before
    assert bystander.poll() is None


@pytest.fixture
def victim(runner: Runner) -> Path:  # noqa: F811
    """A private file of the runner's user, in a project folder of the user's."""
    project = runner.folder / f"project-{secrets.token_hex(3)}"
    project.mkdir()
    path = project / "private.txt"
    path.write_text("the user's own\n")
    for made in (project, path):
        os.chown(made, runner.uid, runner.uid)
    path.chmod(0o600)
    os.utime(path, (1_000_000_000, 1_000_000_000))
    return path


def _metadata(path: Path) -> tuple[object, ...]:
    info = os.stat(path)
    attributes: list[str] = []
    with contextlib.suppress(OSError):
        attributes = os.listxattr(path)
    return (info.st_mode, info.st_uid, info.st_gid, info.st_mtime_ns, attributes)


# By name and through a descriptor opened for reading (which Landlock grants in a folder the
# code is shown): mode, owner, times, extended attributes.
METADATA_CHANGES = """
import os, sys
path = sys.argv[1] if len(sys.argv) > 1 else {path!r}
def through_fd(change):
    fd = os.open(path, os.O_RDONLY)
    try:
        change(fd)
    finally:
        os.close(fd)
for what, change in [
    ("chmod", lambda: os.chmod(path, 0o777)),
    ("chown", lambda: os.chown(path, -1, os.getgid())),
    ("utime", lambda: os.utime(path, (0, 0))),
    ("xattr", lambda: os.setxattr(path, "user.planted", b"1")),
    ("fchmod", lambda: through_fd(lambda fd: os.fchmod(fd, 0o777))),
    ("futime", lambda: through_fd(lambda fd: os.utime(fd, (0, 0)))),
    ("fxattr", lambda: through_fd(lambda fd: os.setxattr(fd, "user.planted", b"1"))),
]:
    try:
        change()
        print(what, "changed")
    except OSError as exc:
        print(what, exc.strerror)
"""


def test_the_users_files_keep_their_mode_owner_and_times(
    runner: Runner,  # noqa: F811
    victim: Path,
) -> None:
    before = _metadata(victim)
    found = python(runner, METADATA_CHANGES.format(path=str(victim)))
    assert "changed" not in found.values(), found
    # With its folder shown to the code (as `shell` shows one): it may open the file to read.
    # bubblewrap shows it at /work; rlimits-only mode, where it is.
    rlimits = runner.env.get("AGENTKIT_SANDBOX") == "rlimits"
    inside = str(victim) if rlimits else f"/work/{victim.name}"
    argv = ["python3", "-I", "-c", METADATA_CHANGES.format(path=""), inside]
    shown = runner.call("_sandbox_run", {"argv": argv, "workdir": str(victim.parent)})
    assert "exit status: 0" in shown["result"], shown["result"]
    assert " changed" not in stdout_of(shown["result"]), shown["result"]
    assert _metadata(victim) == before
