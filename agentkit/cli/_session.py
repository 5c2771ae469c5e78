"""`agentkit run` (one prompt) and `agentkit chat` (a conversation), over the renderers.

Each turn runs in its own event loop (`anyio.run`) and closes the model's connections at its
end; between turns the chat reads stdin synchronously: on a terminal through prompt_toolkit
(`_prompt`: a paste is one message, `/multiline`, history across sessions, completion of the
commands). Ctrl-C during a turn cancels that turn: the conversation goes on from before it.
`/exit` typed at an approval prompt leaves the chat.
A sync tool still running in its worker thread is abandoned (threads cannot be stopped): the
next turn does not wait for it, and `cli` leaves without joining it.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
from anyio.abc import TaskStatus

from agentkit._loop.output import OUTPUT_TOOL_NAME
from agentkit.agent import Agent, RunResult
from agentkit.cli._load import Options, load_agent
from agentkit.cli._mcp import hosted_agent
from agentkit.cli._observe import observe
from agentkit.cli._render import ApprovalInterrupted, LeaveRequested, Renderer
from agentkit.cli._status import EXIT_OFFLINE
from agentkit.errors import AgentkitError, UserError
from agentkit.events import RunFinished
from agentkit.messages import Message
from agentkit.models.offline import OfflineModel

if TYPE_CHECKING:
    from agentkit.cli._stored import Conversation

__all__ = ["ChatSession", "prepare", "run_once"]

T = TypeVar("T")

CHAT_HELP = "/help lists the commands; /exit (or Ctrl-D) leaves"
COMMANDS = (
    ("/help", "this list"),
    ("/tools", "the agent's tools"),
    ("/usage", "requests, tokens, tool calls and cost of the whole session (across /reset)"),
    ("/reset", "start a new conversation (the session's usage keeps counting)"),
    ("/multiline", "Enter adds a line, Alt-Enter (or Esc, Enter) sends; again to switch back"),
    ("/session", "the stored session; /session NAME switches to another (resumed or new)"),
    ("/exit", "leave (also /quit, or Ctrl-D); Ctrl-C cancels only the current answer"),
)
EXIT_WORDS = frozenset({"/exit", "/quit"})
SESSION = "whole session"


def prepare(options: Options, renderer: Renderer) -> Agent[Any]:
    """Load the agent for the options, with the renderer's approval prompt, and say how."""
    loaded = load_agent(options, renderer.approve)
    renderer.offline = isinstance(loaded.agent.model, OfflineModel)
    renderer.auto_offline = loaded.auto_offline
    for line in loaded.notices:
        renderer.notice(line)
    if loaded.agent.output_type not in (None, str):
        renderer.hidden_tool = OUTPUT_TOOL_NAME
    agent = observe(loaded.agent, options, renderer)  # --trace, --otel, sub-agents' calls
    return hosted_agent(agent, options, renderer)  # --mcp; servers on the command's host


def _watch_signals() -> bool:
    """Whether Ctrl-C can be watched from inside the event loop (the main thread, not Windows)."""
    return sys.platform != "win32" and threading.current_thread() is threading.main_thread()


async def _until_interrupted(work: Callable[[], Awaitable[T]]) -> T:
    """`work()`; Ctrl-C cancels it, and raises KeyboardInterrupt once it has unwound.

    asyncio's own Ctrl-C handling cancels the main task natively, which code inside the run
    can take for a cancellation of its own; an anyio cancel scope is unambiguous, and a sync
    tool's thread is abandoned at once instead of being waited for.
    """
    if not _watch_signals():
        return await work()
    scope = anyio.CancelScope()
    interrupted = False
    outcome: list[T] = []
    error: list[BaseException] = []

    async def watch(*, task_status: TaskStatus[None]) -> None:
        nonlocal interrupted
        with anyio.open_signal_receiver(signal.SIGINT) as signals:
            task_status.started()
            async for _ in signals:
                interrupted = True
                scope.cancel()

    async def guarded() -> None:
        # Outside the task group's own body, so an error is not wrapped in an ExceptionGroup.
        try:
            with scope:
                outcome.append(await work())
        except BaseException as exc:  # re-raised below, after the watcher stopped
            error.append(exc)

    async with anyio.create_task_group() as group:
        await group.start(watch)
        await guarded()
        group.cancel_scope.cancel()
    if interrupted:
        raise KeyboardInterrupt
    if error:
        raise error[0]
    return outcome[0]


def _run_turn(
    agent: Agent[Any],
    prompt: str,
    messages: Sequence[Message] | None,
    renderer: Renderer,
    stored: Conversation | None = None,
) -> RunResult[Any]:
    """One turn in its own event loop; KeyboardInterrupt when Ctrl-C cancelled it."""

    async def work() -> RunResult[Any]:
        return await _turn(agent, prompt, messages, renderer, stored)

    return anyio.run(_until_interrupted, work)


