"""The model interface: a complete reply, or a streamed one; settings; choosing a model.

A `Model` answers a list of messages with one assistant message (`request`), or streams
it (`request_stream`: text deltas, then the complete response). There is one real adapter,
`OpenAIModel` (in `agentkit.models.openai`), for any OpenAI-compatible endpoint, and its
variant for raw completions endpoints, `LlamaCompletionsModel` (`agentkit.models.completions`:
Meta's Llama 3.1 prompt rendered by agentkit); the offline model (`agentkit.models.offline`)
and the testing kit's models implement the same interface.
"""

from agentkit._env import DEFAULT_BASE_URL, DEFAULT_MODEL, ENDPOINT_VARIABLES, model_from_env
from agentkit.models._base import (
    OUTPUT_TOOL_NAME,
    Model,
    ModelResponse,
    ModelSettings,
    ToolUseFailed,
    UnparsedToolCall,
)
from agentkit.models.completions import LlamaCompletionsModel
from agentkit.models.openai import OpenAIModel

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MODEL",
    "ENDPOINT_VARIABLES",
    "OUTPUT_TOOL_NAME",
    "LlamaCompletionsModel",
    "Model",
    "ModelResponse",
    "ModelSettings",
    "OpenAIModel",
    "ToolUseFailed",
    "UnparsedToolCall",
    "model_from_env",
]
