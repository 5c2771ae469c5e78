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
and `agentkit.testing` (scripted models and a fake server).
"""

from agentkit._context import RunContext
from agentkit.agent import Agent, RunResult, UsageLimits
from agentkit.errors import (
    AgentkitError,
    MaxTurnsExceeded,
    ModelError,
    ModelRetry,
    RunError,
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
    "MaxTurnsExceeded",
    "Message",
    "ModelError",
    "ModelRetry",
    "RunContext",
    "RunError",
    "RunResult",
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
