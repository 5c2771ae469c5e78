"""`--json`: one JSON object per line on stdout, for scripts (events, approvals, errors).

A reply's `usage.tool_calls` counts the calls it made, token counts the server did not report
are `null` (not 0), and `run_finished` says `"offline": true` when the offline model answered.
An approval is asked as an `approval_requested` line and answered on stdin, echoed as
`approval_answered`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TextIO

from pydantic_core import to_jsonable_python
from rich.console import Console
from rich.text import Text

from agentkit.cli._render import FROM_STDIN, Renderer, approves, isatty, read_line
from agentkit.errors import ModelError
from agentkit.events import Event, ModelReplyFinished, RunFinished, ToolCallStarted, event_to_dict
from agentkit.messages import ToolCall, Usage
from agentkit.tools import Tool

__all__ = ["JsonRenderer", "error_line", "json_line", "usage_json"]


class JsonRenderer(Renderer):
    """For scripts: one JSON object per line on stdout (the events, approvals, errors)."""

    def __init__(self, *, stdin: TextIO, stdout: TextIO, err: Console, verbose: bool) -> None:
        super().__init__(stdin=stdin, err=err, verbose=verbose)
        self.stdout = stdout

    def _line(self, data: dict[str, Any]) -> None:
        self.stdout.write(json_line(data) + "\n")
        self.stdout.flush()

    def _show(self, event: Event) -> None:
        line = event_to_dict(event)
        if isinstance(event, ModelReplyFinished):
            made = [c for c in event.message.tool_calls if c.name != self.hidden_tool]
            line["usage"] = {**usage_json(event.usage), "tool_calls": len(made)}
        elif isinstance(event, RunFinished):
            line["usage"] = usage_json(event.result.usage)
            line["offline"] = self.offline
            line.update(finish_reason=event.result.finish_reason, truncated=event.result.truncated)
        self._line(line)

    def approve(self, call: ToolCall) -> bool:
        request = event_to_dict(ToolCallStarted(call))
        self._line({**request, "type": "approval_requested"})
        if not isatty(self.stdin):
            self.err.print(Text(FROM_STDIN, style="dim"))
        answer = read_line(self.stdin)
        self._check_leave(answer)
        approved = approves(answer)
        self._line({"type": "approval_answered", "id": call.id, "approved": approved})
        return approved

    def usage(self, usage: Usage, scope: str = "") -> None:
        self._line({"type": "usage", **usage_json(usage), **({"scope": scope} if scope else {})})

    def tools(self, tools: Iterable[Tool]) -> None:
        self._line({"type": "tools", "tools": [t.definition() for t in tools]})

    def info(self, text: str) -> None:
        self._line({"type": "info", "message": text})

    def error(self, exc: BaseException, code: int) -> None:
        super().error(exc, code)
        self._line(error_line(exc, code))

    def cancelled(self) -> None:
        self._line({"type": "cancelled"})


def usage_json(usage: Usage) -> dict[str, Any]:
    """`usage.to_dict()`, with the token counts `null` when the server reported none."""
    data = usage.to_dict()
    if not usage.total_tokens:
        data.update(prompt_tokens=None, completion_tokens=None, total_tokens=None)
    return data


def error_line(exc: BaseException, code: int, message: str | None = None) -> dict[str, Any]:
    """The `--json` line that ends the output of a command that failed."""
    line: dict[str, Any] = {
        "type": "error",
        "error": type(exc).__name__,
        "message": str(exc) if message is None else message,
        "exit_code": code,
    }
    if isinstance(exc, ModelError):
        line.update(status=exc.status, endpoint=exc.endpoint)
    return line


def json_line(data: dict[str, Any]) -> str:
    """One `--json` line; ensure_ascii: control characters travel as \\u escapes, never raw."""
    return json.dumps(data, default=to_jsonable_python)
