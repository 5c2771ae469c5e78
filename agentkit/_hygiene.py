"""Text hygiene for anything that leaves agentkit: control sequences, surrogates, secrets.

Secrets are redacted whole and in pieces: any stretch of at least `MIN_FRAGMENT` characters
of a secret becomes `***`, so reading a file from an offset, or an error cut at a length,
cannot show most of a key. Llama special tokens in text from tools are made inert
(`neutral_special_tokens`), so a fetched page cannot forge a turn of the conversation.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

__all__ = [
    "LONE_SURROGATE",
    "MIN_FRAGMENT",
    "StreamRedactor",
    "clean_text",
    "error_text",
    "neutral_special_tokens",
    "redact",
]

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
# `<|eot_id|>`, `<|start_header_id|>`, `<|python_tag|>`, `<|reserved_special_token_3|>` and
# the like: servers that tokenize special tokens in message text would read them as the
# conversation's structure. Written as `<eot_id>` they are plain text.
_SPECIAL_TOKEN = re.compile(r"<\|([A-Za-z0-9_]{1,64})\|>")

# The shortest piece of a secret that is redacted on its own (a whole secret always is): a
# shorter one leaves too much of a key unknown to be of use, and is common in other text.
MIN_FRAGMENT = 8


def clean_text(text: str) -> str:
    """Remove terminal escape sequences and control characters (tabs and newlines stay).

    Lone surrogates become U+FFFD, so the text can always be encoded as UTF-8.
    """
    if text.isprintable():
        return text
    return LONE_SURROGATE.sub("\ufffd", _CONTROL.sub("", text))


def neutral_special_tokens(text: str) -> str:
    """`<|eot_id|>` and every other `<|name|>` special token written as `<name>`."""
    return _SPECIAL_TOKEN.sub(r"<\1>", text) if "<|" in text else text


def error_text(exc: BaseException) -> str:
    """`TypeName: message` for an exception (the type alone without a message); no traceback."""
    try:
        message = str(exc).strip()
    except Exception:  # a broken __str__ must not break the run
        message = ""
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


@functools.lru_cache(maxsize=64)
def _pieces(secret: str) -> tuple[int, tuple[str, ...], tuple[str, ...]]:
    """The length of the pieces to look for, each distinct piece, and the anchors.

    Every piece holds one of the anchors (the secret's stretches half a piece long that
    start at a multiple of their length): text without any anchor holds no piece, which is
    cheaper to learn (a search per anchor, a quarter of the pieces' count, instead of one
    per piece; bench_redaction.py measures it).
    """
    size = min(len(secret), MIN_FRAGMENT)
    pieces = tuple(dict.fromkeys(secret[i : i + size] for i in range(len(secret) - size + 1)))
    step = max(size // 2, 1)
    anchors = tuple(
        dict.fromkeys(secret[i : i + step] for i in range(0, len(secret) - step + 1, step))
    )
    return size, pieces, anchors


def _spans(text: str, secrets: Iterable[str]) -> list[tuple[int, int]]:
    """The stretches of `text` made of pieces of the secrets, merged when they touch."""
    found: list[tuple[int, int]] = []
    for secret in secrets:
        if not secret:
            continue
        size, pieces, anchors = _pieces(secret)
        if not any(anchor in text for anchor in anchors):
            continue
        for piece in pieces:
            at = text.find(piece)
            while at != -1:
                found.append((at, at + size))
                at = text.find(piece, at + 1)
    if not found:
        return found
    found.sort()
    merged = [found[0]]
    for start, end in found[1:]:
        if start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _replaced(text: str, spans: list[tuple[int, int]]) -> str:
    out, pos = [], 0
    for start, end in spans:
        out += [text[pos:start], "***"]
        pos = end
    out.append(text[pos:])
    return "".join(out)


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret, and every piece of one `MIN_FRAGMENT` or more long, as `***`.

    Returns `text` itself (the same object) when it holds nothing to redact.
    """
    spans = _spans(text, secrets)
    return _replaced(text, spans) if spans else text


class StreamRedactor:
    """Redacts secrets from text that arrives in pieces, which may split a secret anywhere.

    The end of each piece that could still become, or extend, a piece of a secret is held
    until the next piece (or `finish`) shows what it is; what is released equals what
    `redact` makes of the whole text.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = tuple(s for s in secrets if s)
        self._held = ""
        # Text shorter than every piece holds none (most deltas, with what is held).
        self._shortest = min((min(len(s), MIN_FRAGMENT) for s in self.secrets), default=0)

    def feed(self, piece: str) -> str:
        """The text that can be released now, secrets replaced by `***`."""
        if not self.secrets:
            return piece
        text = self._held + piece
        spans = _spans(text, self.secrets) if len(text) >= self._shortest else []
        keep = max(_open_end(text, secret) for secret in self.secrets)
        cut = len(text) - keep
        # A stretch that reaches the cut may grow with the next piece, or merge with one there.
        while spans and spans[-1][1] >= cut:
            cut = min(cut, spans.pop()[0])
        self._held = text[cut:]
        return _replaced(text[:cut], spans) if spans else text[:cut]

    def finish(self) -> str:
        """The text still held, redacted: nothing more can follow it."""
        held, self._held = self._held, ""
        return redact(held, self.secrets)


def _open_end(text: str, secret: str) -> int:
    """The length of the longest end of `text`, shorter than a piece, found inside `secret`.

    Every end of an end found inside `secret` is inside it too: the first one that is not
    ends the search (usually at one or two characters).
    """
    size = min(len(secret), MIN_FRAGMENT)
    longest = 0
    for length in range(1, min(size - 1, len(text)) + 1):
        if text[-length:] not in secret:
            break
        longest = length
    return longest
