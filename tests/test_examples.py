"""The demo agents in examples/: each runs on the offline model and on a scripted model.

Offline runs go through `agentkit run examples/X.py` (as the README shows them); scripted runs
rebuild each example's agent from its parts around a `ScriptedModel`, so the tools, the
instructions and the output type are the example's own.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import shlex
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from agentkit import Agent, AssistantMessage, ToolCall, ToolMessage
from agentkit.cli import EXIT_OFFLINE, main
from agentkit.models import ENDPOINT_VARIABLES
from agentkit.models.offline._model import OfflineModel
from agentkit.testing import ScriptedModel, ScriptedReply, call

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NAMES = ["weather", "math_tutor", "file_assistant", "code_interpreter", "structured"]


@pytest.fixture(autouse=True)
def offline_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No endpoint; the files tools rooted in a scratch folder; the sandbox usable anywhere."""
    for name in (*ENDPOINT_VARIABLES, "AGENTKIT_MODEL"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "notes.txt").write_text("Buy milk.\nCall Ada about the kickoff.\n")
    monkeypatch.setenv("AGENTKIT_FILES_ROOT", str(tmp_path))
    # Bubblewrap when it works here, else the rlimits-only fallback (the tests' code is ours).
    monkeypatch.setenv("AGENTKIT_SANDBOX", "rlimits")
    return tmp_path


def load_example(name: str) -> types.ModuleType:
    """Import examples/NAME.py as a fresh module (with whatever AGENTKIT_MODEL is set)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic resolves the models' annotations through it
    spec.loader.exec_module(module)
    return module


def scripted(example: types.ModuleType, replies: list[ScriptedReply], **kwargs: Any) -> Agent[Any]:
    """The example's agent with its model replaced by a script."""
    original = example.agent
    return Agent(
        ScriptedModel(replies),
        tools=list(original.tools),
        instructions=original.instructions,
        output_type=original.output_type,
        **kwargs,
    )


def tool_results(messages: list[Any]) -> dict[str, str]:
    return {m.name: m.content for m in messages if isinstance(m, ToolMessage)}


def test_every_example_is_tested() -> None:
    assert {p.stem for p in EXAMPLES.glob("*.py")} == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_example_takes_its_model_from_the_environment(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTKIT_MODEL", "offline")
    example = load_example(name)
    assert isinstance(example.agent, Agent)
    assert isinstance(example.agent.model, OfflineModel)
    assert example.agent.instructions
    assert isinstance(example.EXAMPLE_PROMPT, str)
    monkeypatch.setenv("AGENTKIT_MODEL", "vendor/some-model")
    monkeypatch.setenv("AGENTKIT_API_KEY", "sk-test-0123456789")
    assert load_example(name).agent.model.name == "vendor/some-model"


# -- offline, through the CLI ----------------------------------------------------------------


def run_offline(name: str, *extra: str, answer: str = "y\n") -> tuple[str, str]:
    prompt = load_example_offline(name).EXAMPLE_PROMPT
    result = CliRunner().invoke(
        main, ["run", *extra, str(EXAMPLES / f"{name}.py"), prompt], input=answer
    )
    assert result.exit_code == EXIT_OFFLINE, result.output
    assert "using the offline model" in result.stderr
    return result.stdout, result.stderr


def calls_shown(stderr: str) -> list[str]:
    """The tool calls the CLI showed (`→ name(arguments)`), in order."""
    return [line[2:] for line in stderr.splitlines() if line.startswith("→ ")]


def test_weather_offline() -> None:
    out, err = run_offline("weather")
    assert "get_weather: Paris, France: 18°C, partly cloudy" in out
    assert calls_shown(err) == ['get_weather(city="Paris")']  # not the forecast too


def test_math_tutor_offline() -> None:
    out, err = run_offline("math_tutor")
    assert "calculate: 1415" in out
    assert calls_shown(err) == ['calculate(expression="(17*23) + 2**10")']


def test_file_assistant_offline() -> None:
    out, err = run_offline("file_assistant")
    assert "list_files: notes.txt (" in out
    assert calls_shown(err) == ["list_files()"]  # not read, search and write as well


def test_code_interpreter_offline_runs_the_code_once_approved() -> None:
    out, err = run_offline("code_interpreter")
    assert "approve a call of `python`?" in err
    assert "code: print(sum(range(10)))" in err
    assert "exit status: 0 stdout: 45" in out
    declined, _ = run_offline("code_interpreter", answer="n\n")
    assert "The user declined" in declined


def test_structured_offline_prints_a_valid_entry() -> None:
    out, _ = run_offline("structured")
    entry = load_example_offline("structured").CalendarEntry.model_validate_json(out)
    assert entry.title == "Project kickoff"
    # Everything the prompt says that the offline model can read, and nothing invented.
    assert entry.date == dt.date(2025, 3, 14)
    assert (entry.start, entry.duration_minutes, entry.attendees) == ("12:30", 90, [])
    assert "--json" not in out
    events = [json.loads(line) for line in run_offline("structured", "--json")[0].splitlines()]
    assert events[-1]["type"] == "run_finished"
    assert events[-1]["output"]["title"] == "Project kickoff"


def test_an_example_runs_as_a_script_without_any_set_up() -> None:
    # No key, no base URL, no AGENTKIT_MODEL: model_from_env() picks the offline model.
    env = {
        k: v for k, v in os.environ.items() if k not in ENDPOINT_VARIABLES and k != "AGENTKIT_MODEL"
    }
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "weather.py"), 'Is it warm in "Tokyo"?'],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == EXIT_OFFLINE, done.stderr
    assert "Tokyo, Japan: 24°C, sunny" in done.stdout


