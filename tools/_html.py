"""HTML to readable text for `http_fetch`: the page's title and text, links kept as URLs.

A helper of `http_fetch.py`, not a tool module. It holds:

- `html_to_text(html, base, deadline)`: the title and the text of a page: scripts, styles and
  other non-text elements dropped, block elements on lines of their own, list items as `- `,
  whitespace collapsed, and each link's target in parentheses after its text (only http and
  https targets, made absolute);
- `meta_charset(body)`: the charset a page declares in a `<meta>` tag, if any.

It reads the page with a tokenizer of its own, in one pass: each token is one match of a
regular expression that consumes every character it looks at (an unclosed comment, quote or
tag runs to the end of the page, as in browsers), so the time is linear in the size of the
page whatever it holds. (The standard library's `html.parser` takes quadratic time on some
pages, such as 300 KB of repeated `<!--`, and raises on others, such as a stray `<![`.) The
reading also stops at `deadline`, with what was read so far.

Security role: the page is untrusted input read as data only. Nothing here runs, fetches or
follows anything: scripts are dropped unread and `javascript:` and other non-http links are
left out of the text; no input makes it raise or take more than linear time.
"""

from __future__ import annotations

import html as _entities
import re
import time
from urllib.parse import urljoin, urlsplit

_SKIPPED = frozenset({"script", "style", "noscript", "template", "svg", "iframe", "object"})
# Elements whose content is raw text, up to their end tag: dropped (script, style) or kept.
_RAW_TEXT = frozenset({"script", "style", "title", "textarea", "xmp"})
_BLOCKS = frozenset(
    {"address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "fieldset"}
    | {"figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header"}
    | {"hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "thead", "tr"}
    | {"ul"}
)
# One token per match, each consuming all it scanned: possessive repeats never give back.
_TOKEN = re.compile(
    r"<!--.*?(?:-->|\Z)"  # a comment, closed or running to the end
    r"|<[!?][^>]*+>?"  # a doctype, CDATA section, processing instruction or bogus comment
    r"|</(?P<end>[A-Za-z][^\s/>]*+)[^>]*+>?"  # an end tag
    r"|<(?P<start>[A-Za-z][^\s/>]*+)(?P<attrs>(?:\"[^\"]*+\"?|'[^']*+'?|[^>\"'])*+)>?"
    r"|(?P<text>[^<]++|<)",
    re.DOTALL,
)
_ATTRIBUTE = re.compile(r"""([^\s"'=<>/]++)(?:\s*+=\s*+("[^"]*+"?|'[^']*+'?|[^\s>]*+))?""")
# Tokens read between two looks at the clock.
_CLOCK_EVERY = 512


class _Text:
    """The text and title gathered so far, and the state of the reading."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.parts: list[str] = []
        self.title: list[str] = []
        self.skipping = 0
        self.links: list[str | None] = []

    def start(self, tag: str, attrs: str) -> None:
        if tag in _SKIPPED:
            self.skipping += 1
        elif tag == "a":
            self.links.append(_link(self.base, _href(attrs)))
        elif tag in _BLOCKS:
            self.parts.append("\n- " if tag == "li" else "\n")
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def end(self, tag: str) -> None:
        if tag in _SKIPPED:
            self.skipping = max(self.skipping - 1, 0)
        elif tag == "a" and self.links:
            href = self.links.pop()
            if href is not None:
                self.parts.append(f" ({href})")
        elif tag in _BLOCKS and tag != "li":
            self.parts.append("\n")

    def data(self, text: str, *, title: bool = False) -> None:
        if title:
            self.title.append(_entities.unescape(text))
        elif not self.skipping:
            self.parts.append(_entities.unescape(text))


def _href(attrs: str) -> str | None:
    for match in _ATTRIBUTE.finditer(attrs):
        if match.group(1).lower() == "href":
            value = match.group(2) or ""
            if value[:1] in ("'", '"'):
                value = value[1:-1] if len(value) > 1 and value[-1] == value[0] else value[1:]
            return _entities.unescape(value)
    return None


def _link(base: str, href: str | None) -> str | None:
    if not href:
        return None
    try:
        absolute = urljoin(base, href.strip())
        return absolute if urlsplit(absolute).scheme in ("http", "https") else None
    except ValueError:  # e.g. an unclosed `[` in the host
        return None


def _collapse(text: str) -> str:
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _raw_end(tag: str) -> re.Pattern[str]:
    return re.compile(rf"</{tag}(?=[\s/>])|</{tag}\Z", re.IGNORECASE)


def html_to_text(html: str, base: str, deadline: float | None = None) -> tuple[str, str, bool]:
    """The title and the readable text of an HTML page, and whether all of it was read.

    Args:
        html: The page.
        base: Its URL, against which relative links are made absolute.
        deadline: A `time.monotonic()` time at which to stop reading (None: read it all).
    """
    out = _Text(base)
    pos, count, size = 0, 0, len(html)
    while pos < size:
        count += 1
        if deadline is not None and count % _CLOCK_EVERY == 1 and time.monotonic() > deadline:
            return _collapse("".join(out.title)), _collapse("".join(out.parts)), False
        match = _TOKEN.match(html, pos)
        assert match is not None  # the last alternative matches any character
        pos = match.end()
        if match.group("text") is not None:
            out.data(match.group("text"))
        elif match.group("end") is not None:
            out.end(match.group("end").lower())
        elif match.group("start") is not None:
            tag = match.group("start").lower()
            out.start(tag, match.group("attrs"))
            if tag in _RAW_TEXT and not match.group(0).endswith("/>"):
                closing = _raw_end(tag).search(html, pos)
                stop = closing.start() if closing else size
                if tag not in ("script", "style"):
                    out.data(html[pos:stop], title=tag == "title")
                pos = stop
    return _collapse("".join(out.title)), _collapse("".join(out.parts)), True


def meta_charset(body: bytes) -> str | None:
    """The charset named by a `<meta>` tag in the first 4096 bytes, or None."""
    found = re.search(rb"<meta[^>]{1,512}?charset=[\"']?([A-Za-z0-9_.:-]+)", body[:4096], re.I)
    return found.group(1).decode("ascii") if found else None
