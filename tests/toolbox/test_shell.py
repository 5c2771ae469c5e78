"""The `shell` tool: an allowlist of read-only programs, run in the `python` tool's sandbox."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from agentkit import Agent, ModelRetry, Tool, ToolCall, ToolMessage
from agentkit.testing import ScriptedModel, call as call_tool
from agentkit.toolbox._sandbox_command import RUN_IDS
from agentkit.tools import load_tools

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tool() -> Tool:
    tools = {t.name: t for t in load_tools("shell")}
    return tools["shell"]


@pytest.fixture(autouse=True)
def clean_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AGENTKIT_SANDBOX", "AGENTKIT_BWRAP", "AGENTKIT_SHELL_ROOT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small readable folder shown to the tool as its root."""
    root = tmp_path / "project"
    (root / "src").mkdir(parents=True)
    (root / "notes.txt").write_text("beta\nalpha\nalpha\ngamma\n")
    (root / "src" / "main.py").write_text("# TODO: write it\nprint('hi')\n")
    for folder in (tmp_path, root, root / "src"):
        folder.chmod(0o755)  # when tests run as root, the sandbox runs as nobody
    monkeypatch.setenv("AGENTKIT_SHELL_ROOT", str(root))
    return root


async def call(tool: Tool, argv: Any) -> str:
    result = await tool.invoke(tool.validate({"argv": argv}), None)
    assert isinstance(result, str)
    return result


def stdout_of(result: str) -> str:
    return result.split("stdout:", 1)[1].split("\nstderr:", 1)[0].strip()


def test_loads_with_approval_and_described_parameters(tool: Tool) -> None:
    assert tool.name == "shell"
    assert tool.requires_approval is True
    properties = tool.parameters["properties"]
    assert set(properties) == {"argv"}
    assert properties["argv"]["type"] == "array"
    assert all(p.get("description") for p in properties.values())


# ---------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("program", ["sh", "bash", "python3", "rm", "sed", "awk", "xargs", "env"])
async def test_programs_off_the_allowlist_are_refused(tool: Tool, program: str) -> None:
    with pytest.raises(ModelRetry, match="not an allowed program") as caught:
        await call(tool, [program, "-c", "id"])
    assert "Allowed: cat, cut, date" in caught.value.message


@pytest.mark.parametrize("program", ["/bin/sh", "/usr/bin/ls", "./ls", "../bin/cat", "bin/ls"])
async def test_paths_to_programs_are_refused(tool: Tool, program: str) -> None:
    with pytest.raises(ModelRetry, match="is a path") as caught:
        await call(tool, [program])
    assert "ls" in caught.value.message


async def test_a_command_string_is_refused_by_validation(tool: Tool) -> None:
    with pytest.raises(ModelRetry, match="valid list"):
        await call(tool, "ls -la; rm -rf /")


async def test_a_command_string_is_refused_when_called_directly(tool: Tool) -> None:
    with pytest.raises(ModelRetry, match="list of strings, not one string"):
        await tool.function(argv="ls -la")


@pytest.mark.parametrize("argv", [[], [""], ["ls", 3], ["ls", "a\x00b"]])
async def test_malformed_argv_is_refused(tool: Tool, argv: Any) -> None:
    with pytest.raises(ModelRetry):
        await tool.function(argv=argv)


@pytest.mark.parametrize(
    "argv",
    [
        ["find", ".", "-exec", "sh", "-c", "id", ";"],
        ["find", ".", "-execdir", "id", ";"],
        ["find", ".", "-ok", "id", ";"],
        ["find", ".", "-delete"],
        ["find", ".", "-fprint", "/tmp/x"],
        ["sort", "--compress-program=sh", "notes.txt"],
        ["sort", "--compress-prog", "sh", "notes.txt"],
        ["sort", "--co=sh", "notes.txt"],
    ],
)
async def test_options_that_run_programs_are_refused(tool: Tool, argv: list[str]) -> None:
    with pytest.raises(ModelRetry, match="refused"):
        await call(tool, argv)


async def test_too_many_arguments_are_refused(tool: Tool) -> None:
    with pytest.raises(ModelRetry, match="too long"):
        await call(tool, ["echo", *(["x"] * 500)])


