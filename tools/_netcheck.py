"""Address vetting for `http_fetch`: which hosts and addresses it may connect to.

A helper of `http_fetch.py`, not a tool module. It holds:

- `normalized_host(hostname, url)`: a URL's host in ASCII (IDNA), lowercase, without a
  trailing dot, or ModelRetry when it is not a valid host name;
- `vetted(host, port, allow_private, resolve)`: the addresses to connect to. A numeric host
  is read the way the C library reads it (`127.1`, `0x7f000001`, `2130706433` and
  `0177.0.0.1` are all 127.0.0.1), never looked up as a name; any other host is resolved once,
  with the `resolve` the caller passes. Every address must be public; IPv6 forms that carry an
  IPv4 address (mapped, compatible, NAT64, 6to4, Teredo) have that address checked too. Ranges
  that `ipaddress` misses or marks differently across Python versions (site-local fec0::/10,
  192.0.0.0/24, 2001::/23, 6to4, local-use NAT64, ...) are refused by a table of their own.

Security role: this is the server-side request forgery check. The caller connects only to the
addresses `vetted` returns (never resolving the name again), so what passes here is exactly
what is reached. It does no network input or output of its own.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
from collections.abc import Callable

from agentkit.errors import ModelRetry

_HOST_CHARS = re.compile(r"[a-z0-9._-]+|[0-9a-f:.]+(%[a-z0-9._-]+)?")
_NUMERIC_LABEL = re.compile(r"(0x[0-9a-f]*|[0-9]+)")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Ranges refused whatever `ipaddress` says of them: its tables differ between Python versions
# (3.11.7 calls fec0::1 and 192.0.0.9 global; 3.13 calls 2001:1::1 and 192.0.0.9 global), and
# none of them lists the deprecated site-local range. Each is checked before `is_private`,
# so the message names the range.
_NOT_PUBLIC = tuple(
    (ipaddress.ip_network(network), kind)
    for network, kind in (
        ("100.64.0.0/10", "in the shared carrier-grade NAT range"),
        ("192.0.0.0/24", "an IETF special-purpose address (some reach the local NAT gateway)"),
        ("192.88.99.0/24", "a 6to4 relay address (deprecated)"),
        ("fec0::/10", "a site-local address (deprecated, still routed on some local networks)"),
        ("64:ff9b:1::/48", "in the local-use NAT64 range"),
        ("2001::/23", "an IETF special-purpose address (some reach the local NAT gateway)"),
        ("2002::/16", "a 6to4 address (deprecated)"),
        ("3fff::/20", "a documentation address"),
    )
)

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def normalized_host(hostname: str, url: str) -> str:
    """The host in ASCII (IDNA), lowercase, with a trailing dot dropped."""
    if not hostname:
        raise ModelRetry(f"{url[:100]!r} has no host name: give e.g. https://example.com/.")
    try:
        host = hostname.encode("idna").decode("ascii").lower().rstrip(".")
    except UnicodeError:
        raise ModelRetry(f"{hostname!r} is not a valid host name.") from None
    if not host or not _HOST_CHARS.fullmatch(host):
        raise ModelRetry(f"{hostname!r} is not a valid host name.")
    return host


def _literal(host: str) -> _Address | None:
    """The address a numeric host stands for, read as the C library reads it; None for names."""
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(host)
    if not _NUMERIC_LABEL.fullmatch(host.rsplit(".", 1)[-1]):
        return None
    try:
        # inet_aton: 127.1, 0x7f000001, 2130706433 and 0177.0.0.1 are all 127.0.0.1.
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        raise ModelRetry(
            f"{host!r} looks like an IP address but is not a valid one; fix it or use a name."
        ) from None


def _embedded(address: _Address) -> list[_Address]:
    """The IPv4 addresses an IPv6 address carries, then the address itself."""
    found: list[_Address] = []
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            found.append(address.ipv4_mapped)
        if address.sixtofour is not None:
            found.append(address.sixtofour)
        if address.teredo is not None:
            found.extend(address.teredo)
        if address in _NAT64 or int(address) >> 32 == 0:
            found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [*found, address]


def _why_not_public(address: _Address) -> str | None:
    """What makes an address unfit to fetch (`127.0.0.1, a loopback address`), or None."""
    for candidate in _embedded(address):
        checks = (
            (candidate.is_loopback, "a loopback address (this machine)"),
            (candidate.is_unspecified, "the unspecified address (this machine)"),
            (candidate.is_link_local, "a link-local address (e.g. cloud metadata)"),
            (candidate.is_multicast, "a multicast address"),
            *((candidate in network, kind) for network, kind in _NOT_PUBLIC),
            (candidate.is_private, "a private or special-purpose address"),
            (candidate.is_reserved, "a reserved address"),
            (not candidate.is_global, "not a global address"),
        )
        for failed, kind in checks:
            if failed:
                inner = "" if candidate == address else f", which carries {candidate}"
                return f"{address}{inner}: {kind}"
    return None


def vetted(
    host: str, port: int, allow_private: bool, resolve: Callable[[str, int], list[str]]
) -> list[str]:
    """The addresses to connect to, all checked; ModelRetry when any is not public.

    Args:
        host: The host from `normalized_host`: a name or a numeric address.
        port: The port, passed on to `resolve`.
        allow_private: Skip the public-address check (the user's setting, never the model's).
        resolve: The name lookup, called only for a name (`http_fetch` passes its own, a
            seam its tests replace).
    """
    literal = _literal(host)
    if literal is not None:
        found = [literal]
    else:
        try:
            raw = resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise ModelRetry(
                f"the host {host!r} could not be resolved ({exc}); check the address."
            ) from None
        found = [ipaddress.ip_address(a.split("%", 1)[0]) for a in raw]
    if not found:
        raise ModelRetry(f"the host {host!r} has no addresses; check the address.")
    if not allow_private:
        for address in found:
            why = _why_not_public(address)
            if why is not None:
                raise ModelRetry(
                    f"refused: {host} points to {why}. http_fetch only fetches public "
                    "internet addresses; do not retry this host."
                )
    return [str(a) for a in found]
