"""Tool files as a new user writes them: helpers beside them, decorators, lambdas, partials."""

from __future__ import annotations

import pickle
import textwrap
from pathlib import Path

import pytest

from agentkit.tools import load_tools
from agentkit.tools._loader import load_tool_module, tool_source


def write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def test_a_tool_file_imports_its_neighbours_from_any_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "mytools"
    folder.mkdir()
    write(folder, "shout_helpers.py", "def _loud(text: str) -> str:\n    return text.upper()\n")
    tools = write(
        folder,
        "shouting.py",
        '''
        from shout_helpers import _loud

        def shout(text: str) -> str:
            """Shout.

            Args:
                text: What to shout.
            """
            return _loud(text)
        ''',
    )
    monkeypatch.chdir(tmp_path)
    (shout,) = load_tools(tools)
    assert shout("hi") == "HI"
    assert str(folder) not in __import__("sys").path  # only while the file imports
    assert pickle.loads(pickle.dumps(shout))("hey") == "HEY"  # imported again elsewhere too


def test_decorated_functions_are_tools_and_lambdas_and_partials_are_named_as_skipped(
    tmp_path: Path,
) -> None:
    tools = write(
        tmp_path,
        "mixed.py",
        '''
        import functools

        @functools.lru_cache(maxsize=8)
        def square(x: int) -> int:
            """Square a number.

            Args:
                x: The number.
            """
            return x * x

        triple = lambda x: 3 * x
        half = functools.partial(divmod, 2)
        ''',
    )
    loaded = load_tool_module(tools)
    assert [t.name for t in loaded.tools] == ["square"]
    assert loaded.tools[0].validate({"x": "4"}) == {"x": 4}
    assert [note.split(":")[0] for note in loaded.skipped] == [
        "`triple` is not a tool",
        "`half` is not a tool",
    ]
    with pytest.warns(UserWarning, match="is not a tool") as warned:
        assert [t.name for t in load_tools(tools)] == ["square"]
    assert ["a lambda" in str(w.message) for w in warned] == [True, False]


def test_one_source_by_any_spelling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tools = write(tmp_path, "same.py", "def f() -> None:\n    '''F.'''\n")
    monkeypatch.chdir(tmp_path)
    assert tool_source("same.py") == tool_source(str(tools)) == tool_source("./same.py")
    assert tool_source("calculator") != tool_source("clock")
