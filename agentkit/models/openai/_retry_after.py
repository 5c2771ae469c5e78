"""How long an endpoint that refused a request asked to wait: its `Retry-After`, in seconds.

Read on 429 (too many requests) and 503 (unavailable) answers, the two that carry it:
`retry-after-ms` (milliseconds, sent by OpenAI and others), else `retry-after` in seconds or
as an HTTP date. Anything unreadable counts as not said.
"""

from __future__ import annotations

import email.utils
import math
import time
from typing import Any

__all__ = ["WAIT_STATUSES", "retry_after"]

WAIT_STATUSES = frozenset({429, 503})


def retry_after(status: int, headers: Any) -> float | None:
    """Seconds to wait (>= 0) that a 429 or 503 answer's headers ask for; None if they do not."""
    if status not in WAIT_STATUSES or not hasattr(headers, "get"):
        return None
    for name, unit in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if not isinstance(value, str) or not value.strip():
            continue
        try:
            seconds = float(value) * unit
        except ValueError:
            if name == "retry-after-ms":
                continue
            parsed = email.utils.parsedate_tz(value)
            if parsed is None:
                continue
            seconds = email.utils.mktime_tz(parsed) - time.time()
        if math.isfinite(seconds):
            return max(0.0, seconds)
    return None
