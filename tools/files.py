"""Files under one root folder: list, read and search them, and write them with approval.

Offers `list_files`, `read_file`, `search_files` and `write_file` (which requires approval).
The root is `AGENTKIT_FILES_ROOT` when set, else the current working directory, read at each
call. Every path is relative to the root and must stay inside it:

- absolute paths, `~`, `..` components and NUL bytes are refused outright;
- the path is resolved and must lie inside the resolved root, component by component;
- each folder on the way is then opened relative to the previous one without following
  symbolic links (`O_NOFOLLOW`), so a link swapped in after the check is refused too;
- only regular files are read or replaced (never FIFOs, devices or sockets);
- writes go to a temporary file in the same folder, then replace the target atomically.

Symbolic links that stay inside the root work; links that lead out do not. Reads, writes and
searches have size caps, and listings and searches have caps on entries and matches.
Needs a POSIX system (Linux, macOS): the checks rely on `openat`-style calls.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from agentkit import ModelRetry, tool

_READ_LIMIT = 100_000
_WRITE_LIMIT = 1_000_000
_SEARCH_FILE_LIMIT = 1_000_000
_SEARCH_TOTAL_LIMIT = 50_000_000
_MAX_MATCHES = 100
_MAX_ENTRIES = 500
_MAX_DEPTH = 25
_MAX_PATH = 4096
_MAX_PATTERN = 1000
_SHOWN_LINE = 200
_BINARY_SNIFF = 8192
# Folders a recursive walk lists but does not enter (hidden ones are left out altogether).
_SKIPPED_DIRS = frozenset({"__pycache__", "node_modules"})
_HIDDEN_SHOWN = 5

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW | _CLOEXEC
# O_NONBLOCK: opening a FIFO for reading must not wait for a writer.
_READ_FLAGS = os.O_RDONLY | _NOFOLLOW | _CLOEXEC | getattr(os, "O_NONBLOCK", 0)
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC


@dataclass(frozen=True)
class _Target:
    """A checked path: the root, and the real components below it (no symbolic links)."""

    root: Path
    parts: tuple[str, ...]
    shown: str


@dataclass(frozen=True)
class _Entry:
    relative: str
    name: str
    info: os.stat_result
    dir_fd: int


def _show(path: str) -> str:
    return repr(path if len(path) <= 120 else path[:117] + "...")


def _root() -> Path:
    configured = os.environ.get("AGENTKIT_FILES_ROOT")
    base = Path(configured) if configured else Path.cwd()
    if not (os.open in os.supports_dir_fd and os.scandir in os.supports_fd):
        raise RuntimeError("the files tools need a POSIX system (Linux, macOS)")
    try:
        root = base.resolve(strict=True)
    except (OSError, RuntimeError):
        root = None
    if root is None or not root.is_dir():
        raise RuntimeError(
            f"the files root {str(base)!r} is not an existing folder; set AGENTKIT_FILES_ROOT "
            "to one"
        )
    return root


def _refuse_unsafe_text(path: str) -> None:
    """Refuse paths that could only mean something outside the root, before any lookup."""
    if "\x00" in path:
        raise ModelRetry(f"the path {_show(path)} contains a NUL byte; remove it")
    if not path.strip():
        raise ModelRetry("the path is empty; give a path relative to the root, or '.' for it")
    if len(path) > _MAX_PATH:
        raise ModelRetry(f"the path is {len(path)} characters long; the limit is {_MAX_PATH}")
    if path.startswith("~"):
        raise ModelRetry(
            f"the path {_show(path)} starts with '~', which is not expanded; paths are "
            "relative to the root folder, e.g. 'notes/todo.txt'"
        )
    if PurePosixPath(path).is_absolute() or re.match(r"^([A-Za-z]:)?[\\/]", path):
        raise ModelRetry(
            f"the path {_show(path)} is absolute; give it relative to the root folder, e.g. "
            "'notes/todo.txt' (use '.' for the root itself)"
        )
    if ".." in PurePosixPath(path).parts:
        raise ModelRetry(
            f"the path {_show(path)} contains '..'; only files inside the root folder can be "
            "used, so give the path from the root down, e.g. 'docs/readme.md'"
        )


def _resolve(root: Path, path: str) -> Path:
    """Where `path` leads once every symbolic link is followed."""
    return (root / path).resolve()


def _target(path: str) -> _Target:
    _refuse_unsafe_text(path)
    root = _root()
    try:
        resolved = _resolve(root, path)
    except RuntimeError:  # raised for a loop of symbolic links (before Python 3.13)
        raise ModelRetry(f"cannot follow the path {_show(path)}: its links form a loop") from None
    except OSError as exc:
        raise _failure(exc, _show(path)) from None
    if not resolved.is_relative_to(root):
        raise ModelRetry(
            f"the path {_show(path)} leads outside the root folder (through a symbolic link); "
            "only files inside the root can be used"
        )
    return _Target(root, resolved.relative_to(root).parts, _show(path))


def _failure(exc: OSError, shown: str) -> ModelRetry:
    """A message for the model from an OS error, naming the path it gave."""
    messages = {
        errno.ENOENT: f"{shown} does not exist; use list_files to see what is there",
        errno.ENOTDIR: f"a part of {shown} is a file, not a folder",
        errno.EISDIR: f"{shown} is a folder; use list_files to see inside it",
        errno.ELOOP: f"{shown} goes through a symbolic link that is not followed here",
        errno.EACCES: f"permission denied for {shown}",
        errno.EPERM: f"permission denied for {shown}",
        errno.ENAMETOOLONG: f"a name in {shown} is too long (the limit is 255 bytes)",
        errno.ENOSPC: f"no space left on the disk to write {shown}",
        errno.EROFS: f"{shown} is on a read-only file system",
    }
    text = messages.get(exc.errno or 0, f"cannot access {shown}: {exc.strerror or exc}")
    return ModelRetry(text)


def _open_dir(target: _Target, parts: tuple[str, ...], *, create: bool = False) -> int:
    """A descriptor of root/parts, opened one folder at a time without following links."""
    fd = os.open(target.root, _DIR_FLAGS)
    try:
        for part in parts:
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, dir_fd=fd)
            child = _open_subdir(fd, part)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_subdir(dir_fd: int, name: str) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        # Linux reports a link met with O_NOFOLLOW | O_DIRECTORY as "not a directory".
        if exc.errno == errno.ENOTDIR:
            mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
            if stat.S_ISLNK(mode):
                raise OSError(errno.ELOOP, "a symbolic link is in the way") from None
        raise


def _require_regular(info: os.stat_result, shown: str) -> None:
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        raise ModelRetry(f"{shown} is a folder, not a file; use list_files to see inside it")
    if stat.S_ISLNK(mode):
        raise ModelRetry(f"{shown} is a symbolic link, which is not followed here")
    if not stat.S_ISREG(mode):
        raise ModelRetry(
            f"{shown} is not a regular file (a FIFO, device or socket); only regular files "
            "can be used"
        )


def _open_child(dir_fd: int, name: str, shown: str) -> int:
    """Open a regular file in a folder for reading: never a link, FIFO or device."""
    _require_regular(os.stat(name, dir_fd=dir_fd, follow_symlinks=False), shown)
    fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    try:
        _require_regular(os.fstat(fd), shown)  # it may have been swapped since the stat
    except BaseException:
        os.close(fd)
        raise
    return fd


def _file_name(target: _Target) -> str:
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
    continue from. Binary files are refused.

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
        parent = _open_dir(target, target.parts[:-1])
        try:
            fd = _open_child(parent, name, target.shown)
        finally:
            os.close(parent)
        try:
            data, size = _read_chunk(fd, offset, target.shown)
        finally:
            os.close(fd)
    except OSError as exc:
        raise _failure(exc, target.shown) from None
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


def _walk(
    dir_fd: int,
    prefix: str,
    recursive: bool,
    depth: int = 0,
    hidden: list[str] | None = None,
) -> Generator[_Entry, None, None]:
    """Entries under a folder in name order; folders are entered without following links.

    With `hidden` (a list), hidden folders (`.git`, `.hypothesis`, ...) are left out, neither
    shown nor entered, and their paths are added to it.
    """
    with os.scandir(dir_fd) as scan:
        entries = sorted(scan, key=lambda e: e.name)
    for entry in entries:
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue  # removed while we were listing
        relative = prefix + entry.name
        is_dir = stat.S_ISDIR(info.st_mode)
        if hidden is not None and is_dir and entry.name.startswith("."):
            hidden.append(relative + "/")
            continue
        yield _Entry(relative, entry.name, info, dir_fd)
        descend = recursive and depth < _MAX_DEPTH and entry.name not in _SKIPPED_DIRS
        if descend and is_dir:
            try:
                child = os.open(entry.name, _DIR_FLAGS, dir_fd=dir_fd)
            except OSError:
                continue
            try:
                yield from _walk(child, relative + "/", recursive, depth + 1, hidden)
            finally:
                os.close(child)


def _hidden_list(target: _Target) -> list[str] | None:
    """A list to collect the hidden folders a recursive walk leaves out; None to show them.

    A walk that starts inside a hidden folder (the user asked for `.github`) shows them all.
    """
    return None if any(part.startswith(".") for part in target.parts) else []


def _hidden_note(hidden: list[str]) -> str:
    shown = ", ".join(hidden[:_HIDDEN_SHOWN]) + (", ..." if len(hidden) > _HIDDEN_SHOWN else "")
    count = f"{len(hidden)} hidden folder{_s(len(hidden))}"
    return f"[left out {count} ({shown}); give one as the path to look inside]"


def _describe_entry(entry: _Entry) -> str:
    mode = entry.info.st_mode
    if stat.S_ISDIR(mode):
        return entry.relative + "/"
    if stat.S_ISLNK(mode):
        return f"{entry.relative} (symbolic link)"
    if stat.S_ISREG(mode):
        size = entry.info.st_size
        return f"{entry.relative} ({size} byte{_s(size)})"
    return f"{entry.relative} (special file)"


def _prefix(target: _Target) -> str:
    return "/".join(target.parts) + "/" if target.parts else ""


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
    hidden = _hidden_list(target) if recursive else None
    try:
        fd = _open_dir(target, target.parts)
        try:
            walk_all = _walk(fd, _prefix(target), recursive, hidden=hidden)
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
        raise _failure(exc, target.shown) from None
    if hidden:
        lines.append(_hidden_note(hidden))
    return "\n".join(lines) if lines else f"{target.shown} is an empty folder"


@dataclass
class _Search:
    pattern: re.Pattern[str]
    matches: list[str]
    files: int = 0
    scanned_bytes: int = 0
    too_big: int = 0
    binary: int = 0
    stopped: str = ""
    hidden: list[str] | None = None

    def file(self, dir_fd: int, name: str, relative: str, info: os.stat_result) -> None:
        """Search one regular file, counting what is skipped."""
        if info.st_size > _SEARCH_FILE_LIMIT:
            self.too_big += 1
            return
        try:
            fd = _open_child(dir_fd, name, relative)
            try:
                data = os.read(fd, _SEARCH_FILE_LIMIT + 1)
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
        for number, line in enumerate(text.splitlines(), 1):
            if self.pattern.search(line):
                self.matches.append(f"{relative}:{number}: {line.strip()[:_SHOWN_LINE]}")
                if len(self.matches) >= _MAX_MATCHES:
                    self.stopped = f"stopped at {_MAX_MATCHES} matches; narrow the search"
                    return

    def over_budget(self) -> bool:
        if self.scanned_bytes >= _SEARCH_TOTAL_LIMIT and not self.stopped:
            self.stopped = f"stopped after reading {self.scanned_bytes} bytes; search a subfolder"
        return bool(self.stopped)

    def report(self, pattern: str, shown: str) -> str:
        notes = [f"searched {self.files} file{_s(self.files)}"]
        if self.too_big:
            notes.append(f"skipped {self.too_big} over {_SEARCH_FILE_LIMIT} bytes")
        if self.binary:
            notes.append(f"skipped {self.binary} binary")
        if self.hidden:
            notes.append(f"skipped {len(self.hidden)} hidden folder{_s(len(self.hidden))}")
        if self.stopped:
            notes.append(self.stopped)
        summary = f"[{'; '.join(notes)}]"
        if not self.matches:
            return f"no matches for {_show(pattern)} in {shown} {summary}"
        return "\n".join([*self.matches, summary])


def _s(count: int) -> str:
    return "" if count == 1 else "s"


def _compile(pattern: str, regex: bool, ignore_case: bool) -> re.Pattern[str]:
    if not pattern:
        raise ModelRetry("the search pattern is empty; give the text or regex to look for")
    if len(pattern) > _MAX_PATTERN:
        raise ModelRetry(f"the pattern is {len(pattern)} characters; the limit is {_MAX_PATTERN}")
    flags = re.IGNORECASE if ignore_case else 0
    try:
        return re.compile(pattern if regex else re.escape(pattern), flags)
    except re.error as exc:
        raise ModelRetry(
            f"invalid regular expression {_show(pattern)}: {exc}; fix it, or pass regex=false "
            "to search for the text as written"
        ) from None


def _search_tree(search: _Search, target: _Target) -> None:
    """Search the file or every file under the folder that `target` names."""
    parent = _open_dir(target, target.parts[:-1])
    try:
        name = target.parts[-1] if target.parts else "."
        info = os.stat(name, dir_fd=parent, follow_symlinks=False)
        if not stat.S_ISDIR(info.st_mode):
            _require_regular(info, target.shown)
            search.file(parent, name, "/".join(target.parts), info)
            return
    finally:
        os.close(parent)
    search.hidden = _hidden_list(target)
    fd = _open_dir(target, target.parts)
    try:
        walk_all = _walk(fd, _prefix(target), recursive=True, hidden=search.hidden)
        with contextlib.closing(walk_all) as walk:
            for entry in walk:
                if stat.S_ISREG(entry.info.st_mode):
                    search.file(entry.dir_fd, entry.name, entry.relative, entry.info)
                if search.over_budget():
                    break
    finally:
        os.close(fd)


@tool
def search_files(
    pattern: str, path: str = ".", regex: bool = False, ignore_case: bool = False
) -> str:
    """Search the text files under a folder (or one file) for lines containing a pattern.

    Skips binary files, files over 1,000,000 bytes, symbolic links, hidden folders (.git,
    ...; unless the path is inside one), __pycache__ and node_modules; stops at 100
    matching lines.

    Args:
        pattern: The text to look for; a Python regular expression when regex is true.
        path: The folder or file to search, relative to the root folder; "." for all.
        regex: Treat pattern as a regular expression instead of plain text.
        ignore_case: Match upper and lower case alike.

    Returns:
        One match per line as "path:line number: line text", then a summary in brackets.
    """
    compiled = _compile(pattern, regex, ignore_case)
    target = _target(path)
    search = _Search(compiled, [])
    try:
        _search_tree(search, target)
    except OSError as exc:
        raise _failure(exc, target.shown) from None
    return search.report(pattern, target.shown)


def _replace_atomically(dir_fd: int, name: str, data: bytes, mode: int | None) -> None:
    """Write a temporary file beside `name`, then rename it over `name` (never followed)."""
    temporary = f".agentkit-{secrets.token_hex(8)}.tmp"
    fd = os.open(temporary, _TEMP_FLAGS, 0o666, dir_fd=dir_fd)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            if mode is not None:
                os.fchmod(stream.fileno(), stat.S_IMODE(mode))
            os.fsync(stream.fileno())
        os.replace(temporary, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary, dir_fd=dir_fd)
        raise
    with contextlib.suppress(OSError):
        os.fsync(dir_fd)  # make the rename itself durable


def _existing(dir_fd: int, name: str, shown: str) -> os.stat_result | None:
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    _require_regular(info, shown)
    return info


@tool(requires_approval=True)
def write_file(path: str, content: str) -> str:
    """Create or replace a text file under the root folder (asks for approval first).

    Missing folders on the way are created. The file is replaced as a whole, atomically.

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
    try:
        parent = _open_dir(target, target.parts[:-1], create=True)
        try:
            existing = _existing(parent, name, target.shown)
            _replace_atomically(parent, name, data, existing.st_mode if existing else None)
        finally:
            os.close(parent)
    except OSError as exc:
        raise _failure(exc, target.shown) from None
    state = "replaced the old file" if existing else "new file"
    return f"wrote {len(data)} byte{_s(len(data))} to {target.shown} ({state})"
