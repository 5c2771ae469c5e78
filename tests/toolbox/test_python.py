"""The `python` tool, loaded the way a user loads it, then attacked from inside the sandbox.

Each escape attempt prints BLOCKED (with the exception it met) or ESCAPED. The tests that
need bubblewrap are skipped, with the reason, when it is missing or cannot create namespaces.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import shutil
import socket
import subprocess
import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from agentkit import ModelRetry, Tool, UserError
from agentkit.toolbox._sandbox_command import RUN_IDS
from agentkit.tools import load_tools

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parents[2]
SECRET = "sk-secret-" + secrets.token_hex(8)


@pytest.fixture(scope="module")
def tool() -> Tool:
    tools = {t.name: t for t in load_tools("python")}
    return tools["python"]


@pytest.fixture(scope="module")
def sandbox(tool: Tool) -> types.ModuleType:
    module: types.ModuleType = tool.function.__globals__["_sandbox"]
    return module


@pytest.fixture(autouse=True)
def clean_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AGENTKIT_SANDBOX", "AGENTKIT_BWRAP"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def short_limits(tool: Tool, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Set smaller limits on the loaded module for one test: `short_limits(wall_seconds=1)`."""

    def apply(**changes: Any) -> None:
        limits = dataclasses.replace(tool.function.__globals__["_LIMITS"], **changes)
        monkeypatch.setitem(tool.function.__globals__, "_LIMITS", limits)

    return apply


async def run(tool: Tool, code: str) -> str:
    result = await tool.invoke(tool.validate({"code": textwrap.dedent(code)}), None)
    assert isinstance(result, str)
    return result


def stdout_of(result: str) -> str:
    return result.split("stdout:", 1)[1].split("\nstderr:", 1)[0].strip()


def attempt(action: str) -> str:
    """Code that runs `action` and prints BLOCKED (and why) or ESCAPED."""
    return (
        "import ctypes, os, pathlib, signal, socket, sys\n"
        "try:\n"
        f"{textwrap.indent(textwrap.dedent(action).strip(), '    ')}\n"
        "except BaseException as exc:\n"
        "    print('BLOCKED', type(exc).__name__, exc)\n"
        "else:\n"
        "    print('ESCAPED')\n"
    )


def processes_with(marker: str) -> list[str]:
    """Command lines of the host's processes that mention `marker`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path("/proc", entry, "cmdline").read_bytes()
            except OSError:
                continue
            if marker.encode() in cmdline:
                found.append(cmdline.replace(b"\0", b" ").decode(errors="replace")[:200])
    return found


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.setblocking(False)
    yield server
    server.close()


def sandbox_uid() -> tuple[int, int] | None:
    """The uid and gid the code runs as under bubblewrap; None as root (one of its own)."""
    return None if os.geteuid() == 0 else (65534, 65534)


def is_run_uid(text: str) -> bool:
    """Whether `text` is a uid from the range of the runs' own uids (agentkit is root)."""
    return text.isdigit() and int(text) in RUN_IDS


@pytest.fixture
def rlimits_mode(sandbox: types.ModuleType, monkeypatch: pytest.MonkeyPatch) -> int | None:
    """Allow rlimits-only mode (no bubblewrap) for one test; the uid the code runs as.

    None as root: the code then runs as a uid of its own, which must be able to reach the
    interpreter: when the one agentkit runs on lies in a private folder (pyenv in /root), the
    system's is used. As a normal user the mode needs Landlock ABI 6, else the test skips.
    """
    monkeypatch.setenv("AGENTKIT_BWRAP", "/nonexistent/bwrap")
    monkeypatch.setenv("AGENTKIT_SANDBOX", "rlimits")
    rlimits = sandbox._rlimits
    why = rlimits.problem_here()
    if why is not None:
        pytest.skip(f"rlimits-only mode is refused on this machine: {why}")
    if os.geteuid() != 0:
        return os.geteuid()
    probe = RUN_IDS[0]
    if rlimits.not_searchable(sandbox.interpreter(), probe) is not None:
        system = shutil.which(f"python3.{sys.version_info.minor}", path="/usr/bin:/bin")
        system = system or shutil.which("python3", path="/usr/bin:/bin")
        if system is None or rlimits.not_searchable(system, probe) is not None:
            pytest.skip("no Python interpreter that another user can run for rlimits-only mode")
        monkeypatch.setattr(sandbox, "interpreter", lambda: system)
    return None


