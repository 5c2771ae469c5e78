"""Test your agents without a network: scripted and function models, and a fake server.

- `ScriptedModel([...])` replays replies in order, records every request, and fails the test
  when replies are left over (`with ScriptedModel(...)` or `assert_done()`).
- `FunctionModel(fn)` lets a function (sync or async) produce each reply.
- `FakeServer` is a real OpenAI-compatible HTTP server on 127.0.0.1 with scripted replies
  and injected faults, for end-to-end tests through the `openai` client; the `fake_server`
  pytest fixture hands out one that is stopped after the test.

A scripted reply is a `str` (text), a `ToolCall`, a list of `ToolCall`s, an
`AssistantMessage`, a `ModelResponse`, or an exception to raise.
"""

from agentkit.testing._fake_replies import (
    Chunks,
    Completion,
    Drop,
    Error,
    FakeRequest,
    Hang,
    Raw,
    Reply,
    TextCompletion,
)
from agentkit.testing._fake_server import FakeServer
from agentkit.testing._models import FunctionModel, ModelRequest, ScriptedModel, ScriptedReply, call

__all__ = [
    "Chunks",
    "Completion",
    "Drop",
    "Error",
    "FakeRequest",
    "FakeServer",
    "FunctionModel",
    "Hang",
    "ModelRequest",
    "Raw",
    "Reply",
    "ScriptedModel",
    "ScriptedReply",
    "TextCompletion",
    "call",
]
