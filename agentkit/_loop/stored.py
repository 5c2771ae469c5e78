"""A run on a session: hold its lease around the whole run, load its history, store its turns.

`stored_events` wraps the loop's events for `Agent.run(prompt, session=...)`. The lease is
taken before the history is loaded, so no other run (in any process) appends in between,
and given back when the run ends however it ends (an abandoned `stream()` gives it back when
it is closed). The turns themselves are stored by `RunState.commit` at turn boundaries;
here, a run that fails with a `RunError` has the rest of its conversation stored (it is valid
to continue from: pending calls are answered first; not after a guardrail stopped it), and
the run's record gets its usage.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

from agentkit.errors import GuardrailError, GuardrailTripped, RunError, UserError
from agentkit.events import Event
from agentkit.models import ModelSettings
from agentkit.usage import UsageLimits

if TYPE_CHECKING:
    from agentkit._loop.loop import Loop
    from agentkit._loop.state import RunState
    from agentkit.sessions import Session, SessionRun

__all__ = ["Stored", "stored_events"]


class Stored:
    """A run's hold on its session: the session (which keys its trimmer) and the lease.

    `run` is the run's state, set when it is made.
    """

    def __init__(self, session: Session, lease: SessionRun) -> None:
        self.session = session
        self.lease = lease
        self.run: RunState | None = None


def check_session(session: Any, history: Any) -> None:
    """Refuse what cannot be a session, and a session given with `messages=`."""
    from agentkit.sessions import Session

    if not isinstance(session, Session):
        raise UserError(
            f"session= must be a session (SQLiteSession, MemorySession, or your own "
            f"agentkit.sessions.Session), got {session!r:.80}"
        )
    if history is not None:
        raise UserError(
            "pass session= or messages=, not both: a session's history is loaded from it "
            "(to start a session from a conversation, `await session.append(messages)` first)"
        )


async def stored_events(
    loop: Loop,
    session: Session,
    history: Any,
    prompt: str,
    deps: Any,
    settings: ModelSettings,
    limits: UsageLimits,
    stream: bool,
) -> AsyncIterator[Event]:
    """The loop's events for a run on `session`; see the module's docstring.

    The run waits `session.wait` seconds (the stores' sessions have it; 0 for others) for
    another run holding the session before `SessionBusy`.
    """
    check_session(session, history)
    loop._start(prompt, None)  # a bad prompt is refused before the session is taken
    wait = getattr(session, "wait", 0.0)
    async with session.run(model=loop.model.name, wait=wait) as lease:
        stored = Stored(session, lease)
        history = await session.load()
        events = loop.events(prompt, history, deps, settings, limits, stream=stream, stored=stored)
        try:
            async with aclosing(events):
                async for event in events:
                    yield event
        except RunError as exc:
            # What the run did stays (pending calls are answered first), unless a guardrail
            # stopped it: what it judged is not kept to be sent again.
            if stored.run is not None and not isinstance(exc, GuardrailTripped | GuardrailError):
                await stored.run.commit()
            raise
        finally:
            if stored.run is not None:
                lease.usage = stored.run.usage  # recorded with the run, however it ended
