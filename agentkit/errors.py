"""The exceptions agentkit raises, all under one root.

```
AgentkitError
├── UserError                 a programmer mistake, raised at definition time
│                             (a bad tool, a bad config): every problem listed at once
├── ModelRetry                raised by a tool on purpose: its message goes back to the model
├── SessionError              a stored session cannot be used (bad file, newer schema, I/O)
│   ├── SessionDatabaseError  the database cannot be used (`.path`, `.problem`, `.remedy`)
│   ├── SessionNotFound       no session of that name (also a LookupError)
│   └── SessionBusy           another run holds the session (`.name`, `.holder`); raised
│                             before a run starts, so it is no RunError
└── RunError                  a run could not finish; carries `messages` and `usage` so far
    ├── ModelError            the endpoint failed after the SDK's retries, or answered garbage
    │   └── (agentkit.models) ToolUseFailed, UnparsedToolCall: the server refused the model's
    │                         tool call (Groq's 400, llama.cpp's 500); the loop recovers first
    ├── MCPServerError        (agentkit.mcp) an MCP server could not start or list its tools
    ├── MaxTurnsExceeded      the model was still calling tools after `max_turns` replies
    ├── UsageLimitExceeded    a request, token or tool-call limit was reached (for agents
    │                         used as tools: by the whole tree of runs)
    ├── ToolRetriesExceeded   one tool (or the output) kept failing past its retry budget
    ├── GuardrailTripped      a guardrail stopped the run: `.verdict`, `.kind`, `.call`
    ├── GuardrailError        a guardrail could not decide (it raised, its endpoint failed,
    │                         its answer was no verdict): an undecided check never passes
    ├── HookError             a hook marked `critical` raised (`__cause__` is its error)
    ├── MaxDepthExceeded      agents calling agents went deeper than `max_depth`
    └── ContextBudgetExceeded even the system prompt, tools and current turn are over
                              `max_input_tokens` (`.needed`, `.budget`); raised before sending
```

Failures inside a tool call (unknown tool, bad JSON, bad arguments, an exception, a timeout)
are not exceptions of the run: they become tool-result text the model can act on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from agentkit.guardrails import Verdict
    from agentkit.messages import Message, ToolCall, Usage

CheckKind = Literal["input", "output", "tool_result"]

__all__ = [
    "AgentkitError",
    "ContextBudgetExceeded",
    "GuardrailError",
    "GuardrailTripped",
    "HookError",
    "MaxDepthExceeded",
    "MaxTurnsExceeded",
    "ModelError",
    "ModelRetry",
    "RunError",
    "SessionBusy",
    "SessionDatabaseError",
    "SessionError",
    "SessionNotFound",
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
        retry_after: Seconds the endpoint asked to wait before sending again (its
            `Retry-After` on a 429 or 503), when it said.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        endpoint: str | None = None,
        model: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.endpoint = endpoint
        self.model = model
        self.retry_after = retry_after


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


_KIND_TEXT = {"input": "input", "output": "output", "tool_result": "tool-result"}


class GuardrailTripped(RunError):
    """A guardrail stopped the run. Carries the verdict, and the messages and usage so far.

    Attributes:
        verdict: The `agentkit.guardrails.Verdict` that tripped.
        kind: Which check tripped: "input", "output" or "tool_result".
        call: For a tool result, the call whose result tripped.
    """

    def __init__(self, verdict: Verdict, kind: CheckKind, call: ToolCall | None = None) -> None:
        what = f" (the result of {call.name!r}, call {call.id})" if call is not None else ""
        reason = verdict.reason or "no reason given"
        super().__init__(
            f"the {_KIND_TEXT[kind]} guardrail {verdict.guardrail or 'guardrail'!r} stopped "
            f"the run{what}: {reason}"
        )
        self.verdict = verdict
        self.kind: CheckKind = kind
        self.call = call


class GuardrailError(RunError):
    """A guardrail could not decide: it raised, its endpoint failed, or its answer was no
    verdict. The run stops (a guardrail fails closed: an undecided check never passes).

    Attributes:
        guardrail: The guardrail's name.
        kind: The check it was running, once known.
        raw: The classifier's answer that was no verdict, when that was the problem.
        status: The HTTP status of a failed request to a classifier, when there was one.
        endpoint: The classifier's base URL (never its key).
    """

    def __init__(
        self,
        message: str,
        *,
        guardrail: str = "",
        kind: CheckKind | None = None,
        raw: str = "",
        status: int | None = None,
        endpoint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.guardrail = guardrail
        self.kind = kind
        self.raw = raw
        self.status = status
        self.endpoint = endpoint


class HookError(RunError):
    """A hook that says it is `critical` raised; the run stopped. `__cause__` is its error.

    Attributes:
        hook: The hook's name (its `__name__`, else its class name).
    """

    def __init__(self, message: str, *, hook: str = "") -> None:
        super().__init__(message)
        self.hook = hook


class MaxDepthExceeded(RunError):
    """An agent used as a tool would have run deeper than the top agent's `max_depth`.

    Attributes:
        path: The agent names from the top run to the one that was not started.
    """

    def __init__(self, message: str, *, path: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.path = path


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


# Sessions (`agentkit.sessions`): conversations that persist.


class SessionError(AgentkitError):
    """A stored session cannot be used: an unreadable database, a bad file, a missing name."""


class SessionDatabaseError(SessionError):
    """The sessions database cannot be used: its folder cannot be made, it is not a sessions
    database, it is locked, or it is from a newer agentkit.

    Attributes:
        path: The database file.
        problem: What is wrong with it.
        remedy: What to do about that file ("" when the fix is to use another one).
    """

    def __init__(
        self,
        path: str,
        problem: str,
        remedy: str = "",
        *,
        elsewhere: str = "use another path (by default AGENTKIT_SESSIONS chooses it)",
    ) -> None:
        advice = "; ".join(part for part in (remedy, elsewhere) if part)
        super().__init__(f"sessions database {path}: {problem}; {advice}")
        self.path = path
        self.problem = problem
        self.remedy = remedy


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
