"""Attacks on the sandbox from a separate agentkit process, in each mode and as each user.

Each test starts agentkit in a process of its own (`_sandbox_users.Runner`): as root, and as
a throwaway normal user (created for the session; the tests run as root), under bubblewrap
and in rlimits-only mode; the code then attacks what such a process has around it: its
session keyring, its environment (the API key), its memory, its terminal, its launcher, the
user's files, and the state a later call could find. A mode the machine cannot give is
skipped with the reason (bubblewrap missing, or rlimits-only mode refused: that refusal has
tests of its own in test_sandbox_limits.py).
"""

from __future__ import annotations

import os
import secrets
import textwrap
from pathlib import Path
from typing import Any

import pytest
from _sandbox_users import Runner, ThrowawayUser, python_for_others

from agentkit.toolbox import _sandbox, _sandbox_rlimits

pytestmark = pytest.mark.slow

SECRET = "sk-canary-" + secrets.token_hex(12)
MODES = ["bubblewrap-root", "rlimits-root", "bubblewrap-user", "rlimits-user"]


def _mode_problem(mode: str, runner: Runner) -> str | None:
    """Why `mode` cannot run here, or None."""
    as_root = mode.endswith("root")
    if mode.startswith("rlimits"):
        if python_for_others() is None:
            return "no Python that the run's own uid can reach (rlimits-only mode as root)"
        abi = _sandbox_rlimits.landlock_abi()
        return _sandbox_rlimits.problem(filter_exists=True, as_root=as_root, abi=abi)
    probe = runner.call("_sandbox_probe", {})
    return None if probe["result"] == "ok" else probe["result"]