async def _turn(
    agent: Agent[Any],
    prompt: str,
    messages: Sequence[Message] | None,
    renderer: Renderer,
    stored: Conversation | None = None,
) -> RunResult[Any]:
    result: RunResult[Any] | None = None
    # A stored conversation is the session's (agentkit.cli._stored), not `messages`.
    history = {"messages": messages} if stored is None else stored.run_args()
    try:
        async for event in agent.stream(prompt, **history):
            renderer.event(event)
            if isinstance(event, RunFinished):
                result = event.result
    finally:
        renderer.pause()
        with anyio.CancelScope(shield=True):
            await agent.aclose()  # its connections belong to this turn's event loop
    assert result is not None, "the run ended without a result"
    return result


def run_once(
    options: Options, prompt: str, renderer: Renderer, stored: Conversation | None = None
) -> int:
    """Run the agent on one prompt; the exit status (errors propagate to the caller)."""
    agent = prepare(options, renderer)
    result = _run_turn(agent, prompt, None, renderer, stored)
    if not options.json:
        renderer.usage(result.usage)
    return EXIT_OFFLINE if renderer.auto_offline else 0


class ChatSession:
    """A conversation with one agent: prompts from stdin, `/commands`, Ctrl-C per turn."""

    def __init__(
        self, options: Options, renderer: Renderer, stored: Conversation | None = None
    ) -> None:
        self.options = options
        self.renderer = renderer
        self.agent = prepare(options, renderer)
        self.messages: list[Message] | None = None
        self.stored = stored  # the session the conversation is kept in
        self.interactive = sys.stdin.isatty() and not options.json
        renderer.leave_words = EXIT_WORDS
        self.reader: Any = None
        if self.interactive and sys.stdout.isatty():
            from agentkit.cli._prompt import LineReader

            self.reader = LineReader(COMMANDS)
        elif self.interactive:
            with contextlib.suppress(ImportError):
                import readline  # noqa: F401 - line editing for input()

    def run(self) -> int:
        """Read and answer prompts until /exit or the end of stdin; the exit status."""
        tools = ", ".join(self.agent.tools.names) or "none"
        self.renderer.info(f"chatting with {self.agent.model.name} (tools: {tools}). {CHAT_HELP}")
        if self.stored is not None:
            self.stored.greet(self.renderer)
        while True:
            line = self._read()
            if line is None:
                return 0
            text = line.strip()
            if not text:
                continue
            if text.startswith("/"):
                if self._command(text):
                    return 0
                continue
            if self._ask(text):
                return 0

    def _read(self) -> str | None:
        """The next line; None at the end of input. Ctrl-C at the prompt clears the line."""
        if not self.interactive:
            line = sys.stdin.readline()
            return line if line else None
        if self.reader is not None:
            self.renderer.pause()
            read: str | None = self.reader.read()
            return read
        while True:
            try:
                return input("> " if sys.stdout.isatty() else "")
            except KeyboardInterrupt:
                print(file=sys.stderr)
            except EOFError:
                print(file=sys.stderr)
                return None

    def _command(self, text: str) -> bool:
        """Run a /command; True when the session should end."""
        command = text.split()[0].lower()
        if command in ("/exit", "/quit"):
            return True
        if self.stored is not None and self.stored.command(text, self.renderer):
            return False  # /session, /reset
        if command == "/help":
            width = max(len(name) for name, _ in COMMANDS)
            lines = [f"{name.ljust(width)}  {what}" for name, what in COMMANDS]
            self.renderer.info("\n".join(["commands:", *lines]))
        elif command == "/tools":
            self.renderer.tools(self.agent.tools)
        elif command == "/usage":
            self.renderer.usage(self.renderer.session_usage, scope=SESSION)
        elif command == "/reset":
            self.messages = None
            self.renderer.info("the conversation was reset (/usage still counts the whole session)")
        elif command == "/multiline":
            on = self.reader.toggle_multiline() if self.reader is not None else False
            self.renderer.info(
                "multi-line input: Enter adds a line, Alt-Enter (or Esc, Enter) sends"
                if on
                else "single-line input: Enter sends, Alt-Enter adds a line"
                if self.reader is not None
                else "/multiline needs a terminal; from a pipe, each line is one message"
            )
        else:
            self.renderer.info(f"unknown command {command!r}: {CHAT_HELP}")
        return False

    def _ask(self, prompt: str) -> bool:
        """Answer one prompt; True when the user asked to leave (/exit at an approval)."""
        try:
            result = _run_turn(self.agent, prompt, self.messages, self.renderer, self.stored)
        except LeaveRequested:
            self.renderer.info("(left during the turn: it is not part of the conversation)")
            return True
        except (KeyboardInterrupt, ApprovalInterrupted):
            self.renderer.cancelled()
            self.renderer.info("(the cancelled turn is not part of the conversation)")
            return False
        except UserError:
            raise
        except AgentkitError as exc:
            # A database error says the way past it (--sessions-db, --no-store).
            self.renderer.error(exc if self.stored is None else self.stored.explain(exc), 1)
            return False
        self.messages = result.messages
        return False
