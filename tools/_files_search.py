"""The search behind `search_files`: walking the files under the root and matching lines.

A helper of `files.py`, not a tool module. It holds `Search` (the matches so far, the caps,
what was skipped, and the summary the model reads), `compile_pattern` and `search_tree`.
How each file's lines are matched (here, or in a child process for a regex) is `files.py`'s
`_finder`, passed in as `Search.find`.

Security role: only regular files the walk opened without following links are read, each
at most `SEARCH_FILE_LIMIT` bytes and `SEARCH_TOTAL_LIMIT` in all; secret files
(`_secret_files.py`) are never read, only counted as skipped.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from dataclasses import dataclass

from agentkit.errors import ModelRetry

from . import _paths, _regex_search
from ._secret_files import is_secret

SEARCH_FILE_LIMIT = 1_000_000
_SEARCH_TOTAL_LIMIT = 50_000_000
_MAX_MATCHES = 100
_MAX_PATTERN = 1000
_SHOWN_LINE = 200
_BINARY_SNIFF = 8192


def _s(count: int) -> str:
    return "" if count == 1 else "s"


def hidden_list(target: _paths.Target) -> list[str] | None:
    """A list to collect the hidden folders a recursive walk leaves out; None to show them.

    A walk that starts inside a hidden folder (the user asked for `.github`) shows them all.
    """
    return None if any(part.startswith(".") for part in target.parts) else []


def prefix(target: _paths.Target) -> str:
    return "/".join(target.parts) + "/" if target.parts else ""


@dataclass
class Search:
    find: _regex_search.Finder
    matches: list[str]
    files: int = 0
    scanned_bytes: int = 0
    too_big: int = 0
    binary: int = 0
    stopped: str = ""
    hidden: list[str] | None = None
    secret: int = 0

    def file(self, dir_fd: int, name: str, relative: str, info: os.stat_result) -> None:
        """Search one regular file, counting what is skipped."""
        if is_secret(name):
            self.secret += 1
            return
        if info.st_size > SEARCH_FILE_LIMIT:
            self.too_big += 1
            return
        try:
            fd = _paths.open_child(dir_fd, name, relative)
            try:
                data = os.read(fd, SEARCH_FILE_LIMIT + 1)
            finally:
                os.close(fd)
        except (OSError, ModelRetry):
            return  # swapped or removed while searching: not a file to search
        self.files += 1
        self.scanned_bytes += len(data)
        if b"\x00" in data[:_BINARY_SNIFF]:
            self.binary += 1
            return
        text = data.decode("utf-8", errors="replace")
        found = self.find(text, _MAX_MATCHES - len(self.matches))
        if not found:
            return
        lines = text.splitlines()
        for number in found:
            self.matches.append(f"{relative}:{number}: {lines[number - 1].strip()[:_SHOWN_LINE]}")
        if len(self.matches) >= _MAX_MATCHES:
            self.stopped = f"stopped at {_MAX_MATCHES} matches; narrow the search"

    def over_budget(self) -> bool:
        if self.scanned_bytes >= _SEARCH_TOTAL_LIMIT and not self.stopped:
            self.stopped = f"stopped after reading {self.scanned_bytes} bytes; search a subfolder"
        return bool(self.stopped)

    def report(self, pattern: str, shown: str) -> str:
        notes = [f"searched {self.files} file{_s(self.files)}"]
        if self.too_big:
            notes.append(f"skipped {self.too_big} over {SEARCH_FILE_LIMIT} bytes")
        if self.binary:
            notes.append(f"skipped {self.binary} binary")
        if self.secret:
            notes.append(f"skipped {self.secret} secret file{_s(self.secret)} (.env, keys, ...)")
        if self.hidden:
            notes.append(f"skipped {len(self.hidden)} hidden folder{_s(len(self.hidden))}")
        if self.stopped:
            notes.append(self.stopped)
        summary = f"[{'; '.join(notes)}]"
        if not self.matches:
            return f"no matches for {_paths.show(pattern)} in {shown} {summary}"
        return "\n".join([*self.matches, summary])


def compile_pattern(pattern: str, regex: bool, ignore_case: bool) -> re.Pattern[str]:
    if not pattern:
        raise ModelRetry("the search pattern is empty; give the text or regex to look for")
    if len(pattern) > _MAX_PATTERN:
        raise ModelRetry(f"the pattern is {len(pattern)} characters; the limit is {_MAX_PATTERN}")
    flags = re.IGNORECASE if ignore_case else 0
    try:
        return re.compile(pattern if regex else re.escape(pattern), flags)
    except re.error as exc:
        raise ModelRetry(
            f"invalid regular expression {_paths.show(pattern)}: {exc}; fix it, or pass "
            "regex=false to search for the text as written"
        ) from None


def search_tree(search: Search, target: _paths.Target) -> None:
    """Search the file or every file under the folder that `target` names."""
    parent = _paths.open_dir(target, target.parts[:-1])
    try:
        name = target.parts[-1] if target.parts else "."
        info = os.stat(name, dir_fd=parent, follow_symlinks=False)
        if not stat.S_ISDIR(info.st_mode):
            _paths.require_regular(info, target.shown)
            search.file(parent, name, "/".join(target.parts), info)
            return
    finally:
        os.close(parent)
    search.hidden = hidden_list(target)
    fd = _paths.open_dir(target, target.parts)
    try:
        walk_all = _paths.walk(fd, prefix(target), recursive=True, hidden=search.hidden)
        with contextlib.closing(walk_all) as walk:
            for entry in walk:
                if stat.S_ISREG(entry.info.st_mode):
                    search.file(entry.dir_fd, entry.name, entry.relative, entry.info)
                if search.over_budget():
                    break
    finally:
        os.close(fd)
