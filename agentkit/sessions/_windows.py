"""The context windows agentkit knows, and the default prompt budget (no heavy imports:
an `Agent` asks them for every model id)."""

from __future__ import annotations

import re

__all__ = ["CONTEXT_WINDOW", "OUTPUT_RESERVE", "context_window", "default_input_budget"]

CONTEXT_WINDOW = 131_072  # Llama 3.1, every size
OUTPUT_RESERVE = 16_384  # the longest reply most providers allow it


# Model ids of the Llama 3.1 family and its successors with the same window (3.2, 3.3), as
# servers name them: meta-llama/Llama-3.1-8B-Instruct, llama-3.1-8b-instant, llama3.1:70b,
# Meta-Llama-3.1-70B-Instruct-Turbo, llama3.3 ...
_LLAMA_128K = re.compile(r"llama[-_ ]?3[._]?[123](?!\d)", re.IGNORECASE)


def context_window(model: str) -> int | None:
    """The context window of a model id agentkit knows (Llama 3.1, 3.2, 3.3); else None."""
    return CONTEXT_WINDOW if _LLAMA_128K.search(model) else None


def default_input_budget(
    context_window: int = CONTEXT_WINDOW, max_output_tokens: int | None = None
) -> int:
    """The prompt budget by default: the context window minus the room for the reply."""
    return context_window - (OUTPUT_RESERVE if max_output_tokens is None else max_output_tokens)
