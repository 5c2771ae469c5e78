"""The simplest async use leaks nothing: `asyncio.run(main())` without `async with agent`.

Run in a fresh interpreter, as a user's script is, so that what aiohttp prints at exit about
an unclosed session or connector would be seen.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import asyncio, gc, sys
    from agentkit import Agent
    from agentkit.models import OpenAIModel
    from agentkit.testing import Completion, FakeServer

    with FakeServer([Completion("one"), Completion("two"), Completion("three")]) as server:
        agent = Agent(OpenAIModel("m", base_url=server.url, api_key="k"))

        async def main():
            print((await agent.run("hi")).output)
            async for event in agent.stream("again"):
                pass
            print(event.result.output)

        asyncio.run(main())
        gc.collect()
        print("open connections:", server.open_connections)

        async def closed_early():
            print((await agent.run("hi")).output)
            await agent.aclose()  # closing sooner is still fine, and only once

        asyncio.run(closed_early())
        gc.collect()
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
def test_asyncio_run_without_async_with_is_silent_and_closes_everything(transport: str) -> None:
    script = SCRIPT.replace('api_key="k"', f'api_key="k", transport={transport!r}')
    done = subprocess.run(
        [sys.executable, "-W", "error::ResourceWarning", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["one", "two", "open connections: 0", "three"]
    assert done.stderr == ""
