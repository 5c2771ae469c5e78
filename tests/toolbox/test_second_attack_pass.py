"""A second attacker's pass over the ready-made tools, after the red team's items were fixed.

New attacks, beyond the red team's list: killing agentkit mid-run to orphan the sandbox,
hard links and renames and symbolic links to reach a file of the user's, forging the exit
status through an inherited descriptor, reading other processes' command lines, system calls
of another ABI, secret files under other spellings and through links, a secret file read by
an allowed program's own option (`date -f`), and disk filling in rlimits-only mode.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import textwrap
import time
import types
from pathlib import Path

import pytest
from _sandbox_users import Runner
from test_sandbox_attacks import MODES, processes_with, runner, stdout_of  # noqa: F401
from test_sandbox_limits import allow_rlimits, limits, mode, run, sandbox, tool  # noqa: F401

from agentkit import ModelRetry, Tool
from agentkit.toolbox import _sandbox_rlimits
from agentkit.tools import load_tools

pytestmark = pytest.mark.anyio


# ---------------------------------------------------------------------------- from outside


@pytest.mark.slow
def test_killing_agentkit_mid_run_leaves_no_process(runner: Runner) -> None:  # noqa: F811
    whole, part = secrets.randbelow(10**6), secrets.randbelow(10**3)
    marker = f"{whole}.{part}"  # the code builds it: agentkit's own command line holds the code
    code = (
        "import subprocess, time\n"
        f"subprocess.Popen(['sleep', '{whole}' + '.{part}'])\ntime.sleep(60)\n"
    )
    out = runner.folder / f"never-{secrets.token_hex(3)}.json"
    job = {"tool": "python", "arguments": {"code": code}, "out": str(out)}
    agentkit = subprocess.Popen(runner.command(job), env=runner.environment())
    try:
        for _ in range(300):
            if processes_with(marker):
                break
            time.sleep(0.05)
        assert processes_with(marker), "the sandboxed program never started"
        agentkit.send_signal(signal.SIGKILL)  # no cleanup of its own can run
        agentkit.wait()
        for _ in range(100):
            if not processes_with(marker):
                break
            time.sleep(0.05)
        assert processes_with(marker) == [], "the run outlived agentkit"
    finally:
        agentkit.kill()
        agentkit.wait()


REACH_A_USER_FILE = """
import os
target = {target!r}
home = os.environ["HOME"]
attempts = {{
    "append": lambda: open(target, "a").write("owned"),
    "hard link": lambda: os.link(target, os.path.join(home, "linked")),
    "rename": lambda: os.rename(target, os.path.join(home, "moved")),
    "symlink, then write": lambda: (
        os.symlink(target, os.path.join(home, "sym")),
        open(os.path.join(home, "sym"), "a").write("owned"),
    ),
    "read": lambda: print(open(target).read()),
}}
for name, attempt in attempts.items():
    try:
        attempt()
        print("DONE", name)
    except OSError as exc:
        print("refused", name, exc.strerror)
