"""Files under one root folder: list, read and search them, and write them with approval.

Offers `list_files`, `read_file`, `search_files` and `write_file` (which requires approval).
The root is `AGENTKIT_FILES_ROOT` when set, else the current working directory, read at each
call; the home folder itself, or a folder above it (such as `/`), is refused as the root.
Every path is relative to the root and must stay inside it:

- absolute paths, `~`, `..` components and NUL bytes are refused outright;
- the path is resolved and must lie inside the resolved root, component by component;
- each folder on the way is then opened relative to the previous one without following
  symbolic links (`O_NOFOLLOW`), so a link swapped in after the check is refused too;
- only regular files are read or replaced (never FIFOs, devices or sockets);
- writes go to a temporary file in the same folder, then replace the target atomically.

Symbolic links that stay inside the root work; links that lead out do not. Secret files
(`_secret_files.py`: `.env`, `.netrc`, SSH keys, `*.pem`, `.ssh/`, ...) are refused by
default, however they are named (a link to one too): listings show their names only,
searches skip them, and reading or writing one is refused, so their keys never reach the
model. Reads, writes and searches have size caps, and listings and searches have caps on
entries and matches. A regex is matched in a child process (`re` holds the GIL and cannot be
interrupted, so a pattern that backtracks without end would freeze the whole process), which
is sent the text of the files this module has opened and vetted, and is killed after 20 s of
matching. Needs a POSIX system (Linux, macOS): the checks rely on `openat`-style calls.

The confinement itself (checking paths, opening folders and files without following links,
walking a tree, replacing a file) is in `_paths.py`, the walk and summary of a search in
`_files_search.py`, and the matching of lines (the regex child process included) in
`_regex_search.py`, all of which this module loads; this module holds the tools, their caps
and what they report.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from agentkit.errors import ModelRetry
from agentkit.tools import tool

from . import _files_search as _search, _paths, _regex_search
from ._secret_files import is_secret, secret_reason

_READ_LIMIT = 100_000
_WRITE_LIMIT = 1_000_000
_MAX_ENTRIES = 500
_BINARY_SNIFF = 8192
_HIDDEN_SHOWN = 5
# The time a regex search may keep its child process busy, over all the files it searches.
_REGEX_SECONDS = 20.0
# What runs a regex search (a seam: tests record the children it starts).
_RegexChild = _regex_search.RegexChild


def _resolve(root: Path, path: str) -> Path:
    """Where `path` leads once every symbolic link is followed (a seam: tests replace it)."""
    return (root / path).resolve()


def _target(path: str) -> _paths.Target:
    """The path, checked to stay inside the root and away from secret files (ModelRetry)."""
    target = _paths.confine(path, _resolve)
    # The name given and the real one (a link named `notes.txt` may lead to `.env`).
    for part in (*PurePosixPath(path).parts, *target.parts):
        reason = secret_reason(part)
        if reason is not None:
            raise ModelRetry(
                f"{target.shown} is, or is inside, a secret file ({part}: {reason}); the files "
                "tools never read, search or write secret files (.env, .netrc, SSH keys, "
                "*.pem, ...). If the task needs something from it, ask the user."
            )
    return target


# Folders whose files run commands: git's hooks and its config (core.fsmonitor, aliases,
# core.pager), Mercurial's hgrc hooks. A write there runs code with the user's rights the
# next time they use the tool; reading stays allowed.
_RUN_BY_TOOLS = {".git": "git", ".hg": "Mercurial"}


def _not_run_by_version_control(target: _paths.Target) -> None:
    for part in target.parts:
        tool = _RUN_BY_TOOLS.get(part.lower())
        if tool is not None:
            raise ModelRetry(
                f"{target.shown} is inside {part}/, whose files (hooks, config) run commands "
                f"when {tool} runs; write_file never writes there. Ask the user to make "
                "that change."
            )


def _file_name(target: _paths.Target) -> str:
    if not target.parts:
        raise ModelRetry(f"{target.shown} is the root folder; give the path of a file in it")
    return target.parts[-1]


def _trim_partial_character(data: bytes) -> bytes:
    """Drop a UTF-8 character cut in half at the end of a chunk."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 == 0xC0:  # the lead byte of a multi-byte character
            length = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return data[:-back] if length > back else data
        if byte & 0x80 == 0:  # plain ASCII: nothing is cut
            return data
    return data


