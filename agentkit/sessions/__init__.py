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

# The names load on first use (PEP 562): `import agentkit` (which the loop's budget and
# sessions hang from) then pays nothing for SQLite and the stores until they are used.
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentkit.errors import (
        ContextBudgetExceeded,
        SessionBusy,
        SessionDatabaseError,
        SessionError,
        SessionNotFound,
    )

    from ._context import HistoryProcessor, prepare_view, run_history_processor
    from ._memory import MemoryRun, MemorySession, MemoryStore
    from ._paths import default_db_path
    from ._sqlite import SQLiteRun, SQLiteSession, SQLiteStore
    from ._tokenize import TokenCounter, server_root, server_token_counter
    from ._tokens import LLAMA31, TemplateCosts, TokenEstimator
    from ._trim import ContextBudget, Trimmer, TrimResult
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
    from ._windows import CONTEXT_WINDOW, OUTPUT_RESERVE, context_window, default_input_budget

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
    "SessionDatabaseError",
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

_HOMES = {
    "CONTEXT_WINDOW": "._windows",
    "LLAMA31": "._tokens",
    "OUTPUT_RESERVE": "._windows",
    "ContextBudget": "._trim",
    "ContextBudgetExceeded": "agentkit.errors",
    "HistoryProcessor": "._context",
    "MemoryRun": "._memory",
    "MemorySession": "._memory",
    "MemoryStore": "._memory",
    "RunRecord": "._types",
    "RunStatus": "._types",
    "SQLiteRun": "._sqlite",
    "SQLiteSession": "._sqlite",
    "SQLiteStore": "._sqlite",
    "SearchHit": "._types",
    "Session": "._types",
    "SessionBusy": "agentkit.errors",
    "SessionDatabaseError": "agentkit.errors",
    "SessionError": "agentkit.errors",
    "SessionInfo": "._types",
    "SessionNotFound": "agentkit.errors",
    "SessionRun": "._types",
    "SessionStore": "._types",
    "TemplateCosts": "._tokens",
    "TokenCounter": "._tokenize",
    "TokenEstimator": "._tokens",
    "TrimResult": "._trim",
    "Trimmer": "._trim",
    "context_window": "._windows",
    "conversation_problems": "._types",
    "default_db_path": "._paths",
    "default_input_budget": "._windows",
    "prepare_view": "._context",
    "run_history_processor": "._context",
    "server_root": "._tokenize",
    "server_token_counter": "._tokenize",
}


def __getattr__(name: str) -> Any:
    import importlib

    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
