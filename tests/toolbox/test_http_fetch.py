"""The `http_fetch` tool against a local server, and its refusals of everything not public.

Nothing here leaves 127.0.0.1: where a test needs a "public" host, the module's resolver and
socket seams are replaced, so `public.example` resolves to a public address (93.184.216.34)
whose connections are delivered to the local server, and any other connection fails the test.
"""

from __future__ import annotations

import gzip
import socket
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from agentkit import ModelRetry, Tool
from agentkit.tools import load_tools

PUBLIC_IP = "93.184.216.34"
PAGE = b"""<!doctype html>
<html><head><title>The  Title &amp; more</title>
<style>body { color: red }</style><script>var secret = "do not show";</script></head>
<body><h1>Heading</h1>
<p>First   paragraph with a <a href="/next?x=1">relative link</a> and
<a href="javascript:alert(1)">a script link</a>.</p>
<ul><li>one</li><li>two</li></ul><noscript>enable js</noscript>
<p>caf&eacute; &lt;tag&gt;</p></body></html>"""
BIG = 3_000_000
LONG = 50_000


class Handler(BaseHTTPRequestHandler):
    """Routes for the tests; records the Host header of every request."""

    server: LocalServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.hosts.append(self.headers.get("Host", ""))
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        route = ROUTES.get(parts.path)
        if route is None:
            self.send(404, "text/html", b"<html><body><p>Nothing here</p></body></html>")
        else:
            route(self, query)

    def send(self, status: int, kind: str | None, body: bytes, **headers: str) -> None:
        self.send_response(status)
        if kind is not None:
            self.send_header("Content-Type", kind)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, location: str) -> None:
        self.send(302, "text/plain", b"moved", Location=location)


def _chain(h: Handler, q: dict[str, str]) -> None:
    left = int(q["n"])
    if left:
        h.redirect(f"/chain?n={left - 1}")
    else:
        h.send(200, "text/plain", b"end of the chain")


def _slow(h: Handler, q: dict[str, str]) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "text/plain")
    h.end_headers()
    h.wfile.write(b"partial ")
    h.wfile.flush()
    h.server.release.wait(5)


def _hang(h: Handler, q: dict[str, str]) -> None:
    h.server.release.wait(5)


# Pages that kept `html.parser` busy for a minute (quadratic), or made it raise.
HOSTILE = {
    "unclosed-comments": b"<html>" + b"<!--" * 80_000,
    "cdata-openers": b"<html><p>before</p>" + b"<![" * 100_000,
    "unclosed-quotes": b"<html>" + b'<a x="' * 50_000,
    "end-tag-openers": b"<html>" + b"</" * 150_000,
    "unclosed-tags": b"<html>" + b"<a " * 100_000,
    "script-openers": b"<html>" + b"<script>" * 40_000,
    "bogus-markup": b"<html><p>text</p><![if x]><?php ?><!doctype><//a><a href='http://[::1'>x</a>",
}


ROUTES: dict[str, Callable[[Handler, dict[str, str]], None]] = {
    "/hostile": lambda h, q: h.send(200, "text/html", HOSTILE[q["kind"]]),
    "/idna-charset": lambda h, q: h.send(200, "text/plain; charset=idna", b"\xff\xfe broken"),
    "/text": lambda h, q: h.send(200, "text/plain; charset=utf-8", "hello plain ✓".encode()),
    "/latin1": lambda h, q: h.send(200, "text/plain; charset=iso-8859-1", "café".encode("latin-1")),
    "/html": lambda h, q: h.send(200, "text/html; charset=utf-8", PAGE),
    "/json": lambda h, q: h.send(200, "application/json", b'{"answer": 42}'),
    "/feed": lambda h, q: h.send(200, "application/rss+xml", b"<rss><title>t</title></rss>"),
    "/big": lambda h, q: h.send(200, "text/plain", b"a" * BIG),
    "/long": lambda h, q: h.send(200, "text/plain", b"b" * LONG),
    "/image": lambda h, q: h.send(200, "image/png", b"\x89PNG\r\n\x1a\n" + b"\0" * 100),
    "/pdf": lambda h, q: h.send(200, "application/pdf", b"%PDF-1.4"),
    "/untyped-binary": lambda h, q: h.send(200, None, b"\0\1\2\3" * 10),
    "/untyped-text": lambda h, q: h.send(200, None, b"just words"),
    "/gzip": lambda h, q: h.send(
        200, "text/plain", gzip.compress(b"unzipped text"), Content_Encoding="gzip"
    ),
    "/brotli": lambda h, q: h.send(200, "text/plain", b"xx", Content_Encoding="br"),
    "/redirect": lambda h, q: h.redirect(q["to"]),
    "/loop-a": lambda h, q: h.redirect("/loop-b"),
    "/loop-b": lambda h, q: h.redirect("/loop-a"),
    "/chain": _chain,
    "/slow": _slow,
    "/hang": _hang,
}


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.hosts: list[str] = []
        self.release = threading.Event()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    local = LocalServer()
    thread = threading.Thread(target=local.serve_forever, daemon=True)
    thread.start()
    yield local
    local.release.set()
    local.shutdown()
    local.server_close()


