"""The kernel facilities behind the sandbox, each checked from inside a run (in this process).

The seccomp filter (keyrings, System V IPC, message queues, memfd, ptrace, io_uring, bpf;
sockets in rlimits-only mode), the run's own uid as root, its IPC namespace, its memory
cgroup, the size cap of its temporary folder in rlimits-only mode, Landlock there, and when
rlimits-only mode is refused. The attacks from a separate process, and as a normal user, are
in test_sandbox_attacks.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import shutil
import subprocess
import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from agentkit import Tool
from agentkit.toolbox import _sandbox_cgroup, _sandbox_seccomp
from agentkit.toolbox._sandbox_command import RUN_IDS
from agentkit.toolbox._sandbox_rlimits import ROOT_LANDLOCK_ABI, USER_LANDLOCK_ABI, problem
from agentkit.tools import load_tools

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tool() -> Tool:
    return {t.name: t for t in load_tools("python")}["python"]


@pytest.fixture(scope="module")
def sandbox(tool: Tool) -> types.ModuleType:
    module: types.ModuleType = tool.function.__globals__["_sandbox"]
    return module


@pytest.fixture(autouse=True)
def clean_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AGENTKIT_SANDBOX", "AGENTKIT_BWRAP"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(params=["bubblewrap", "rlimits"])
def mode(
    request: pytest.FixtureRequest,
    sandbox: types.ModuleType,
    bwrap_problem: str | None,
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    """Each mode in turn, skipped (with the reason) where this machine cannot give it."""
    if request.param == "bubblewrap":
        if bwrap_problem is not None:
            pytest.skip(f"bubblewrap cannot sandbox on this machine: {bwrap_problem}")
        return "bubblewrap"
    allow_rlimits(sandbox, monkeypatch)
    return "rlimits"


def allow_rlimits(sandbox: types.ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """rlimits-only mode for this test, with an interpreter the run's uid can reach."""
    monkeypatch.setenv("AGENTKIT_BWRAP", "/nonexistent/bwrap")
    monkeypatch.setenv("AGENTKIT_SANDBOX", "rlimits")
    why = sandbox._rlimits.problem_here()
    if why is not None:
        pytest.skip(f"rlimits-only mode is refused on this machine: {why}")
    if os.geteuid() == 0 and sandbox._rlimits.not_searchable(sandbox.interpreter(), RUN_IDS[0]):
        system = shutil.which(f"python3.{sys.version_info.minor}", path="/usr/bin:/bin")
        if system is None or sandbox._rlimits.not_searchable(system, RUN_IDS[0]):
            pytest.skip("no Python interpreter that another user can run for rlimits-only mode")
        monkeypatch.setattr(sandbox, "interpreter", lambda: system)


def limits(tool: Tool, monkeypatch: pytest.MonkeyPatch, **changes: object) -> None:
    changed = dataclasses.replace(tool.function.__globals__["_LIMITS"], **changes)
    monkeypatch.setitem(tool.function.__globals__, "_LIMITS", changed)


async def run(tool: Tool, code: str) -> str:
    result = await tool.invoke(tool.validate({"code": textwrap.dedent(code)}), None)
    assert isinstance(result, str)
    return result


def stdout_of(result: str) -> str:
    return result.split("stdout:", 1)[1].split("\nstderr:", 1)[0].strip()


# ---------------------------------------------------------------------------- the filter

SYSCALLS = """
import ctypes, os, socket
libc = ctypes.CDLL(None, use_errno=True)
numbers = {numbers!r}[os.uname().machine]
calls = {{
    "shmget": (0, 1536 * 2**20, 0o1600),  # 1.5 GiB of System V shared memory
    "semget": (0, 1, 0o1600),
    "msgget": (0, 0o1600),
    "mq_open": (b"agentkit", 0o100 | 0o2, 0o600, None),
    "memfd_create": (b"hoard", 0),
    "keyctl": (0, -3, 0),
    "add_key": (b"user", b"k", b"v", 1, -4),
    "ptrace": (0, 0, 0, 0),
    "io_uring_setup": (8, ctypes.create_string_buffer(120)),
    "bpf": (0, None, 0),
    "userfaultfd": (0,),
    "perf_event_open": (None, 0, -1, -1, 0),
}}
for name, args in calls.items():
    result = libc.syscall(numbers[name], *args)
    print(name, "ALLOWED" if result >= 0 else os.strerror(ctypes.get_errno()))
try:
    socket.socket(socket.AF_UNIX)
    print("socket ALLOWED")
except OSError as exc:
    print("socket", exc.strerror)
"""


