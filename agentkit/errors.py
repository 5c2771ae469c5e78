"""The exceptions agentkit raises, all under one root.

```
AgentkitError
├── UserError                 a programmer mistake, raised at definition time
│                             (a bad tool, a bad config): every problem listed at once
├── ModelRetry                raised by a tool on purpose: its message goes back to the model
└── RunError                  a run could not finish; carries `messages` and `usage` so far
    ├── ModelError            the endpoint failed after the SDK's retries, or answered garbage
    ├── MaxTurnsExceeded      the model was still calling tools after `max_turns` replies
    ├── UsageLimitExceeded    a request, token or tool-call limit was reached
    └── ToolRetriesExceeded   one tool (or the output) kept failing past its retry budget
```

Failures inside a tool call (unknown tool, bad JSON, bad arguments, an exception, a timeout)
are not exceptions of the run: they become tool-result text the model can act on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentkit.messages import Message, Usage

__all__ = [
    "AgentkitError",
    "MaxTurnsExceeded",
    "ModelError",
    "ModelRetry",
    "RunError",
    "ToolRetriesExceeded",
    "UsageLimitExceeded",
    "UserError",
]


class AgentkitError(Exception):
    """Root of every exception agentkit raises on purpose."""


class UserError(AgentkitError):
    """A mistake in how agentkit is used: a bad tool definition, a bad configuration.

    Raised when the mistake is made (at registration, at construction), never mid-run.
    `problems` lists each problem found; the message shows all of them.
    """

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        self.problems = list(problems)
        if self.problems:
            message = message + "\n" + "\n".join(_bullet(p) for p in self.problems)
        super().__init__(message)


def _bullet(problem: str) -> str:
    """A problem as a bullet; a problem's own sub-problems (its next lines) nest under it."""
    first, *rest = problem.splitlines() or [""]
    return "\n".join([f"  - {first}", *(f"    {line}" for line in rest)])


class ModelRetry(AgentkitError):
    """Raise inside a tool to send `message` back to the model as the call's result.

    Counts against the tool's retry budget, like any other failed call.
    """

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class RunError(AgentkitError):
    """A run stopped before a final answer. Carries what the run had produced."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.messages: list[Message] = []
        self.usage: Usage | None = None


class ModelError(RunError):
    """The model endpoint failed (after the SDK's retries) or sent a reply that is not usable.

    Attributes:
        status: The HTTP status code, when there was a response.
        endpoint: The base URL that was called (never the API key).
        model: The model id that was requested.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        endpoint: str | None = None,
        model: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.endpoint = endpoint
        self.model = model


class MaxTurnsExceeded(RunError):
    """The model was still calling tools when the run reached `max_turns` model replies."""


class UsageLimitExceeded(RunError):
    """A usage limit (requests, total tokens, tool calls) was reached."""


class ToolRetriesExceeded(RunError):
    """One tool failed more times in a row than its retry budget allows.

    Attributes:
        tool_name: The tool (or `final_result` for the structured output) that kept failing.
    """

    def __init__(self, message: str, *, tool_name: str) -> None:
        super().__init__(message)
        self.tool_name = tool_name
