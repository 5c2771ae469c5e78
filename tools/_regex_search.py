"""How `search_files` matches lines: here for literal text, in a child process for a regex.

A helper of `files.py`, not a tool module. It holds `find_here`, which matches in this process
(only for literal text, which cannot backtrack), and `RegexChild`, which matches a regex in a
child Python process (`MATCHER` is its program) and kills it once it has been busy too long.
It is apart from `files.py` because it runs, feeds and reaps a process of its own, which the
rest of the `files` tools never do; `files.py` chooses between the two and sets the time.

Security role: Python's `re` holds the GIL while it matches and cannot be interrupted, so a
pattern that backtracks without end (`(a+)+$`) would freeze agentkit, the event loop and
Ctrl-C included. The child sees nothing but what it is sent: `files.py` opens and vets every
file and sends only its text; the child's CPU limit is a backstop for one left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import selectors
import subprocess
import sys
import time
from collections.abc import Callable

from agentkit.errors import ModelRetry

# The numbers of the lines of a text that match, at most `limit` of them.
Finder = Callable[[str, int], list[int]]


def find_here(pattern: re.Pattern[str]) -> Finder:
    """A finder that runs in this process: only for literal text, which cannot backtrack."""

    def find(text: str, limit: int) -> list[int]:
        found: list[int] = []
        for number, line in enumerate(text.splitlines(), 1):
            if pattern.search(line):
                found.append(number)
                if len(found) >= limit:
                    break
        return found

    return find


# The child's program: the pattern on the first line of its input, then one file's text per
# line, each answered with the numbers of its matching lines (all as JSON). It sees nothing
# but what it is sent: the parent opens and vets every file. Its CPU limit is a backstop
# for a child left behind; the parent kills it at the deadline.
MATCHER = """
import json, re, resource, sys
seconds = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds))
read = sys.stdin.buffer.readline
head = json.loads(read())
pattern = re.compile(head["pattern"], head["flags"])
for request in iter(read, b""):
    job = json.loads(request)
    found = []
    for number, line in enumerate(job["text"].splitlines(), 1):
        if pattern.search(line):
            found.append(number)
            if len(found) >= job["limit"]:
                break
    sys.stdout.write(json.dumps(found) + "\\n")
    sys.stdout.flush()
"""


class RegexChild:
    """Runs a regex in a child process, killed once it has been busy for `seconds` in all.

    Python's `re` holds the GIL while it matches, so a pattern that backtracks without end
    (`(a+)+$` on a line of a's) would freeze the whole process, the event loop and Ctrl-C
    included: no timeout could stop it. In a child process it can be killed.
    """

    def __init__(self, pattern: re.Pattern[str], shown: str, seconds: float) -> None:
        self.pattern = pattern
        self.shown = shown
        self.seconds = seconds
        self.budget = seconds
        self.process: subprocess.Popen[bytes] | None = None
        # A selector, not select(): select() fails on descriptors past 1023.
        self.selector = selectors.DefaultSelector()

    def _start(self) -> subprocess.Popen[bytes]:
        """The child, started at the first file (an empty search starts none)."""
        if not sys.executable:
            raise RuntimeError("regex searches need a Python executable to run; none is known")
        try:
            process = subprocess.Popen(
                [sys.executable, "-I", "-c", MATCHER, str(int(self.seconds) + 5)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        except OSError as exc:
            raise RuntimeError(f"cannot start the regex search process: {exc}") from None
        self.process = process
        assert process.stdout is not None
        self.selector.register(process.stdout, selectors.EVENT_READ)
        self._send({"pattern": self.pattern.pattern, "flags": int(self.pattern.flags)})
        return process

    def find(self, text: str, limit: int) -> list[int]:
        process = self.process or self._start()
        assert process.stdout is not None
        self._send({"text": text, "limit": limit})
        answer = b""
        while not answer.endswith(b"\n"):
            started = time.monotonic()
            ready = self.selector.select(max(self.budget, 0.0))
            self.budget -= time.monotonic() - started
            if not ready:
                process.kill()
                raise ModelRetry(
                    f"the regular expression {self.shown} took too long (over "
                    f"{self.seconds:g} s), so the search was stopped; it probably backtracks "
                    "without end (nested repeats such as (a+)+ or (a|aa)*). Use a simpler "
                    "pattern, or regex=false to search for the text as written"
                )
            block = os.read(process.stdout.fileno(), 65536)
            if not block:
                raise self._died()
            answer += block
        found: list[int] = json.loads(answer)
        return found

    def _send(self, message: dict[str, object]) -> None:
        assert self.process is not None
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(message).encode("ascii") + b"\n")
            self.process.stdin.flush()
        except OSError:  # the child is gone: a broken pipe
            raise self._died() from None

    def _died(self) -> RuntimeError:
        assert self.process is not None
        status = self.process.wait()
        return RuntimeError(f"the regex search process stopped unexpectedly (status {status})")

    def close(self) -> None:
        """Stop the child, whatever state it is in, and reap it."""
        self.selector.close()
        process, self.process = self.process, None
        if process is None:
            return
        process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout):
            with contextlib.suppress(OSError):
                stream.close()  # type: ignore[union-attr]
