"""`agentkit chat` and `agentkit run` under a real terminal: a pseudo-terminal, read back
through a VT100 emulator (pyte), with the model a fake server on 127.0.0.1.

Checked as a person would see it: a paste of three lines is one message (one request),
Markdown answers are rendered (no `**` or fences left on the screen), `--plain` leaves them
as written, Ctrl-C cancels only the turn, and Ctrl-D leaves with status 0.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import subprocess
import sys
import termios
from collections.abc import Callable
from pathlib import Path

import pyte
import pytest

from agentkit.cli._load import ENDPOINT_VARIABLES
from agentkit.testing import Completion, FakeServer, Hang

pytestmark = pytest.mark.slow

AGENTKIT = Path(sys.executable).with_name("agentkit")
MARKDOWN = "# Packing list\n\nTake **boots** and a `map`.\n\n```python\nprint('ready')\n```\n"
PASTE_START, PASTE_END = "\x1b[200~", "\x1b[201~"


class Terminal:
    """A program on a pseudo-terminal, and the screen it draws."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.screen = pyte.Screen(100, 40)
        self.stream = pyte.ByteStream(self.screen)
        master, slave = pty.openpty()
        self.master = master
        self.process = subprocess.Popen(
            args,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            close_fds=True,
            preexec_fn=_controlling_terminal,
        )
        os.close(slave)

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display)

    def wait_for(self, done: Callable[[str], bool], what: str, limit: float = 30.0) -> str:
        """Read output until `done(screen text)`; fail naming `what` after `limit` seconds."""
        waited = 0.0
        while not done(self.text()):
            ready, _, _ = select.select([self.master], [], [], 0.1)
            waited += 0.1
            if ready:
                try:
                    self.stream.feed(os.read(self.master, 65536))
                except OSError:  # the program ended
                    break
            elif waited > limit:
                break
        screen = self.text()
        assert done(screen), f"never saw {what}:\n{screen}"
        return screen

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def close(self) -> int:
        try:
            return self.process.wait(timeout=30)
        finally:
            os.close(self.master)


def _controlling_terminal() -> None:
    """In the child: a session of its own, with the pty as its terminal (so ^C is SIGINT)."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def terminal_env(tmp_path: Path, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (*ENDPOINT_VARIABLES, "AGENTKIT_MODEL")}
    return {
        **env,
        "AGENTKIT_API_KEY": "sk-test",
        "AGENTKIT_BASE_URL": url,
        "TERM": "xterm-256color",
        "COLUMNS": "100",
        "LINES": "40",
        "XDG_STATE_HOME": str(tmp_path),  # the chat's history goes here, not in ~
        "PROMPT_TOOLKIT_NO_CPR": "1",  # pyte answers no cursor-position requests
    }


def prompts(screen: str) -> int:
    return sum(1 for line in screen.splitlines() if line.startswith(">"))


def test_chat_paste_markdown_and_ctrl_c_under_a_terminal(tmp_path: Path) -> None:
    with FakeServer([Completion(MARKDOWN), Hang(), Completion("Still here.")]) as server:
        term = Terminal([str(AGENTKIT), "chat"], terminal_env(tmp_path, server.url))
        try:
            term.wait_for(lambda s: prompts(s) == 1, "the first prompt")
            term.type(f"{PASTE_START}pack for\nthe hills\ntomorrow{PASTE_END}")
            term.wait_for(lambda s: "tomorrow" in s, "the pasted lines in the input")
            assert len(server.chat_requests) == 0  # a paste is not sent line by line
            term.type("\r")
            screen = term.wait_for(lambda s: prompts(s) == 2 and "ready" in s, "the answer")
            assert len(server.chat_requests) == 1
            assert (
                server.chat_requests[0].messages[-1]["content"] == "pack for\nthe hills\ntomorrow"
            )
            assert "Packing list" in screen and "boots" in screen
            assert "**" not in screen and "```" not in screen and "# Packing" not in screen
            assert term.screen.buffer[_row(term, "boots")][_col(term, "boots")].bold

            term.type("are you there?\r")
            term.wait_for(lambda s: "waiting for the model" in s, "the spinner")
            term.type("\x03")  # Ctrl-C: cancels the turn, not the chat
            screen = term.wait_for(lambda s: "cancelled" in s and prompts(s) >= 3, "cancelled")
            term.type("hello\r")
            term.wait_for(lambda s: "Still here." in s and prompts(s) >= 4, "the next prompt")
            term.type("\x04")  # Ctrl-D leaves
            assert term.close() == 0
        finally:
            term.process.kill()


def _row(term: Terminal, word: str) -> int:
    return next(i for i, line in enumerate(term.screen.display) if word in line)


def _col(term: Terminal, word: str) -> int:
    return term.screen.display[_row(term, word)].index(word)


@pytest.mark.parametrize("plain", [False, True], ids=["rendered", "plain"])
def test_run_renders_markdown_on_a_terminal_unless_plain(tmp_path: Path, plain: bool) -> None:
    with FakeServer([Completion(MARKDOWN)]) as server:
        args = [str(AGENTKIT), "run", *(["--plain"] if plain else []), "what to pack?"]
        term = Terminal(args, terminal_env(tmp_path, server.url))
        try:
            screen = term.wait_for(lambda s: "usage:" in s, "the usage line")
            assert term.close() == 0
        finally:
            term.process.kill()
    if plain:
        assert "**boots**" in screen and "```python" in screen
    else:
        assert "**boots**" not in screen and "```" not in screen and "boots" in screen


def test_chat_history_across_sessions_completion_and_multiline(tmp_path: Path) -> None:
    with FakeServer([Completion("One."), Completion("Two.")]) as server:
        env = terminal_env(tmp_path, server.url)
        first = Terminal([str(AGENTKIT), "chat"], env)
        try:
            first.wait_for(lambda s: prompts(s) == 1, "the prompt")
            first.type("remember me\r")
            first.wait_for(lambda s: "One." in s and prompts(s) == 2, "the answer")
            first.type("\x04")
            assert first.close() == 0
        finally:
            first.process.kill()
        second = Terminal([str(AGENTKIT), "chat"], env)
        try:
            second.wait_for(lambda s: prompts(s) == 1, "the prompt")
            second.type("\x1b[A")  # Up: the last session's message
            second.wait_for(lambda s: "> remember me" in s, "the history")
            second.type("\x15/mu\t")  # Ctrl-U clears the line; Tab completes the command
            second.wait_for(lambda s: "> /multiline" in s, "the completed command")
            second.type("\r")
            second.wait_for(lambda s: "multi-line input" in s, "multi-line mode")
            second.type("a\rb")  # Enter adds a line ...
            second.wait_for(lambda s: "… b" in s, "the second line")
            assert len(server.chat_requests) == 1
            second.type("\x1b\r")  # ... and Esc, Enter sends both
            second.wait_for(lambda s: "Two." in s and s.rstrip().endswith(">>"), "the answer")
            assert server.chat_requests[1].messages[-1]["content"] == "a\nb"
            second.type("/exit\x1b\r")  # in multi-line mode Esc, Enter sends
            assert second.close() == 0
        finally:
            second.process.kill()
