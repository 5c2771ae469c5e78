"""Tool faults: exceptions, hangs, huge or odd return values, a blocked event loop, BaseExceptions.

What a tool does wrong becomes a tool result the model can act on, and the run goes on; only
BaseExceptions that are not `Exception`s (KeyboardInterrupt, SystemExit and their kind) end
the run, and they propagate untouched, also out of a batch of parallel calls.
Scripted models drive most cases; those about the text on the wire go through the fake server.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import anyio
import pytest
from _reliability import (
    BOUND,
    assert_no_busy_threads,
    assert_valid_history,
    busy_threads,
    run_on_server,
)

from agentkit import Agent, ModelRetry, ToolCall, ToolMessage, tool
from agentkit.testing import Completion, FakeServer, ScriptedModel, call

pytestmark = pytest.mark.anyio


def results(messages: list[Any]) -> list[str]:
    return [m.content for m in messages if isinstance(m, ToolMessage)]


async def run_scripted(tools: list[Any], script: list[Any], **kwargs: Any) -> list[str]:
    """Run the script to its end in bounded time; the tool results, the history checked."""
    with anyio.fail_after(BOUND), ScriptedModel(script) as model:
        result = await Agent(model, tools=tools, **kwargs).run("go")
    assert len(model.requests) == len(script)
    assert result.output == script[-1]
    assert_valid_history(result.messages)
    return results(result.messages)


# -- exceptions -------------------------------------------------------------------------------


async def test_tool_that_raises_becomes_an_error_result() -> None:
    def broken(path: str) -> str:
        """Read a file.

        Args:
            path: Which file.
        """
        raise FileNotFoundError(f"no such file: {path}")

    [text] = await run_scripted([broken], [call("broken", path="a.txt"), "sorry"])
    assert text == "`broken` failed: FileNotFoundError: no such file: a.txt"
    assert "Traceback" not in text and __file__ not in text


async def test_tool_exception_whose_str_fails_is_still_reported() -> None:
    class Opaque(Exception):
        def __str__(self) -> str:
            raise ValueError("no text")

    def opaque() -> str:
        """Fail strangely."""
        raise Opaque

    [text] = await run_scripted([opaque], [call("opaque"), "sorry"])
    assert text == "`opaque` failed: Opaque"


async def test_tool_that_raises_model_retry_sends_its_message() -> None:
    def lookup(city: str) -> str:
        """Look a city up.

        Args:
            city: The city.
        """
        if "," not in city:
            raise ModelRetry(f"Give the country too, e.g. '{city}, France'.")
        return "found"

    script = [call("lookup", city="Paris"), call("lookup", city="Paris, France"), "done"]
    texts = await run_scripted([lookup], script)
    assert texts == ["Give the country too, e.g. 'Paris, France'.", "found"]


# -- hangs ------------------------------------------------------------------------------------


async def test_async_tool_hanging_past_its_timeout_is_stopped() -> None:
    cancelled = anyio.Event()

    @tool(timeout=0.1)
    async def stuck() -> str:
        """Never ends."""
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.set()
        return "never"

    [text] = await run_scripted([stuck], [call("stuck"), "gave up"])
    assert text.startswith("`stuck` did not finish within 0.1 s and was stopped.")
    assert cancelled.is_set()  # really stopped, not left running


async def test_sync_tool_hanging_past_its_timeout_is_abandoned_then_ends() -> None:
    before = threading.enumerate()
    release = threading.Event()
    finished = threading.Event()

    @tool(timeout=0.1)
    def stuck() -> str:
        """Blocks until released."""
        release.wait(10)
        finished.set()
        return "late"

    [text] = await run_scripted([stuck], [call("stuck"), "gave up"])
    assert text.startswith("`stuck` did not finish within 0.1 s and was stopped.")
    assert not finished.is_set()  # a thread cannot be killed: it was abandoned, still blocked
    assert busy_threads(before)
    release.set()
    await assert_no_busy_threads(before)  # released, it ends; nothing is left running
    assert finished.is_set()


async def test_async_tool_blocking_the_event_loop_delays_but_does_not_stop_the_run() -> None:
    # A sync sleep inside an async tool blocks the whole event loop for 0.3 s: its 0.05 s
    # timeout cannot fire meanwhile (nothing runs), and the value it returns is used. The run
    # ends about 0.3 s later; 10 s is a generous bound that still catches a hang.
    @tool(timeout=0.05)
    async def blocker() -> str:
        """Block the loop."""
        time.sleep(0.3)
        return "woke up"

    start = time.perf_counter()
    [text] = await run_scripted([blocker], [call("blocker"), "ok"])
    elapsed = time.perf_counter() - start
    assert text == "woke up"
    assert 0.3 <= elapsed < 10


# -- return values ----------------------------------------------------------------------------


async def test_tool_returning_an_object_that_is_not_json_serializable() -> None:
    class Handle:
        def __repr__(self) -> str:
            return "<Handle 7>"

    def opener() -> object:
        """Open something."""
        return {"handle": Handle(), "when": {1, 2}}

    [text] = await run_scripted([opener], [call("opener"), "ok"])
    assert text == '{"handle":"<Handle 7>","when":[1,2]}'


async def test_tool_returning_a_value_that_cannot_be_serialized_at_all() -> None:
    def cycle() -> list[Any]:
        """Return a list that holds itself."""
        items: list[Any] = []
        items.append(items)
        return items

    [text] = await run_scripted([cycle], [call("cycle"), "ok"])
    assert text.startswith("`cycle` returned a value that is not text:")
    assert "Circular reference" in text


async def test_tool_returning_50_megabytes_is_cut_with_a_note() -> None:
    def dump() -> str:
        """Dump everything."""
        return "z" * 50_000_000

    [text] = await run_scripted([dump], [call("dump"), "ok"], max_result_chars=10_000)
    assert text.startswith("z" * 10_000)
    assert text.endswith("[result cut: 50000000 characters in all, the first 10000 shown]")
    assert len(text) < 10_100


async def test_tool_returning_non_utf8_bytes(fake_server: FakeServer) -> None:
    def raw() -> bytes:
        """Raw bytes."""
        return b"caf\xe9 \xff\xfe ok"

    fake_server.add(Completion(tool_calls=[{"name": "raw", "arguments": "{}"}]), Completion("ok"))
    result = await run_on_server(fake_server, tools=[raw])
    assert results(result.messages) == ["caf\ufffd \ufffd\ufffd ok"]
    assert fake_server.chat_requests[1].messages[-1]["content"] == "caf\ufffd \ufffd\ufffd ok"
    assert len(fake_server.chat_requests) == 2


async def test_tool_returning_lone_surrogates_can_still_be_sent(fake_server: FakeServer) -> None:
    def listing() -> str:
        """A file name that was not UTF-8 (os.listdir keeps such bytes as surrogates)."""
        return "report-\udcff.txt"

    fake_server.add(
        Completion(tool_calls=[{"name": "listing", "arguments": "{}"}]), Completion("ok")
    )
    result = await run_on_server(fake_server, tools=[listing])
    assert results(result.messages) == ["report-\ufffd.txt"]
    assert len(fake_server.chat_requests) == 2


async def test_tool_returning_ansi_escapes_gets_them_stripped(fake_server: FakeServer) -> None:
    def colourful() -> str:
        """Coloured output."""
        return "\x1b[31mred\x1b[0m \x1b]0;pwned title\x07done\x1b[2J\x08!\tand\nmore"

    fake_server.add(
        Completion(tool_calls=[{"name": "colourful", "arguments": "{}"}]), Completion("ok")
    )
    result = await run_on_server(fake_server, tools=[colourful])
    assert results(result.messages) == ["red done!\tand\nmore"]
    assert fake_server.chat_requests[1].messages[-1]["content"] == "red done!\tand\nmore"
    assert len(fake_server.chat_requests) == 2


async def test_tool_error_message_with_ansi_escapes_gets_them_stripped() -> None:
    def noisy() -> str:
        """Fail noisily."""
        raise RuntimeError("\x1b[1;31mFATAL\x1b[0m disk")

    [text] = await run_scripted([noisy], [call("noisy"), "ok"])
    assert text == "`noisy` failed: RuntimeError: FATAL disk"


async def test_tool_returning_none() -> None:
    def nothing() -> None:
        """Do nothing."""

    assert await run_scripted([nothing], [call("nothing"), "ok"]) == ["null"]


# -- BaseExceptions propagate ---------------------------------------------------------------------


def run_sync_bounded(agent: Agent[Any]) -> BaseException | None:
    """`agent.run_sync("go")` in a thread that must end within BOUND; what it raised.

    `run_sync` blocks, so `anyio.fail_after` cannot bound it: a hang must still fail the test.
    """
    raised: list[BaseException] = []

    def target() -> None:
        try:
            agent.run_sync("go")
        except BaseException as exc:  # KeyboardInterrupt, SystemExit: what the test expects
            raised.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(BOUND)
    assert not thread.is_alive(), "the run did not end"
    return raised[0] if raised else None


class Abort(BaseException):
    """A BaseException that is not an Exception, like KeyboardInterrupt and SystemExit.

    Raising the real ones inside the test's own event loop would stop pytest itself; they are
    tested below through `run_sync`, in an event loop of their own.
    """


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_base_exception_in_a_tool_propagates(is_async: bool) -> None:
    def abort() -> str:
        """Abort."""
        raise Abort("stop now")

    async def abort_async() -> str:
        """Abort."""
        raise Abort("stop now")

    fn = abort_async if is_async else abort
    model = ScriptedModel([call(fn.__name__), "unused"])
    with anyio.fail_after(BOUND), pytest.raises(Abort, match="stop now"):
        await Agent(model, tools=[fn]).run("go")
    assert len(model.requests) == 1


async def test_base_exception_in_one_of_several_parallel_calls_propagates() -> None:
    before = threading.enumerate()
    stopped = anyio.Event()
    release = threading.Event()

    async def abort() -> str:
        """Abort after the others started."""
        await anyio.sleep(0.05)
        raise Abort("stop now")

    async def slow() -> str:
        """Slower than the bound: only cancelling it lets the run end in time."""
        try:
            await anyio.sleep(BOUND * 3)
        finally:
            stopped.set()
        return "slow"

    def blocking() -> str:
        """Blocks in a thread."""
        release.wait(10)
        return "blocked"

    script = [[call("slow"), call("abort"), call("blocking"), call("slow")], "unused"]
    model = ScriptedModel(script)
    with anyio.fail_after(BOUND), pytest.raises(Abort, match="stop now"):
        await Agent(model, tools=[abort, slow, blocking]).run("go")
    assert stopped.is_set()  # the async siblings were cancelled, not left running
    assert len(model.requests) == 1
    release.set()  # the sync sibling was abandoned; released, it ends
    await assert_no_busy_threads(before)


@pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit], ids=["ctrl-c", "exit"])
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_keyboard_interrupt_and_system_exit_in_a_tool_propagate(
    exc: type[BaseException], is_async: bool
) -> None:
    def interrupt() -> str:
        """Interrupted."""
        raise exc

    async def interrupt_async() -> str:
        """Interrupted."""
        raise exc

    fn = interrupt_async if is_async else interrupt
    model = ScriptedModel([call(fn.__name__), "unused"])
    raised = run_sync_bounded(Agent(model, tools=[fn]))
    assert type(raised) is exc
    assert len(model.requests) == 1


def test_keyboard_interrupt_in_one_of_several_parallel_calls_propagates() -> None:
    finished: list[str] = []

    def interrupt() -> str:
        """Interrupted."""
        raise KeyboardInterrupt

    async def slow() -> str:
        """Slower than the bound: only cancelling it lets the run end in time."""
        await anyio.sleep(BOUND * 3)
        finished.append("slow")
        return "slow"

    model = ScriptedModel([[call("slow"), call("interrupt"), call("slow")], "unused"])
    raised = run_sync_bounded(Agent(model, tools=[interrupt, slow]))
    assert type(raised) is KeyboardInterrupt
    assert finished == []
    assert len(model.requests) == 1


# -- arguments the tool receives ------------------------------------------------------------------


async def test_tool_timeout_in_one_parallel_call_leaves_the_others_alone() -> None:
    @tool(timeout=0.1)
    async def stuck() -> str:
        """Never ends."""
        await anyio.sleep_forever()
        return "never"

    async def quick(n: int) -> int:
        """Quick.

        Args:
            n: A number.
        """
        await anyio.sleep(0.01)
        return n

    script: list[Any] = [
        [call("quick", n=1), ToolCall("stuck", {}, "s"), call("quick", n=2)],
        "ok",
    ]
    texts = await run_scripted([stuck, quick], script)
    assert texts[0] == "1" and texts[2] == "2"
    assert "did not finish within 0.1 s" in texts[1]
