"""The renderer a command writes through: JSON lines, or text for people (see `_render`)."""

from __future__ import annotations

import sys

from rich.console import Console

from agentkit.cli._jsonlines import JsonRenderer
from agentkit.cli._load import Options
from agentkit.cli._render import Renderer, TextRenderer

__all__ = ["make_renderer"]


class _Console(Console):
    """A rich console that leaves a closed pipe to `cli` (rich itself would exit with 1)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError("the reader of the output went away")


def make_renderer(options: Options) -> Renderer:
    """JSON lines with `--json`; else rich on a terminal (Markdown rendered unless `--plain`),
    plain text when stdout is piped."""
    stdout_tty = sys.stdout.isatty()
    colour = stdout_tty and sys.stderr.isatty() and not options.json
    err = _Console(
        file=sys.stderr, force_terminal=colour, highlight=False, emoji=False, soft_wrap=True
    )
    if options.json:
        return JsonRenderer(stdin=sys.stdin, stdout=sys.stdout, err=err, verbose=options.verbose)
    out = _Console(
        file=sys.stdout, force_terminal=stdout_tty, highlight=False, emoji=False, soft_wrap=True
    )
    return TextRenderer(
        stdin=sys.stdin,
        out=out,
        err=err,
        verbose=options.verbose,
        spinner=colour,
        markdown=stdout_tty and not options.plain,
    )