def _chunk(data: bytes) -> bytes:
    """At most the read limit, ending at a line break when one is near the end."""
    head = data[:_READ_LIMIT]
    newline = head.rfind(b"\n")
    if newline >= _READ_LIMIT // 2:
        return head[: newline + 1]
    return _trim_partial_character(head)


def _read_chunk(fd: int, offset: int, shown: str) -> tuple[bytes, int]:
    """The bytes from `offset` (one more than the limit, to detect truncation), and the size."""
    size = os.fstat(fd).st_size
    if offset < 0 or offset > size:
        raise ModelRetry(f"offset {offset} is outside {shown}, which has {size} byte{_s(size)}")
    os.lseek(fd, offset, os.SEEK_SET)
    data = b""
    while len(data) <= _READ_LIMIT:
        block = os.read(fd, _READ_LIMIT + 1 - len(data))
        if not block:
            break
        data += block
    return data, size


@tool
def read_file(path: str, offset: int = 0) -> str:
    """Read a text file under the root folder.

    Shows up to 100,000 bytes at a time; a longer file ends with a note giving the offset to
    continue from. Binary files are refused, and so are secret files (.env, .netrc, SSH
    keys, *.pem, ...): ask the user for what you need from one.

    Args:
        path: The file's path relative to the root folder, e.g. "notes/todo.txt".
        offset: The byte to start at; 0 for the beginning. Use the offset given in a
            truncation note to read the next part.

    Returns:
        The file's text (invalid UTF-8 bytes shown as U+FFFD), with a note at the end when
        only part of the file is shown.
    """
    target = _target(path)
    name = _file_name(target)
    try:
        parent = _paths.open_dir(target, target.parts[:-1])
        try:
            fd = _paths.open_child(parent, name, target.shown)
        finally:
            os.close(parent)
        try:
            data, size = _read_chunk(fd, offset, target.shown)
        finally:
            os.close(fd)
    except OSError as exc:
        raise _paths.failure(exc, target.shown) from None
    if b"\x00" in data[:_BINARY_SNIFF]:
        raise ModelRetry(
            f"{target.shown} is a binary file ({size} byte{_s(size)}); read_file only reads "
            "text files"
        )
    shown = _chunk(data) if len(data) > _READ_LIMIT else data
    text = shown.decode("utf-8", errors="replace")
    end = offset + len(shown)
    if end < size:
        text += (
            f"\n\n[truncated: showed bytes {offset} to {end} of {size}; call read_file with "
            f"offset={end} to read on]"
        )
    return text


def _hidden_note(hidden: list[str]) -> str:
    shown = ", ".join(hidden[:_HIDDEN_SHOWN]) + (", ..." if len(hidden) > _HIDDEN_SHOWN else "")
    count = f"{len(hidden)} hidden folder{_s(len(hidden))}"
    return f"[left out {count} ({shown}); give one as the path to look inside]"


def _describe_entry(entry: _paths.Entry) -> str:
    mode = entry.info.st_mode
    if is_secret(entry.name):
        kind = "folder" if stat.S_ISDIR(mode) else "file"
        return f"{entry.relative}{'/' if stat.S_ISDIR(mode) else ''} (secret {kind}: not shown)"
    if stat.S_ISDIR(mode):
        return entry.relative + "/"
    if stat.S_ISLNK(mode):
        return f"{entry.relative} (symbolic link)"
    if stat.S_ISREG(mode):
        size = entry.info.st_size
        return f"{entry.relative} ({size} byte{_s(size)})"
    return f"{entry.relative} (special file)"


