"""HTML to readable text for `http_fetch`: the page's title and text, links kept as URLs.

A helper of `http_fetch.py`, not a tool module. It holds:

- `html_to_text(html, base)`: the title and the text of a page, reduced with the standard
  library's `html.parser`: scripts, styles and other non-text elements dropped, block
  elements on lines of their own, list items as `- `, whitespace collapsed, and each link's
  target in parentheses after its text (only http and https targets, made absolute);
- `meta_charset(body)`: the charset a page declares in a `<meta>` tag, if any.

Security role: the page is untrusted input read as data only. Nothing here runs, fetches or
follows anything: scripts are dropped unread and `javascript:` and other non-http links are
left out of the text.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

_SKIPPED = frozenset({"script", "style", "noscript", "template", "svg", "iframe", "object"})
_BLOCKS = frozenset(
    {"address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "fieldset"}
    | {"figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header"}
    | {"hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "thead", "tr"}
    | {"ul"}
)


class _TextExtractor(HTMLParser):
    """Readable text of an HTML page: no scripts or styles; links as `text (url)`."""

    def __init__(self, base: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base = base
        self.parts: list[str] = []
        self.title: list[str] = []
        self.skipping = 0
        self.in_title = False
        self.links: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self.skipping += 1
        elif tag == "title":
            self.in_title = True
        elif tag == "a":
            self.links.append(_link(self.base, dict(attrs).get("href")))
        elif tag in _BLOCKS:
            self.parts.append("\n- " if tag == "li" else "\n")
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self.skipping = max(self.skipping - 1, 0)
        elif tag == "title":
            self.in_title = False
        elif tag == "a" and self.links:
            href = self.links.pop()
            if href is not None:
                self.parts.append(f" ({href})")
        elif tag in _BLOCKS and tag != "li":
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        (self.title if self.in_title else self.parts).append(data)


def _link(base: str, href: str | None) -> str | None:
    if not href:
        return None
    absolute = urljoin(base, href.strip())
    return absolute if urlsplit(absolute).scheme in ("http", "https") else None


def _collapse(text: str) -> str:
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_to_text(html: str, base: str) -> tuple[str, str]:
    """The title and the readable text of an HTML page."""
    parser = _TextExtractor(base)
    parser.feed(html)
    parser.close()
    return _collapse("".join(parser.title)), _collapse("".join(parser.parts))


def meta_charset(body: bytes) -> str | None:
    """The charset named by a `<meta>` tag in the first 4096 bytes, or None."""
    found = re.search(rb"<meta[^>]+charset=[\"']?([A-Za-z0-9_.:-]+)", body[:4096], re.I)
    return found.group(1).decode("ascii") if found else None
