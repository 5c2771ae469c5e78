"""The OpenAI chat-completions format's one home: the adapter, stream assembly, wire dicts,
and what a probe found an endpoint can do (`Capabilities`, `OpenAIModel.probe()`)."""

from agentkit.models.openai._adapter import OpenAIModel
from agentkit.models.openai._capabilities import Capabilities, Check
from agentkit.models.openai._wire import (
    call_from_wire,
    call_to_wire,
    message_from_wire,
    message_to_wire,
    messages_from_wire,
    messages_to_wire,
    tool_calls_from_wire,
)

__all__ = [
    "Capabilities",
    "Check",
    "OpenAIModel",
    "call_from_wire",
    "call_to_wire",
    "message_from_wire",
    "message_to_wire",
    "messages_from_wire",
    "messages_to_wire",
    "tool_calls_from_wire",
]