@tool
def list_files(path: str = ".", recursive: bool = False) -> str:
    """List the files and folders in a folder under the root folder.

    Folders end with "/"; files show their size. A recursive listing leaves out hidden
    folders (.git, .venv, ...; unless the path is inside one), does not go into
    __pycache__ and node_modules (list them directly), and stops after 500 entries.

    Args:
        path: The folder relative to the root folder; "." for the root itself.
        recursive: Also list everything inside the subfolders.

    Returns:
        One entry per line, as paths relative to the root folder, e.g. "docs/" or
        "docs/readme.md (1234 bytes)", with a note when the listing was cut short.
    """
    target = _target(path)
    lines: list[str] = []
    hidden = _search.hidden_list(target) if recursive else None
    try:
        fd = _paths.open_dir(target, target.parts)
        try:
            walk_all = _paths.walk(fd, _search.prefix(target), recursive, hidden=hidden)
            with contextlib.closing(walk_all) as walk:
                for entry in walk:
                    if len(lines) == _MAX_ENTRIES:
                        lines.append(
                            f"[stopped after {_MAX_ENTRIES} entries; list a subfolder to see more]"
                        )
                        break
                    lines.append(_describe_entry(entry))
        finally:
            os.close(fd)
    except NotADirectoryError:
        raise ModelRetry(
            f"{target.shown} is not a folder (or goes through a file); use read_file for files"
        ) from None
    except OSError as exc:
        raise _paths.failure(exc, target.shown) from None
    if hidden:
        lines.append(_hidden_note(hidden))
    return "\n".join(lines) if lines else f"{target.shown} is an empty folder"


@contextlib.contextmanager
def _finder(compiled: re.Pattern[str], regex: bool, pattern: str) -> Iterator[_regex_search.Finder]:
    """How lines are matched: in this process for literal text, in a child for a regex."""
    if not regex:
        yield _regex_search.find_here(compiled)
        return
    child = _RegexChild(compiled, _paths.show(pattern), _REGEX_SECONDS)
    try:
        yield child.find
    finally:
        child.close()


def _s(count: int) -> str:
    return "" if count == 1 else "s"


@tool
def search_files(
    pattern: str, path: str = ".", regex: bool = False, ignore_case: bool = False
) -> str:
    """Search the text files under a folder (or one file) for lines containing a pattern.

    Skips binary files, secret files (.env, keys), files over 1,000,000 bytes, symbolic
    links, hidden folders (.git, ...; unless the path is inside one), __pycache__ and
    node_modules; stops at 100 matching lines.

    Args:
        pattern: The text to look for; a Python regular expression when regex is true.
        path: The folder or file to search, relative to the root folder; "." for all.
        regex: Treat pattern as a regular expression instead of plain text (a search that
            takes over 20 s is stopped).
        ignore_case: Match upper and lower case alike.

    Returns:
        One match per line as "path:line number: line text", then a summary in brackets.
    """
    compiled = _search.compile_pattern(pattern, regex, ignore_case)
    target = _target(path)
    with _finder(compiled, regex, pattern) as find:
        search = _search.Search(find, [])
        try:
            _search.search_tree(search, target)
        except OSError as exc:
            raise _paths.failure(exc, target.shown) from None
    return search.report(pattern, target.shown)


@tool(requires_approval=True)
def write_file(path: str, content: str) -> str:
    """Create or replace a text file under the root folder (asks for approval first).

    Missing folders on the way are created. The file is replaced as a whole, atomically.
    Secret files and files inside .git/ or .hg/ are refused.

    Args:
        path: The file's path relative to the root folder, e.g. "notes/todo.txt".
        content: The complete new text of the file (UTF-8, at most 1,000,000 bytes).

    Returns:
        What was written: the number of bytes, and whether the file is new or replaced.
    """
    data = content.encode("utf-8", errors="replace")
    if len(data) > _WRITE_LIMIT:
        raise ModelRetry(
            f"the content is {len(data)} bytes; the limit is {_WRITE_LIMIT}. Write less"
        )
    target = _target(path)
    name = _file_name(target)
    _not_run_by_version_control(target)
    try:
        parent = _paths.open_dir(target, target.parts[:-1], create=True)
        try:
            existing = _paths.existing(parent, name, target.shown)
            _paths.replace_atomically(parent, name, data, existing.st_mode if existing else None)
        finally:
            os.close(parent)
    except OSError as exc:
        raise _paths.failure(exc, target.shown) from None
    state = "replaced the old file" if existing else "new file"
    return f"wrote {len(data)} byte{_s(len(data))} to {target.shown} ({state})"
