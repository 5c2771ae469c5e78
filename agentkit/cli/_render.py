"""How the CLI shows a run: text for people (rich: dim tool calls, a spinner), or JSON lines.

Everything the model or a tool wrote is printed through `_text.clean` (no terminal
escapes, control characters or bidi overrides). Tool calls, notices, usage and errors go to
stderr; stdout carries only the answer (or, with `--json`, one JSON object per line), so it
can be piped. On a terminal the answer is rendered as Markdown (`_markdown`) unless
`--plain`; piped, it is the text as the model wrote it.

The `--json` renderer is in `_jsonlines`.

Approvals read one line from stdin: "y" or "yes" approves, anything else declines, and a
closed stdin (a script that gave no answer) declines. With `--json` the question is itself a
JSON line (`approval_requested`) and the answer is echoed as `approval_answered`. In the
chat, `/exit` (or `/quit`) as the answer leaves the chat (`LeaveRequested`).
"""

from __future__ import annotations

import json
import signal
import threading
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from pydantic_core import to_jsonable_python
from rich.console import Console
from rich.status import Status
from rich.text import Text

from agentkit.cli._markdown import MarkdownStream, render_markdown
from agentkit.cli._text import (
    LINE_CHARS,
    RESULT_LINES,
    StreamCleaner,
    arguments_lines,
    call_summary,
    clean,
    context_note,
    cut,
    format_usage,
    plural,
)
from agentkit.events import (
    AgentEvent,
    ContextTrimmed,
    Event,
    ModelReplyFinished,
    ModelRequestStarted,
    RunFinished,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
)
from agentkit.messages import ToolCall, Usage
from agentkit.tools import Tool

__all__ = [
    "ApprovalInterrupted",
    "LeaveRequested",
    "Renderer",
    "TextRenderer",
]


# The CLI has no flag for max_tokens: it is the agent's setting, so say where it is set.
CUT_OFF = (
    'warning: the answer was cut off at the token limit (finish_reason "length"); raise it '
    'in the agent file (Agent(..., model_settings={"max_tokens": 4096}), then agentkit run '
    "FILE) or in code (the same model_settings), or the server's own limit (llama-server -n)"
)


class ApprovalInterrupted(BaseException):
    """Ctrl-C while the user was asked to approve a tool call: the turn is cancelled.

    A BaseException, like the KeyboardInterrupt it stands for: the run treats an `Exception`
    from an approval callback as a failed check and goes on, which Ctrl-C must not be.
    """


class LeaveRequested(BaseException):
    """`/exit` typed at an approval prompt in the chat: the turn stops and the chat ends."""


@contextmanager
def _interruptible() -> Iterator[None]:
    """Let Ctrl-C interrupt a blocking read inside the event loop (asyncio only cancels)."""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if main else None
    if main:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    except KeyboardInterrupt:
        raise ApprovalInterrupted("cancelled while asking for approval") from None
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)


def read_line(stdin: TextIO) -> str | None:
    """One answer line without its newline; None when stdin is closed."""
    with _interruptible():
        line = stdin.readline()
    return line.rstrip("\r\n") if line else None


FROM_STDIN = "(stdin is not a terminal: the answer is read from its next line; y approves)"


def approves(answer: str | None) -> bool:
    return answer is not None and answer.strip().lower() in ("y", "yes")


def isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # replaced or closed streams
        return False


class Renderer(ABC):
    """What every output mode does with a run: events, approvals, notices, errors, usage."""

    def __init__(self, *, stdin: TextIO, err: Console, verbose: bool) -> None:
        self.stdin = stdin
        self.err = err
        self.verbose = verbose
        self.hidden_tool: str | None = None
        self.session_usage = Usage()
        self.offline = False  # the offline model answers
        self.auto_offline = False  # ... because nothing named an endpoint or a model
        self.leave_words: frozenset[str] = frozenset()  # answers that leave (the chat's /exit)
        self.exit_callbacks: list[Callable[[], object]] = []  # `on_exit`

    def _check_leave(self, answer: str | None) -> None:
        if answer is not None and answer.strip().lower() in self.leave_words:
            raise LeaveRequested(answer.strip())

    def event(self, event: Event) -> None:
        """Show one event of the run (and count what it used, a sub-agent's too)."""
        used = event.event if isinstance(event, AgentEvent) else event
        if isinstance(used, ModelReplyFinished):
            self.session_usage = self.session_usage + used.usage
        elif isinstance(used, ToolCallFinished) and used.call.name != self.hidden_tool:
            self.session_usage = self.session_usage + Usage(tool_calls=1)
        self._show(event)
        if isinstance(event, RunFinished) and event.result.truncated:
            self.notice(CUT_OFF)

    def on_exit(self, callback: Callable[[], object]) -> None:
        """Call `callback` when the command ends, however it ends (`--otel`'s flush)."""
        self.exit_callbacks.append(callback)

    @abstractmethod
    def _show(self, event: Event) -> None:
        """Print one event."""

    @abstractmethod
    def approve(self, call: ToolCall) -> bool:
        """Ask whether `call` may run (the agent's approval callback)."""

    def notice(self, text: str) -> None:
        """A line for the user on stderr."""
        self.pause()
        self.err.print(Text(clean(text), style="yellow"))

    def info(self, text: str) -> None:
        """A chat message from the CLI itself (not the model)."""
        self.notice(text)

    def usage(self, usage: Usage, scope: str = "") -> None:
        """Show what a run used, or with `scope` what it counts (the chat's whole session)."""
        self.pause()
        self.err.print(Text(format_usage(usage, scope), style="dim"))

    @abstractmethod
    def tools(self, tools: Iterable[Tool]) -> None:
        """List the agent's tools."""

    def error(self, exc: BaseException, code: int) -> None:
        """`error: ...` on stderr (with the traceback when verbose)."""
        self.pause()
        if self.verbose:
            self.err.print(Text(clean("".join(traceback.format_exception(exc))), style="dim"))
        message = clean(str(exc)) or type(exc).__name__
        self.err.print(Text("error: ", style="bold red") + Text(message))

    def cancelled(self) -> None:
        """The user pressed Ctrl-C during a run."""
        self.notice("cancelled")

    def pause(self) -> None:  # noqa: B027 - only the text renderer has anything to pause
        """Stop any spinner and end any open line, before other output or input."""