@pytest.fixture(scope="module")
def tool() -> Tool:
    tools = {t.name: t for t in load_tools("http_fetch")}
    return tools["http_fetch"]


@pytest.fixture(scope="module")
def module(tool: Tool) -> types.ModuleType:
    return sys.modules[tool.function.__module__]


@pytest.fixture
def allow_private(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTKIT_HTTP_ALLOW_PRIVATE", "1")


class FakeNetwork:
    """Names resolve from a table; only connections to PUBLIC_IP happen (to the local server)."""

    def __init__(self, server: LocalServer) -> None:
        self.server = server
        self.names = {
            "public.example": [PUBLIC_IP],
            "internal.example": ["10.0.0.5"],
            "mixed.example": [PUBLIC_IP, "127.0.0.1"],
            "mapped.example": ["::ffff:169.254.169.254"],
            "sitelocal.example": ["fec0::1"],
            "localhost": ["127.0.0.1", "::1"],
        }
        self.lookups: list[str] = []
        self.dialed: list[tuple[str, int]] = []

    def resolve(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        if host not in self.names:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.names[host]

    def open_socket(self, address: str, port: int, timeout: float) -> socket.socket:
        self.dialed.append((address, port))
        assert address == PUBLIC_IP, f"the tool tried to connect to {address}"
        return socket.create_connection(("127.0.0.1", self.server.server_port), timeout=timeout)


@pytest.fixture
def network(
    module: types.ModuleType, server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> FakeNetwork:
    monkeypatch.delenv("AGENTKIT_HTTP_ALLOW_PRIVATE", raising=False)
    fake = FakeNetwork(server)
    monkeypatch.setattr(module, "_resolve", fake.resolve)
    monkeypatch.setattr(module, "_open_socket", fake.open_socket)
    return fake


def fetch(tool: Tool, url: str) -> str:
    result = tool.invoke(tool.validate({"url": url}), None)
    assert isinstance(result, str)
    return result


def body_of(result: str) -> str:
    return result.split("\n\n", 1)[1]


def test_loads_without_an_allow_private_parameter(tool: Tool) -> None:
    assert tool.name == "http_fetch"
    assert tool.requires_approval is False
    properties = tool.parameters["properties"]
    assert set(properties) == {"url"}
    assert all(p.get("description") for p in properties.values())


# ---------------------------------------------------------------------------- allowed fetches


def test_plain_text(tool: Tool, server: LocalServer, allow_private: None) -> None:
    result = fetch(tool, server.base + "/text")
    assert result.startswith(f"URL: {server.base}/text\nStatus: 200 OK\nContent-Type: text/plain")
    assert body_of(result) == "hello plain ✓"


def test_charset_from_the_content_type(
    tool: Tool, server: LocalServer, allow_private: None
) -> None:
    assert body_of(fetch(tool, server.base + "/latin1")) == "café"


def test_html_is_reduced_to_readable_text(
    tool: Tool, server: LocalServer, allow_private: None
) -> None:
    result = fetch(tool, server.base + "/html")
    assert "Title: The Title & more" in result
    text = body_of(result)
    assert "Heading" in text
    assert f"First paragraph with a relative link ({server.base}/next?x=1) and" in text
    assert "a script link." in text
    assert "javascript:" not in text
    assert "- one\n- two" in text
    assert "café <tag>" in text
    for hidden in ("color: red", "do not show", "enable js", "<p>", "The Title"):
        assert hidden not in text


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/json", '{"answer": 42}'), ("/feed", "<rss><title>t</title></rss>")],
)
def test_json_and_xml_come_back_as_they_are(
    tool: Tool, server: LocalServer, allow_private: None, path: str, expected: str
) -> None:
    assert body_of(fetch(tool, server.base + path)) == expected


def test_untyped_text_is_accepted(tool: Tool, server: LocalServer, allow_private: None) -> None:
    assert body_of(fetch(tool, server.base + "/untyped-text")) == "just words"


def test_gzip_is_decoded(tool: Tool, server: LocalServer, allow_private: None) -> None:
    assert body_of(fetch(tool, server.base + "/gzip")) == "unzipped text"


def test_size_cap_stops_reading(
    tool: Tool, server: LocalServer, allow_private: None, module: types.ModuleType
) -> None:
    result = fetch(tool, server.base + "/big")
    assert f"[note: the page is over {module._MAX_BYTES} bytes; only the start was read]" in result
    assert "the first 20000 are shown" in result
    assert len(result) < module._MAX_CHARS + 1000


def test_long_text_is_cut_for_the_model(
    tool: Tool, server: LocalServer, allow_private: None
) -> None:
    result = fetch(tool, server.base + "/long")
    assert f"[note: the text has {LONG} characters; the first 20000 are shown]" in result


def test_error_status_is_shown_with_the_page(
    tool: Tool, server: LocalServer, allow_private: None
) -> None:
    result = fetch(tool, server.base + "/missing")
    assert "Status: 404 Not Found" in result
    assert "Nothing here" in result


def test_relative_redirect_is_followed(
    tool: Tool, server: LocalServer, allow_private: None
) -> None:
    result = fetch(tool, server.base + "/redirect?to=/text")
    assert result.startswith(f"URL: {server.base}/text\nRedirected from: {server.base}/redirect")
    assert body_of(result) == "hello plain ✓"


def test_five_redirects_are_followed(tool: Tool, server: LocalServer, allow_private: None) -> None:
    assert body_of(fetch(tool, server.base + "/chain?n=5")) == "end of the chain"


def test_a_sixth_redirect_is_not(tool: Tool, server: LocalServer, allow_private: None) -> None:
    with pytest.raises(ModelRetry, match="redirected more than 5 times"):
        fetch(tool, server.base + "/chain?n=6")


def test_redirect_loop_is_reported(tool: Tool, server: LocalServer, allow_private: None) -> None:
    with pytest.raises(ModelRetry, match="redirect loop") as caught:
        fetch(tool, server.base + "/loop-a")
    assert "/loop-a -> " in caught.value.message


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("ftp://example.com/file", "ftp: scheme"),
        ("file:///etc/passwd", "file: scheme"),
        ("gopher://example.com/", "gopher: scheme"),
        ("http://user:pass@example.com/", "credentials"),
    ],
)
def test_redirects_to_other_schemes_or_credentials_are_refused(
    tool: Tool, server: LocalServer, allow_private: None, target: str, expected: str
) -> None:
    with pytest.raises(ModelRetry, match=expected) as caught:
        fetch(tool, f"{server.base}/redirect?to={target}")
    assert "redirected to" in caught.value.message