EXPECTED_CALLS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "weather": [("get_weather", {"city": "Paris"})],
    "math_tutor": [("calculate", {"expression": "(17*23) + 2**10"})],
    "file_assistant": [("list_files", {})],
    "code_interpreter": [("python", {"code": "print(sum(range(10)))"})],
    "structured": [
        (
            "final_result",
            {
                "title": "Project kickoff",
                "date": "2025-03-14",
                "start": "12:30",
                "duration_minutes": 90,
            },
        )
    ],
}


@pytest.mark.anyio
@pytest.mark.parametrize("name", NAMES)
async def test_each_example_prompt_gets_sensible_calls_offline(name: str) -> None:
    example = load_example_offline(name)
    async with example.agent as agent:
        result = await agent.run(example.EXAMPLE_PROMPT)  # code is declined: no approval here
    first = next(m for m in result.messages if isinstance(m, AssistantMessage))
    assert [(c.name, c.arguments) for c in first.tool_calls] == EXPECTED_CALLS[name]


README = EXAMPLES.parent / "README.md"
# What each `agentkit run` line of the README's command-line quick start calls, offline.
README_CALLS = {
    """agentkit run examples/weather.py 'What is the weather in "Paris"?'""": [
        'get_weather(city="Paris")'
    ],
    'agentkit run --tools calculator "what is 17*23?"': ['calculate(expression="17*23")'],
}


