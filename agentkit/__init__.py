"""agentkit: tool-calling agents on Llama 3.1 behind any OpenAI-compatible endpoint.

```python
from agentkit import Agent, tool

@tool
def add(a: int, b: int) -> int:
    '''Add two numbers.'''
    return a + b

agent = Agent(model="offline", tools=[add])
print(agent.run_sync("add 2 and 3").output)
```

More in `agentkit.events` (what `Agent.stream` yields), `agentkit.models` (the model
interface and the OpenAI-compatible adapter), `agentkit.llama` (tool calls left as text)
`agentkit.testing` (scripted models and a fake server), `agentkit.guardrails` (checks
that may stop a run; Llama Guard 3) and `agentkit.tracing` (OpenTelemetry, a timeline).
"""

# The layout, top to bottom (each layer imports only those below it; see pyproject.toml):
#   cli/        the `agentkit` command
#   agent.py    Agent: configuration, run / run_sync / stream, replace()
#   _loop/      the turn loop and its steps; the one writer of the conversation
#   testing/    scripted and function models, the fake server, the pytest plugin
#   models/     the Model interface; openai/ (the adapter and the wire format); offline/
#   toolbox/    the ready-made tools (the repository's tools/ folder)
#   tools/      Tool, @tool, schemas from functions and raw JSON schemas, tool files
#   llama/      Llama 3.1 tool calls recovered from text, and the stream gate
#   events.py, messages.py, usage.py, errors.py   the data types
# Beside them: tracing/ (hooks that record runs; above the agent, which never imports it)
# and guardrails/ (below the loop, which runs them); mcp/ (MCP servers as tools, and tools
# served over MCP; above the agent, which knows servers only as tool sources: _sources.py).

from agentkit._context import RunContext
from agentkit.agent import Agent, RunResult, UsageLimits
from agentkit.errors import (
    AgentkitError,
    ContextBudgetExceeded,
    GuardrailTripped,
    HookError,
    MaxDepthExceeded,
    MaxTurnsExceeded,
    ModelError,
    ModelRetry,
    RunError,
    SessionBusy,
    SessionDatabaseError,
    SessionError,
    SessionNotFound,
    ToolRetriesExceeded,
    UsageLimitExceeded,
    UserError,
)
from agentkit.messages import (
    AssistantMessage,
    Message,
    SystemMessage,
    ToolCall,
    ToolMessage,
    Usage,
    UserMessage,
)
from agentkit.tools import Tool, tool

__version__ = "0.1.0"

__all__ = [
    "Agent",
    "AgentkitError",
    "AssistantMessage",
    "ContextBudgetExceeded",
    "GuardrailTripped",
    "HookError",
    "MaxDepthExceeded",
    "MaxTurnsExceeded",
    "Message",
    "ModelError",
    "ModelRetry",
    "RunContext",
    "RunError",
    "RunResult",
    "SessionBusy",
    "SessionDatabaseError",
    "SessionError",
    "SessionNotFound",
    "SystemMessage",
    "Tool",
    "ToolCall",
    "ToolMessage",
    "ToolRetriesExceeded",
    "Usage",
    "UsageLimitExceeded",
    "UsageLimits",
    "UserError",
    "UserMessage",
    "tool",
]
