"""Streamed Markdown on a terminal: each finished block printed rendered, the rest live.

The answer streams in pieces, and Markdown cannot be rendered piece by piece (a `**` or a
code fence means nothing until its end arrives). The text is cut into blocks where a new
one surely starts: after a blank line, at a line that starts in the first column, outside a
code fence, or right after a closing fence. Finished blocks are printed once, rendered
(code highlighted); the unfinished last block is shown in a transient live area that is
replaced by its rendering when it ends. Links are shown with their address, never as
hidden terminal hyperlinks.
"""

from __future__ import annotations

import re

from rich.console import Console
from rich.live import Live
from rich.markdown import Markdown

__all__ = ["MarkdownStream", "render_markdown"]

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def render_markdown(text: str) -> Markdown:
    """The rich renderable of Markdown text (highlighted code, visible link addresses)."""
    return Markdown(text, code_theme="monokai", hyperlinks=False)


def split_blocks(text: str) -> tuple[list[str], str]:
    """(finished blocks, the unfinished rest) of Markdown text that is still arriving."""
    blocks: list[str] = []
    start = 0
    fence: str | None = None
    after_blank = False
    position = 0
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        complete = line.endswith("\n")
        stripped = line.strip()
        marker = _FENCE.match(line)
        starts_block = after_blank and line[:1] not in (" ", "\t", "\n")
        if fence is None and complete and starts_block and position > start:
            blocks.append(text[start:position])
            start = position
        if marker and complete:
            if fence is None:
                fence = marker.group(1)[0] * 3
            elif stripped.startswith(fence) and set(stripped) <= {fence[0]}:
                fence = None
                position += len(line)
                if index + 1 < len(lines):
                    blocks.append(text[start:position])
                    start = position
                after_blank = False
                continue
        after_blank = complete and not stripped
        position += len(line)
    return blocks, text[start:]


class MarkdownStream:
    """Markdown text fed as it streams, printed to `console` as rendered blocks."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.pending = ""
        self.live: Live | None = None

    def feed(self, text: str) -> None:
        """Add streamed text: print what became finished blocks, show the rest live."""
        self.pending += text
        blocks, self.pending = split_blocks(self.pending)
        if blocks:
            self._stop_live()
            for block in blocks:
                self._print(block)
        if self.pending.strip():
            if self.live is None:
                self.live = Live(
                    console=self.console,
                    auto_refresh=False,
                    transient=True,
                    vertical_overflow="ellipsis",
                )
                self.live.start()
            self.live.update(render_markdown(self.pending), refresh=True)

    def finish(self) -> None:
        """The reply ended (or is interrupted): render what is left."""
        self._stop_live()
        if self.pending.strip():
            self._print(self.pending)
        self.pending = ""

    def _print(self, block: str) -> None:
        if block.strip():
            self.console.print(render_markdown(block), soft_wrap=False)

    def _stop_live(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None
