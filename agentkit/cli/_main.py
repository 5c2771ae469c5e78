"""`agentkit`: run, chat with and inspect agents from the command line.

Commands: run [TARGET] PROMPT, chat [TARGET], tools FILE..., sessions (`_sessions_cli`),
serve-mcp (`_serve_mcp`), probe (`_probe`), batch (`_batch`).
This module only declares the commands (click); the work is in `_load` (the agent and its
tools), `_render` (output) and `_session` (run and chat), imported when a command runs
so that `agentkit --help` stays fast.

Exit status: 0 success; 1 the run failed (the endpoint is unreachable or answered an error,
max turns or a usage limit was reached, a tool kept failing, the prompt does not fit the
context budget, the session is in use); 2 a usage error (a bad option, a missing or broken
agent or tool file, an unknown built-in tool, an invalid configuration, an unknown session,
a sessions database that cannot be used); 3 `run` answered on the offline model because no
endpoint is configured (a script that lost its key does not "succeed"; `--offline` chooses
that model on purpose and exits 0); 130 interrupted with Ctrl-C.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

from agentkit.cli._batch import batch_command
from agentkit.cli._sessions_cli import (
    remember_db,
    session_choice,
    session_options,
    sessions_db_option,
    sessions_group,
)

if TYPE_CHECKING:
    from agentkit.cli._load import Options
    from agentkit.cli._render import Renderer

__all__ = ["EXIT_INTERRUPTED", "EXIT_OFFLINE", "EXIT_RUN_ERROR", "EXIT_USAGE", "main"]

from agentkit.cli._execute import execute as _execute
from agentkit.cli._mcp import mcp_flags, mcp_options, with_servers
from agentkit.cli._probe import probe_command
from agentkit.cli._serve_mcp import serve_mcp_command
from agentkit.cli._status import EXIT_INTERRUPTED, EXIT_OFFLINE, EXIT_RUN_ERROR, EXIT_USAGE

F = TypeVar("F", bound=Callable[..., Any])

_EPILOG = """\b
Endpoint: AGENTKIT_API_KEY (or OPENAI_API_KEY), AGENTKIT_BASE_URL (or OPENAI_BASE_URL,
or --base-url), AGENTKIT_MODEL (or --model). When nothing names an endpoint or a model,
agentkit runs on the offline model, which calls tools but is not a language model.