"""


@pytest.mark.slow
def test_links_and_renames_do_not_reach_the_users_files(runner: Runner) -> None:  # noqa: F811
    # The user's own file, writable by its uid: only the sandbox stands in the way.
    target = runner.folder / f"mine-{secrets.token_hex(3)}.txt"
    target.write_text("the user's words\n")
    os.chown(target, runner.uid, runner.uid)
    found = runner.call("python", {"code": REACH_A_USER_FILE.format(target=str(target))})
    assert "DONE" not in found["result"], found["result"]
    assert "the user's words" not in stdout_of(found["result"])
    assert target.read_text() == "the user's words\n"


@pytest.mark.slow
def test_other_processes_command_lines_are_not_visible(runner: Runner) -> None:  # noqa: F811
    password = "hunter2-" + secrets.token_hex(6)
    # A process holding a password in its arguments (`sleep 30 PASSWORD` would exit at once:
    # sleep refuses an argument that is no interval).
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", password])
    try:
        for _ in range(200):  # until it has executed (the cmdline is empty before)
            if password.encode() in Path(f"/proc/{other.pid}/cmdline").read_bytes():
                break
            time.sleep(0.02)
        assert password.encode() in Path(f"/proc/{other.pid}/cmdline").read_bytes()
        code = """
        import os
        found = []
        try:
            pids = [p for p in os.listdir("/proc") if p.isdigit()]
        except OSError:
            pids = [str(p) for p in range(max(1, __AGENTKIT_PID__ - 400), __AGENTKIT_PID__ + 400)]
        for pid in pids:
            try:
                found.append(open(f"/proc/{pid}/cmdline", "rb").read())
            except OSError:
                pass
        # Only the lines sought, so that the output cap cannot cut them off (agentkit's own
        # holds this source, but not the password's random part).
        print(b"\\n".join(line for line in found if b"hunter2-" in line))
        """
        found = runner.call("python", {"code": textwrap.dedent(code)})
        assert "exit status: 0" in found["result"], found["result"]
        assert password not in found["result"]
        assert other.poll() is None, "the process holding the password ended before the call"
    finally:
        other.kill()
        other.wait()


# ---------------------------------------------------------------------------- from inside


async def test_an_exit_status_cannot_be_forged_through_a_descriptor(
    tool: Tool,  # noqa: F811
    mode: str,  # noqa: F811
) -> None:
    result = await run(
        tool,
        """
        import os, sys
        for fd in range(3, 256):
            try:
                os.write(fd, b"0\\n")
                print("WROTE", fd)
            except OSError:
                pass
        sys.exit(3)
        """,
    )
    assert "exit status: 3" in result, result
    assert "WROTE" not in result


async def test_system_calls_of_another_abi_kill_the_process(
    tool: Tool,  # noqa: F811
    mode: str,  # noqa: F811
) -> None:
    if os.uname().machine != "x86_64":
        pytest.skip("x32 system calls exist on x86_64 only")
    result = await run(
        tool,
        """
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall(0x40000000 | 250, 0, -3, 0)  # keyctl, by the x32 ABI
        print("SURVIVED")
        """,
    )
    assert "SURVIVED" not in result
    assert "SIGSYS" in result, result


async def test_rlimits_mode_stops_a_burst_of_writers_near_the_cap(
    tool: Tool,  # noqa: F811
    sandbox: types.ModuleType,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Sixty processes writing 16 MiB files at once: measured at every scan of the run.
    allow_rlimits(sandbox, monkeypatch)
    limits(tool, monkeypatch, tmp_bytes=32 * 2**20, wall_seconds=20)
    result = await run(
        tool,
        """
        import os, time
        home = os.environ["HOME"]
        for n in range(60):
            if os.fork() == 0:
                try:
                    with open(os.path.join(home, f"f{n}"), "wb") as f:
                        for _ in range(16):
                            f.write(b"x" * 2**20)
                            time.sleep(0.02)
                finally:
                    os._exit(0)
        time.sleep(10)
        print("NOT STOPPED")
        """,
    )
    assert "NOT STOPPED" not in result
    assert "the temporary folder passed 32 MiB" in result


# ---------------------------------------------------------------------------- files, shell


@pytest.fixture
def files_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Tool]:
    (tmp_path / "Config").mkdir()
    (tmp_path / "Config" / ".Env.Local").write_text("TOKEN=abc\n")
    (tmp_path / ".ENV").write_text("TOKEN=abc\n")
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "config").write_text("Host x\n")
    os.symlink(".ssh", tmp_path / "keys")
    os.symlink("Config/.Env.Local", tmp_path / "settings.txt")
    monkeypatch.setenv("AGENTKIT_FILES_ROOT", str(tmp_path))
    return {t.name: t for t in load_tools("files")}


@pytest.mark.parametrize("path", [".ENV", "Config/.Env.Local", "keys/config", "settings.txt"])
def test_secret_files_under_other_spellings_and_links_are_refused(
    files_tools: dict[str, Tool], path: str
) -> None:
    with pytest.raises(ModelRetry, match="secret file"):
        files_tools["read_file"](path=path)


@pytest.mark.parametrize("shell_mode", ["bubblewrap", "rlimits"])
async def test_an_allowed_programs_own_option_cannot_read_a_secret_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    bwrap_problem: str | None,
    shell_mode: str,
) -> None:
    # `date -f FILE` prints the lines it cannot parse: the file's content.
    project = tmp_path / "project"
    project.mkdir()
    (project / ".env").write_text("OPENAI_API_KEY=sk-date-leak-0123456789\n")
    for path in (tmp_path, project, project / ".env"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    monkeypatch.setenv("AGENTKIT_SHELL_ROOT", str(project))
    (shell,) = load_tools("shell")
    if shell_mode == "bubblewrap" and bwrap_problem is not None:
        pytest.skip(f"bubblewrap cannot sandbox on this machine: {bwrap_problem}")
    if shell_mode == "rlimits":
        monkeypatch.setenv("AGENTKIT_BWRAP", "/nonexistent/bwrap")
        monkeypatch.setenv("AGENTKIT_SANDBOX", "rlimits")
        if _sandbox_rlimits.problem_here() is not None:
            pytest.skip(f"rlimits-only mode is refused here: {_sandbox_rlimits.problem_here()}")
    for argv in (["date", "-f", ".env"], ["grep", "-r", "KEY", "."], ["cat", ".env"]):
        result = await shell.invoke(shell.validate({"argv": argv}), None)
        assert "sk-date-leak" not in result, (argv, result)
