"""The `openai` clients of one adapter: one per event loop, each on the cheapest transport.

An HTTP connection pool belongs to one event loop, and an agent may be used from several
(`run_sync` starts one each time, threads have their own): one client per loop, keyed by
id and held with a weak reference to the loop. Under asyncio the SDK's aiohttp transport is
used when installed: it costs far less CPU per request, and far less under concurrency.

A client needs closing before its event loop ends, and the simplest async program,
`asyncio.run(main())` with `await agent.run(...)` and no `async with agent`, never closes it:
aiohttp would print "Unclosed client session" at exit. So each asyncio client is tied to its
loop's end: it is held by an async generator that the loop itself registers and finalizes
(`asyncio.run` and anyio close every live async generator before closing the loop), and whose
`finally` closes the client. `aclose()` closes it sooner, the same way.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import warnings
import weakref
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import anyio.lowlevel
import sniffio

from agentkit.models.openai._retries import attempt_hooks

if TYPE_CHECKING:
    import openai

__all__ = ["Clients", "Transport"]

Transport = Literal["auto", "aiohttp", "httpx"]


@functools.lru_cache(maxsize=1)
def _quiet_large_body_warning() -> None:
    """aiohttp warns about any body over 1 MiB; ours is already in memory, and a long
    conversation legitimately passes that size: nothing for the user to act on. Once per
    process, when the first aiohttp client is made (never at import)."""
    warnings.filterwarnings(
        "ignore", "Sending a large body directly with raw bytes", ResourceWarning
    )


async def _closed_at_loop_end(client: openai.AsyncOpenAI) -> AsyncGenerator[None, None]:
    """Holds `client` until the event loop finalizes this generator (or `aclose()` does)."""
    try:
        yield
    finally:
        await client.close()


def _tie_to_loop(client: openai.AsyncOpenAI) -> AsyncGenerator[None, None] | None:
    """Start a holder of `client` in the running asyncio loop; None under another library."""
    if sniffio.current_async_library() != "asyncio":
        return None
    holder = _closed_at_loop_end(client)
    step = holder.__anext__()  # the loop's first-iteration hook registers the generator
    with contextlib.suppress(StopIteration):
        step.send(None)  # runs to the `yield` at once: nothing in it awaits before that
    return holder


class Clients:
    """The clients an adapter talks through, made on first use in each event loop."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        max_retries: int,
        timeout: float,
        transport: Transport,
        given: openai.AsyncOpenAI | None,
    ) -> None:
        self.api_key = api_key
        self.base_url = base_url
        self.max_retries = max_retries
        self.timeout = timeout
        self.transport = transport
        self.given = given
        self._by_loop: dict[int, tuple[weakref.ref[Any], openai.AsyncOpenAI, Any]] = {}

    def get(self) -> openai.AsyncOpenAI:
        """The client of the running event loop."""
        if self.given is not None:
            return self.given
        loop = anyio.lowlevel.current_token().native_token
        entry = self._by_loop.get(id(loop))
        if entry is not None and entry[0]() is loop and not entry[1].is_closed():
            return entry[1]
        import openai

        client = openai.AsyncOpenAI(
            api_key=self.api_key,
            base_url=self.base_url,
            max_retries=self.max_retries,
            timeout=self.timeout,
            http_client=self._http_client(),
        )
        # Clients of loops that are gone cannot be closed any more; just let them go.
        for key in [k for k, (ref, *_) in self._by_loop.items() if ref() is None]:
            del self._by_loop[key]
        self._by_loop[id(loop)] = (weakref.ref(loop), client, _tie_to_loop(client))
        return client

    def _http_client(self) -> Any:
        """The SDK's aiohttp transport when chosen and usable, else its httpx default; both
        with the hooks that report each retry of a request (`_retries`)."""
        import openai

        hooks = attempt_hooks()
        if self.transport == "httpx" or sniffio.current_async_library() != "asyncio":
            return openai.DefaultAsyncHttpxClient(timeout=self.timeout, event_hooks=hooks)
        if self.transport == "auto" and (
            importlib.util.find_spec("aiohttp") is None
            # aiohttp refuses credentials in the URL next to the Authorization header.
            or urlsplit(self.base_url).username is not None
        ):
            return openai.DefaultAsyncHttpxClient(timeout=self.timeout, event_hooks=hooks)
        _quiet_large_body_warning()
        return openai.DefaultAioHttpClient(timeout=self.timeout, event_hooks=hooks)

    async def aclose(self) -> None:
        """Close the client of the running event loop (other loops' are their own)."""
        if self.given is not None:
            return
        entry = self._by_loop.pop(id(anyio.lowlevel.current_token().native_token), None)
        if entry is None:
            return
        _, client, holder = entry
        if holder is not None:
            await holder.aclose()  # its `finally` closes the client
        else:
            await client.close()
