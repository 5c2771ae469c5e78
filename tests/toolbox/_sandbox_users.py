"""Running the sandboxed tools from another agentkit process: as root, or as a throwaway user.

`Runner.call(...)` starts `_sandbox_runner.py` in a process of its own (root, or a normal
user created for the test session), hands it one tool call, and returns what the tool
returned. The throwaway user runs a Python it can reach: the interpreter of these tests when
every user can, else the system's Python of the same version, with these tests' packages on
`PYTHONPATH`. Everything the user must read or write lives in a folder it owns.
"""

from __future__ import annotations

import json
import os
import pty
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

REPO = Path(__file__).resolve().parents[2]
RUNNER = Path(__file__).with_name("_sandbox_runner.py")
SITE_PACKAGES = Path(anyio.__file__).resolve().parents[1]


def reachable_by_others(path: str) -> bool:
    """Whether a user other than the owner may pass every folder above `path` and read it."""
    real = Path(os.path.realpath(path))
    for folder in real.parents:
        if not os.stat(folder).st_mode & 0o001:
            return False
    return bool(os.stat(real).st_mode & 0o004)


def python_for_others() -> str | None:
    """A Python of this version that another user can run, or None."""
    own = getattr(sys, "_base_executable", "") or sys.executable
    if reachable_by_others(own):
        return own
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    system = shutil.which(version, path="/usr/bin:/bin")
    if system is not None and reachable_by_others(system):
        return system
    return None


def why_no_throwaway_user() -> str | None:
    """Why this machine cannot run the tests as a throwaway user; None when it can."""
    if os.geteuid() != 0:
        return f"creating a throwaway user needs root; the tests run as uid {os.geteuid()}"
    for program in ("useradd", "userdel", "setpriv"):
        if shutil.which(program) is None:
            return f"`{program}` is not installed"
    if python_for_others() is None:
        return (
            f"no Python {sys.version_info.major}.{sys.version_info.minor} that another user "
            "can run (this one lies in a private folder, and the system has none)"
        )
    if not reachable_by_others(str(SITE_PACKAGES / "anyio" / "__init__.py")):
        return f"another user cannot read these tests' packages in {SITE_PACKAGES}"
    if not reachable_by_others(str(RUNNER)):
        return f"another user cannot read {RUNNER}"
    return None


@dataclass
class Runner:
    """Calls tools from a separate process: as `user` (a name), or as root when None."""

    folder: Path
    user: str | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def uid(self) -> int:
        return pwd.getpwnam(self.user).pw_uid if self.user else os.geteuid()

    def command(self, job: dict[str, Any]) -> list[str]:
        # Also as root: in rlimits-only mode the code runs as another uid, which must reach it.
        python = python_for_others() or sys.executable
        argv = [python, str(RUNNER), json.dumps(job)]
        if self.user is None:
            return argv
        return ["setpriv", "--reuid", self.user, "--regid", self.user, "--clear-groups", *argv]

    def environment(self) -> dict[str, str]:
        base = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
        home = str(self.folder) if self.user else os.environ.get("HOME", "/root")
        path = os.pathsep.join([str(REPO), str(SITE_PACKAGES)])
        return {**base, "HOME": home, "PYTHONPATH": path, **self.env}

    def call(
        self,
        tool: str,
        arguments: dict[str, Any],
        *,
        keyring_secret: str | None = None,
        terminal: bool = False,
    ) -> dict[str, Any]:
        """The tool's result (`result`), the agentkit process's pid (`pid`) and, on a terminal,
        what reached the terminal (`terminal`)."""
        out = self.folder / f"result-{secrets.token_hex(4)}.json"
        job = {"tool": tool, "arguments": arguments, "out": str(out)}
        if keyring_secret:
            job["keyring_secret"] = keyring_secret
        argv, env = self.command(job), self.environment()
        shown = self._on_terminal(argv, env) if terminal else None
        if not terminal:
            done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr
        found: dict[str, Any] = json.loads(out.read_text())
        found["terminal"] = shown
        return found

    def _on_terminal(self, argv: list[str], env: dict[str, str]) -> bytes:
        """Run with a terminal (a pty the user owns) as stdin, stdout and stderr: what it got."""
        master, slave = pty.openpty()
        os.chown(os.ttyname(slave), self.uid, -1)
        try:
            process = subprocess.Popen(
                argv, env=env, stdin=slave, stdout=slave, stderr=slave, start_new_session=True
            )
            os.close(slave)
            shown = bytearray()
            while True:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every process holding the terminal has gone
                    break
                if not chunk:
                    break
                shown += chunk
            assert process.wait(timeout=120) == 0, shown.decode(errors="replace")
            return bytes(shown)
        finally:
            os.close(master)


@dataclass
class ThrowawayUser:
    """A user made for the test session: its name and its own folder."""

    name: str
    folder: Path

    def runner(self, **env: str) -> Runner:
        return Runner(self.folder, self.name, env)

    def own(self, path: Path) -> Path:
        """Give `path` (and everything in it) to the user."""
        uid = pwd.getpwnam(self.name).pw_uid
        for found in [path, *path.rglob("*")]:
            os.lchown(found, uid, uid)
        return path


def _kill_processes_of(uid: int) -> None:
    """Kill, by pid, what the throwaway user still runs (only the tests started its processes)."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    os.kill(int(entry), 9)
            except OSError:
                continue


def throwaway_user() -> Iterator[ThrowawayUser]:
    """Create a user with a folder of its own; remove both at the end."""
    name = f"aktest{secrets.token_hex(3)}"
    folder = Path(tempfile.mkdtemp(prefix="agentkit-user-"))
    subprocess.run(
        ["useradd", "--no-create-home", "--home-dir", str(folder), "--shell", "/bin/false", name],
        check=True,
        capture_output=True,
    )
    try:
        folder.chmod(0o700)
        uid = pwd.getpwnam(name).pw_uid
        os.chown(folder, uid, uid)
        yield ThrowawayUser(name, folder)
    finally:
        _kill_processes_of(pwd.getpwnam(name).pw_uid)
        subprocess.run(["userdel", name], capture_output=True, check=False)
        shutil.rmtree(folder, ignore_errors=True)
