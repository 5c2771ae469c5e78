"""A batch in its own process, as `agentkit batch` runs one (signals, plain progress).

    python _batch_script.py URL ROWS OUTPUT CONCURRENCY [MAX_FILE_BYTES]

Prints how the batch ended ("complete", "interrupted", "cancelled", or the error); exits
130 when stopped by a signal, 1 when the batch stopped, 2 when it was refused, as the CLI
does. MAX_FILE_BYTES caps the size of every file the process writes (RLIMIT_FSIZE): the
kernel then refuses writes past it, as a full disk refuses them.
"""

from __future__ import annotations

import resource
import signal
import sys

from _batch_helpers import make_agent, numbered

from agentkit import UserError
from agentkit.batch import BatchStopped, run_batch_sync
from agentkit.cli._batch_progress import PlainProgress, summary_lines


def main() -> None:
    url, count, output, concurrency, *limit = sys.argv[1:]
    if limit:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the cap fails instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (int(limit[0]), int(limit[0])))
    try:
        summary = run_batch_sync(
            make_agent(url),
            numbered(int(count)),
            output=output,
            concurrency=int(concurrency),
            interrupts=True,
            progress=PlainProgress(sys.stderr, every=0.0),
        )
    except BatchStopped as exc:
        print("\n".join(summary_lines(exc.summary)), file=sys.stderr, flush=True)
        print(f"stopped: {exc}", flush=True)
        sys.exit(1)
    except UserError as exc:
        print(f"refused: {exc}", flush=True)
        sys.exit(2)
    print(summary.stopped or "complete", flush=True)
    sys.exit(130 if summary.stopped in ("interrupted", "cancelled") else 0)


if __name__ == "__main__":
    main()
