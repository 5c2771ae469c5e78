"""Conversations that persist, and a context budget for Llama 3.1's window.

```python
from agentkit.sessions import SQLiteSession

session = SQLiteSession("support-42")          # in the user's data folder
history = await session.load()
async with session.run(model="llama-3.1-70b") as run:   # one run at a time
    await run.commit([user, assistant_with_calls, *results], usage=usage)
```

- `Session` / `SessionStore`: the protocols; `MemorySession`/`MemoryStore` in this
  process, `SQLiteSession`/`SQLiteStore` in a file shared by processes (WAL, a busy timeout,
  `BEGIN IMMEDIATE` writes, versioned migrations).
- A turn is stored whole or not at all: an assistant message with tool calls is appended
  with all its results in one transaction.
- One run at a time per session (`session.run()`), across processes; `SessionBusy` (or
  `wait=`); a lease left by a dead process is taken over.
- Export and import as JSON lines; full-text search with FTS5 where SQLite has it.
- `TokenEstimator`, `ContextBudget` and `Trimmer`: the prompt's size without the model's
  tokenizer, and a trimmed view of the history when it would not fit.
"""

from agentkit.errors import ContextBudgetExceeded, SessionBusy, SessionError, SessionNotFound

from ._context import HistoryProcessor, prepare_view, run_history_processor
from ._memory import MemoryRun, MemorySession, MemoryStore
from ._paths import default_db_path
from ._sqlite import SQLiteRun, SQLiteSession, SQLiteStore
from ._tokenize import TokenCounter, server_root, server_token_counter
from ._tokens import LLAMA31, TemplateCosts, TokenEstimator
from ._trim import (
    CONTEXT_WINDOW,
    OUTPUT_RESERVE,
    ContextBudget,
    Trimmer,
    TrimResult,
    context_window,
    default_input_budget,
)
from ._types import (
    RunRecord,
    RunStatus,
    SearchHit,
    Session,
    SessionInfo,
    SessionRun,
    SessionStore,
    conversation_problems,
)

__all__ = [
    "CONTEXT_WINDOW",
    "LLAMA31",
    "OUTPUT_RESERVE",
    "ContextBudget",
    "ContextBudgetExceeded",
    "HistoryProcessor",
    "MemoryRun",
    "MemorySession",
    "MemoryStore",
    "RunRecord",
    "RunStatus",
    "SQLiteRun",
    "SQLiteSession",
    "SQLiteStore",
    "SearchHit",
    "Session",
    "SessionBusy",
    "SessionError",
    "SessionInfo",
    "SessionNotFound",
    "SessionRun",
    "SessionStore",
    "TemplateCosts",
    "TokenCounter",
    "TokenEstimator",
    "TrimResult",
    "Trimmer",
    "context_window",
    "conversation_problems",
    "default_db_path",
    "default_input_budget",
    "prepare_view",
    "run_history_processor",
    "server_root",
    "server_token_counter",
]
