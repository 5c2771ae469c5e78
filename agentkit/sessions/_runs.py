"""What every store's runs share: waiting for a busy session, and how a run ended."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence

import anyio

from agentkit.errors import SessionBusy, UserError
from agentkit.messages import AssistantMessage, Message, SystemMessage, ToolMessage, UserMessage

from ._types import RunStatus, conversation_problems

__all__ = ["check_block", "check_wait", "ended", "take"]

_MESSAGE_TYPES = (SystemMessage, UserMessage, AssistantMessage, ToolMessage)


def check_block(messages: Sequence[Message], name: str) -> list[Message]:
    """The block as a list, when it is one whole turn; else a UserError saying what is wrong."""
    block = list(messages)
    wrong = [f"{m!r:.60}" for m in block if not isinstance(m, _MESSAGE_TYPES)]
    if wrong:
        raise UserError(f"session {name!r}: append typed messages only, got", wrong)
    if not block:
        raise UserError(f"session {name!r}: nothing to append (an empty turn)")
    problems = conversation_problems(block, block=True)
    if problems:
        raise UserError(
            f"session {name!r}: a turn must be appended whole (each tool call with its "
            "result, in one append):",
            problems,
        )
    return block


def check_wait(wait: object) -> None:
    """Refuse a wait that is not a number of seconds >= 0."""
    if not (isinstance(wait, int | float) and wait >= 0 and not math.isnan(wait)):
        raise UserError(f"wait must be a number of seconds >= 0, got {wait!r}")


async def take(name: str, attempt: Callable[[], Awaitable[int | str]], wait: float) -> int:
    """The run id from `attempt()`, retried until `wait` seconds pass; SessionBusy then.

    `attempt` returns the new run's id, or a description of the holder when busy.
    """
    check_wait(wait)
    deadline = anyio.current_time() + wait
    delay = 0.01
    while True:
        got = await attempt()
        if isinstance(got, int):
            return got
        left = deadline - anyio.current_time()
        if left <= 0:
            raise SessionBusy(
                f"session {name!r} is in use by another run ({got}); wait for it to end, "
                "or pass wait= (--wait SECONDS) to queue behind it",
                name=name,
                holder=got,
            )
        await anyio.sleep(min(delay, left))
        delay = min(delay * 2, 0.25)


def ended(error: BaseException | None) -> tuple[RunStatus, str | None]:
    """A run's status and error text from the exception that ended it (None: success)."""
    if error is None:
        return "ok", None
    # GeneratorExit: a `stream()` abandoned by its reader, and closed.
    if isinstance(error, anyio.get_cancelled_exc_class() | KeyboardInterrupt | GeneratorExit):
        return "cancelled", None
    text = f"{type(error).__name__}: {error}"
    return "failed", text if len(text) <= 500 else text[:499] + "…"