@pytest.fixture(params=MODES)
def runner(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Runner:
    """A separate agentkit process in one mode, as root or as the throwaway user."""
    mode: str = request.param
    env = {"AGENTKIT_API_KEY": SECRET}
    if mode.startswith("rlimits"):
        env |= {"AGENTKIT_SANDBOX": "rlimits", "AGENTKIT_BWRAP": "/nonexistent/bwrap"}
    if os.geteuid() != 0:
        if mode.endswith("root"):
            pytest.skip("the tests do not run as root")
        if mode.startswith("rlimits"):  # the tests' own user
            folder = tmp_path_factory.mktemp("runner")
            return Runner(folder, None, env)
    if mode.endswith("user"):
        user: ThrowawayUser = request.getfixturevalue("user")
        made = Runner(user.folder, user.name, env)
    else:
        made = Runner(tmp_path_factory.mktemp("runner"), None, env)
    why = _mode_problem(mode, made)
    if why is not None:
        pytest.skip(f"{mode} cannot run here: {why}")
    return made


def python(runner: Runner, code: str, **options: Any) -> str:
    found = runner.call("python", {"code": textwrap.dedent(code)}, **options)
    result: str = found["result"]
    assert result.startswith("sandbox: "), result
    return result


def stdout_of(result: str) -> str:
    return result.split("stdout:", 1)[1].split("\nstderr:", 1)[0].strip()


def processes_with(marker: str) -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path("/proc", entry, "cmdline").read_bytes()
            except OSError:
                continue
            if marker.encode() in cmdline:
                found.append(cmdline.replace(b"\0", b" ").decode(errors="replace"))
    return found


KEYCTL = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
KEYCTL = {"x86_64": 250, "aarch64": 219}[os.uname().machine]
ADD_KEY = {"x86_64": 248, "aarch64": 217}[os.uname().machine]
def err():
    return os.strerror(ctypes.get_errno())
buffer = ctypes.create_string_buffer(65536)
"""

# Every way to a key of the caller's: its keyrings (session, user, user session, process,
# thread), a search by description, every serial /proc/keys shows; then a key added to the
# user's keyrings, which would outlive the call.
KEY_THEFT = (
    KEYCTL
    + """
serials = set()
for ring in (-3, -4, -5, -2, -1):
    n = libc.syscall(KEYCTL, 11, ring, buffer, 65536)  # KEYCTL_READ of a keyring
    print("keyring", ring, n if n >= 0 else err())
    for i in range(0, max(n, 0), 4):
        serials.add(int.from_bytes(buffer.raw[i:i + 4], "little"))
for ring in (-3, -4, -5):
    n = libc.syscall(KEYCTL, 10, ring, b"user", b"agentkit-canary", 0)  # KEYCTL_SEARCH
    print("search", ring, n if n >= 0 else err())
    if n > 0:
        serials.add(n)
try:
    listed = open("/proc/keys").read()
    print("proc keys:", listed)
    serials.update(int(line.split()[0], 16) for line in listed.splitlines() if line)
except OSError as exc:
    print("proc keys:", exc.strerror)
for serial in sorted(serials):
    n = libc.syscall(KEYCTL, 11, serial, buffer, 65536)
    print("read", serial, buffer.raw[: max(n, 0)] if n >= 0 else err())
for ring in (-4, -5, -3):
    n = libc.syscall(ADD_KEY, b"user", b"agentkit-planted", b"planted", 7, ring)
    print("ADDED" if n >= 0 else f"add to {ring} refused: {err()}")
"""
)


def test_the_callers_session_keyring_is_out_of_reach(runner: Runner) -> None:
    # Item 1: the sandbox shared the caller's session keyring (read its keys, add keys).
    result = python(runner, KEY_THEFT, keyring_secret=SECRET)
    assert "exit status: 0" in result, result
    assert SECRET not in result
    assert "ADDED" not in result
    assert "add to -4 refused: Operation not permitted" in result


KEY_PLANT = (
    KEYCTL
    + """
for ring in (-4, -5):
    n = libc.syscall(ADD_KEY, b"user", b"agentkit-left-behind", b"from call one", 13, ring)
    print("ADDED" if n >= 0 else f"refused: {err()}")
open("/tmp/left-behind-{marker}", "w").write("from call one")
"""
)
KEY_FIND = (
    KEYCTL
    + """
import os
for ring in (-4, -5):
    n = libc.syscall(KEYCTL, 10, ring, b"user", b"agentkit-left-behind", 0)
    print("FOUND" if n >= 0 else f"not found: {err()}")
print("file", os.path.exists("/tmp/left-behind-{marker}"))
"""
)


def test_a_later_call_finds_nothing_an_earlier_one_left(runner: Runner) -> None:
    # Item 6: a key stored by one call was read by a later call of another agentkit process.
    marker = secrets.token_hex(6)
    first = python(runner, KEY_PLANT.replace("{marker}", marker))
    assert "ADDED" not in first, first
    later = python(runner, KEY_FIND.replace("{marker}", marker))
    assert "FOUND" not in later, later
    assert "file False" in stdout_of(later), later


# Where /proc cannot be listed (rlimits-only mode), the pids around agentkit's are tried (an
# attacker would guess them: pids are handed out in order); the runner fills in its own.
PIDS = """
try:
    pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
except OSError:
    pids = [1, *range(max(2, __AGENTKIT_PID__ - 300), __AGENTKIT_PID__ + 300)]
"""

ENVIRON_THEFT = (
    """
import ctypes, os, re
libc = ctypes.CDLL(None, use_errno=True)
readable = 0
"""
    + PIDS
    + """
for pid in pids:
    for name in ("environ", "cmdline", "mem"):
        try:
            with open(f"/proc/{pid}/{name}", "rb") as file:
                data = file.read(1_000_000)
        except OSError:
            continue
        readable += 1
        for found in re.findall(rb"API_KEY=[^\\x00]*", data):
            print("found in", pid, name, found)
    if pid != os.getpid() and libc.ptrace(16, pid, None, None) == 0:  # PTRACE_ATTACH
        print("ATT" + "ACHED", pid)  # split: the runner's command line holds this source
print("readable files:", readable)
"""
)


def test_the_agentkit_process_environment_and_memory_are_out_of_reach(runner: Runner) -> None:
    # Item 2: in rlimits mode as a user, the code read the API key from agentkit's
    # /proc/<pid>/environ and could attach to agentkit with ptrace.
    result = python(runner, ENVIRON_THEFT)
    assert "exit status: 0" in result, result
    assert SECRET not in result
    assert "ATTACHED" not in result


def test_code_cannot_kill_its_launcher_nor_leave_a_process(runner: Runner) -> None:
    # Item 8: code that killed its launcher left a process behind, and the result said all
    # was killed.
    marker = f"{secrets.randbelow(10**6)}.{secrets.randbelow(10**3)}"
    result = python(
        runner,
        f"""
        import os, signal, subprocess
        subprocess.Popen(["sleep", "{marker}"], start_new_session=True)
        for pid in (os.getppid(), 1):
            try:
                os.kill(pid, signal.SIGKILL)
                print("killed", pid)
            except OSError as exc:
                print("kill", pid, exc.strerror)
        """,
    )
    assert stdout_of(result).count("kill") == 2, result  # it ran past starting the sleep
    assert processes_with(marker) == [], result
    assert "could not be killed" not in result


TERMINAL_ATTACK = (
    """
import os
escape = b"\\x1b]52;c;cHduZWQ=\\x07\\x1b]0;owned\\x07"
targets = ["/dev/tty", *(f"/dev/pts/{n}" for n in range(64))]  # whether listed or not
"""
    + PIDS
    + """
for pid in pids:
    targets += [f"/proc/{pid}/fd/{fd}" for fd in (0, 1, 2)]
for target in targets:
    try:
        with open(target, "wb", buffering=0) as out:
            out.write(escape)
        if os.path.realpath(target).startswith("/dev/pts"):
            print("WROTE", target)
    except OSError:
        pass
import fcntl, termios
for fd in (0, 1, 2):
    try:
        fcntl.ioctl(fd, termios.TIOCSTI, b"x")
        print("INJECTED", fd)
    except OSError:
        pass
print("done")
"""
)


def test_the_code_never_reaches_the_terminal(runner: Runner) -> None:
    # Item 8: code wrote OSC 52 (clipboard) and title sequences to the user's terminal.
    found = runner.call("python", {"code": TERMINAL_ATTACK}, terminal=True)
    assert "done" in found["result"], found["result"]
    assert "WROTE" not in found["result"]
    assert "INJECTED" not in found["result"]
    assert b"\x1b]" not in found["terminal"], found["terminal"]


def test_the_users_files_cannot_be_written(runner: Runner) -> None:
    # Item 8: `sort -o` (an output option of an allowed program) overwrote a project file
    # and wrote into the home folder. The sandbox itself must keep them read-only, whatever
    # the program: here it is run directly, past the shell tool's argument check.
    project = runner.folder / f"project-{secrets.token_hex(3)}"
    project.mkdir()
    (project / "notes.txt").write_text("beta\nalpha\n")
    for path in (project, project / "notes.txt"):
        os.chown(path, runner.uid, runner.uid)
    home_file = runner.folder / "planted.txt"
    argv = ["sort", "-o", str(project / "notes.txt"), str(project / "notes.txt")]
    found = runner.call("_sandbox_run", {"argv": argv, "workdir": str(project)})
    assert "exit status: 0" not in found["result"], found["result"]
    argv = ["sort", "-o", str(home_file), str(project / "notes.txt")]
    found = runner.call("_sandbox_run", {"argv": argv, "workdir": str(project)})
    assert (project / "notes.txt").read_text() == "beta\nalpha\n"
    assert not home_file.exists(), found["result"]


def test_the_run_is_another_user_or_confined(runner: Runner) -> None:
    # Whatever the mode, the code's uid is not agentkit's own unless Landlock confines it.
    result = python(runner, "import os\nprint(os.getuid())\n")
    uid = int(stdout_of(result))
    if "rlimits-only" in result and uid == runner.uid:
        assert "Landlock" in result
    elif "bubblewrap" in result:
        assert uid in (65534, *_sandbox._command.RUN_IDS)
