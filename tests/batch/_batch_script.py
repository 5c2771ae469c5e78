"""A batch in its own process, as `agentkit batch` will run one (signals, plain progress).

    python _batch_script.py URL ROWS OUTPUT CONCURRENCY

Prints how the batch ended ("complete", "interrupted", "cancelled"); exits 130 when stopped
by a signal, as the CLI will.
"""

from __future__ import annotations

import sys

from _batch_helpers import make_agent, numbered

from agentkit.batch import run_batch_sync
from agentkit.batch._cli_progress import PlainProgress


def main() -> None:
    url, count, output, concurrency = sys.argv[1:5]
    summary = run_batch_sync(
        make_agent(url),
        numbered(int(count)),
        output=output,
        concurrency=int(concurrency),
        interrupts=True,
        progress=PlainProgress(sys.stderr, every=0.0),
    )
    print(summary.stopped or "complete", flush=True)
    sys.exit(130 if summary.stopped in ("interrupted", "cancelled") else 0)


if __name__ == "__main__":
    main()
