"""`agentkit run` (one prompt) and `agentkit chat` (a conversation), over the renderers.

Each turn runs in its own event loop (`anyio.run`) and closes the model's connections at its
end; between turns the chat reads stdin synchronously, with `readline` line editing on a
terminal. Ctrl-C during a turn cancels that turn: the conversation goes on from before it.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence
from typing import Any

import anyio

from ._cli_load import Options, load_agent
from ._cli_render import ApprovalInterrupted, Renderer
from ._output import OUTPUT_TOOL_NAME
from .agent import Agent, RunResult
from .errors import AgentkitError, UserError
from .events import RunFinished
from .messages import Message

__all__ = ["ChatSession", "prepare", "run_once"]

CHAT_HELP = "/tools lists the tools, /usage shows what the session used, /reset starts over, /exit"


def prepare(options: Options, renderer: Renderer) -> Agent[Any]:
    """Load the agent for the options, with the renderer's approval prompt, and say how."""
    loaded = load_agent(options, renderer.approve)
    for line in loaded.notices:
        renderer.notice(line)
    if loaded.agent.output is not None:
        renderer.hidden_tool = OUTPUT_TOOL_NAME
    return loaded.agent


async def _turn(
    agent: Agent[Any], prompt: str, messages: Sequence[Message] | None, renderer: Renderer
) -> RunResult[Any]:
    result: RunResult[Any] | None = None
    try:
        async for event in agent.stream(prompt, messages=messages):
            renderer.event(event)
            if isinstance(event, RunFinished):
                result = event.result
    finally:
        renderer.pause()
        with anyio.CancelScope(shield=True):
            await agent.aclose()  # its connections belong to this turn's event loop
    assert result is not None, "the run ended without a result"
    return result


def run_once(options: Options, prompt: str, renderer: Renderer) -> int:
    """Run the agent on one prompt; the exit status (errors propagate to the caller)."""
    agent = prepare(options, renderer)
    result = anyio.run(_turn, agent, prompt, None, renderer)
    if not options.json:
        renderer.usage(result.usage)
    return 0


class ChatSession:
    """A conversation with one agent: prompts from stdin, `/commands`, Ctrl-C per turn."""

    def __init__(self, options: Options, renderer: Renderer) -> None:
        self.options = options
        self.renderer = renderer
        self.agent = prepare(options, renderer)
        self.messages: list[Message] | None = None
        self.interactive = sys.stdin.isatty() and not options.json
        if self.interactive:
            # Line editing and history for input(); not on Windows, where input() still works.
            with contextlib.suppress(ImportError):
                import readline  # noqa: F401

    def run(self) -> int:
        """Read and answer prompts until /exit or the end of stdin; the exit status."""
        tools = ", ".join(self.agent.tools.names) or "none"
        self.renderer.info(f"chatting with {self.agent.model.name} (tools: {tools}). {CHAT_HELP}")
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
            self._ask(text)

    def _read(self) -> str | None:
        """The next line; None at the end of input. Ctrl-C at the prompt clears the line."""
        if not self.interactive:
            line = sys.stdin.readline()
            return line if line else None
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
        if command == "/tools":
            self.renderer.tools(self.agent.tools)
        elif command == "/usage":
            self.renderer.usage(self.renderer.session_usage)
        elif command == "/reset":
            self.messages = None
            self.renderer.info("the conversation was reset")
        else:
            self.renderer.info(f"unknown command {command!r}: {CHAT_HELP}")
        return False

    def _ask(self, prompt: str) -> None:
        try:
            result = anyio.run(_turn, self.agent, prompt, self.messages, self.renderer)
        except (KeyboardInterrupt, ApprovalInterrupted):
            self.renderer.cancelled()
            self.renderer.info("(the cancelled turn is not part of the conversation)")
            return
        except UserError:
            raise
        except AgentkitError as exc:
            self.renderer.error(exc, 1)
            return
        self.messages = result.messages