def test_the_readme_quick_start_makes_sensible_calls_offline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    section = README.read_text(encoding="utf-8").split("## The command line", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    runs = [line for line in block.splitlines() if line.startswith("agentkit run ")]
    assert set(runs) == set(README_CALLS), "a quick-start command changed: update README_CALLS"
    monkeypatch.chdir(EXAMPLES.parent)
    for line in runs:
        result = CliRunner().invoke(main, shlex.split(line)[1:])
        assert result.exit_code == EXIT_OFFLINE, result.output
        assert calls_shown(result.stderr) == README_CALLS[line], line
        assert "(failed)" not in result.stderr


# -- scripted models -------------------------------------------------------------------------


@pytest.mark.anyio
async def test_weather_scripted() -> None:
    example = load_example_offline("weather")
    replies: list[ScriptedReply] = [
        [
            call("get_weather", city="Tokyo, Japan", unit="f"),
            call("get_forecast", city="london", days=2),
            call("get_weather", city="Atlantis"),
            call("get_forecast", city="Paris", days=9),
        ],
        "Warm and sunny in Tokyo; rain in London.",
    ]
    async with scripted(example, replies) as agent:
        result = await agent.run("Tokyo and London?")
    assert result.output == "Warm and sunny in Tokyo; rain in London."
    contents = [m.content for m in result.messages if isinstance(m, ToolMessage)]
    assert contents[0] == "Tokyo, Japan: 75°F, sunny, wind 8 km/h, humidity 58%"
    assert contents[1].splitlines() == [
        "London, United Kingdom",
        "day 1: rain, high 13°C, low 9°C",
        "day 2: showers, high 15°C, low 10°C",
    ]
    assert "No weather data for 'Atlantis'. Known cities: Paris, France" in contents[2]
    assert "days" in contents[3]
    assert "less than or equal to 5" in contents[3]
    system = agent.model.requests[0].messages[0]  # type: ignore[attr-defined]
    assert system.content == example.agent.instructions


@pytest.mark.anyio
async def test_math_tutor_scripted() -> None:
    example = load_example_offline("math_tutor")
    replies: list[ScriptedReply] = [
        call("calculate", expression="(17*23) + 2**10"),
        "17 × 23 = 391, and 2¹⁰ = 1024, so the answer is\n1415",
    ]
    async with scripted(example, replies) as agent:
        result = await agent.run("What is (17*23) + 2**10?")
    assert tool_results(result.messages) == {"calculate": "1415"}
    assert result.output.endswith("1415")


@pytest.mark.anyio
@pytest.mark.parametrize("approved", [True, False])
async def test_file_assistant_scripted(offline_environment: Path, approved: bool) -> None:
    example = load_example_offline("file_assistant")
    replies: list[ScriptedReply] = [
        call("list_files"),
        call("read_file", path="notes.txt"),
        call("write_file", path="todo.txt", content="- buy milk\n- call Ada\n"),
        "Wrote todo.txt.",
    ]
    seen: list[ToolCall] = []

    def approve(request: ToolCall) -> bool:
        seen.append(request)
        return approved

    async with scripted(example, replies, approval=approve) as agent:
        result = await agent.run("Turn my notes into a todo list in todo.txt")
    results = [m.content for m in result.messages if isinstance(m, ToolMessage)]
    assert "notes.txt" in results[0]
    assert "Call Ada about the kickoff." in results[1]
    assert [c.name for c in seen] == ["write_file"]
    todo = offline_environment / "todo.txt"
    if approved:
        assert todo.read_text() == "- buy milk\n- call Ada\n"
    else:
        assert not todo.exists()
        assert "The user declined" in results[2]


@pytest.mark.anyio
async def test_code_interpreter_scripted() -> None:
    example = load_example_offline("code_interpreter")
    replies: list[ScriptedReply] = [
        call("python", code="import math\nprint(math.factorial(10))"),
        "10! is 3628800.",
    ]
    async with scripted(example, replies, approval=lambda request: True) as agent:
        result = await agent.run("What is 10 factorial?")
    output = tool_results(result.messages)["python"]
    assert "exit status: 0" in output
    assert "3628800" in output
    assert result.output == "10! is 3628800."


@pytest.mark.anyio
async def test_structured_scripted_validates_and_retries() -> None:
    example = load_example_offline("structured")
    entry = {
        "title": "Project kickoff",
        "date": "2025-03-14",
        "start": "12:30",
        "attendees": ["Ada", "Grace"],
    }
    replies: list[ScriptedReply] = [
        call("final_result", **entry, duration_minutes=1),
        call("final_result", **entry, duration_minutes=90),
    ]
    async with scripted(example, replies) as agent:
        result = await agent.run(example.EXAMPLE_PROMPT)
    output = result.output
    assert isinstance(output, example.CalendarEntry)
    assert output.date == dt.date(2025, 3, 14)
    assert (output.duration_minutes, output.attendees) == (90, ["Ada", "Grace"])
    retry = tool_results(result.messages)["final_result"]
    assert retry == "Final result accepted."
    first_answer = next(m for m in result.messages if isinstance(m, ToolMessage)).content
    assert "duration_minutes" in first_answer
    assert "greater than or equal to 5" in first_answer


@pytest.mark.anyio
@pytest.mark.parametrize("name", ["weather", "math_tutor", "structured"])
async def test_example_agent_itself_runs_offline(name: str) -> None:
    example = load_example_offline(name)
    async with example.agent as agent:
        result = await agent.run(example.EXAMPLE_PROMPT)
    if name == "structured":
        assert isinstance(result.output, example.CalendarEntry)
    else:
        assert "offline model" in result.output
        assert tool_results(result.messages)


def load_example_offline(name: str) -> types.ModuleType:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AGENTKIT_MODEL", "offline")
        return load_example(name)
