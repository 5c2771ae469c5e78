"""`agentkit batch [TARGET] INPUT -o OUTPUT`: run an agent over every row of a JSONL file.

The command is declared here and registered on the `agentkit` group by `_main`, which hands
in the agent flags of `run`, how it reads them (TARGET and the flags build the agent the same
way) and its error handling. The batch itself is `agentkit.batch.run_batch_sync`; this module
adds the progress bar (`_batch_progress`), the summary and the exit status:

0 every row ok; 1 some rows failed (their lines in the output say why), or the batch stopped
(the endpoint refused the key or model, the output could not be written); 2 a usage error
(a bad flag or input, a resume refused for another agent configuration, no endpoint
configured: a batch never falls back to the offline model by itself, whose answers would
then count as finished rows; `--offline` chooses it); 130 stopped by Ctrl-C or SIGTERM (the
first drains the rows in flight, the second cancels them).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from agentkit.cli._status import EXIT_INTERRUPTED, EXIT_RUN_ERROR
from agentkit.errors import UserError

if TYPE_CHECKING:
    from agentkit.cli._load import Options
    from agentkit.cli._render import Renderer

__all__ = ["batch_command"]

F = TypeVar("F", bound=Callable[..., Any])
Execute = Callable[["Options", Callable[["Renderer"], int]], NoReturn]
MakeOptions = Callable[[str | None, dict[str, Any]], "Options"]

# The agent flags of `run` a batch takes; not those for a person watching one run
# (--approve, --json, --plain, --trace, --otel): those get their defaults.
AGENT_FLAGS = (
    "tools", "model", "base_url", "system", "max_turns", "max_input_tokens", "offline", "verbose",
)  # fmt: skip
UNATTENDED = {"approve": False, "json_output": False, "plain": False, "trace": False, "otel": False}
# --mcp/--mcp-config are not batch flags: servers the agent file declares still run (per row).
NO_MCP_FLAGS: dict[str, Any] = {"mcp": (), "mcp_config": ()}

_HELP = """Run the agent on every row of INPUT (JSONL), one result line per row in OUTPUT.

Each input line is {"id": ..., "prompt": ...} (optional "messages", "deps", "settings",
"meta"); each result line has the id, status (ok, error, invalid), output, usage, cost,
attempts, duration and error. TARGET and the agent flags are as for `agentkit run`;
without TARGET the agent is built from the flags. Tools that need approval are declined
(a batch runs unattended).

Run the same command again to resume: finished rows are skipped, a torn last line is cut
off, failed rows run again with --retry-errors; another agent configuration is refused
unless --force. The first Ctrl-C finishes the rows in flight, the second drops them.

\b
agentkit batch examples/weather.py questions.jsonl -o answers.jsonl --concurrency 32
agentkit batch agent.py rows.jsonl -o out.jsonl --backend ray --ray-address HOST:6379
"""

_EPILOG = """\b
Exit status: 0 every row ok; 1 some rows failed (see their lines) or the batch stopped
(key or model refused, output not writable); 2 usage error (bad flag or input, resume
refused); 130 interrupted."""

_positive = click.FloatRange(min=0, min_open=True)


def _batch_options(command: F) -> F:
    decorators = [
        click.option(
            "-o",
            "--output",
            required=True,
            type=click.Path(dir_okay=False, path_type=Path),
            help="The output JSONL (the ledger); OUTPUT.manifest.json goes beside it.",
        ),
        click.option("--concurrency", type=click.IntRange(min=1), default=16, show_default=True,
                     help="Rows running at once."),
        click.option("--rps", type=_positive, help="Model requests per second, whole batch."),
        click.option("--tpm", type=_positive, help="Tokens per minute, whole batch."),
        click.option("--timeout", type=_positive, help="Seconds per row attempt."),
        click.option("--attempts", type=click.IntRange(min=1), default=3, show_default=True,
                     help="Tries per row (connection errors, 5xx, timeouts) and per 429."),
        click.option("--retry-errors", is_flag=True, help="Run again the rows that failed."),
        click.option("--force", is_flag=True, help="Resume with another agent configuration."),
        click.option("--backend", type=click.Choice(["local", "ray"]), default="local",
                     show_default=True, help='Where rows run; "ray" needs agentkit-llama[ray].'),
        click.option("--ray-address", metavar="ADDR",
                     help="An existing Ray cluster (auto, HOST:PORT, ray://HOST:PORT); "
                     "default: a new local one."),
        click.option("--ray-workers", type=click.IntRange(min=1),
                     help="Ray workers (default: one per CPU of the cluster)."),
    ]  # fmt: skip
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def _agent_flags(agent_options: Callable[[Any], Any]) -> list[click.Parameter]:
    """The parameters `agent_options` declares, those of `AGENT_FLAGS`, in their order."""
    donor = click.Command("donor")
    agent_options(donor)  # on a Command, each option appends itself: last declared first
    return [p for p in reversed(donor.params) if p.name in AGENT_FLAGS]


def batch_command(
    agent_options: Callable[[Any], Any], make_options: MakeOptions, execute: Execute
) -> click.Command:
    """The `batch` command, with `run`'s agent flags, their reading and its error handling."""

    @click.command("batch", help=_HELP, epilog=_EPILOG)
    @click.argument("args", nargs=-1, required=True, metavar="[TARGET] INPUT")
    @_batch_options
    def batch(args: tuple[str, ...], **flags: Any) -> None:
        if len(args) > 2:
            raise click.UsageError(f"expected [TARGET] INPUT, got {len(args)} arguments")
        target, source = (None, args[0]) if len(args) == 1 else args
        agent_flags = {name: flags.pop(name) for name in AGENT_FLAGS}
        options = make_options(target, {**agent_flags, **UNATTENDED, **NO_MCP_FLAGS})

        def body(renderer: Renderer) -> int:
            return run_batch_command(options, source, flags, renderer)

        execute(options, body)

    batch.params[1:1] = _agent_flags(agent_options)  # after the arguments, before the rest
    return batch


def _no_fallback() -> UserError:
    return UserError(
        "no endpoint configured (no AGENTKIT_API_KEY or OPENAI_API_KEY, no base URL): a batch "
        "does not fall back to the offline model, whose answers would count as finished "
        "rows. Set a key or --base-url, or pass --offline to run on the offline model"
    )


def run_batch_command(
    options: Options, source: str, flags: dict[str, Any], renderer: Renderer
) -> int:
    """Load the agent, run the batch with a progress view, print the summary; the status."""
    from agentkit.batch import BatchStopped, run_batch_sync
    from agentkit.cli._batch_progress import RichProgress, progress_for, summary_lines
    from agentkit.cli._load import load_agent

    loaded = load_agent(options, None)  # unattended: tools that need approval are declined
    if loaded.auto_offline:
        raise _no_fallback()
    for line in loaded.notices:
        renderer.notice(line)
    view = progress_for(sys.stderr)
    try:
        with view if isinstance(view, RichProgress) else contextlib.nullcontext():
            # The Agent itself goes to Ray workers too: it pickles as its configuration.
            summary = run_batch_sync(loaded.agent, source, **flags, progress=view, interrupts=True)
    except BatchStopped as exc:
        for line in summary_lines(exc.summary):
            click.echo(line, err=True)
        renderer.error(exc, EXIT_RUN_ERROR)
        return EXIT_RUN_ERROR
    for line in summary_lines(summary):
        click.echo(line, err=True)
    if summary.stopped in ("interrupted", "cancelled"):
        return EXIT_INTERRUPTED
    failed = summary.progress.errors + summary.progress.invalid
    return EXIT_RUN_ERROR if failed else 0
