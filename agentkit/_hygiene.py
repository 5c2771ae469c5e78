"""Text hygiene for anything that leaves agentkit: control sequences, surrogates, secrets."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["LONE_SURROGATE", "StreamRedactor", "clean_text", "error_text", "redact"]

# CSI/OSC escape sequences and C0/C1 controls other than tab and newline: they waste the
# model's tokens and could forge terminal output when results are shown.
_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor movement
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: titles, hyperlinks
    r"|\x1b.?"  # any other escape
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"  # C0 and C1 controls but tab and newline
)
# Lone surrogates (undecodable bytes of a file name, a `\ud800` escape in a reply): no UTF-8
# encoder accepts them, so they would break the next request.
LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Remove terminal escape sequences and control characters (tabs and newlines stay).

    Lone surrogates become U+FFFD, so the text can always be encoded as UTF-8.
    """
    if text.isprintable():
        return text
    return LONE_SURROGATE.sub("\ufffd", _CONTROL.sub("", text))


def error_text(exc: BaseException) -> str:
    """`TypeName: message` for an exception (the type alone without a message); no traceback."""
    try:
        message = str(exc).strip()
    except Exception:  # a broken __str__ must not break the run
        message = ""
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret replaced by `***`."""
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, "***")
    return text


class StreamRedactor:
    """Redacts secrets from text that arrives in pieces, which may split a secret anywhere.

    The end of each piece that could be the start of a secret is held until the next piece
    (or `finish`) shows whether it is one.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = tuple(s for s in secrets if s)
        self._held = ""

    def feed(self, piece: str) -> str:
        """The text that can be released now, secrets replaced by `***`."""
        if not self.secrets:
            return piece
        text = redact(self._held + piece, self.secrets)
        keep = max(_prefix_at_end(text, secret) for secret in self.secrets)
        self._held = text[len(text) - keep :] if keep else ""
        return text[: len(text) - keep]

    def finish(self) -> str:
        """The text still held: it did not become a secret."""
        held, self._held = self._held, ""
        return held


def _prefix_at_end(text: str, secret: str) -> int:
    """The length of the longest proper prefix of `secret` that `text` ends with."""
    first = secret[0]
    at = text.find(first, max(0, len(text) - len(secret) + 1))
    while at != -1:
        if secret.startswith(text[at:]):
            return len(text) - at
        at = text.find(first, at + 1)
    return 0
