"""agentkit: tool-calling agents on Llama 3.1 behind any OpenAI-compatible endpoint."""

from ._context import RunContext
from .errors import (
    AgentkitError,
    MaxTurnsExceeded,
    ModelError,
    ModelRetry,
    RunError,
    ToolRetriesExceeded,
    UsageLimitExceeded,
    UserError,
)
from .messages import (
    AssistantMessage,
    Message,
    SystemMessage,
    ToolCall,
    ToolMessage,
    Usage,
    UserMessage,
)
from .tools import Tool, tool

__version__ = "0.1.0"

__all__ = [
    "AgentkitError",
    "AssistantMessage",
    "MaxTurnsExceeded",
    "Message",
    "ModelError",
    "ModelRetry",
    "RunContext",
    "RunError",
    "SystemMessage",
    "Tool",
    "ToolCall",
    "ToolMessage",
    "ToolRetriesExceeded",
    "Usage",
    "UsageLimitExceeded",
    "UserError",
    "UserMessage",
    "tool",
]