\b
Exit status: 0 success; 1 the run failed (endpoint error, max turns, usage limit, a tool
kept failing, over the context budget, session in use); 2 usage error (bad option, agent or
tool file, a model without an endpoint, unknown session); 3 answered offline because no
endpoint is configured; 130 interrupted."""


class _Commands(click.Group):
    """The command group; with `--json`, a usage error also ends stdout with a JSON line."""

    _argv: tuple[str, ...] = ()

    def main(self, args: Sequence[str] | None = None, *rest: Any, **options: Any) -> Any:
        self._argv = tuple(sys.argv[1:] if args is None else args)
        return super().main(self._argv, *rest, **options)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            flags = self._argv[: self._argv.index("--")] if "--" in self._argv else self._argv
            if "--json" in flags:
                from agentkit.cli._jsonlines import error_line, json_line

                line = error_line(exc, exc.exit_code, exc.format_message())
                click.echo(json_line(line))
            raise


@click.group(
    cls=_Commands, epilog=_EPILOG, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(package_name="agentkit-llama", prog_name="agentkit")
@sessions_db_option
def main(sessions_db: str | None) -> None:
    """Run tool-calling Llama 3.1 agents from the command line."""
    remember_db(sessions_db)


def _not_empty(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise click.BadParameter(f"is empty: give a value, or leave {param.opts[0]} out")
    return value


def _tool_specs(specs: tuple[str, ...]) -> tuple[str, ...]:
    """`--tools clock,calculator` is two specs (unless a file is named so)."""
    out: list[str] = []
    for spec in specs:
        before = len(out)
        if "," in spec and not os.path.exists(spec):
            out.extend(part.strip() for part in spec.split(",") if part.strip())
        else:
            out.append(spec)
        if len(out) == before or not out[-1].strip():
            raise click.BadParameter(
                f"{spec!r} names no tool file or built-in: give one (--tools clock,calculator), "
                "or leave --tools out",
                param_hint="'--tools'",
            )
    return tuple(out)


def _agent_options(command: F) -> F:
    """The options shared by `run` and `chat`."""
    decorators = [
        click.option(
            "--tools",
            "tools",
            multiple=True,
            metavar="FILE_OR_NAME",
            help="Add the tools of a .py file (its @tool functions, else its public "
            "functions) or a built-in module (calculator, clock, files, ...). Repeatable, "
            "or comma-separated: --tools clock,calculator.",
        ),
        click.option(
            "--model",
            callback=_not_empty,
            help="Model id (default: $AGENTKIT_MODEL, else Llama 3.1 70B).",
        ),
        click.option(
            "--base-url",
            callback=_not_empty,
            help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1.",
        ),
        click.option(
            "--system", help='System prompt (replaces the agent\'s instructions; "" for none).'
        ),
        click.option(
            "--max-turns", type=click.IntRange(min=1), help="Model replies allowed per run."
        ),
        click.option(
            "--max-input-tokens",
            type=click.IntRange(min=1),
            help="Context budget: older turns are left out of what is sent past it "
            "(default: the model's context, for Llama 3.1 ids; set it to your server's -c or "
            "num_ctx minus the reply).",
        ),
        click.option("--offline", is_flag=True, help="Use the offline model (no network)."),
        click.option("--approve", is_flag=True, help="Ask y/n before every tool call."),
        click.option(
            "--json", "json_output", is_flag=True, help="One JSON event per line on stdout."
        ),
        click.option(
            "--plain", is_flag=True, help="Answers as plain text (no Markdown rendering)."
        ),
        click.option(
            "-v", "--verbose", is_flag=True, help="Full tool arguments and results; tracebacks."
        ),
        click.option(
            "--trace", is_flag=True, help="A timeline of each run on stderr when it ends."
        ),
        click.option(
            "--otel",
            is_flag=True,
            help="Send spans and metrics over OTLP to $OTEL_EXPORTER_OTLP_ENDPOINT "
            "(needs agentkit-llama[otlp]).",
        ),
        mcp_options,  # --mcp, --mcp-config
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def _options(target: str | None, flags: dict[str, Any]) -> Options:
    from agentkit.cli._load import Options

    return Options(
        target=target,
        tools=_tool_specs(flags["tools"]),
        model=flags["model"],
        base_url=flags["base_url"],
        system=flags["system"],
        max_turns=flags["max_turns"],
        max_input_tokens=flags["max_input_tokens"],
        offline=flags["offline"],
        approve=flags["approve"],
        json=flags["json_output"],
        verbose=flags["verbose"],
        plain=flags["plain"],
        trace=flags["trace"],
        otel=flags["otel"],
        **mcp_flags(flags),
    )


def _split_run_args(args: tuple[str, ...]) -> tuple[str | None, str]:
    from agentkit.cli._target import looks_like_target

    if len(args) == 2:
        return args[0], args[1]
    if len(args) == 1 and not looks_like_target(args[0]):
        return None, args[0]
    if len(args) == 1:
        raise click.UsageError(
            f"PROMPT is missing after TARGET {args[0]!r} (if that is the prompt, pass it on "
            f"stdin: echo {shlex.quote(args[0])} | agentkit run -)"
        )
    raise click.UsageError(
        f"expected [TARGET] PROMPT, got {len(args)} arguments (quote the prompt: "
        "agentkit run examples/weather.py 'What is the weather in \"Paris\"?')"
    )


@main.command(epilog=_EPILOG)
@click.argument("args", nargs=-1, required=True, metavar="[TARGET] PROMPT")
@_agent_options
@session_options(continue_flag=True)
def run(args: tuple[str, ...], **flags: Any) -> None:
    """Answer one PROMPT, streaming the answer and showing each tool call.

    TARGET is an agent file whose module defines `agent = Agent(...)`
    (examples/weather.py), FILE.py:NAME or package.module:NAME. Without TARGET the agent
    is built from the flags; with it, the flags add tools and replace the model, base
    URL, instructions or turn limit. PROMPT "-" reads the prompt from stdin.

    Tools marked as needing approval always ask y/n, reading the answer from stdin
    (with --json the question is a JSON line); no answer (end of stdin) declines.

    The run is stored as a new session (--session NAME: resume or start that one; -c:
    continue the latest; --no-store: store nothing). `agentkit sessions` lists them.

    \b
    agentkit run --tools calculator "what is 17*23?"
    agentkit run examples/weather.py 'What is the weather in "Paris"?'
    agentkit run -c "and in Lyon?"
    """
    target, prompt = _split_run_args(args)
    if prompt == "-":
        prompt = sys.stdin.read().rstrip("\r\n")  # `echo hello |` ends with a newline
        if not prompt.strip():
            raise click.UsageError("the prompt read from stdin is empty")
    elif not prompt.strip():
        raise click.UsageError("the prompt is empty: say what the agent should do")
    choice = session_choice(flags)
    options = _options(target, flags)

    def body(renderer: Renderer) -> int:
        from agentkit.cli._session import run_once
        from agentkit.cli._stored import explained, open_conversation

        with explained(choice, storing=choice.store):  # a bad database: the way past it
            stored = open_conversation(choice, "run")
            try:
                return run_once(options, prompt, renderer, stored)
            finally:
                if stored is not None:
                    stored.close()

    _execute(options, body)


@main.command(epilog=_EPILOG)
@click.argument("target", required=False)
@_agent_options
@session_options(continue_flag=False)
def chat(target: str | None, **flags: Any) -> None:
    """Chat with an agent; the conversation carries over from turn to turn.

    TARGET and the flags are as for `agentkit run`. Type /help for the commands: /tools
    lists the tools, /usage shows what the whole session used (across /reset), /reset
    starts a new conversation, /exit (or Ctrl-D) leaves. Ctrl-C cancels the current
    answer (that turn is dropped), not the session. With stdin not a terminal, an
    approval's answer is the next input line.

    The conversation is stored as it goes (--session NAME resumes or starts that one, else a
    new one is named by the time; --no-store stores nothing): /session shows it, /session
    NAME switches, /reset starts a new one.
    """
    choice = session_choice(flags)
    options = _options(target, flags)

    def body(renderer: Renderer) -> int:
        from agentkit.cli._session import ChatSession
        from agentkit.cli._stored import explained, open_conversation

        with explained(choice, storing=choice.store):  # a bad database: the way past it
            stored = open_conversation(choice, "chat")
            try:
                return ChatSession(options, renderer, stored).run()
            finally:
                if stored is not None:
                    stored.close()

    _execute(options, body)


@main.command("tools")
@click.argument("specs", nargs=-1, metavar="[FILE_OR_NAME_OR_TARGET]...")
@click.option("-v", "--verbose", is_flag=True, help="Show tracebacks of failures.")
@mcp_options
def tools_command(specs: tuple[str, ...], verbose: bool, **mcp: tuple[str, ...]) -> None:
    """Print the tool definitions a tool file, built-in module or agent sends the model.

    An agent file (or FILE.py:NAME, package.module:NAME) shows its agent's tools, exactly
    as each request offers them; no key is needed. Warns on stderr about tools and
    parameters without a description, and about functions left out. Without arguments,
    lists only the names of the built-in tool modules.
    """
    from agentkit.cli._load import Options

    options = Options(verbose=verbose)

    def body(renderer: Renderer) -> int:
        from agentkit.cli._inspect import inspect_specs
        from agentkit.tools import builtin_tool_names

        if not specs and not any(mcp.values()):
            names = ", ".join(builtin_tool_names())
            click.echo(
                f"built-in tool modules: {names}; run `agentkit tools NAME` for their schemas"
            )
            return 0
        inspected = with_servers(inspect_specs(specs), verbose, **mcp)  # --mcp servers' tools
        for note in inspected.notes:
            click.echo(note, err=True)
        click.echo(json.dumps(inspected.definitions, indent=2, ensure_ascii=False))
        return 0

    _execute(options, body)


main.add_command(sessions_group(_execute))
main.add_command(serve_mcp_command(_execute))
main.add_command(probe_command(_execute))  # `agentkit probe`: cli/_probe.py
main.add_command(batch_command(_agent_options, _options, _execute))