class TextRenderer(Renderer):
    """For people: the answer on stdout as it streams; tool calls dimmed on stderr."""

    def __init__(
        self,
        *,
        stdin: TextIO,
        out: Console,
        err: Console,
        verbose: bool,
        spinner: bool,
        markdown: bool = False,
    ) -> None:
        super().__init__(stdin=stdin, err=err, verbose=verbose)
        self.out = out
        self._status: Status | None = err.status("") if spinner else None
        self._line_open = False
        self._reply_text = False
        self._stream = StreamCleaner()
        self._markdown = MarkdownStream(out) if markdown else None

    def _spin(self, text: str) -> None:
        if self._status is not None:
            self._status.update(Text(text, style="dim"))
            self._status.start()

    def pause(self) -> None:
        if self._status is not None:
            self._status.stop()
        if self._markdown is not None:
            self._markdown.finish()
        if self._line_open:
            self.out.print()
            self._line_open = False

    def _show(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            self._text(event.text)
        elif isinstance(event, ModelRequestStarted):
            self._reply_text = False
            self._spin("waiting for the model…")
        elif isinstance(event, ModelReplyFinished):
            self._stream.finish()
            self.pause()
        elif isinstance(event, ToolCallStarted):
            self._call_started(event.call)
        elif isinstance(event, ToolCallFinished):
            self._call_finished(event)
        elif isinstance(event, RunFinished):
            self._finished(event.result.output)
        elif isinstance(event, ContextTrimmed):
            self.pause()
            self.err.print(Text(context_note(event), style="dim"))

    def _text(self, text: str) -> None:
        if self._status is not None:
            self._status.stop()
        text = self._stream.feed(text)
        if text and self._markdown is not None:
            self._markdown.feed(text)
            self._reply_text = True
        elif text:
            self.out.print(Text(text), end="")
            self._line_open = not text.endswith("\n")
            self._reply_text = True

    def _call_started(self, call: ToolCall) -> None:
        if call.name == self.hidden_tool and not self.verbose:
            return
        self.pause()
        if self.verbose:
            self.err.print(Text(f"→ {clean(call.name)}", style="dim"))
            for line in arguments_lines(call):
                self.err.print(Text(f"    {line}", style="dim"))
        else:
            self.err.print(Text(f"→ {call_summary(call)}", style="dim"))
        self._spin(f"running {clean(call.name)}…")

    def _call_finished(self, event: ToolCallFinished) -> None:
        if event.call.name == self.hidden_tool and not self.verbose:
            return
        self.pause()
        style = "red" if event.is_error else "dim"
        lines = clean(event.result).splitlines() or [""]
        head = f"← {clean(event.call.name)}{' (failed)' if event.is_error else ''}:"
        if len(lines) == 1 and (self.verbose or len(lines[0]) <= LINE_CHARS):
            self.err.print(Text(f"{head} {lines[0]}", style=style))
            return
        self.err.print(Text(head, style=style))
        shown = lines if self.verbose else lines[:RESULT_LINES]
        for line in shown:
            self.err.print(Text("    " + (line if self.verbose else cut(line, LINE_CHARS)), style))
        if len(lines) > len(shown):
            more = f"    … {plural(len(lines) - len(shown), 'more line')} (-v shows all)"
            self.err.print(Text(more, style="dim"))

    def _finished(self, output: Any) -> None:
        self.pause()
        if isinstance(output, str):
            if output and not self._reply_text and self._markdown is not None:
                self.out.print(render_markdown(clean(output)), soft_wrap=False)
            elif output and not self._reply_text:
                self.out.print(Text(clean(output)))
            return
        if hasattr(output, "model_dump_json"):
            text = output.model_dump_json(indent=2)
        else:
            text = json.dumps(to_jsonable_python(output), indent=2, ensure_ascii=False)
        self.out.print(Text(clean(text)))

    def approve(self, call: ToolCall) -> bool:
        self.pause()
        self.err.print(Text(f"approve a call of `{clean(call.name)}`?", style="bold yellow"))
        for line in arguments_lines(call):
            self.err.print(Text(f"    {line}"))
        if not isatty(self.stdin):
            self.err.print(Text(FROM_STDIN, style="dim"))
        self.err.print(Text("[y/N] ", style="bold yellow"), end="")
        try:
            answer = read_line(self.stdin)
        except ApprovalInterrupted:
            self.err.print()  # end the question's line before "cancelled"
            raise
        if answer is None:
            self.err.print(Text("(no answer on stdin: declined)", style="dim"))
        elif not isatty(self.stdin):
            self.err.print(Text(clean(answer)))  # a terminal echoes it; a pipe does not
        self._check_leave(answer)
        return approves(answer)

    def tools(self, tools: Iterable[Tool]) -> None:
        self.pause()
        listed = list(tools)
        if not listed:
            self.out.print(Text("(no tools)"))
        for tool in listed:
            summary = clean(tool.description).split("\n", 1)[0]
            flag = " (asks for approval)" if tool.requires_approval else ""
            self.out.print(Text(f"{tool.name}", style="bold") + Text(f"{flag}  {summary}"))

    def info(self, text: str) -> None:
        self.pause()
        self.err.print(Text(clean(text), style="dim"))
