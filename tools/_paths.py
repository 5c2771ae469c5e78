"""Confinement of the `files` tools to their root folder: every path they use goes through here.

A helper of `files.py`, not a tool module. It holds:

- `root_folder()`: the root (`AGENTKIT_FILES_ROOT`, else the working directory), resolved;
  the home folder itself, or a folder above it (such as `/`), is refused, as in `shell`;
- `confine(path, resolve)`: refuses absolute paths, `~`, `..` components, NUL bytes and
  overlong paths outright, then resolves the path and refuses it unless it lies inside the
  resolved root; the result, a `Target`, holds the real components below the root;
- `open_dir`, `open_child`, `existing`: open a target's folders one at a time, each relative to
  the previous one, and the file at its end, never following a symbolic link (`O_NOFOLLOW`)
  and only ever a regular file (never a FIFO, device or socket);
- `walk`: the entries under a folder, entering subfolders the same way;
- `replace_atomically`: write a temporary file in the folder, then rename it over the target;
- `failure`: an OS error as a message for the model, naming the path it gave.

Security role: `confine` is the check, and opening without following links is what makes it
hold: a link swapped in after the check is refused, never followed out of the root. Needs a
POSIX system (Linux, macOS): the opening relies on `openat`-style calls.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from agentkit import _env
from agentkit.errors import ModelRetry

from ._secret_files import is_secret

_MAX_PATH = 4096
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_MAX_DEPTH = 25
# Folders a recursive walk lists but does not enter (hidden ones are left out altogether).
_SKIPPED_DIRS = frozenset({"__pycache__", "node_modules"})

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW | _CLOEXEC
# O_NONBLOCK: opening a FIFO for reading must not wait for a writer.
_READ_FLAGS = os.O_RDONLY | _NOFOLLOW | _CLOEXEC | getattr(os, "O_NONBLOCK", 0)
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC


@dataclass(frozen=True)
class Target:
    """A checked path: the root, and the real components below it (no symbolic links)."""

    root: Path
    parts: tuple[str, ...]
    shown: str


@dataclass(frozen=True)
class Entry:
    """One entry of a walk: its path from the root, its name in `dir_fd`, its (lstat) info."""

    relative: str
    name: str
    info: os.stat_result
    dir_fd: int


def show(path: str) -> str:
    """A path as messages quote it: repr, shortened past 120 characters."""
    return repr(path if len(path) <= 120 else path[:117] + "...")


def root_folder() -> Path:
    """The resolved root folder, read at each call.

    Raises:
        RuntimeError: The root is not an existing folder, or the system is not POSIX.
        PermissionError: The root is the home folder, or a folder above it such as `/`.
    """
    configured = _env.setting("AGENTKIT_FILES_ROOT")
    base = Path(configured).expanduser() if configured else Path.cwd()
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
    refuse_whole_home(root, "files tools", "AGENTKIT_FILES_ROOT")
    return root


def refuse_whole_home(root: Path, tools: str, setting: str) -> None:
    """Refuse the home folder itself, or a folder above it such as `/`, as a tool's root.

    Such a root would give the model `.ssh/`, `.aws/`, browser profiles and the like (and
    `etc/shadow` from `/` when running as root). `shell` uses this check too.

    Raises:
        PermissionError: Saying what the root holds, and that `setting` can name a project.
    """
    home: Path | None
    try:
        home = Path.home()
    except (OSError, RuntimeError, KeyError):  # no HOME and no password entry
        home = None
    # An empty or relative HOME names no home folder (it would resolve to the working one).
    home = home.resolve() if home is not None and home.is_absolute() else None
    if root == Path(root.anchor):
        holds = "the whole file system (home folders, keys, credentials, system files)"
    elif home is not None and (root == home or root in home.parents):
        holds = f"the whole home folder ({home}: keys, credentials)"
    else:
        return
    raise PermissionError(
        f"the {tools} would show {root} to the model, which holds {holds}; the user must "
        f"start agentkit in a project folder or set {setting} to one"
    )


def _refuse_unsafe_text(path: str) -> None:
    """Refuse paths that could only mean something outside the root, before any lookup."""
    if "\x00" in path:
        raise ModelRetry(f"the path {show(path)} contains a NUL byte; remove it")
    if _LONE_SURROGATE.search(path):
        raise ModelRetry(f"the path {show(path)} holds a lone surrogate (not UTF-8); fix it")
    if not path.strip():
        raise ModelRetry("the path is empty; give a path relative to the root, or '.' for it")
    if len(path) > _MAX_PATH:
        raise ModelRetry(f"the path is {len(path)} characters long; the limit is {_MAX_PATH}")
    if path.startswith("~"):
        raise ModelRetry(
            f"the path {show(path)} starts with '~', which is not expanded; paths are "
            "relative to the root folder, e.g. 'notes/todo.txt'"
        )
    if PurePosixPath(path).is_absolute() or re.match(r"^([A-Za-z]:)?[\\/]", path):
        raise ModelRetry(
            f"the path {show(path)} is absolute; give it relative to the root folder, e.g. "
            "'notes/todo.txt' (use '.' for the root itself)"
        )
    if ".." in PurePosixPath(path).parts:
        raise ModelRetry(
            f"the path {show(path)} contains '..'; only files inside the root folder can be "
            "used, so give the path from the root down, e.g. 'docs/readme.md'"
        )


def confine(path: str, resolve: Callable[[Path, str], Path]) -> Target:
    """The path checked against the root; ModelRetry saying why when it may not be used.

    Args:
        path: The path the model gave, relative to the root.
        resolve: Where `root/path` leads once every symbolic link is followed (`files.py`
            passes its own, a seam its tests replace to swap a link in after the check).
    """
    _refuse_unsafe_text(path)
    root = root_folder()
    try:
        resolved = resolve(root, path)
    except RuntimeError:  # raised for a loop of symbolic links (before Python 3.13)
        raise ModelRetry(f"cannot follow the path {show(path)}: its links form a loop") from None
    except OSError as exc:
        raise failure(exc, show(path)) from None
    if not resolved.is_relative_to(root):
        raise ModelRetry(
            f"the path {show(path)} leads outside the root folder (through a symbolic link); "
            "only files inside the root can be used"
        )
    return Target(root, resolved.relative_to(root).parts, show(path))


def failure(exc: OSError, shown: str) -> ModelRetry:
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


def open_dir(target: Target, parts: tuple[str, ...], *, create: bool = False) -> int:
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


def require_regular(info: os.stat_result, shown: str) -> None:
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


def open_child(dir_fd: int, name: str, shown: str) -> int:
    """Open a regular file in a folder for reading: never a link, FIFO or device."""
    require_regular(os.stat(name, dir_fd=dir_fd, follow_symlinks=False), shown)
    fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    try:
        require_regular(os.fstat(fd), shown)  # it may have been swapped since the stat
    except BaseException:
        os.close(fd)
        raise
    return fd


def walk(
    dir_fd: int,
    prefix: str,
    recursive: bool,
    depth: int = 0,
    hidden: list[str] | None = None,
) -> Generator[Entry, None, None]:
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
        yield Entry(relative, entry.name, info, dir_fd)
        descend = recursive and depth < _MAX_DEPTH and entry.name not in _SKIPPED_DIRS
        descend = descend and not is_secret(entry.name)  # `.ssh/`: never entered
        if descend and is_dir:
            try:
                child = os.open(entry.name, _DIR_FLAGS, dir_fd=dir_fd)
            except OSError:
                continue
            try:
                yield from walk(child, relative + "/", recursive, depth + 1, hidden)
            finally:
                os.close(child)


def replace_atomically(dir_fd: int, name: str, data: bytes, mode: int | None) -> None:
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


def existing(dir_fd: int, name: str, shown: str) -> os.stat_result | None:
    """The info of the regular file to replace; None when there is none yet."""
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    require_regular(info, shown)
    return info
