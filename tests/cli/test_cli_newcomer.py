"""What a new user trips over at the command line (issue 12): tool files, `agentkit tools` on
agents, the offline fallback, --json usage, empty options, stdin prompts, approvals in chat,
Markdown rendering."""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from rich.console import Console

from agentkit import ToolCall
from agentkit.cli import EXIT_OFFLINE, main
from agentkit.cli._load import ENDPOINT_VARIABLES
from agentkit.cli._markdown import split_blocks
from agentkit.cli._render import TextRenderer
from agentkit.events import ModelReplyFinished, TextDelta
from agentkit.messages import AssistantMessage, Usage
from agentkit.testing import Completion, FakeServer

REPO = Path(__file__).resolve().parents[2]
KEY = "sk-test-0123456789abcdef"


@pytest.fixture(autouse=True)
def no_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*ENDPOINT_VARIABLES, "AGENTKIT_MODEL"):
        monkeypatch.delenv(name, raising=False)


def invoke(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def names(result: Result) -> list[str]:
    return [d["function"]["name"] for d in json.loads(result.stdout)]


# -- items 1-6: tool files and `agentkit tools` -------------------------------------------------


def test_a_tool_file_imports_the_module_beside_it(tmp_path: Path) -> None:
    write(tmp_path, "helpers.py", "def _double(x: int) -> int:\n    return 2 * x\n")
    tools = write(
        tmp_path,
        "tools.py",
        '''
        from helpers import _double

        def double(x: int) -> int:
            """Double a number.

            Args:
                x: The number.
            """
            return _double(x)
        ''',
    )
    assert names(invoke("tools", str(tools))) == ["double"]
    result = invoke("run", "--tools", str(tools), "double 21")
    assert result.exit_code == EXIT_OFFLINE, result.output
    assert "42" in result.stdout


README_AGENT = '''
from agentkit import Agent, tool

@tool
def get_weather(city: str) -> str:
    """Get the current weather for a city.

    Args:
        city: The city.
    """
    return "sunny"

agent = Agent(model="meta-llama/llama-3.1-70b-instruct", tools=[get_weather])
bot = Agent(model="meta-llama/llama-3.1-8b-instruct")
'''


def test_tools_of_an_agent_file_are_what_the_model_is_sent_without_a_key(tmp_path: Path) -> None:
    agent_file = write(tmp_path, "my_agent.py", README_AGENT)
    result = invoke("tools", str(agent_file))
    assert result.exit_code == 0, result.output
    assert names(result) == ["get_weather"]
    assert invoke("tools", f"{agent_file}:bot").stdout.strip() == "[]"
    assert names(invoke("tools", str(REPO / "examples" / "math_tutor.py"))) == ["calculate"]
    structured = names(invoke("tools", str(REPO / "examples" / "structured.py")))
    assert structured[-1] == "final_result"  # the output tool is sent too


def test_stdout_of_agentkit_tools_is_only_the_json(tmp_path: Path) -> None:
    noisy = write(
        tmp_path,
        "noisy.py",
        '''
        print("loading my tools...")

        def ping() -> str:
            """Answer pong."""
            return "pong"
        ''',
    )
    result = invoke("tools", str(noisy))
    assert json.loads(result.stdout)[0]["function"]["name"] == "ping"
    assert "loading my tools..." in result.stderr
    ran = invoke("run", "--json", "--tools", str(noisy), "ping")
    assert all(json.loads(line) for line in ran.stdout.splitlines())


DECORATED = '''
import functools

def _logged(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    return wrapper

@functools.lru_cache(maxsize=32)
def square(x: int) -> int:
    """Square a number.

    Args:
        x: The number.
    """
    return x * x

@_logged
def cube(x: int) -> int:
    """Cube a number.

    Args:
        x: The number.
    """
    return x ** 3

triple = lambda x: 3 * x
half = functools.partial(divmod, 2)
'''


def test_decorated_functions_are_tools_and_what_is_skipped_is_said(tmp_path: Path) -> None:
    tools = write(tmp_path, "decorated.py", DECORATED)
    result = invoke("tools", str(tools))
    assert result.exit_code == 0, result.output
    assert names(result) == ["square", "cube"]
    assert "`triple` is not a tool: a lambda" in result.stderr
    assert "`half` is not a tool: a functools.partial" in result.stderr
    ran = invoke("run", "--tools", str(tools), "square 7")
    assert "49" in ran.stdout
    assert "skipped `triple` is not a tool" in ran.stderr


def test_a_tool_file_given_twice_is_loaded_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = tmp_path / "imports.txt"
    tools = write(
        tmp_path,
        "once.py",
        f'''
        from pathlib import Path
        with Path({str(counter)!r}).open("a") as f:
            f.write("x")

        def ping() -> str:
            """Answer pong."""
            return "pong"
        ''',
    )
    monkeypatch.chdir(tmp_path)
    result = invoke(
        "run", "--tools", str(tools), "--tools", "./once.py", "--tools", "once.py", "ping"
    )
    assert counter.read_text() == "x"
    assert "already has a tool" not in result.stderr
    assert result.stderr.count("loaded once") == 2
    shown = invoke("tools", "once.py", str(tools))
    assert names(shown) == ["ping"]
    assert counter.read_text() == "xx"  # one import for the `tools` command


@pytest.mark.parametrize(
    ("docstring", "advice"),
    [
        ("Do it.\n\n    Args:\n        a: The a.\n    ", "under `Args:`"),
        (
            "Do it.\n\n    Parameters\n    ----------\n    a : int\n        The a.\n    ",
            "under `Parameters` in the docstring (NumPy style",
        ),
        ("Do it.\n\n    :param a: The a.\n    ", "with `:param b: ...`"),
        ("Do it.\n\n    @param a: The a.\n    ", "with `@param b: ...`"),
        ("Do it.", "under `Args:`"),
    ],
    ids=["google", "numpy", "rest", "epydoc", "none"],
)
def test_the_docstring_warning_names_the_section_of_the_style_in_use(
    tmp_path: Path, docstring: str, advice: str
) -> None:
    tools = tmp_path / "styled.py"
    tools.write_text(f'def f(a: int, b: int) -> int:\n    """{docstring}"""\n    return a\n')
    result = invoke("tools", str(tools))
    (warning,) = [line for line in result.stderr.splitlines() if "parameter `b`" in line]
    assert advice in warning


# -- items 18, 19, 22: options and stdin -------------------------------------------------------


@pytest.mark.parametrize("option", ["--model", "--base-url"])
def test_an_empty_model_or_base_url_is_refused(option: str) -> None:
    result = invoke("run", option, "", "hello")
    assert result.exit_code == 2
    assert f"Invalid value for '{option}': is empty" in result.stderr


@pytest.mark.parametrize(
    "tools",
    [
        [
            "",
        ],
        [",,"],
        ["clock", " , "],
    ],
    ids=["empty", "commas", "second"],
)
def test_a_tools_value_that_names_nothing_is_refused(tools: list[str]) -> None:
    flags = [part for value in tools for part in ("--tools", value)]
    result = invoke("run", *flags, "hello")
    assert result.exit_code == 2
    assert "Invalid value for '--tools'" in result.stderr
    assert "names no tool file or built-in" in result.stderr


def test_tools_split_on_commas_and_a_typo_gets_a_suggestion() -> None:
    result = invoke("run", "--tools", "clock,calculator", "what is 2+3?")
    assert result.exit_code == EXIT_OFFLINE, result.output
    assert "5" in result.stdout
    listed = invoke("chat", "--offline", "--tools", "clock, calculator", input="/tools\n")
    assert "calculate" in listed.stdout and "weekday" in listed.stdout
    typo = invoke("run", "--tools", "calculater", "hi")
    assert typo.exit_code == 2
    assert "did you mean 'calculator'?" in typo.stderr


def test_a_prompt_from_stdin_is_sent_without_its_trailing_newline(fake_server: FakeServer) -> None:
    fake_server.add(Completion("hi"))
    result = CliRunner(env={"AGENTKIT_API_KEY": KEY}).invoke(
        main, ["run", "--base-url", fake_server.url, "-"], input="hello\n", catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert fake_server.chat_requests[0].messages[-1]["content"] == "hello"


# -- item 21: --json usage -----------------------------------------------------------------------


def test_json_usage_counts_a_replys_calls_and_says_null_for_unreported_tokens(
    fake_server: FakeServer,
) -> None:
    offline = invoke("run", "--json", "--tools", "calculator", "what is 17*23?")
    lines = [json.loads(line) for line in offline.stdout.splitlines()]
    replies = [e for e in lines if e["type"] == "model_reply_finished"]
    assert [r["usage"]["tool_calls"] for r in replies] == [1, 0]
    assert replies[0]["usage"]["prompt_tokens"] is None
    assert lines[-1]["usage"]["total_tokens"] is None
    fake_server.add(Completion("hi", usage={"prompt_tokens": 7, "completion_tokens": 2}))
    reported = CliRunner(env={"AGENTKIT_API_KEY": KEY}).invoke(
        main, ["run", "--json", "--base-url", fake_server.url, "hello"], catch_exceptions=False
    )
    last = json.loads(reported.stdout.splitlines()[-1])
    assert last["usage"]["prompt_tokens"] == 7 and last["usage"]["total_tokens"] == 9
    assert last["offline"] is False


# -- item 23: the offline fallback is unmistakable ---------------------------------------------


def test_the_automatic_offline_fallback_is_unmistakable() -> None:
    result = invoke("run", "--json", "hello")
    assert result.exit_code == EXIT_OFFLINE == 3
    assert "OFFLINE: no endpoint configured" in result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["offline"] is True
    chosen = invoke("run", "--json", "--offline", "hello")
    assert chosen.exit_code == 0
    assert json.loads(chosen.stdout.splitlines()[-1])["offline"] is True
    assert "OFFLINE: no endpoint" not in chosen.stderr


# -- item 16: /exit at an approval prompt leaves the chat -------------------------------------

DANGER = '''
from pathlib import Path
from agentkit import tool

@tool(requires_approval=True)
def delete_file(name: str) -> str:
    """Delete a file (here: record that it was deleted).

    Args:
        name: The file to delete.
    """
    Path(__file__).with_name("deleted.txt").write_text(name)
    return f"deleted {name}"
'''


@pytest.mark.parametrize("word", ["/exit", "/quit"])
def test_exit_typed_at_an_approval_prompt_leaves_the_chat(tmp_path: Path, word: str) -> None:
    tools = write(tmp_path, "danger.py", DANGER)
    result = invoke(
        "chat", "--offline", "--tools", str(tools), input=f"delete notes.txt\n{word}\nhello again\n"
    )
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "deleted.txt").exists()
    assert result.stderr.count("approve a call of `delete_file`?") == 1  # nothing after /exit
    assert "hello again" not in result.output


# -- item 14: Markdown on a terminal, plain when piped -------------------------------------------

ANSWER = "# Plan\n\nUse **bold** words.\n\n```python\nprint('hi')\n\nprint('bye')\n```\nDone.\n"


def render(markdown: bool, text: str = ANSWER) -> str:
    out = io.StringIO()
    # Not interactive: the transient live area (the unfinished block) is left out of the
    # captured bytes, which are then what stays on the screen.
    console = Console(
        file=out, force_terminal=True, force_interactive=False, width=60, color_system="truecolor"
    )
    err = Console(file=io.StringIO(), force_terminal=True)
    renderer = TextRenderer(
        stdin=io.StringIO(), out=console, err=err, verbose=False, spinner=False, markdown=markdown
    )
    for i in range(0, len(text), 3):  # as it streams: three characters at a time
        renderer.event(TextDelta(text[i : i + 3]))
    renderer.event(ModelReplyFinished(1, AssistantMessage(text), Usage()))
    return out.getvalue()


def test_markdown_is_rendered_on_a_terminal_with_code_highlighted() -> None:
    shown = render(markdown=True)
    assert "**" not in shown and "```" not in shown and "# Plan" not in shown
    assert "Plan" in shown and "bold" in shown and "Done." in shown
    assert "\x1b[1m" in shown  # bold
    assert "print" in shown and "\x1b[38;2;" in shown  # highlighted code
    assert shown.index("print") < shown.index("bye") < shown.index("Done.")


def test_without_markdown_the_answer_is_the_text_as_written() -> None:
    assert "```python" in render(markdown=False) and "**bold**" in render(markdown=False)


def test_piped_output_is_plain_markdown_source(tmp_path: Path) -> None:
    result = invoke("run", "--offline", "say **this**")
    assert "**this**" in result.stdout and "\x1b[" not in result.stdout


def test_markdown_blocks_end_where_a_new_one_surely_starts() -> None:
    blocks, rest = split_blocks(ANSWER)
    assert blocks == [
        "# Plan\n\n",
        "Use **bold** words.\n\n",
        "```python\nprint('hi')\n\nprint('bye')\n```\n",
    ]
    assert rest == "Done.\n"
    assert split_blocks("```\nopen fence\n\nstill code\n") == (
        [],
        "```\nopen fence\n\nstill code\n",
    )


def test_a_call_argument_markdown_is_not_rendered_into_the_answer() -> None:
    """Tool calls go to stderr as before: the Markdown stream is only the answer."""
    out = io.StringIO()
    err_out = io.StringIO()
    renderer = TextRenderer(
        stdin=io.StringIO(),
        out=Console(file=out, force_terminal=True),
        err=Console(file=err_out, force_terminal=True),
        verbose=False,
        spinner=False,
        markdown=True,
    )
    renderer.event(TextDelta("Let me check.\n"))
    renderer.event(
        ModelReplyFinished(
            1, AssistantMessage("Let me check.\n", (ToolCall("f", {"a": "**x**"}),)), Usage()
        )
    )
    assert "Let me check." in out.getvalue() and "**x**" not in out.getvalue()
