"""The chat's input line on a terminal: prompt_toolkit, with paste, multi-line and history.

- A paste is one message: the terminal's bracketed paste puts the pasted lines into the
  line being edited (newlines included); Enter then sends them together.
- Alt-Enter (or Esc, then Enter) adds a line; `/multiline` switches to a mode where Enter
  adds a line and Alt-Enter (or Esc, Enter) sends.
- History is kept across sessions in `chat_history_file()` (Up and Down, Ctrl-R to search).
- Slash commands complete with Tab.
Ctrl-C clears the line; Ctrl-D on an empty line leaves.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.filters import Condition
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

from agentkit import _env

__all__ = ["LineReader", "SlashCompleter", "chat_history_file"]


def chat_history_file() -> Path:
    """Where the chat keeps its input history: `$XDG_STATE_HOME/agentkit/chat_history`
    (`~/.local/state/agentkit/chat_history` by default)."""
    state = _env.setting("XDG_STATE_HOME")
    base = Path(state) if state else Path.home() / ".local" / "state"
    return base / "agentkit" / "chat_history"


class SlashCompleter(Completer):
    """Completes `/commands` at the start of the line."""

    def __init__(self, commands: Sequence[tuple[str, str]]) -> None:
        self.commands = list(commands)

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterator[Completion]:
        text = document.text_before_cursor
        if not text.startswith("/") or " " in text or "\n" in text:
            return
        for name, what in self.commands:
            if name.startswith(text.lower()):
                yield Completion(name, start_position=-len(text), display_meta=what)


def _history(path: Path) -> History:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
    except OSError:
        return InMemoryHistory()  # a read-only home: history for this session only
    return FileHistory(str(path))


class LineReader:
    """Reads one message at a time from the terminal."""

    def __init__(self, commands: Iterable[tuple[str, str]], history: Path | None = None) -> None:
        self.multiline = False
        bindings = KeyBindings()
        single = Condition(lambda: not self.multiline)

        @bindings.add("escape", "enter", filter=single)
        def _new_line(event: KeyPressEvent) -> None:
            event.current_buffer.insert_text("\n")

        self.session: PromptSession[str] = PromptSession(
            history=_history(history or chat_history_file()),
            completer=SlashCompleter(list(commands)),
            complete_while_typing=False,
            key_bindings=bindings,
            multiline=Condition(lambda: self.multiline),
            prompt_continuation=lambda width, line, wrapped: "… ".rjust(width),
            enable_open_in_editor=False,
        )

    def read(self) -> str | None:
        """The next message; None at Ctrl-D. Ctrl-C clears the line and asks again."""
        while True:
            try:
                return self.session.prompt("> " if not self.multiline else ">> ")
            except KeyboardInterrupt:
                continue
            except EOFError:
                return None

    def toggle_multiline(self) -> bool:
        """Switch multi-line mode; whether it is now on."""
        self.multiline = not self.multiline
        return self.multiline