@pytest.mark.parametrize(("path", "kind"), [("/image", "image/png"), ("/pdf", "application/pdf")])
def test_binary_content_is_refused(
    tool: Tool, server: LocalServer, allow_private: None, path: str, kind: str
) -> None:
    with pytest.raises(ModelRetry, match=f"is {kind}.*not text"):
        fetch(tool, server.base + path)


def test_untyped_binary_content_is_refused(
    tool: Tool, server: LocalServer, allow_private: None
) -> None:
    with pytest.raises(ModelRetry, match="binary content"):
        fetch(tool, server.base + "/untyped-binary")


def test_unknown_content_encoding_is_refused(
    tool: Tool, server: LocalServer, allow_private: None
) -> None:
    with pytest.raises(ModelRetry, match="'br'"):
        fetch(tool, server.base + "/brotli")


@pytest.mark.slow
def test_slow_server_hits_the_time_limit(
    tool: Tool,
    server: LocalServer,
    allow_private: None,
    module: types.ModuleType,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(module, "_TOTAL_TIMEOUT", 1.0)
    result = fetch(tool, server.base + "/slow")
    assert body_of(result).startswith("partial")
    assert "[note: the time limit of 1 s was reached; the page is cut]" in result


@pytest.mark.slow
def test_silent_server_hits_the_time_limit(
    tool: Tool,
    server: LocalServer,
    allow_private: None,
    module: types.ModuleType,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(module, "_TOTAL_TIMEOUT", 1.0)
    with pytest.raises(ModelRetry, match="did not answer within 1 s"):
        fetch(tool, server.base + "/hang")


def test_closed_port_is_reported(tool: Tool, allow_private: None) -> None:
    unused = socket.socket()
    unused.bind(("127.0.0.1", 0))
    port = unused.getsockname()[1]
    unused.close()
    with pytest.raises(ModelRetry, match=r"could not connect to 127\.0\.0\.1"):
        fetch(tool, f"http://127.0.0.1:{port}/")


# ---------------------------------------------------------------------------- refused URLs

BLOCKED = [
    "http://127.0.0.1/",
    "https://127.0.0.1/",
    "http://localhost/",
    "http://LOCALHOST./admin",
    "http://127.1/",
    "http://0x7f000001/",
    "http://2130706433/",
    "http://0177.0.0.1/",
    "http://0x7f.1/",
    "http://0/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[64:ff9b::7f00:1]/",
    "http://[2002:7f00:1::]/",
    "http://[::7f00:1]/",
    "http://[::]/",
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://0.0.0.0/",
    "http://[fe80::1]/",
    "http://[fe80::1%25eth0]/",
    "http://[fc00::1]/",
    "http://100.64.0.1/",
    "http://224.0.0.1/",
    "http://255.255.255.255/",
    "http://internal.example/",
    "http://mixed.example/",
    "http://mapped.example/",
    # Ranges Python's `ipaddress` misses, or marks differently across 3.10-3.13.
    "http://[fec0::1]/",  # site-local (deprecated): global to ipaddress in every version
    "http://[feff::1]/",
    "http://[fec0::1%25eth0]/",
    "http://sitelocal.example/",
    "http://[::ffff:fec0:1]/",  # not site-local: an IPv4-mapped 254.192.0.1 (reserved)
    "http://192.0.0.9/",  # PCP anycast, the local NAT gateway: global on 3.11.7 and 3.13
    "http://192.0.0.10/",
    "http://192.0.0.200/",  # global on 3.11.7 (only 192.0.0.0/29 was private)
    "http://[::ffff:192.0.0.9]/",
    "http://[2001:1::1]/",  # PCP anycast over IPv6: global on 3.13
    "http://[2001:1::2]/",
    "http://[2001:3::1]/",
    "http://[2001:4:112::1]/",
    "http://[2001:20::1]/",
    "http://[2001:30::1]/",
    "http://[64:ff9b:1::a00:1]/",  # local-use NAT64 carrying 10.0.0.1
    "http://[2002:5db8:d822::1]/",  # 6to4 (deprecated): private on 3.13, not on 3.11
    "http://[3fff::1]/",  # documentation (RFC 9637): private on 3.13 only
    "http://192.88.99.1/",  # 6to4 relay anycast (deprecated)
]


@pytest.mark.parametrize("url", BLOCKED)
def test_non_public_addresses_are_refused(tool: Tool, network: FakeNetwork, url: str) -> None:
    with pytest.raises(ModelRetry, match=r"^refused: .*only fetches public internet addresses"):
        fetch(tool, url)
    assert network.dialed == []


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("fec0::1", "a site-local address"),
        ("192.0.0.9", "an IETF special-purpose address"),
        ("2001:1::1", "an IETF special-purpose address"),
        ("64:ff9b:1::a00:1", "in the local-use NAT64 range"),
        ("2002:5db8:d822::1", "a 6to4 address"),
        ("3fff::1", "a documentation address"),
    ],
)
def test_ranges_python_misjudges_are_refused_by_name(
    module: types.ModuleType, address: str, kind: str
) -> None:
    with pytest.raises(ModelRetry, match=f"^refused: {address} points to {address}: {kind}"):
        module._netcheck.vetted(address, 80, False, None)


