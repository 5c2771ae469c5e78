"""Fetch a public web page over http or https and return it as readable text.

Offers one tool, `http_fetch`. HTML is reduced to text by a tokenizer of its own, linear in
the page's size (`_html.py`: scripts and styles dropped, link targets kept after their text,
whitespace collapsed); plain text, JSON and XML come back as they are; other content types
are refused.

Security model (server-side request forgery): the model chooses the URL, so the tool must not
become a way into the machine's own network (localhost services, the LAN, cloud metadata at
169.254.169.254). For every hop, the first and each redirect:

- only `http` and `https` URLs; URLs with credentials (`user:pass@`) are refused, because
  credentials chosen by the model have no business being sent anywhere, and because `@` is
  the classic way to make two URL parsers disagree about the host;
- the host is read the way the C library reads it: numeric spellings such as `127.1`,
  `0x7f000001`, `2130706433` and `0177.0.0.1` are IPv4 addresses (never names to look up),
  and a host whose last label is numeric must be such an address;
- names are resolved once (`socket.getaddrinfo`) and every address must be public: global,
  not private, loopback, link-local, shared (100.64/10), multicast, reserved or unspecified;
  IPv6 forms that carry an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible,
  NAT64 `64:ff9b::/96`, 6to4 and Teredo) are unwrapped and the IPv4 address checked too;
- the connection goes to the vetted address itself (no second lookup, so DNS rebinding
  cannot swap the address), with the original Host header and TLS server name (SNI, and the
  certificate is checked against the name); environment proxies are not used;
- redirects are followed by hand, at most 5, each hop vetted as above; loops are reported.

Caps: 2,000,000 bytes read (then the text is marked as cut), 20,000 characters returned,
5 s to connect and 15 s in all per call, reading the page as text included (a watchdog
closes the socket at the deadline; the HTML reader, linear in the page's size, stops there).
Any URL, header or body the model or a server can give ends in a result or a `ModelRetry`.

The address checks are in `_netcheck.py` and the reduction of HTML to text in `_html.py`,
which this module loads; this module parses the URL, connects to the vetted address, follows
redirects, reads the body under the caps and reports the page.

`AGENTKIT_HTTP_ALLOW_PRIVATE=1` (read at each call) lifts the address check, for tests and
trusted local setups only. It is deliberately not a tool parameter: the model cannot set it.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote, urljoin, urlsplit

from agentkit import _env
from agentkit.errors import ModelRetry
from agentkit.tools import tool

from . import _html, _netcheck

_ALLOW_PRIVATE_ENV = "AGENTKIT_HTTP_ALLOW_PRIVATE"
_MAX_REDIRECTS = 5
_MAX_BYTES = 2_000_000
_MAX_CHARS = 20_000
_MAX_URL = 4096
_CONNECT_TIMEOUT = 5.0
_TOTAL_TIMEOUT = 15.0
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_HEADERS = {
    "User-Agent": "agentkit-http-fetch/0.1 (+https://github.com/agentkit)",
    "Accept": "text/html, text/plain;q=0.9, application/json;q=0.9, */*;q=0.1",
    "Accept-Encoding": "identity",
}
_TEXT_TYPES = frozenset(
    {"application/json", "application/xml", "application/xhtml+xml", "application/javascript"}
)


@tool
def http_fetch(url: str) -> str:
    """Fetch a public web page over http or https and return its text.

    HTML is reduced to readable text, with link targets in parentheses after the link text.
    Plain text, JSON and XML come back as they are; images, PDFs and other binary content
    are refused. Only public internet addresses can be fetched (not localhost or private
    networks). Redirects are followed (at most 5). At most 20,000 characters come back.

    Args:
        url: The absolute http:// or https:// address, e.g. "https://example.com/page".

    Returns:
        The final URL (and the redirects taken), the HTTP status, the content type, the
        page title when there is one, then the text, with a note when it was cut.
    """
    deadline = time.monotonic() + _TOTAL_TIMEOUT
    allow_private = (_env.setting(_ALLOW_PRIVATE_ENV) or "").strip().lower() in ("1", "true", "yes")
    hops = [url.strip()]
    while True:
        try:
            target = _parse(hops[-1])
            addresses = _netcheck.vetted(target.host, target.port, allow_private, _resolve)
            page = _fetch(target, addresses, deadline)
        except ModelRetry as exc:
            if len(hops) == 1:
                raise
            raise ModelRetry(
                f"{hops[0]} redirected to {hops[-1]}, which was not fetched: {exc.message}"
            ) from None
        if page.location is None:
            return _render(hops, page)
        _follow(hops, page.location)


# ---------------------------------------------------------------------------- URLs and redirects


@dataclass(frozen=True)
class _Target:
    url: str
    scheme: str
    host: str
    port: int
    path: str


def _parse(url: str) -> _Target:
    """The parts of an http(s) URL to connect to; ModelRetry when it cannot be fetched."""
    if not url:
        raise ModelRetry("`url` is empty: give an absolute http:// or https:// address.")
    if len(url) > _MAX_URL or any(
        c.isspace() or ord(c) < 32 or ord(c) == 127 or 0xD800 <= ord(c) <= 0xDFFF for c in url
    ):
        raise ModelRetry(
            f"{url[:100]!r} is not a usable URL: it is over {_MAX_URL} characters or holds "
            "spaces, control characters or lone surrogates. Percent-encode them (space is %20)."
        )
    try:
        parts = urlsplit(url)
        port_text = parts.port
    except ValueError as exc:  # an unclosed `[`, a port that is not a number, ...
        if "port" in str(exc).lower():
            raise ModelRetry(f"{url[:100]!r} has an invalid port; use a number 1-65535.") from None
        raise ModelRetry(f"{url[:100]!r} is not a valid URL ({exc}); fix it.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        shown = f"the {scheme}: scheme" if scheme else "a URL without http:// or https://"
        raise ModelRetry(
            f"{url[:100]!r} uses {shown}; only http and https URLs can be fetched. "
            "Give the full address, e.g. https://example.com/."
        )
    if "@" in parts.netloc:
        raise ModelRetry(
            f"{url[:100]!r} carries credentials (user:password@); they are refused. "
            "Fetch only public pages, without credentials in the URL."
        )
    port = port_text or (443 if scheme == "https" else 80)
    host = _netcheck.normalized_host(parts.hostname or "", url)
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    if parts.query:
        path += "?" + quote(parts.query, safe="/%:@!$&'()*+,;=-._~?")
    return _Target(url, scheme, host, port, path)


def _resolve(host: str, port: int) -> list[str]:
    """The addresses a name resolves to (a seam: tests replace it)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _follow(hops: list[str], location: str) -> None:
    """Append the next hop, or ModelRetry on a loop or too many redirects."""
    try:
        nxt = urljoin(hops[-1], location.strip())
    except ValueError:
        raise ModelRetry(
            f"{hops[-1]} redirected to {location[:100]!r}, which is not a valid URL."
        ) from None
    if nxt in hops:
        chain = " -> ".join([*hops, nxt])
        raise ModelRetry(f"redirect loop, not followed: {chain}. The page cannot be fetched.")
    if len(hops) > _MAX_REDIRECTS:
        raise ModelRetry(
            f"{hops[0]} redirected more than {_MAX_REDIRECTS} times; stopped at {hops[-1]}."
        )
    hops.append(nxt)


