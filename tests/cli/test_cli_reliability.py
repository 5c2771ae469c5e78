"""The `agentkit` command under Ctrl-C from outside, a closed stdout, and the key in its env.

Ctrl-C is a real SIGINT sent to the `agentkit` process while its request hangs on the fake
server, or while a sync tool sleeps in its worker thread: `agentkit run` exits 130 without a
traceback and without waiting for the tool; `agentkit chat` drops that turn and answers the
next prompt with the conversation from before it. A reader that closes stdout early (`| head
-1`) ends the run quietly. The `--json` and `-v` output of runs whose tools and server leak
the key never shows it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from _reliability import KEY

from agentkit.testing import Completion, Error, FakeServer, Hang

AGENTKIT = Path(sys.executable).with_name("agentkit")
CLI_MISSING = importlib.util.find_spec("agentkit.cli") is None or not AGENTKIT.exists()

pytestmark = pytest.mark.skipif(CLI_MISSING, reason="the agentkit CLI is not there yet")

BOUND = 60.0  # seconds: a process start, an import of agentkit and a short run, generously
ENDPOINT_VARIABLES = ("AGENTKIT_API_KEY", "OPENAI_API_KEY", "AGENTKIT_BASE_URL", "OPENAI_BASE_URL")

LEAKY_TOOLS = f"""
KEY = {KEY!r}


def leak_text() -> str:
    '''Returns the key.'''
    return "the token is " + KEY


def leak_error() -> str:
    '''Fails with the key in the message.'''
    raise PermissionError("refused key " + KEY)