@pytest.mark.parametrize(
    "address",
    [PUBLIC_IP, "1.1.1.1", "192.0.3.1", "2001:4860:4860::8888", "2606:4700:4700::1111"],
)
def test_public_addresses_pass_the_check(module: types.ModuleType, address: str) -> None:
    assert module._netcheck.vetted(address, 80, False, None) == [address]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ftp://example.com/", "ftp: scheme"),
        ("file:///etc/passwd", "file: scheme"),
        ("gopher://example.com/", "gopher: scheme"),
        ("javascript:alert(1)", "javascript: scheme"),
        ("data:text/html,hi", "data: scheme"),
        ("example.com/page", "without http:// or https://"),
        ("//example.com/page", "without http:// or https://"),
        ("http://user:pass@public.example/", "credentials"),
        ("http://user@127.0.0.1/", "credentials"),
        ("http://public.example\\@127.0.0.1/", "credentials"),
        ("http:///path", "no host name"),
        ("http://", "no host name"),
        ("", "empty"),
        ("http://1.2.3.4.5/", "not a valid one"),
        ("http://public.example:99999/", "invalid port"),
        ("http://exa mple.com/", "spaces, control characters"),
        ("http://public.example/\r\nX-Injected: 1", "spaces, control characters"),
        ("http://127.0.0.1\\.public.example/", "not a valid host name"),
        ("http://nowhere.example/", "could not be resolved"),
    ],
)
def test_unusable_urls_are_refused(
    tool: Tool, network: FakeNetwork, url: str, expected: str
) -> None:
    with pytest.raises(ModelRetry, match=expected):
        fetch(tool, url)
    assert network.dialed == []