def _host_file_in_home() -> Path | None:
    home = Path.home()
    try:
        entries = sorted(home.iterdir())
    except OSError:
        return None
    return next((p for p in entries if p.is_file() and os.access(p, os.R_OK)), None)


# ---------------------------------------------------------------------------- the tool itself


def test_loads_with_approval_and_described_parameters(tool: Tool) -> None:
    assert tool.name == "python"
    assert tool.requires_approval is True
    assert tool.is_async
    properties = tool.parameters["properties"]
    assert set(properties) == {"code"}
    assert all(p.get("description") for p in properties.values())
    assert tool.timeout is not None
    assert tool.timeout > tool.function.__globals__["_LIMITS"].wall_seconds


@pytest.mark.parametrize(
    ("code", "expected"),
    [("", "empty"), ("   \n", "empty"), ("print(1)\x00", "NUL"), ("#" * 100_001, "limit")],
)
async def test_unusable_code_is_sent_back_to_the_model(
    tool: Tool, code: str, expected: str
) -> None:
    with pytest.raises(ModelRetry, match=expected):
        await tool.invoke(tool.validate({"code": code}), None)


async def test_prints_stdout_stderr_and_exit_status(tool: Tool, bwrap: None) -> None:
    result = await run(
        tool,
        """
        import sys
        print(sum(range(10)))
        print("to stderr", file=sys.stderr)
        sys.exit(3)
        """,
    )
    assert result.startswith("sandbox: bubblewrap")
    assert "exit status: 3" in result
    assert stdout_of(result) == "45"
    assert "stderr:\nto stderr" in result


async def test_an_exception_shows_its_traceback(tool: Tool, bwrap: None) -> None:
    result = await run(tool, "1 / 0")
    assert "exit status: 1" in result
    assert "ZeroDivisionError" in result


async def test_runs_as_nobody_in_an_empty_private_tmp(tool: Tool, bwrap: None) -> None:
    result = await run(
        tool,
        """
        import os, socket
        print(os.getuid(), os.getgid(), os.getcwd(), os.listdir("/tmp"), socket.gethostname())
        """,
    )
    uid, gid, rest = stdout_of(result).split(" ", 2)
    assert rest == "/tmp [] sandbox"
    if sandbox_uid() is None:  # as root: a uid (and gid) of the run's own
        assert is_run_uid(uid) and gid == uid, result
    else:
        assert (int(uid), int(gid)) == sandbox_uid()


async def test_tmp_is_writable_and_discarded(tool: Tool, bwrap: None) -> None:
    code = """
    import os
    print(os.listdir("/tmp"))
    open("/tmp/left-behind", "w").write("x")
    """
    assert stdout_of(await run(tool, code)) == "[]"
    assert stdout_of(await run(tool, code)) == "[]"


# ---------------------------------------------------------------------------- escape attempts