"""


def env(**extra: str) -> dict[str, str]:
    """The environment without any endpoint configuration, plus `extra`."""
    clean = {
        k: v for k, v in os.environ.items() if k not in (*ENDPOINT_VARIABLES, "AGENTKIT_MODEL")
    }
    return {**clean, "NO_COLOR": "1", **extra}


@contextmanager
def started(*args: str) -> Iterator[subprocess.Popen[str]]:
    """`agentkit ARGS...` with pipes; killed (and reaped) if the test leaves it running."""
    process = subprocess.Popen(
        [str(AGENTKIT), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def wait_for_requests(server: FakeServer, count: int, process: subprocess.Popen[str]) -> None:
    """Until the server saw `count` chat requests (the process must still be running)."""
    deadline = time.monotonic() + BOUND
    while len(server.chat_requests) < count:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the request never arrived"
        time.sleep(0.02)
    time.sleep(0.2)  # let the request settle into its wait


def wait_closed(server: FakeServer) -> None:
    deadline = time.monotonic() + 5
    while server.open_connections and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.open_connections == 0


@pytest.mark.slow
def test_ctrl_c_during_a_request_in_run_exits_130() -> None:
    with (
        FakeServer([Hang()]) as server,
        started("run", "--base-url", server.url, "What is 2 + 3?") as process,
    ):
        wait_for_requests(server, 1, process)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=BOUND)
        wait_closed(server)
        assert len(server.chat_requests) == 1
    assert process.returncode == 130, err
    assert "cancelled" in err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert out.strip() == ""


@pytest.mark.slow
def test_ctrl_c_during_a_request_in_chat_drops_the_turn_not_the_session() -> None:
    replies = [Completion("hi there"), Hang(), Completion("still here")]
    with FakeServer(replies) as server, started("chat", "--base-url", server.url) as process:
        assert process.stdin is not None
        process.stdin.write("hello\nplease hang\n")
        process.stdin.flush()
        wait_for_requests(server, 2, process)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate("again\n/exit\n", timeout=BOUND)
        wait_closed(server)
        requests = server.chat_requests
    assert process.returncode == 0, err
    assert "cancelled" in err
    assert "Traceback" not in err
    assert "hi there" in out and "still here" in out
    assert len(requests) == 3
    # The cancelled turn is not part of the conversation that goes on.
    contents = [m.get("content") for m in requests[2].messages if m["role"] != "system"]
    assert contents == ["hello", "hi there", "again"]


@pytest.mark.parametrize("flags", [["--json"], ["-v"], ["--json", "-v"]], ids=["json", "v", "both"])
@pytest.mark.slow
def test_key_never_in_json_or_verbose_output(tmp_path: Path, flags: list[str]) -> None:
    tools = tmp_path / "leaky.py"
    tools.write_text(textwrap.dedent(LEAKY_TOOLS), encoding="utf-8")
    calls = [{"name": "leak_text", "arguments": "{}"}, {"name": "leak_error", "arguments": "{}"}]
    body = {"error": {"message": f"Incorrect API key provided: {KEY}"}}
    with FakeServer([Completion(tool_calls=calls), Error(401, body)]) as server:
        done = subprocess.run(
            [str(AGENTKIT), "run", *flags, "--base-url", server.url, "--tools", str(tools), "go"],
            capture_output=True,
            text=True,
            timeout=BOUND,
            env=env(AGENTKIT_API_KEY=KEY),
            check=False,
        )
        assert server.chat_requests[0].headers["authorization"] == f"Bearer {KEY}"  # it was used
        for request in server.chat_requests:
            assert KEY not in json.dumps(request.body)
    assert done.returncode == 1, done.stderr
    assert "***" in done.stdout + done.stderr  # the leaks were there, redacted
    assert KEY not in done.stdout
    assert KEY not in done.stderr
    if "--json" in flags:
        for line in done.stdout.splitlines():
            json.loads(line)  # every line is an event, the error one included


# A sync tool that sleeps far longer than any bound here: a process that waited for it would
# never end within BOUND, so ending within it proves the tool's thread was not waited for.
SLOW_TOOL = '''
import time
from pathlib import Path


def wait(seconds: int) -> str:
    """Wait a number of seconds.

    Args:
        seconds: How long.
    """
    Path(__file__).with_name("started").write_text("yes")
    time.sleep(seconds)
    return "waited"
'''


def slow_tool(folder: Path) -> Path:
    path = folder / "slow.py"
    path.write_text(SLOW_TOOL, encoding="utf-8")
    return path


def wait_for_file(path: Path, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + BOUND
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the tool never started"
        time.sleep(0.02)


@pytest.mark.parametrize("presses", [1, 2], ids=["once", "twice"])
def test_ctrl_c_during_a_slow_sync_tool_in_run_exits_130_at_once(
    tmp_path: Path, presses: int
) -> None:
    tool = slow_tool(tmp_path)
    with started("run", "--tools", str(tool), "wait 3600") as process:
        wait_for_file(tmp_path / "started", process)
        for _ in range(presses):  # a second Ctrl-C while leaving must not print a traceback
            process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=BOUND)
    assert process.returncode == 130, err
    assert "cancelled" in err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert out == ""


def test_ctrl_c_during_a_slow_sync_tool_in_chat_goes_on_and_exit_does_not_hang(
    tmp_path: Path,
) -> None:
    tool = slow_tool(tmp_path)
    with started("chat", "--tools", str(tool)) as process:
        assert process.stdin is not None
        process.stdin.write("wait 3600\n")
        process.stdin.flush()
        wait_for_file(tmp_path / "started", process)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate("/tools\n/exit\n", timeout=BOUND)
    assert process.returncode == 0, err
    assert "cancelled" in err
    assert "Traceback" not in err
    assert "wait  Wait a number of seconds." in out  # /tools ran: the session went on


@pytest.mark.parametrize("flags", [[], ["-v"], ["--json"]], ids=["text", "v", "json"])
@pytest.mark.slow
def test_a_reader_that_stops_early_ends_the_run_quietly(flags: list[str]) -> None:
    # Far more than a pipe holds, and the pipe is closed before the first byte is read.
    with FakeServer([Completion("line\n" * 50_000)]) as server:
        process = subprocess.Popen(
            [str(AGENTKIT), "run", *flags, "--base-url", server.url, "hi"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env(AGENTKIT_API_KEY=KEY),
        )
        assert process.stdout is not None
        process.stdout.close()
        try:
            _, err = process.communicate(timeout=BOUND)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 0, err
    assert err == ""