# ---------------------------------------------------------------------------- the request


def _open_socket(address: str, port: int, timeout: float) -> socket.socket:
    """A TCP connection to a vetted address (a seam: tests replace it)."""
    return socket.create_connection((address, port), timeout=timeout)


class _PinnedHTTP(http.client.HTTPConnection):
    """An HTTP connection to a fixed address; `host` is still sent as the Host header."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address
        self.connect_timeout = timeout
        self.raw: socket.socket | None = None

    def connect(self) -> None:
        self.raw = self.sock = _open_socket(self.address, self.port, self.connect_timeout)


class _PinnedHTTPS(_PinnedHTTP):
    """An HTTPS connection to a fixed address, with SNI and certificate checks for `host`."""

    default_port = 443

    def connect(self) -> None:
        self.raw = _open_socket(self.address, self.port, self.connect_timeout)
        context = ssl.create_default_context()
        self.sock = context.wrap_socket(self.raw, server_hostname=self.host)


@dataclass(frozen=True)
class _Page:
    status: int
    reason: str
    content_type: str
    location: str | None
    text: str
    title: str
    notes: tuple[str, ...]


@contextlib.contextmanager
def _watchdog(connection: _PinnedHTTP, deadline: float) -> Iterator[threading.Event]:
    """Shut the socket down at the deadline, whatever the request is waiting for.

    Yields the event set when it did.
    """
    fired = threading.Event()

    def abort() -> None:
        fired.set()
        if connection.raw is not None:
            with contextlib.suppress(OSError):
                connection.raw.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(max(deadline - time.monotonic(), 0.0), abort)
    timer.daemon = True
    timer.start()
    try:
        yield fired
    finally:
        timer.cancel()


def _connect(target: _Target, addresses: list[str], deadline: float) -> _PinnedHTTP:
    kind = _PinnedHTTPS if target.scheme == "https" else _PinnedHTTP
    problem: Exception | None = None
    for address in addresses:
        timeout = min(_CONNECT_TIMEOUT, max(deadline - time.monotonic(), 0.01))
        connection = kind(target.host, target.port, address, timeout)
        try:
            connection.connect()
        except (OSError, ssl.SSLError) as exc:
            connection.close()
            problem = exc
            continue
        # From here the watchdog enforces the deadline; a socket timeout firing first would
        # race it and lose the part of the page already read.
        if connection.sock is not None:
            connection.sock.settimeout(max(deadline - time.monotonic(), 0.0) + _CONNECT_TIMEOUT)
        return connection
    raise ModelRetry(f"could not connect to {target.host} port {target.port}: {problem}.")


def _fetch(target: _Target, addresses: list[str], deadline: float) -> _Page:
    connection = _connect(target, addresses, deadline)
    with contextlib.closing(connection), _watchdog(connection, deadline) as late:
        try:
            connection.request("GET", target.path, headers=_HEADERS)
            response = connection.getresponse()
            location = response.getheader("Location")
            if response.status in _REDIRECTS and location:
                return _Page(response.status, response.reason, "", location, "", "", ())
            return _read_page(target, response, late, deadline)
        except (OSError, http.client.HTTPException) as exc:
            if late.is_set() or time.monotonic() >= deadline:
                raise ModelRetry(
                    f"{target.url} did not answer within {_TOTAL_TIMEOUT:g} s."
                ) from None
            reason = str(exc) or type(exc).__name__
            raise ModelRetry(f"fetching {target.url} failed: {reason}.") from None


def _media_type(response: http.client.HTTPResponse) -> str:
    raw = response.getheader("Content-Type")
    return response.headers.get_content_type() if raw else ""


def _is_text(media_type: str) -> bool:
    return (
        media_type.startswith("text/")
        or media_type in _TEXT_TYPES
        or media_type.endswith(("+json", "+xml"))
    )


def _read_page(
    target: _Target, response: http.client.HTTPResponse, late: threading.Event, deadline: float
) -> _Page:
    media_type = _media_type(response)
    if media_type and not _is_text(media_type):
        size = response.getheader("Content-Length") or "unknown"
        raise ModelRetry(
            f"{target.url} is {media_type} (size {size} bytes), not text; http_fetch returns "
            "only HTML, plain text, JSON and XML. Do not fetch it again."
        )
    body, notes = _read_body(response, late)
    body, cut = _decompress(body, (response.getheader("Content-Encoding") or "").lower())
    notes += ["the decompressed body passed the size cap and was cut"] if cut else []
    if not media_type and b"\x00" in body[:4096]:
        raise ModelRetry(f"{target.url} sent binary content without a content type; refused.")
    charset = response.headers.get_content_charset() or _html.meta_charset(body) or "utf-8"
    try:
        text = body.decode(charset, errors="replace")
    except (LookupError, UnicodeError, TypeError):
        # Unknown, not a text encoding ("base64"), or one that refuses `replace` ("idna").
        text = body.decode("utf-8", errors="replace")
    title = ""
    if media_type in ("text/html", "application/xhtml+xml") or (
        not media_type and "<html" in text[:2000].lower()
    ):
        title, text, whole = _html.html_to_text(text, target.url, deadline)
        if not whole:
            notes.append(
                f"the time limit of {_TOTAL_TIMEOUT:g} s was reached while reading the page "
                "as text; only its start is shown"
            )
    return _Page(
        response.status, response.reason, media_type or "unknown", None, text, title, tuple(notes)
    )


def _read_body(
    response: http.client.HTTPResponse, late: threading.Event
) -> tuple[bytes, list[str]]:
    """The body up to the size cap, and notes on why it is cut (size or time)."""
    chunks: list[bytes] = []
    size = 0
    notes: list[str] = []
    while size <= _MAX_BYTES:
        try:
            # read1 hands over each piece as it arrives, so what came before a stall is kept.
            chunk = response.read1(min(65536, _MAX_BYTES + 1 - size))
        except (OSError, http.client.HTTPException):
            if not (late.is_set() and chunks):
                raise
            chunk = b""
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > _MAX_BYTES:
        notes.append(f"the page is over {_MAX_BYTES} bytes; only the start was read")
    elif late.is_set():
        notes.append(f"the time limit of {_TOTAL_TIMEOUT:g} s was reached; the page is cut")
    return b"".join(chunks)[:_MAX_BYTES], notes


def _decompress(body: bytes, encoding: str) -> tuple[bytes, bool]:
    if encoding in ("", "identity"):
        return body, False
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise ModelRetry(f"the server sent content encoded as {encoding!r}, which is not read.")
    inflater = zlib.decompressobj(31 if "gzip" in encoding else 15)
    try:
        data = inflater.decompress(body, _MAX_BYTES)
    except zlib.error:
        raise ModelRetry(f"the server sent broken {encoding} content.") from None
    return data, bool(inflater.unconsumed_tail)


def _render(hops: list[str], page: _Page) -> str:
    lines = [f"URL: {hops[-1]}"]
    if len(hops) > 1:
        lines.append(f"Redirected from: {' -> '.join(hops[:-1])}")
    lines.append(f"Status: {page.status} {page.reason}".rstrip())
    lines.append(f"Content-Type: {page.content_type}")
    if page.title:
        lines.append(f"Title: {page.title}")
    text = page.text
    notes = list(page.notes)
    if len(text) > _MAX_CHARS:
        notes.append(f"the text has {len(text)} characters; the first {_MAX_CHARS} are shown")
        text = text[:_MAX_CHARS]
    lines += ["", text or "(no text)"]
    lines += [f"[note: {note}]" for note in notes]
    return "\n".join(lines)