async def test_a_missing_root_folder_is_reported(
    tool: Tool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AGENTKIT_SHELL_ROOT", str(tmp_path / "missing"))
    with pytest.raises(NotADirectoryError, match="AGENTKIT_SHELL_ROOT"):
        await call(tool, ["ls"])


@pytest.mark.parametrize("where", ["/", "home"])
async def test_the_home_folder_or_above_is_never_shown(
    tool: Tool, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    root = str(Path.home()) if where == "home" else where
    monkeypatch.setenv("AGENTKIT_SHELL_ROOT", root)
    with pytest.raises(PermissionError, match="whole (home folder|file system)"):
        await call(tool, ["ls"])


async def test_refuses_without_bubblewrap(tool: Tool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTKIT_BWRAP", "/nonexistent/bwrap")
    with pytest.raises(RuntimeError, match="AGENTKIT_SANDBOX=rlimits"):
        await call(tool, ["ls"])


# ---------------------------------------------------------------------------- allowed commands


async def test_ls_sees_the_project_read_only_at_work(
    tool: Tool, bwrap: None, project: Path
) -> None:
    result = await call(tool, ["ls", "-a"])
    assert result.startswith("sandbox: bubblewrap")
    assert "exit status: 0" in result
    assert stdout_of(result).split() == [".", "..", "notes.txt", "src"]
    assert stdout_of(await call(tool, ["pwd"])) == "/work"


async def test_the_default_root_is_the_current_directory(
    tool: Tool, bwrap: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    assert "pyproject.toml" in stdout_of(await call(tool, ["ls"]))


async def test_grep_sort_uniq_wc_and_find_work(tool: Tool, bwrap: None, project: Path) -> None:
    assert (
        stdout_of(await call(tool, ["grep", "-rn", "TODO", "."]))
        == "./src/main.py:1:# TODO: write it"
    )
    assert stdout_of(await call(tool, ["sort", "notes.txt"])).split() == [
        "alpha",
        "alpha",
        "beta",
        "gamma",
    ]
    assert stdout_of(await call(tool, ["uniq", "-c", "notes.txt"])).split() == [
        "1",
        "beta",
        "2",
        "alpha",
        "1",
        "gamma",
    ]
    assert stdout_of(await call(tool, ["wc", "-l", "notes.txt"])) == "4 notes.txt"
    found = stdout_of(await call(tool, ["find", ".", "-name", "*.py"]))
    assert found == "./src/main.py"


async def test_no_shell_interprets_the_arguments(tool: Tool, bwrap: None, project: Path) -> None:
    result = await call(tool, ["echo", "$HOME", "*", "|", "id", ";", "`id`"])
    assert stdout_of(result) == "$HOME * | id ; `id`"


@pytest.mark.parametrize(
    "argv",
    [
        ["sort", "-o", "notes.txt", "notes.txt"],
        ["sort", "-uo", "notes.txt", "notes.txt"],
        ["sort", "-onotes.txt", "notes.txt"],
        ["sort", "notes.txt", "--output=notes.txt"],
        ["sort", "--out", "notes.txt", "notes.txt"],
        ["sort", "-T", "/tmp", "notes.txt"],
        ["sort", "--temporary-directory=/tmp", "notes.txt"],
        ["uniq", "notes.txt", "copy.txt"],
    ],
)
async def test_options_that_write_files_are_refused_before_approval(
    tool: Tool, argv: list[str]
) -> None:
    # Refused by the argument check (Tool.validate), which runs before anyone is asked.
    with pytest.raises(ModelRetry, match="refused") as caught:
        tool.validate({"argv": argv})
    assert caught.value.message.startswith("Invalid arguments for tool `shell`")


@pytest.mark.parametrize(
    "argv",
    [["sort", "-k", "2o", "notes.txt"], ["sort", "-t", "o", "notes.txt"], ["uniq", "-f", "1", "x"]],
)
def test_arguments_that_look_like_output_options_are_not_refused(
    tool: Tool, argv: list[str]
) -> None:
    assert tool.validate({"argv": argv}) == {"argv": argv}


@pytest.mark.parametrize("argv", [["rm", "-rf", "/"], ["sh", "-c", "id"], ["/bin/ls"]])
def test_programs_are_refused_by_the_argument_check_before_approval(
    tool: Tool, argv: list[str]
) -> None:
    with pytest.raises(ModelRetry, match="not an allowed program|is a path"):
        tool.validate({"argv": argv})


@pytest.mark.parametrize("mode", ["bubblewrap", "rlimits"])
async def test_the_project_cannot_be_changed_even_by_an_output_option(
    tool: Tool,
    project: Path,
    mode: str,
    bwrap_problem: str | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The argument check aside, the sandbox itself keeps the folder read-only: the files
    # are writable by everyone here, so only the sandbox can stop `sort -o`.
    for path in (project, project / "notes.txt"):
        path.chmod(0o777 if path.is_dir() else 0o666)
    sandbox = tool.function.__globals__["_sandbox"]
    if mode == "bubblewrap" and bwrap_problem is not None:
        pytest.skip(f"bubblewrap cannot sandbox on this machine: {bwrap_problem}")
    if mode == "rlimits":
        monkeypatch.setenv("AGENTKIT_BWRAP", "/nonexistent/bwrap")
        monkeypatch.setenv("AGENTKIT_SANDBOX", "rlimits")
        why = sandbox._rlimits.problem_here()
        if why is not None:
            pytest.skip(f"rlimits-only mode is refused on this machine: {why}")
    argv = ["sort", "-o", "notes.txt", "notes.txt"]
    outcome = await sandbox.run(argv, workdir=project, limits=sandbox.Limits(wall_seconds=20))
    assert outcome.status != 0, outcome.render()
    assert b"Read-only file system" in outcome.stderr or b"Permission denied" in outcome.stderr
    assert (project / "notes.txt").read_text() == "beta\nalpha\nalpha\ngamma\n"
    assert sorted(p.name for p in project.iterdir()) == ["notes.txt", "src"]


async def test_files_outside_the_project_are_not_there(
    tool: Tool, bwrap: None, project: Path
) -> None:
    result = await call(tool, ["cat", "/etc/shadow", str(REPO / "pyproject.toml")])
    assert "No such file or directory" in result
    assert "build-system" not in result


async def test_failures_report_the_exit_status(tool: Tool, bwrap: None, project: Path) -> None:
    result = await call(tool, ["cat", "missing.txt"])
    assert "exit status: 1" in result
    assert "missing.txt: No such file or directory" in result


async def test_endless_output_is_cut(tool: Tool, bwrap: None, project: Path) -> None:
    result = await call(tool, ["cat", "/dev/zero"])
    assert "stopped: stdout passed" in result


async def test_rlimits_only_mode_runs_an_allowed_program(
    tool: Tool, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As root the program runs as a uid of its own, in the project folder.
    monkeypatch.setenv("AGENTKIT_BWRAP", "/nonexistent/bwrap")
    monkeypatch.setenv("AGENTKIT_SANDBOX", "rlimits")
    result = await call(tool, ["sort", "notes.txt"])
    assert result.startswith("sandbox: rlimits-only")
    assert "exit status: 0" in result, result
    assert stdout_of(result).split() == ["alpha", "alpha", "beta", "gamma"]
    owner = stdout_of(await call(tool, ["find", "/proc/self/", "-maxdepth", "0", "-printf", "%U"]))
    if os.geteuid() == 0:  # a uid of the run's own
        assert int(owner) in RUN_IDS, owner
    else:
        assert owner == str(os.geteuid())


def test_a_refused_command_is_never_put_to_the_user(tool: Tool) -> None:
    # Issue 12, item 17: `rm -rf /` was put to the user for approval, then refused.
    asked: list[ToolCall] = []

    def approval(call: ToolCall) -> bool:
        asked.append(call)
        return True

    script = [call_tool("shell", argv=["rm", "-rf", "/"]), call_tool("shell", argv=["ls"]), "ok"]
    with ScriptedModel(script) as model:
        Agent(model, tools=[tool], approval=approval).run_sync("clean up")
    refused = model.requests[1].messages[-1]
    assert isinstance(refused, ToolMessage)
    assert "'rm' is not an allowed program" in refused.content
    assert [c.arguments for c in asked] == [{"argv": ["ls"]}]  # only the allowed one was asked