def test_a_public_host_is_fetched_at_its_vetted_address(
    tool: Tool, network: FakeNetwork, server: LocalServer
) -> None:
    result = fetch(tool, "http://public.example/text")
    assert body_of(result) == "hello plain ✓"
    assert network.lookups == ["public.example"]
    assert network.dialed == [(PUBLIC_IP, 80)]
    assert server.hosts[-1] == "public.example"


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/iam/",
        "http://internal.example/",
        "http://localhost:8080/admin",
        "http://[::ffff:127.0.0.1]/",
        "http://2130706433/",
    ],
)
def test_redirect_from_a_public_host_to_a_private_one_is_refused(
    tool: Tool, network: FakeNetwork, target: str
) -> None:
    with pytest.raises(ModelRetry, match=r"redirected to .* which was not fetched: refused") as e:
        fetch(tool, f"http://public.example/redirect?to={target}")
    assert "only fetches public internet addresses" in e.value.message
    assert network.dialed == [(PUBLIC_IP, 80)]


def test_each_hop_is_resolved_once_and_connected_by_address(
    tool: Tool, network: FakeNetwork, server: LocalServer
) -> None:
    result = fetch(tool, "http://public.example/redirect?to=http://public.example:8080/json")
    assert body_of(result) == '{"answer": 42}'
    assert network.lookups == ["public.example", "public.example"]
    assert network.dialed == [(PUBLIC_IP, 80), (PUBLIC_IP, 8080)]
    assert server.hosts[-2:] == ["public.example", "public.example:8080"]


# ---------------------------------------------------------------------------- hostile pages


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_a_hostile_page_is_read_within_the_time_cap(
    tool: Tool, module: types.ModuleType, server: LocalServer, allow_private: None, kind: str
) -> None:
    # Item 5: 320 KB of `<!--` kept the tool busy 45-67 s, past its 15 s cap; item 13: `<![`
    # raised AssertionError out of the tool.
    outcome: list[str | BaseException] = []

    def call() -> None:
        try:
            outcome.append(fetch(tool, f"{server.base}/hostile?kind={kind}"))
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    worker.join(module._TOTAL_TIMEOUT + 5)  # the cap the tool promises, and a margin
    assert outcome, f"http_fetch was still reading the page after {module._TOTAL_TIMEOUT} s"
    (result,) = outcome
    assert isinstance(result, str), result
    assert result.startswith(f"URL: {server.base}/hostile?kind={kind}\nStatus: 200 OK")
    assert "time limit" not in result


def test_reading_html_stops_at_its_deadline(module: types.ModuleType) -> None:
    page = "<p>start</p>" + "<b>more</b>" * 10_000
    _, text, whole = module._html.html_to_text(page, "http://x/", time.monotonic() - 1)
    assert not whole
    _, all_text, whole = module._html.html_to_text(page, "http://x/", None)
    assert whole and all_text.startswith("start") and len(text) < len(all_text)


def test_the_deadline_covers_reading_the_page_as_text(
    tool: Tool,
    module: types.ModuleType,
    server: LocalServer,
    allow_private: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = module._html.html_to_text

    def at_the_deadline(html: str, base: str, deadline: float | None) -> tuple[str, str, bool]:
        assert deadline is not None  # the tool's own deadline is passed on
        return real(html, base, time.monotonic() - 1)

    monkeypatch.setattr(module._html, "html_to_text", at_the_deadline)
    result = fetch(tool, server.base + "/html")
    assert "time limit of 15 s was reached while reading the page as text" in result


def test_a_charset_that_cannot_decode_falls_back_to_utf8(
    tool: Tool, server: LocalServer, allow_private: None
) -> None:
    result = fetch(tool, server.base + "/idna-charset")
    assert body_of(result) == "\ufffd\ufffd broken"


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1",
        "http://[::1]x/",
        "https://[v1.fe]/",
        "http://a:b:c/",
        "http://[/",
        "http://%/",
    ],
)
def test_malformed_urls_are_told_to_the_model(tool: Tool, network: FakeNetwork, url: str) -> None:
    # Item 13: `urlsplit` raised ValueError out of the tool.
    with pytest.raises(ModelRetry):
        fetch(tool, url)
    assert network.dialed == []
