"""The built-in tool modules as a wheel ships them: `agentkit/_builtin_tools/*.py`.

`tools/` is not a package: a tool module finds its private helpers (`_sandbox.py`, `_paths.py`,
...) as sibling files. These tests copy the package and the modules into that layout and load
every built-in by short name in a fresh interpreter, from another working directory, so a
helper missing from the copy, or found in the repository instead, fails here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]

# Every built-in module and the tools it offers, in the order it offers them.
EXPECTED = {
    "calculator": ["calculate"],
    "clock": ["current_time", "add_time", "time_between", "weekday"],
    "files": ["read_file", "list_files", "search_files", "write_file"],
    "http_fetch": ["http_fetch"],
    "python": ["python"],
    "shell": ["shell"],
}

# Runs in the fresh interpreter: argv[1] is a folder for the `files` tools to use as root.
SCRIPT = """
import json, os, sys
from pathlib import Path

import agentkit
from agentkit import ModelRetry, UserError
from agentkit.tools import builtin_tool_names, load_tools

report = {"agentkit": agentkit.__file__, "tools": {}, "helpers": {}, "by_path": {}}
for name in builtin_tool_names():
    report["tools"][name] = [
        [t.name, t.function.__code__.co_filename, sys.modules[t.function.__module__].__file__]
        for t in load_tools(name)
    ]
shipped = Path(agentkit.__file__).parent / "_builtin_tools"
for helper in sorted(shipped.glob("_*.py")):
    try:
        load_tools(helper.stem)
    except UserError as exc:
        report["helpers"][helper.stem] = str(exc)
    try:
        report["by_path"][helper.stem] = [t.name for t in load_tools(helper)]
    except UserError as exc:
        report["by_path"][helper.stem] = str(exc)

root = Path(sys.argv[1])
(root / "a.txt").write_text("alpha\\n")
os.environ["AGENTKIT_FILES_ROOT"] = str(root)
files = {t.name: t for t in load_tools("files")}
report["read_file"] = files["read_file"](path="a.txt")
report["escape"] = "not refused"
try:
    files["read_file"](path="../a.txt")
except ModelRetry as exc:
    report["escape"] = exc.message
(fetch,) = load_tools("http_fetch")
report["fetch"] = "not refused"
try:
    fetch(url="http://127.1/")
except ModelRetry as exc:
    report["fetch"] = exc.message
html = fetch.function.__globals__["_html"]
report["html"] = html.html_to_text("<title>T</title><p>a <a href='/b'>link</a></p>", "http://e/")

report["loaded"] = sorted(
    m.__file__ for m in list(sys.modules.values()) if getattr(m, "__file__", None)
)
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder laid out like an installed wheel: agentkit/ with _builtin_tools/ inside."""
    site = tmp_path_factory.mktemp("site")
    shutil.copytree(
        REPO / "agentkit", site / "agentkit", ignore=shutil.ignore_patterns("__pycache__")
    )
    shipped = site / "agentkit" / "_builtin_tools"
    shipped.mkdir(exist_ok=True)
    for module in (REPO / "tools").glob("*.py"):
        shutil.copy(module, shipped / module.name)
    return site


@pytest.fixture(scope="module")
def report(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    root = tmp_path_factory.mktemp("files-root")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTKIT_", "PYTHON"))}
    env["PYTHONPATH"] = str(wheel)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(root)],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_agentkit_comes_from_the_wheel_copy(wheel: Path, report: dict[str, Any]) -> None:
    assert Path(report["agentkit"]).is_relative_to(wheel)


def test_every_builtin_offers_exactly_its_tools(report: dict[str, Any]) -> None:
    names = {module: [t[0] for t in tools] for module, tools in report["tools"].items()}
    assert names == EXPECTED


def test_every_tool_is_defined_in_its_own_shipped_module(
    wheel: Path, report: dict[str, Any]
) -> None:
    shipped = wheel / "agentkit" / "_builtin_tools"
    for module, tools in report["tools"].items():
        for name, defined_in, module_file in tools:
            # Not a helper bound into the tool module from a private sibling.
            assert Path(defined_in) == Path(module_file) == shipped / f"{module}.py", name


def test_nothing_is_loaded_from_the_repository(report: dict[str, Any]) -> None:
    for folder in (REPO / "agentkit", REPO / "tools"):
        assert not [f for f in report["loaded"] if Path(f).is_relative_to(folder)]


def test_private_helpers_ship_and_are_loaded_from_beside_their_tools(
    wheel: Path, report: dict[str, Any]
) -> None:
    shipped = wheel / "agentkit" / "_builtin_tools"
    helpers = sorted(p.stem for p in shipped.glob("_*.py"))
    assert helpers == sorted(p.stem for p in (REPO / "tools").glob("_*.py"))
    loaded = {Path(f) for f in report["loaded"]}
    assert {shipped / f"{h}.py" for h in helpers} <= loaded
    # None of them is a tool module: each is refused by short name.
    assert sorted(report["helpers"]) == helpers
    for helper, message in report["helpers"].items():
        assert f"unknown tool module {helper!r}" in message


@pytest.mark.parametrize(
    "helper",
    [
        "_paths",
        "_regex_search",
        "_sandbox",
        "_sandbox_command",
        "_sandbox_process",
        "_sandbox_proctree",
        "_sandbox_seccomp",
    ],
)
def test_helpers_that_touch_files_or_run_programs_refuse_to_be_tools(
    report: dict[str, Any], helper: str
) -> None:
    # Loaded by path, their public functions would be tools the model calls without approval.
    assert "not a tool module" in report["by_path"][helper]


def test_the_shipped_helpers_work(report: dict[str, Any]) -> None:
    assert report["read_file"] == "alpha\n"
    assert "contains '..'" in report["escape"]
    assert "refused: 127.1 points to 127.0.0.1: a loopback address" in report["fetch"]
    assert report["html"] == ["T", "a link (http://e/b)"]
