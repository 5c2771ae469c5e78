"""Tracing: agentkit runs as OpenTelemetry GenAI spans and metrics, and a short timeline.

```python
from agentkit.tracing import OpenTelemetryHook

agent = Agent(..., hooks=[OpenTelemetryHook()])   # the global providers; no content
```

`OpenTelemetryHook` needs `pip install 'agentkit-llama[otel]'` (opentelemetry-api only); without
an SDK and an exporter configured it records nothing and costs next to nothing. `Recorder`
and `render_timeline` need nothing: they keep a run's events with their times and print a
timeline of requests, tool calls, durations and tokens (what `agentkit run --trace` shows).
`OtlpExport` (`pip install 'agentkit-llama[otlp]'`) sends spans and metrics to an OTLP collector:
the only way agentkit exports anything.
"""

from ._otel import OpenTelemetryHook
from ._otlp import OtlpExport
from ._timeline import Recorder, render_timeline

__all__ = ["OpenTelemetryHook", "OtlpExport", "Recorder", "render_timeline"]