ESCAPES = {
    "connect-public-ip": "socket.create_connection(('1.1.1.1', 80), timeout=1)",
    "udp-to-public-dns": "socket.socket(type=socket.SOCK_DGRAM).sendto(b'x', ('8.8.8.8', 53))",
    "resolve-a-name": "socket.getaddrinfo('example.com', 443)",
    "read-etc-shadow": "open('/etc/shadow').read()",
    "read-etc-passwd": "open('/etc/passwd').read()",
    "read-root-ssh": "os.listdir('/root/.ssh')",
    "read-through-proc-1-root": "open('/proc/1/root/etc/shadow').read()",
    "read-a-symlink-to-shadow": "os.symlink('/etc/shadow', '/tmp/s'); open('/tmp/s').read()",
    "write-root-dir": "open('/escape', 'w').write('x')",
    "write-usr": "open('/usr/escape', 'w').write('x')",
    "write-etc": "open('/etc/escape', 'w').write('x')",
    "write-dev-shm": "open('/dev/shm/escape', 'w').write('x')",
    "write-python-prefix": "open(os.path.join(sys.prefix, 'escape'), 'w').write('x')",
    "write-proc-sys": "open('/proc/sys/kernel/hostname', 'w').write('x')",
    "become-root": "os.setuid(0)",
    "chroot": "os.chroot('/tmp')",
    "mount-tmpfs": textwrap.dedent(
        """
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.mount(b'none', b'/usr', b'tmpfs', 0, None) != 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
        """
    ),
    "host-sys": "os.listdir('/sys/class/net')",
    "unshare-a-user-namespace": textwrap.dedent(
        """
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(0x10000000) != 0:  # CLONE_NEWUSER
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
        """
    ),
    "clone-into-a-user-namespace": textwrap.dedent(
        """
        libc = ctypes.CDLL(None, use_errno=True)
        number = {'x86_64': 56, 'aarch64': 220}[os.uname().machine]  # clone
        pid = libc.syscall(number, 0x10000000 | signal.SIGCHLD, 0, 0, 0, 0)
        if pid == 0:
            os._exit(0)
        if pid < 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
        os.waitpid(pid, 0)
        """
    ),
    "raw-disk": "open('/dev/sda', 'rb').read(1)",
    "kernel-memory": "open('/dev/mem', 'rb').read(1)",
}


@pytest.mark.parametrize("action", ESCAPES.values(), ids=ESCAPES.keys())
async def test_escape_attempt_is_blocked(tool: Tool, bwrap: None, action: str) -> None:
    result = await run(tool, attempt(action))
    assert "BLOCKED" in stdout_of(result), result
    assert "ESCAPED" not in result


NESTED_NAMESPACE = """
import os, shutil, subprocess
try:
    status = open("/proc/self/status").read()
    caps = [l.split()[1] for l in status.splitlines() if l.startswith(("CapEff", "CapPrm"))]
except OSError:  # rlimits-only mode: no /proc
    caps = "unreadable"
print("uid", os.getuid(), "caps", caps)
# clone3 is refused with ENOSYS, so the C library falls back to clone: spawning still works.
pid = os.posix_spawn("/bin/true", ["true"], {})
print("spawned", os.waitpid(pid, 0)[1])
if shutil.which("unshare"):
    shell = "mount -t tmpfs -o size=1g none /tmp && echo MOUNTED"
    found = subprocess.run(["unshare", "-Urm", "sh", "-c", shell], capture_output=True, text=True)
    print("unshare", found.returncode, found.stdout.strip(), found.stderr.strip())
"""


async def test_no_nested_user_namespace_so_no_private_mounts(tool: Tool, bwrap: None) -> None:
    result = await run(tool, NESTED_NAMESPACE)
    lines = stdout_of(result).splitlines()
    _, uid, rest = lines[0].split(" ", 2)
    assert uid == "65534" if sandbox_uid() else is_run_uid(uid), result
    assert rest == "caps ['0000000000000000', '0000000000000000']"
    assert lines[1] == "spawned 0"
    assert "MOUNTED" not in result
    if len(lines) > 2:
        assert lines[2].startswith("unshare 1 "), result


async def test_no_nested_user_namespace_in_rlimits_only_mode(
    tool: Tool, rlimits_mode: int | None
) -> None:
    result = await run(tool, NESTED_NAMESPACE)
    lines = stdout_of(result).splitlines()
    uid = lines[0].split()[1]
    assert uid == str(rlimits_mode) if rlimits_mode is not None else is_run_uid(uid), result
    assert lines[1] == "spawned 0", result
    assert "MOUNTED" not in result
    result = await run(tool, attempt(ESCAPES["unshare-a-user-namespace"]))
    assert "BLOCKED" in stdout_of(result), result


async def test_cannot_connect_to_a_server_on_the_hosts_loopback(
    tool: Tool, bwrap: None, listener: socket.socket
) -> None:
    port = listener.getsockname()[1]
    result = await run(tool, attempt(f"socket.create_connection(('127.0.0.1', {port}), timeout=1)"))
    assert "BLOCKED" in stdout_of(result)
    with pytest.raises(BlockingIOError):
        listener.accept()


