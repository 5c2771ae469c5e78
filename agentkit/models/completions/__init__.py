"""Llama 3.1 on raw completions endpoints (`/v1/completions`), prompted in its own format.

`LlamaCompletionsModel` renders Meta's Llama 3.1 prompt itself (`agentkit.llama.render_prompt`)
and reads the tool calls out of the completion with agentkit's recovery: for servers without
a chat template, with a wrong one, or without a tool-call parser. A model id prefixed
`completions:` (`Agent("completions:llama3.1", base_url=...)`) chooses it.
"""

from agentkit.models.completions._model import PREFIX, LlamaCompletionsModel

__all__ = ["PREFIX", "LlamaCompletionsModel"]
