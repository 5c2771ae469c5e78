"""Batch runs: an agent over thousands of rows, resumable, rate-limited, local or on Ray.

```python
from agentkit.batch import run_batch_sync

summary = run_batch_sync(agent, "questions.jsonl", output="answers.jsonl", concurrency=32)
print(summary.progress.ok, "answered;", summary.progress.errors, "failed")
```

The output file is the ledger: one JSON line per finished row (id, status, output, usage,
cost, attempts, duration, error), appended and fsynced by one writer. Run the same call
again to resume: finished rows are skipped, a torn last line is repaired, failed rows are
tried again with `retry_errors=True`, and a manifest beside the output refuses to mix in
results of another agent configuration unless `force=True`.
"""

from ._interrupts import run_batch_sync, watch_interrupts
from ._ledger import read_results
from ._manifest import ResumeRefused, manifest_path
from ._run import run_batch
from ._types import BatchControl, BatchProgress, BatchStopped, BatchSummary

__all__ = [
    "BatchControl",
    "BatchProgress",
    "BatchStopped",
    "BatchSummary",
    "ResumeRefused",
    "manifest_path",
    "read_results",
    "run_batch",
    "run_batch_sync",
    "watch_interrupts",
]
