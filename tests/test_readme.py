"""The README tells the truth: every Python example runs as written (whole, or marked as
continuing the first one), the output it shows is the real output, the schema it shows is the
real one, and the set-up and the distribution name are what the project uses."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from agentkit.cli._load import ENDPOINT_VARIABLES

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
CONTINUES = '# continues "A first agent"'


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def _offline_env() -> dict[str, str]:
    drop = (*ENDPOINT_VARIABLES, "AGENTKIT_MODEL")
    return {k: v for k, v in os.environ.items() if k not in drop}


def test_set_up_clones_installs_and_tests() -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.*?)```", section, re.S)[0].strip().splitlines()
    assert commands[0].startswith("git clone ") and commands[0].endswith(" && cd agentkit")
    assert commands[1:] == ['pip install -e ".[dev]"', "pytest"]


def test_the_distribution_name_is_the_one_readme_gives_and_not_agentkit() -> None:
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    found = re.search(r'^name = "([^"]+)"$', pyproject, re.M)
    assert found is not None
    name = found.group(1)
    assert name != "agentkit"  # taken on PyPI by another project
    text = README.read_text(encoding="utf-8")
    assert f"The distribution is named `{name}`" in text
    assert '\n[project.scripts]\nagentkit = "agentkit.cli:main"\n' in pyproject


def test_every_repository_path_it_names_exists() -> None:
    text = README.read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:tests|benchmarks|examples|tools|agentkit)/[\w./-]+\.\w+)`", text))
    assert named  # the Reliability section names its test files, among others
    missing = sorted(path for path in named if not (REPO / path).exists())
    assert not missing, f"README names files that do not exist: {missing}"


def test_the_first_screen_says_what_haimaker_is() -> None:
    first_screen = README.read_text(encoding="utf-8").split("## Set-up", 1)[0]
    assert "haimaker (https://haimaker.ai) is a hosted OpenAI-compatible API" in first_screen


def test_first_example_runs_offline_and_answers(tmp_path: Path) -> None:
    example = _blocks("python")[0]
    script = tmp_path / "first_example.py"
    script.write_text(example, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "get_weather: 22°C and sunny in Paris, France" in done.stdout
    assert "offline model" in done.stdout
    assert len(example.strip().splitlines()) <= 20
    shown = _blocks("text")[0]  # "It prints:"
    assert done.stdout == shown


def test_shown_schema_is_the_tool_definition() -> None:
    namespace: dict[str, object] = {}
    source = _blocks("python")[0].split("agent = Agent", 1)[0]
    exec(compile(source, "README.md", "exec"), namespace)
    shown = json.loads(_blocks("json")[0])
    assert shown == namespace["get_weather"].definition()  # type: ignore[attr-defined]


def _module(source: str, path: Path, **extra: object) -> ModuleType:
    """Run a README block as the module file a user would write."""
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    module.__dict__.update(extra)
    sys.modules[path.stem] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[path.stem]
    return module


def test_the_other_python_examples_run(tmp_path: Path) -> None:
    """The tool-writing example defines a valid tool; the testing example passes."""
    blocks = _blocks("python")
    first = _module(blocks[0].split("agent = Agent", 1)[0], tmp_path / "readme_first.py")
    writing = next(b for b in blocks if "def place_order" in b)
    order = _module(writing, tmp_path / "readme_tools.py").place_order
    assert order.requires_approval
    assert list(order.parameters["properties"]) == ["items", "deliver_on", "speed"]
    testing = next(b for b in blocks if "ScriptedModel([" in b)
    _module(testing, tmp_path / "readme_testing.py", get_weather=first.get_weather)


@pytest.mark.slow
def test_every_python_example_runs_as_written(tmp_path: Path) -> None:
    blocks = _blocks("python")
    assert len(blocks) >= 4
    for number, block in enumerate(blocks):
        if number and not block.startswith(CONTINUES):
            assert "get_weather" not in block, f"example {number} needs the first one: mark it"
        source = blocks[0] + "\n" + block if block.startswith(CONTINUES) else block
        script = tmp_path / f"readme_example_{number}.py"
        script.write_text(source, encoding="utf-8")
        done = subprocess.run(
            [sys.executable, str(script)],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
            env=_offline_env(),
            check=False,
        )
        assert done.returncode == 0, f"example {number}:\n{block}\n{done.stderr}"


@pytest.mark.slow
def test_the_command_line_output_shown_is_real() -> None:
    shown = next(b for b in _blocks("text") if b.startswith("$ agentkit run"))
    command, *lines = shown.strip().splitlines()
    done = subprocess.run(
        [sys.executable, "-m", "agentkit", *shlex.split(command.removeprefix("$ agentkit "))],
        capture_output=True,
        text=True,
        timeout=60,
        env=_offline_env(),
        check=False,
    )
    assert done.returncode == 3  # answered offline: no endpoint configured
    printed = (done.stderr + done.stdout).splitlines()
    for line in lines:
        assert line in printed
