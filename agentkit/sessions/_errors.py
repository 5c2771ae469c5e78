"""The errors of sessions and of the context budget.

Phase 2 moves them into `agentkit.errors` (see INTEGRATION.md for their place in the tree);
until then they subclass the public roots, so `except AgentkitError` / `except RunError`
already catch them.
"""

from __future__ import annotations

from agentkit.errors import AgentkitError, RunError

__all__ = ["ContextBudgetExceeded", "SessionBusy", "SessionError", "SessionNotFound"]


class SessionError(AgentkitError):
    """A stored session cannot be used: an unreadable database, a bad file, a missing name."""


class SessionNotFound(SessionError, LookupError):
    """No session of that name is stored."""

    def __init__(self, name: str, where: str) -> None:
        super().__init__(
            f"no session named {name!r} in {where} (`agentkit sessions list` shows the names)"
        )
        self.name = name


class SessionBusy(SessionError):
    """Another run holds the session: two runs never interleave in one conversation.

    Attributes:
        name: The session.
        holder: Who holds it, e.g. "pid 4242 on host box, since 12:03:05".
    """

    def __init__(self, message: str, *, name: str, holder: str) -> None:
        super().__init__(message)
        self.name = name
        self.holder = holder


class ContextBudgetExceeded(RunError):
    """Even the smallest prompt (system, tools, the current turn) is over the token budget.

    Raised before the request is sent, instead of the endpoint's HTTP 400.

    Attributes:
        needed: The estimated tokens of that smallest prompt.
        budget: The budget (`max_input_tokens`).
    """

    def __init__(self, message: str, *, needed: int, budget: int) -> None:
        super().__init__(message)
        self.needed = needed
        self.budget = budget