async def test_the_filter_refuses_state_that_outlives_the_call_or_escapes_the_cap(
    tool: Tool, mode: str
) -> None:
    # Items 3, 6 and 7: System V segments (1.5 GiB held, and kept after the call), memfd
    # (1 GiB in no process), keys kept for a later call; and what reaches other processes.
    numbers = {"x86_64": _sandbox_seccomp._X86_64, "aarch64": _sandbox_seccomp._AARCH64}
    result = await run(tool, SYSCALLS.format(numbers=numbers))
    lines = dict(line.split(" ", 1) for line in stdout_of(result).splitlines())
    assert "ALLOWED" not in {v for k, v in lines.items() if k != "socket"}, result
    assert lines["shmget"] == "Operation not permitted"
    assert lines["memfd_create"] == "Operation not permitted"
    # Sockets: the network namespace has none (bubblewrap); the filter refuses them (rlimits).
    assert lines["socket"] == ("ALLOWED" if mode == "bubblewrap" else "Permission denied")


def test_every_refused_call_has_a_number_on_each_machine() -> None:
    seccomp = _sandbox_seccomp
    for table in (seccomp._X86_64, seccomp._AARCH64):
        assert set(seccomp.DENIED) | set(seccomp.SELF_ONLY) | set(seccomp.SELF_ONLY_WHICH) <= set(
            table
        )
    # aarch64 has only the *at and descriptor forms of the metadata calls.
    assert set(seccomp.METADATA) <= set(seccomp._X86_64)
    missing = set(seccomp.METADATA) - set(seccomp._AARCH64)
    assert missing == {"chmod", "chown", "lchown", "utime", "utimes", "futimesat"}
    for shares_uid in (False, True):
        rules = seccomp.sandbox_filter(network=False, shares_uid=shares_uid)
        if rules is not None:  # 8-byte instructions, all jumps within the program
            assert len(rules) % 8 == 0 and len(rules) // 8 < 256


# ---------------------------------------------------------------------------- the run's uid