async def test_cannot_read_the_project_or_the_hosts_home(tool: Tool, bwrap: None) -> None:
    targets = [REPO / "pyproject.toml", REPO / "tools" / "python.py"]
    home_file = _host_file_in_home()
    if home_file is not None:
        targets.append(home_file)
    for target in targets:
        assert target.is_file()
        result = await run(tool, attempt(f"open({str(target)!r}).read()"))
        assert "BLOCKED" in stdout_of(result), (target, result)


async def test_secrets_in_the_environment_are_not_visible(
    tool: Tool, bwrap: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("AGENTKIT_API_KEY", SECRET)
    result = await run(
        tool,
        """
        import os
        print(dict(os.environ))
        print(open("/proc/self/environ", "rb").read())
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    print(pid, open(f"/proc/{pid}/environ", "rb").read())
                except OSError as exc:
                    print(pid, type(exc).__name__)
        """,
    )
    assert "exit status: 0" in result
    assert SECRET not in result
    assert "OPENAI_API_KEY" not in result


async def test_cannot_kill_or_trace_processes_outside(
    tool: Tool, bwrap: None, tmp_path: Path
) -> None:
    canary = subprocess.Popen(["sleep", "30"])
    try:
        result = await run(
            tool,
            f"""
            import ctypes, os, signal
            for pid in ({os.getpid()}, {canary.pid}):
                try:
                    os.kill(pid, signal.SIGKILL)
                    print("KILLED", pid)
                except OSError as exc:
                    print("BLOCKED kill", type(exc).__name__)
                libc = ctypes.CDLL(None, use_errno=True)
                if libc.ptrace(16, pid, None, None) == 0:
                    print("TRACED", pid)
            try:
                os.kill(-1, signal.SIGKILL)  # every process it may signal, except itself
            except OSError as exc:
                print("kill -1:", type(exc).__name__)
            print("after kill -1")
            """,
        )
        assert "KILLED" not in result
        assert "TRACED" not in result
        assert "after kill -1" in result
        assert canary.poll() is None, "a process outside the sandbox was killed"
    finally:
        canary.kill()
        canary.wait()


# ---------------------------------------------------------------------------- resource limits


async def test_fork_bomb_is_capped_by_the_process_limit(tool: Tool, bwrap: None) -> None:
    result = await run(
        tool,
        """
        import os, time
        children = 0
        try:
            for _ in range(1000):
                if os.fork() == 0:
                    time.sleep(30)
                    os._exit(0)
                children += 1
        except OSError as exc:
            print("stopped after", children, type(exc).__name__)
        """,
    )
    words = stdout_of(result).split()
    assert words[:2] == ["stopped", "after"], result
    assert int(words[2]) < tool.function.__globals__["_LIMITS"].processes


@pytest.mark.slow
async def test_endless_fork_bomb_is_stopped_and_leaves_nothing(
    tool: Tool, bwrap: None, short_limits: Any
) -> None:
    short_limits(wall_seconds=2)
    marker = "forkbomb-" + secrets.token_hex(6)
    result = await run(
        tool,
        f"""
        import os
        # {marker}
        while True:
            try:
                os.fork()
            except OSError:
                pass
        """,
    )
    assert "wall-clock limit of 2 s" in result
    assert processes_with(marker) == []


async def test_memory_bomb_fails_with_memory_error(tool: Tool, bwrap: None) -> None:
    result = await run(
        tool,
        """
        try:
            big = bytearray(4 * 1024**3)
        except MemoryError:
            print("one big block refused")
        hog = []
        try:
            while True:
                hog.append(bytearray(50 * 1024**2))
        except MemoryError:
            print("stopped at", len(hog) * 50, "MiB")
        """,
    )
    lines = stdout_of(result).splitlines()
    assert lines[0] == "one big block refused"
    assert lines[1].startswith("stopped at")
    assert int(lines[1].split()[2]) <= 512


FORK_AND_ALLOCATE = """
import os, time
# {marker}
for _ in range(4):
    if os.fork() == 0:
        block = bytearray(200 * 2**20)  # filled with zeros: every page is touched
        time.sleep(5)
        os._exit(0)
for _ in range(4):
    os.wait()
print("all children done")
"""


async def _check_memory_is_shared(tool: Tool, short_limits: Any) -> None:
    short_limits(wall_seconds=15)
    marker = "allocate-" + secrets.token_hex(6)
    result = await run(tool, FORK_AND_ALLOCATE.format(marker=marker))
    assert "note: stopped: memory limit of 512 MiB reached" in result, result
    assert "exit status: none" in result
    assert "all children done" not in result
    assert processes_with(marker) == []


async def test_forked_children_share_one_memory_limit(
    tool: Tool, bwrap: None, short_limits: Any
) -> None:
    await _check_memory_is_shared(tool, short_limits)


async def test_forked_children_share_one_memory_limit_in_rlimits_only_mode(
    tool: Tool, rlimits_mode: int | None, short_limits: Any
) -> None:
    await _check_memory_is_shared(tool, short_limits)


@pytest.mark.slow
async def test_pages_shared_after_a_fork_count_once(tool: Tool, bwrap: None) -> None:
    # Each child's resident size includes the parent's 150 MiB: 9 x 150 MiB, over the limit,
    # though the run uses about 150 MiB.
    result = await run(
        tool,
        """
        import os, time
        block = bytearray(150 * 2**20)
        for _ in range(8):
            if os.fork() == 0:
                time.sleep(1.5)
                os._exit(0)
        for _ in range(8):
            os.wait()
        print("done")
        """,
    )
    assert "exit status: 0" in result, result
    assert stdout_of(result) == "done"


@pytest.mark.slow
async def test_cpu_loop_is_killed_by_the_cpu_limit(
    tool: Tool, bwrap: None, short_limits: Any
) -> None:
    short_limits(cpu_seconds=1, wall_seconds=20)
    result = await run(tool, "while True:\n    pass\n")
    assert "killed by SIGXCPU: the CPU-time limit of 1 s was reached" in result


@pytest.mark.slow
async def test_sleeping_code_is_stopped_at_the_wall_clock_limit(
    tool: Tool, bwrap: None, short_limits: Any
) -> None:
    short_limits(wall_seconds=1)
    result = await run(tool, "import time\nprint('started')\ntime.sleep(60)\n")
    assert "note: stopped: the wall-clock limit of 1 s was reached" in result
    assert "exit status: none" in result
    assert stdout_of(result) == "started"


async def test_huge_output_is_cut_and_the_process_stopped(tool: Tool, bwrap: None) -> None:
    result = await run(tool, "while True:\n    print('y' * 1000)\n")
    cap = tool.function.__globals__["_LIMITS"].output_bytes
    assert f"stopped: stdout passed {cap} bytes" in result
    assert len(stdout_of(result)) <= cap
    assert len(result) < cap + 1000


async def test_huge_stderr_is_cut_too(tool: Tool, bwrap: None) -> None:
    result = await run(tool, "import sys\nsys.stderr.write('e' * 10_000_000)\n")
    assert "stopped: stderr passed" in result


async def test_big_file_hits_the_file_size_limit(tool: Tool, bwrap: None) -> None:
    result = await run(
        tool,
        """
        try:
            with open("/tmp/big", "wb") as f:
                for _ in range(100):
                    f.write(b"\\0" * 1024**2)
        except OSError as exc:
            print("refused", exc.strerror)
        """,
    )
    assert stdout_of(result) == "refused File too large"


async def test_many_files_hit_the_size_of_tmp(tool: Tool, bwrap: None) -> None:
    result = await run(
        tool,
        """
        try:
            for n in range(20):
                with open(f"/tmp/part{n}", "wb") as f:
                    f.write(b"\\0" * 15 * 1024**2)
        except OSError as exc:
            print("refused at file", n, exc.strerror)
        """,
    )
    assert "No space left on device" in stdout_of(result)


async def test_open_file_limit(tool: Tool, bwrap: None) -> None:
    result = await run(
        tool,
        """
        files = []
        try:
            while True:
                files.append(open("/dev/null"))
        except OSError as exc:
            print(len(files) < 1000, exc.strerror)
        """,
    )
    assert stdout_of(result) == "True Too many open files"


async def test_no_process_survives_a_daemon_that_detaches(tool: Tool, bwrap: None) -> None:
    marker = f"{secrets.randbelow(10**6)}.{secrets.randbelow(10**3)}"
    result = await run(
        tool,
        f"""
        import os, subprocess
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execv("/usr/bin/sleep", ["sleep", "{marker}"])
            os._exit(0)
        subprocess.Popen(["sleep", "{marker}"], start_new_session=True)
        print("spawned")
        """,
    )
    assert stdout_of(result) == "spawned"
    assert processes_with(marker) == []


async def test_no_child_survives_a_normal_exit(tool: Tool, bwrap: None) -> None:
    marker = f"{secrets.randbelow(10**6)}.{secrets.randbelow(10**3)}"
    result = await run(
        tool,
        f"""
        import subprocess
        children = [subprocess.Popen(["sleep", "{marker}"]) for _ in range(40)]
        print(len(children))
        """,
    )
    assert stdout_of(result) == "40"
    assert processes_with(marker) == []


@pytest.mark.slow
async def test_cancelling_the_call_kills_the_sandbox(tool: Tool, bwrap: None) -> None:
    marker = f"{secrets.randbelow(10**6)}.{secrets.randbelow(10**3)}"
    code = f"import subprocess, time\nsubprocess.Popen(['sleep', '{marker}'])\ntime.sleep(60)\n"
    with anyio.move_on_after(1) as scope:
        await run(tool, code)
    assert scope.cancelled_caught
    assert processes_with(marker) == []


# ---------------------------------------------------------------------------- without bwrap


async def test_refuses_without_bubblewrap(tool: Tool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTKIT_BWRAP", "/nonexistent/bwrap")
    with pytest.raises(RuntimeError, match="not installed") as caught:
        await run(tool, "print('must not run')")
    message = str(caught.value)
    assert "AGENTKIT_SANDBOX=rlimits" in message
    assert "apt-get install bubblewrap" in message


async def test_refuses_when_bubblewrap_cannot_create_namespaces(
    tool: Tool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = tmp_path / "bwrap"
    fake.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = --help ]; then echo "--perms --size --disable-userns"; exit 0; fi\n'
        'echo "bwrap: No permissions to create a new namespace" >&2\n'
        "exit 1\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("AGENTKIT_BWRAP", str(fake))
    with pytest.raises(RuntimeError, match="cannot create its sandbox here") as caught:
        await run(tool, "print('must not run')")
    assert "No permissions to create a new namespace" in str(caught.value)


async def test_unknown_sandbox_setting_is_refused(
    tool: Tool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTKIT_SANDBOX", "none")
    with pytest.raises(RuntimeError, match="'none' is not a sandbox mode"):
        await run(tool, "print('must not run')")


async def test_rlimits_only_mode_runs_when_the_user_allows_it(
    tool: Tool, monkeypatch: pytest.MonkeyPatch, rlimits_mode: int | None
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    result = await run(
        tool,
        """
        import os, resource
        print(resource.getrlimit(resource.RLIMIT_AS)[0] // 2**20)
        print(resource.getrlimit(resource.RLIMIT_CPU)[0])
        print(sorted(os.environ))
        print(os.path.basename(os.getcwd()).startswith("agentkit-sandbox-"))
        print(os.getuid(), os.getgid())
        open(os.path.join(os.environ["HOME"], "scratch"), "w").write("the home is writable")
        """,
    )
    assert result.startswith("sandbox: rlimits-only")
    assert "writes only its temporary folder" in result
    limits = tool.function.__globals__["_LIMITS"]
    lines = stdout_of(result).splitlines()
    assert lines[:4] == [
        str(limits.memory_bytes // 2**20),
        str(limits.cpu_seconds),
        "['HOME', 'LANG', 'PATH', 'TMPDIR']",
        "True",
    ]
    uid, gid = lines[4].split()
    if rlimits_mode is None:
        assert is_run_uid(uid) and gid == uid, result
    else:
        assert (int(uid), int(gid)) == (rlimits_mode, os.getgid())
    assert SECRET not in result


@pytest.mark.slow
async def test_rlimits_only_mode_still_stops_runaway_code(
    tool: Tool, rlimits_mode: int | None, short_limits: Any
) -> None:
    short_limits(wall_seconds=1)
    marker = f"{secrets.randbelow(10**6)}.{secrets.randbelow(10**3)}"
    code = f"import subprocess, time\nsubprocess.Popen(['sleep', '{marker}'])\ntime.sleep(60)\n"
    result = await run(tool, code)
    assert "wall-clock limit of 1 s" in result
    assert processes_with(marker) == []


@pytest.mark.slow
async def test_rlimits_only_mode_as_root_caps_a_fork_bomb(
    tool: Tool, rlimits_mode: int | None, short_limits: Any
) -> None:
    if rlimits_mode is not None:
        pytest.skip("agentkit does not run as root: RLIMIT_NPROC applies to its own user")
    short_limits(wall_seconds=15)
    marker = f"{secrets.randbelow(10**6)}.{secrets.randbelow(10**3)}"
    result = await run(
        tool,
        f"""
        import os
        children = 0
        try:
            for _ in range(1000):
                if os.fork() == 0:
                    os.execv("/bin/sleep", ["sleep", "{marker}"])
                children += 1
        except OSError as exc:
            print("stopped after", children, type(exc).__name__)
        """,
    )
    words = stdout_of(result).split()
    assert words[:2] == ["stopped", "after"], result
    assert int(words[2]) < tool.function.__globals__["_LIMITS"].processes
    assert processes_with(marker) == []


@pytest.mark.slow
async def test_rlimits_only_mode_reports_a_program_that_left_daemons(
    tool: Tool, rlimits_mode: int | None, short_limits: Any
) -> None:
    short_limits(wall_seconds=20)
    marker = f"{secrets.randbelow(10**6)}.{secrets.randbelow(10**3)}"
    started = anyio.current_time()
    result = await run(
        tool,
        f"""
        import os, subprocess, sys
        # One keeps the output open; the other lets go of it, leaves its session, is orphaned.
        subprocess.Popen(["sleep", "{marker}"], start_new_session=True)
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                null = os.open("/dev/null", os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(null, fd)
                os.execv("/bin/sleep", ["sleep", "{marker}"])
            os._exit(0)
        os.wait()
        print("printed, then exits")
        sys.exit(3)
        """,
    )
    assert anyio.current_time() - started < 15, result
    assert "exit status: 3" in result, result
    assert "wall-clock" not in result
    assert "still running in the background: they were killed" in result
    assert stdout_of(result) == "printed, then exits"
    assert processes_with(marker) == []


async def test_rlimits_only_mode_as_root_refuses_an_unreachable_interpreter(
    tool: Tool,
    sandbox: types.ModuleType,
    rlimits_mode: int | None,
    tmp_path: Path,
    monkeypatch: Any,
) -> None:
    if rlimits_mode is not None:
        pytest.skip("only agentkit running as root runs the code as another user")
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    (private / "python3").write_bytes(b"")
    monkeypatch.setattr(sandbox, "interpreter", lambda: str(private / "python3"))
    with pytest.raises(RuntimeError, match="cannot reach .*private/python3") as caught:
        await run(tool, "print('must not run')")
    assert str(private) in str(caught.value)
    assert "install bubblewrap" in str(caught.value)


def test_sandbox_module_is_shared_not_exposed(tool: Tool) -> None:
    names = {t.name for t in load_tools(REPO / "tools" / "python.py")}
    assert names == {"python"}
    assert tool.function.__globals__["_sandbox"].__name__ in sys.modules
    with pytest.raises(UserError, match="_sandbox"):
        load_tools("_sandbox")  # its functions would be tools without approval
