"""`agentkit probe`: what an endpoint can do, checked live, shown as a table, kept for later.

The checks are `OpenAIModel.probe()`'s (a dozen small requests); their results are saved in
the user's cache folder, and every later `OpenAIModel` of that endpoint and model adapts its
requests to them. A probe younger than a week is shown again without a request, unless
`--refresh`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from agentkit.cli._load import Options
    from agentkit.cli._render import Renderer
    from agentkit.models.openai import Capabilities

# `_main._execute`: runs a command body with the renderer, mapping failures to exit statuses.
Execute = Callable[["Options", Callable[["Renderer"], int]], NoReturn]

__all__ = ["probe_command"]

_GOOD = {"native", "accepted", "supported", "pieces", "whole", "sent", "valid", "available"}
_BAD = {"refused", "error"}


def _style(result: str) -> str:
    if result in _GOOD or result in ("listed", "seen"):
        return "green"
    if result in _BAD:
        return "red"
    return "dim" if result == "unknown" else "yellow"


def _age(seconds: float) -> str:
    if seconds < 120:
        return "just now"
    if seconds < 7200:
        return f"{seconds / 60:.0f} minutes ago"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} hours ago"
    return f"{seconds / 86400:.0f} days ago"


def _table(capabilities: Capabilities, renderer: Renderer) -> None:
    from rich.table import Table
    from rich.text import Text

    from agentkit.cli._text import clean

    table = Table(title=f"{capabilities.endpoint} · {capabilities.model}", title_justify="left")
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    for check in capabilities:
        table.add_row(
            check.name.replace(":", " "),
            Text(check.result, style=_style(check.result)),
            Text(clean(" ".join(check.detail.split()))),
        )
    out = getattr(renderer, "out", None)
    if out is not None:
        out.print(table)


async def _probe(model_id: str, base_url: str | None, refresh: bool) -> tuple[Any, bool]:
    """The capabilities, and whether they were saved before (no request made)."""
    from agentkit.errors import UserError
    from agentkit.models._resolve import resolve_model
    from agentkit.models.openai import OpenAIModel
    from agentkit.models.openai._capabilities import load

    model = resolve_model(model_id, base_url=base_url)
    if not isinstance(model, OpenAIModel):
        raise UserError(f"{model_id!r} names no endpoint to probe: give a model id")
    try:
        saved = None if refresh else load(model.endpoint, model.name)
        return (saved, True) if saved is not None else (await model.probe(refresh=True), False)
    finally:
        await model.aclose()


def _report(renderer: Renderer, found: Capabilities, saved: bool, json_output: bool) -> int:
    """Show the probe: one JSON object, or the table and what it means; the exit status."""
    from agentkit.cli._status import EXIT_RUN_ERROR
    from agentkit.models.openai._capabilities import cache_path

    if json_output:
        click.echo(json.dumps({**found.to_dict(), "cached": saved}, ensure_ascii=False))
    elif not found.unreachable:  # else a table of "not tried" would say nothing more
        _table(found, renderer)
        for line in found.advice:
            renderer.notice(f"agentkit: {line}")
        if found.answered:
            when = _age(time.time() - found.probed_at)
            again = "; --refresh probes again" if saved else ""
            renderer.info(
                f"probed {when}{again}; kept in {cache_path(found.endpoint, found.model)}"
            )
    if found.unreachable or not found.answered:
        renderer.error(RuntimeError(_unanswered(found)), EXIT_RUN_ERROR)
        return EXIT_RUN_ERROR
    return 0


def _unanswered(found: Capabilities) -> str:
    """Why the probe learned nothing, and what to check."""
    if found.unreachable:
        return found.unreachable
    failed = [c.detail for c in found if c.result == "error"]
    if failed and all(d.startswith("no answer within") for d in failed):
        return (
            f"the endpoint answered none of the checks in time ({failed[0]} each): is the "
            "server still loading the model, or too busy? check the URL"
        )
    return (
        "the endpoint answered none of the checks (each one's detail says why): check the "
        "URL, and that it is an OpenAI-compatible server"
    )


def probe_command(execute: Execute) -> click.Command:
    """`agentkit probe`, run through `execute` (the CLI's error handling)."""

    @click.command("probe")
    @click.option(
        "--base-url", help="The endpoint (default: $AGENTKIT_BASE_URL or $OPENAI_BASE_URL)."
    )
    @click.option("--model", help="The model id (default: $AGENTKIT_MODEL, else Llama 3.1 70B).")
    @click.option("--refresh", is_flag=True, help="Probe again, even if a recent probe is saved.")
    @click.option("--json", "json_output", is_flag=True, help="The results as one JSON object.")
    @click.option("-v", "--verbose", is_flag=True, help="Show tracebacks of failures.")
    def command(
        base_url: str | None, model: str | None, refresh: bool, json_output: bool, verbose: bool
    ) -> None:
        """Check what an endpoint does with tools: native calls or text, each tool_choice,
        parallel calls, streamed calls, usage in streams, JSON-schema output, a tokenize
        endpoint, raw completions.

        A dozen small requests (at most 64 tokens each). The results are saved in the user's
        cache folder ($XDG_CACHE_HOME/agentkit/probe) for a week, and agentkit adapts its
        requests to them: it leaves out what the endpoint refused and sends one tool call per
        assistant message where its chat template needs that.
        """
        import anyio

        from agentkit import _env
        from agentkit.cli._load import Options

        for label, value in (("--base-url", base_url), ("--model", model)):
            if value is not None and not value.strip():
                raise click.BadParameter(f"is empty: give a value, or leave {label} out")
        model_id = model or _env.setting("AGENTKIT_MODEL") or _env.DEFAULT_MODEL

        def body(renderer: Renderer) -> int:
            found, saved = anyio.run(_probe, model_id, base_url, refresh)
            return _report(renderer, found, saved, json_output)

        execute(Options(json=json_output, verbose=verbose), body)

    return command