@pytest.fixture
def nobody_process() -> Iterator[subprocess.Popen[bytes]]:
    """A host process of uid 65534 ("nobody"), unrelated to any run."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to start a process as uid 65534")
    process = subprocess.Popen(
        ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "sleep", "60"]
    )
    yield process
    process.kill()
    process.wait()


async def test_as_root_each_run_has_a_uid_of_its_own(
    tool: Tool, mode: str, nobody_process: subprocess.Popen[bytes]
) -> None:
    # Item 7: as root the code ran as uid 65534, and killed a host process of that uid.
    code = f"""
    import os, signal
    print(os.getuid(), os.getgid())
    for pid in ({nobody_process.pid}, -1):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError as exc:
            print("kill", pid, exc.strerror)
    """
    first, second = stdout_of(await run(tool, code)), stdout_of(await run(tool, code))
    uid = first.split()[0]
    assert int(uid) in RUN_IDS and first.split()[1] == uid, first
    assert second.split()[0] != uid
    assert nobody_process.poll() is None, "a host process of uid 65534 was killed"


async def test_as_root_rlimits_mode_has_an_ipc_namespace_of_its_own(
    tool: Tool, sandbox: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root can make an IPC namespace without a user namespace")
    allow_rlimits(sandbox, monkeypatch)
    result = await run(tool, "import os\nprint(os.readlink('/proc/self/ns/ipc'))\n")
    assert stdout_of(result) != os.readlink("/proc/self/ns/ipc"), result


# ---------------------------------------------------------------------------- memory


def _cgroup_here() -> str | None:
    made = _sandbox_cgroup.create(64 * 2**20)
    if made is None:
        return "no memory cgroup can be made here (not root on v1, no delegation on v2)"
    made.remove()
    return None


async def test_memory_no_process_holds_counts_against_the_cap_in_a_cgroup(
    tool: Tool, bwrap: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Item 3: memory outside the processes' resident sets was not counted (the host's free
    # memory fell by 2.4 GiB). Here 120 MiB of files in the run's /tmp (memory-backed under
    # bubblewrap) and 100 MiB in the process: the processes alone stay under 200 MiB.
    why = _cgroup_here()
    if why is not None:
        pytest.skip(why)
    limits(tool, monkeypatch, memory_bytes=200 * 2**20, tmp_bytes=180 * 2**20, wall_seconds=20)
    result = await run(
        tool,
        """
        for n in range(8):
            with open(f"/tmp/part{n}", "wb") as f:
                f.write(b"x" * 15 * 2**20)
        print("files written")
        block = bytearray(100 * 2**20)
        print("NOT STOPPED")
        """,
    )
    assert "files written" in result, result
    assert "NOT STOPPED" not in result
    assert "memory limit of 200 MiB reached" in result


async def test_the_runs_processes_are_in_a_cgroup_of_its_own_which_is_removed(
    tool: Tool, mode: str
) -> None:
    why = _cgroup_here()
    if why is not None:
        pytest.skip(why)
    marker = f"{secrets.randbelow(10**6)}.{secrets.randbelow(10**3)}"
    seen: list[str] = []

    async def look() -> None:
        for _ in range(400):
            for pid in processes_with(marker):
                with contextlib.suppress(OSError):
                    seen.append(Path(f"/proc/{pid}/cgroup").read_text())
            if seen:
                return
            await anyio.sleep(0.01)

    async with anyio.create_task_group() as group:
        group.start_soon(look)
        await run(tool, f"import os\nos.execv('/bin/sleep', ['sleep', '{marker}'])\n")
    assert seen, "the run's process was never seen"
    memory = next(line for line in seen[0].splitlines() if ":memory:" in line)
    assert "/agentkit-sandbox-" in memory, memory
    name = memory.rsplit("/", 1)[1]
    assert not list(Path("/sys/fs/cgroup").glob(f"**/{name}")), "the cgroup was left behind"


def processes_with(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if marker.encode() in Path("/proc", entry, "cmdline").read_bytes():
                    found.append(int(entry))
    return found


# ---------------------------------------------------------------------------- rlimits mode


async def test_rlimits_mode_confines_reads_and_writes_with_landlock(
    tool: Tool, sandbox: types.ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    allow_rlimits(sandbox, monkeypatch)
    world = tmp_path / "world"
    world.mkdir()
    world.chmod(0o777)
    for parent in (tmp_path, tmp_path.parent, tmp_path.parent.parent):
        parent.chmod(parent.stat().st_mode | 0o711)  # reachable by the run's uid
    readable = [REPO / "pyproject.toml", "/etc/passwd", Path.home()]
    result = await run(
        tool,
        f"""
        import os
        for path in {[str(p) for p in readable]!r}:
            try:
                os.listdir(path) if os.path.isdir(path) else open(path).read(1)
                print("READ", path)
            except OSError as exc:
                print("refused", path, exc.strerror)
        for path in ({str(world / "planted")!r}, "/tmp/planted", "/dev/shm/planted"):
            try:
                open(path, "w").write("x")
                print("WROTE", path)
            except OSError as exc:
                print("refused", path, exc.strerror)
        open(os.path.join(os.environ["HOME"], "mine"), "w").write("its own folder")
        print("home written")
        """,
    )
    assert "READ" not in result and "WROTE" not in result, result
    assert "home written" in result
    assert not (world / "planted").exists()


async def test_rlimits_mode_stops_a_temporary_folder_that_grows_too_big(
    tool: Tool, sandbox: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The host's disk (or memory, for a tmpfs /tmp) is not the run's: 16 MiB per file, but
    # no cap on the number of files, filled it.
    allow_rlimits(sandbox, monkeypatch)
    limits(tool, monkeypatch, tmp_bytes=20 * 2**20, wall_seconds=20)
    result = await run(
        tool,
        """
        import os, time
        for n in range(40):
            with open(os.path.join(os.environ["HOME"], f"part{n}"), "wb") as f:
                f.write(b"x" * 2**20)
        time.sleep(5)
        print("NOT STOPPED")
        """,
    )
    assert "NOT STOPPED" not in result
    assert "the temporary folder passed 20 MiB" in result


@pytest.mark.parametrize(
    ("as_root", "abi", "refused"),
    [
        (True, 0, "needs Landlock"),
        (True, ROOT_LANDLOCK_ABI, None),
        (False, 0, "this kernel has no Landlock"),
        (False, USER_LANDLOCK_ABI - 1, f"this kernel has ABI {USER_LANDLOCK_ABI - 1}"),
        (False, USER_LANDLOCK_ABI, None),
    ],
)
def test_rlimits_mode_is_refused_where_it_cannot_be_made_safe(
    as_root: bool, abi: int, refused: str | None
) -> None:
    # Item 2: as a normal user, rlimits-only mode is refused unless Landlock keeps the code
    # from the user's files and processes.
    why = problem(filter_exists=True, as_root=as_root, abi=abi)
    if refused is None:
        assert why is None
    else:
        assert why is not None and refused in why
    assert "seccomp filter" in (problem(filter_exists=False, as_root=as_root, abi=7) or "")


async def test_a_refusal_says_why_and_what_the_user_can_do(
    tool: Tool, sandbox: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTKIT_BWRAP", "/nonexistent/bwrap")
    monkeypatch.setenv("AGENTKIT_SANDBOX", "rlimits")
    monkeypatch.setattr(sandbox._rlimits, "landlock_abi", lambda: 0)
    marker = secrets.token_hex(4)
    with pytest.raises(RuntimeError, match="Landlock") as caught:
        await run(tool, f"print('{marker}')")
    assert "install bubblewrap" in str(caught.value)
