"""The context budget in the loop: the view of the history each request sends.

Before each request the history goes through the user's `history_processor`, then the
budget's `Trimmer` (`agentkit.sessions`): the model gets that view, while the run's
conversation (and the session it is stored in) stays whole. After the reply, the usage the
server reported recalibrates the estimate. One trimmer per conversation: per session, so its
cuts (the hysteresis that keeps the prompt's start stable for the server's prefix cache) and
its calibration carry over from run to run; per run without a session.

With neither a budget nor a processor, `Window.open` gives None and the loop sends the
conversation as it is, at no cost; `agentkit.sessions` is not even imported then.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from agentkit.errors import ContextBudgetExceeded, UserError
from agentkit.events import ContextTrimmed
from agentkit.messages import Message
from agentkit.models import Model, OpenAIModel
from agentkit.sessions._windows import context_window, default_input_budget
from agentkit.usage import Usage

if TYPE_CHECKING:
    from agentkit._loop.state import RunState
    from agentkit.sessions import ContextBudget, HistoryProcessor, TokenCounter, Trimmer

__all__ = ["RunWindow", "Window", "budget_problems", "input_budget", "observe"]


def input_budget(
    max_input_tokens: int | None, model: str, settings: Mapping[str, Any] | None = None
) -> int | None:
    """The prompt budget: as given; else the known model's window minus the reply's room
    (`max_tokens` of the settings, else 16,384). None for a model agentkit does not know
    (no default budget: nothing is trimmed)."""
    if max_input_tokens is not None:
        return max_input_tokens
    window = context_window(model)
    if window is None:
        return None
    reserve = (settings or {}).get("max_tokens")
    return default_input_budget(window, reserve if isinstance(reserve, int) else None)


def budget_problems(
    max_input_tokens: Any, model: Model | None, settings: Mapping[str, Any] | None
) -> list[str]:
    """What is wrong with the agent's budget (given its model and settings, once valid)."""
    problems = []
    value = max_input_tokens
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        problems.append(f"max_input_tokens must be a whole number >= 1 or None, got {value!r}")
    elif model is not None and settings is not None:
        budget = input_budget(value, model.name, settings)
        if budget is not None and budget < 1:
            problems.append(
                f"model_settings max_tokens={settings.get('max_tokens')} leaves no room for the "
                f"prompt in {model.name}'s {context_window(model.name) or 0:,}-token context: "
                "lower it, or set max_input_tokens"
            )
    return problems


class Window:
    """An agent's context budget: its settings, and the trimmer of each conversation.

    Args:
        budget: `max_input_tokens` (resolved: see `input_budget`); None for no budget.
        processor: The user's `history_processor`.
        counter: The server's token counter (`server_token_counter`); without one, the
            server's own when the endpoint's saved probe found a tokenize endpoint.
        definitions: The tool definitions every request sends.
        model: The agent's model.
    """

    def __init__(
        self,
        budget: int | None,
        processor: HistoryProcessor | None,
        counter: TokenCounter | None,
        definitions: Sequence[Mapping[str, Any]],
        model: Model | None = None,
    ) -> None:
        wrong = [
            f"{name} must be a function, got {hook!r:.80}"
            for name, hook in (("history_processor", processor), ("token_counter", counter))
            if hook is not None and not callable(hook)
        ]
        if wrong:
            raise UserError("the agent is not valid:", wrong)
        self.budget: ContextBudget | None = None
        if budget is not None:
            from agentkit.sessions import ContextBudget

            self.budget = ContextBudget(budget)
        self.processor = processor
        self.counter = counter
        self.definitions = definitions
        self.model = model
        self._probed = counter is not None
        self._trimmers: weakref.WeakKeyDictionary[object, Trimmer] = weakref.WeakKeyDictionary()

    def exact_counter(self) -> TokenCounter | None:
        """The counter of exact prompt sizes near the budget: the user's; else, looked up
        once, llama.cpp's own tokenizer when `agentkit probe` found its endpoint."""
        if not self._probed:
            self._probed = True
            self.counter = _probed_counter(self.model)
        return self.counter

    def open(self, conversation: object | None) -> RunWindow | None:
        """What one run uses; None when there is nothing to do (no budget, no processor)."""
        if self.budget is None:
            return None if self.processor is None else RunWindow(self, None)
        from agentkit.sessions import Trimmer

        if conversation is None:
            return RunWindow(self, Trimmer(self.budget))
        try:
            trimmer = self._trimmers.get(conversation)
            if trimmer is None:
                trimmer = self._trimmers[conversation] = Trimmer(self.budget)
        except TypeError:  # a session class without weak references: a trimmer per run
            trimmer = Trimmer(self.budget)
        return RunWindow(self, trimmer)


class RunWindow:
    """One run's view of its history: trimmed before each request, calibrated after it."""

    def __init__(self, window: Window, trimmer: Trimmer | None) -> None:
        self.window = window
        self.trimmer = trimmer

    async def view(
        self, run: RunState, turn: int
    ) -> tuple[Sequence[Message], ContextTrimmed | None]:
        """The messages to send for `turn`, and the event saying what was trimmed (if newly).

        Raises:
            ContextBudgetExceeded: Even the minimum does not fit (through `run.fail`).
            UserError: The history processor broke the conversation.
        """
        from agentkit.sessions import prepare_view, run_history_processor

        window, trimmer = self.window, self.trimmer
        if trimmer is None:
            assert window.processor is not None
            return await run_history_processor(window.processor, run.messages), None
        try:
            result = await prepare_view(
                run.messages,
                window.definitions,
                trimmer,
                current=run.prompt_at,
                processor=window.processor,
                counter=window.exact_counter(),
            )
        except ContextBudgetExceeded as exc:
            raise run.fail(exc) from None
        if not result.trimmed:
            return result.messages, None
        event = ContextTrimmed(
            turn=turn,
            tokens_before=result.tokens_before,
            tokens=result.tokens,
            budget=result.budget,
            dropped_turns=result.dropped_turns,
            dropped_messages=result.dropped_messages,
            cut_results=result.cut_results,
            cut_chars=result.cut_chars,
            run_id=run.run_id,
        )
        return result.messages, event

    def observe(self, messages: Sequence[Message], usage: Usage) -> None:
        """Recalibrate the estimate from the prompt tokens the server reported for `messages`."""
        if self.trimmer is not None:
            self.trimmer.estimator.observe(messages, self.window.definitions, usage.prompt_tokens)


def observe(window: RunWindow | None, messages: Sequence[Message], usage: Usage) -> None:
    """Recalibrate the window's estimate from a reply's usage (nothing without a window)."""
    if window is not None:
        window.observe(messages, usage)


def _probed_counter(model: Model | None) -> TokenCounter | None:
    """llama.cpp's tokenizer for this model, when the endpoint's saved probe found it."""
    if not isinstance(model, OpenAIModel):
        return None
    probed = model.capabilities
    if probed is None or probed.result("tokenize") != "available":
        return None
    from agentkit.sessions import server_token_counter

    key = next(iter(model.secrets), None)
    return server_token_counter(model.base_url, "llama.cpp", model=model.name, api_key=key)
