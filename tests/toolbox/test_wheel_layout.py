"""The ready-made tools as a wheel ships them: the package `agentkit.toolbox`, inside agentkit.

In a source checkout `agentkit/toolbox` is a symbolic link to the top-level `tools/` folder;
the wheel must hold real files there. These tests build the wheel from this checkout, install
it into a fresh folder, and load every built-in by short name in a fresh interpreter from
another working directory, so a module missing from the wheel, or found in the repository
instead, fails here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]

# Every built-in module and the tools it offers, in the order it offers them.
EXPECTED = {
    "brave_search": ["brave_search"],
    "calculator": ["calculate"],
    "clock": ["current_time", "add_time", "time_between", "weekday"],
    "code_interpreter": ["code_interpreter"],
    "files": ["read_file", "list_files", "search_files", "write_file"],
    "http_fetch": ["http_fetch"],
    "python": ["python"],
    "shell": ["shell"],
    "wolfram_alpha": ["wolfram_alpha"],
}

# Runs in the fresh interpreter: argv[1] is a folder for the `files` tools to use as root.
SCRIPT = """
import json, os, sys
from pathlib import Path

import agentkit
import agentkit.toolbox
from agentkit import ModelRetry, UserError
from agentkit.tools import builtin_tool_names, load_tools

shipped = Path(agentkit.toolbox.__path__[0])
report = {"agentkit": agentkit.__file__, "shipped": str(shipped), "tools": {}, "helpers": {}}
for name in builtin_tool_names():
    report["tools"][name] = [
        [t.name, t.function.__code__.co_filename, t.function.__module__]
        for t in load_tools(name)
    ]
for helper in sorted(shipped.glob("_*.py")):
    if helper.stem == "__init__":
        continue
    messages = []
    for spec in (helper.stem, helper):
        try:
            load_tools(spec)
            messages.append("loaded")
        except UserError as exc:
            messages.append(str(exc))
    report["helpers"][helper.stem] = messages

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
from agentkit.toolbox import _html, _sandbox
report["html"] = _html.html_to_text("<title>T</title><p>a <a href='/b'>link</a></p>", "http://e/")
report["sandbox"] = _sandbox.__file__

report["loaded"] = sorted(
    m.__file__ for m in list(sys.modules.values()) if getattr(m, "__file__", None)
)
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from this checkout (no network: hatchling comes from the dev set-up)."""
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (found,) = out.glob("*.whl")
    return found


@pytest.fixture(scope="module")
def site(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder the wheel was installed into, as site-packages would hold it."""
    target = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    return target


@pytest.fixture(scope="module")
def report(site: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    root = tmp_path_factory.mktemp("files-root")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTKIT_", "PYTHON"))}
    env["PYTHONPATH"] = str(site)
    done = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            f"import sys; sys.path.insert(0, {str(site)!r})\n{SCRIPT}",
            str(root),
        ],
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


def test_the_wheel_holds_the_toolbox_as_files(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    modules = {p.name for p in (REPO / "tools").glob("*.py")}
    assert {f"agentkit/toolbox/{m}" for m in modules} <= names
    assert not [n for n in names if n.startswith("tools/")]  # no top-level `tools` package


def test_agentkit_comes_from_the_wheel(site: Path, report: dict[str, Any]) -> None:
    assert Path(report["agentkit"]).is_relative_to(site)
    assert Path(report["shipped"]) == site / "agentkit" / "toolbox"


def test_every_builtin_offers_exactly_its_tools(report: dict[str, Any]) -> None:
    names = {module: [t[0] for t in tools] for module, tools in report["tools"].items()}
    assert names == EXPECTED


def test_every_tool_is_defined_in_its_own_shipped_module(
    site: Path, report: dict[str, Any]
) -> None:
    shipped = site / "agentkit" / "toolbox"
    for module, tools in report["tools"].items():
        for name, defined_in, module_name in tools:
            assert Path(defined_in) == shipped / f"{module}.py", name
            assert module_name == f"agentkit.toolbox.{module}"


def test_nothing_is_loaded_from_the_repository(report: dict[str, Any]) -> None:
    for folder in (REPO / "agentkit", REPO / "tools"):
        assert not [f for f in report["loaded"] if Path(f).is_relative_to(folder)]


def test_private_helpers_ship_and_refuse_to_be_tools(report: dict[str, Any]) -> None:
    # Loaded as tools, their public functions would be calls the model makes without approval.
    helpers = sorted(p.stem for p in (REPO / "tools").glob("_*.py") if p.stem != "__init__")
    assert sorted(report["helpers"]) == helpers
    for helper, messages in report["helpers"].items():
        for message in messages:
            assert f"{helper} is a helper of the ready-made tools, not a tool module" in message


def test_the_shipped_helpers_work(site: Path, report: dict[str, Any]) -> None:
    assert report["read_file"] == "alpha\n"
    assert "contains '..'" in report["escape"]
    assert "refused: 127.1 points to 127.0.0.1: a loopback address" in report["fetch"]
    assert report["html"] == ["T", "a link (http://e/b)"]
    assert Path(report["sandbox"]) == site / "agentkit" / "toolbox" / "_sandbox.py"
