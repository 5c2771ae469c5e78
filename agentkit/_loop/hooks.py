"""Hooks: every event of a run, handed to the agent's hooks in order, sync or async.

A hook is a callable taking one event; it may return an awaitable, which is awaited. Hooks
run inline, in the task that runs the loop (a sub-agent's events reach the caller's hooks
from the task of the call that runs it), before the event is yielded. A hook that raises is
logged once per run (logger "agentkit.hooks") and keeps getting events; one whose
`critical` attribute is true stops the run with `HookError` instead.
"""

from __future__ import annotations

import inspect
import logging
import traceback
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Union

from agentkit._hygiene import error_text, redact
from agentkit.errors import HookError, RunError

__all__ = ["Hook", "HookCalls", "hook_name", "hook_problems"]

Hook = Callable[[Any], Union[Awaitable[None], None]]  # noqa: UP007

log = logging.getLogger("agentkit.hooks")


def hook_name(hook: object) -> str:
    """A hook's name in logs and errors: its `__name__`, else its class name."""
    name = getattr(hook, "__name__", None)
    return name if isinstance(name, str) and name else type(hook).__name__


def hook_problems(label: str, hooks: object) -> list[str]:
    """What is wrong with a sequence of hooks (or guardrails): each must be callable."""
    if callable(hooks) or isinstance(hooks, (str, bytes)) or not isinstance(hooks, Sequence):
        return [f"{label} must be a list of callables, got {hooks!r:.80}"]
    return [
        f"{label}[{index}] must be callable, got {hook!r:.80}"
        for index, hook in enumerate(hooks)
        if not callable(hook)
    ]


class HookCalls:
    """The hooks of one run: `await calls(event)` hands `event` to each, in order.

    Args:
        hooks: The agent's hooks.
        fail: Makes a `RunError` carry the run's messages and usage (`RunState.fail`).
        secrets: Strings never to show in a log line or an error.
    """

    __slots__ = ("_failed", "fail", "hooks", "secrets")

    def __init__(
        self,
        hooks: tuple[Hook, ...],
        fail: Callable[[RunError], RunError],
        secrets: tuple[str, ...] = (),
    ) -> None:
        self.hooks = hooks
        self.fail = fail
        self.secrets = secrets
        self._failed: set[int] = set()

    async def __call__(self, event: Any, *, last: bool = False) -> None:
        """Hand `event` to every hook; `last` (the `RunFailed` of a run) never raises.

        Raises:
            HookError: A critical hook raised.
        """
        for hook in self.hooks:
            try:
                result = hook(event)
                if result is not None and inspect.isawaitable(result):
                    await result
            except Exception as exc:
                if getattr(hook, "critical", False) and not last:
                    detail = redact(error_text(exc), self.secrets)
                    name = hook_name(hook)
                    error = HookError(
                        f"the critical hook {name!r} raised on a {event.type} event: {detail}",
                        hook=name,
                    )
                    raise self.fail(error) from exc
                self._log(hook, event, exc)

    def _log(self, hook: object, event: Any, exc: Exception) -> None:
        if id(hook) in self._failed:
            return  # once per hook per run: a broken hook must not flood the log
        self._failed.add(id(hook))
        # The traceback is formatted here, so that the key is redacted from it too.
        trace = redact("".join(traceback.format_exception(exc)), self.secrets)
        log.warning(
            "agentkit: the hook %s raised on a %s event (the run goes on; later errors of "
            "this hook in this run are not logged): %s\n%s",
            hook_name(hook),
            getattr(event, "type", "?"),
            redact(error_text(exc), self.secrets),
            trace.rstrip(),
        )
