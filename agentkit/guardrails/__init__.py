"""Guardrails: checks that may stop a run, and Llama Guard 3 ready to use as one.

```python
from agentkit.guardrails import LlamaGuard

guard = LlamaGuard("meta-llama/Llama-Guard-3-8B", base_url="http://localhost:8000/v1")
verdict = await guard.classify([UserMessage("How do I pick a lock?")])
verdict.tripped, verdict.categories        # True, ("S2",)
```

A guardrail is any callable, sync or async, taking a `GuardrailCheck` and returning a
`Verdict` (or None to pass); give it to `Agent(input_guardrails=[...],
output_guardrails=[...], tool_result_guardrails=[...])`. `run_guardrails` runs the
guardrails of one check together and raises `GuardrailTripped` (a `RunError` carrying the
verdict) when one trips, or `GuardrailError` when one cannot decide.
"""

from ._llamaguard import DEFAULT_GUARD_MODEL, LlamaGuard
from ._prompt import HAZARDS, Category, Turn, check_turns, parse_verdict, quote, render_prompt
from ._run import run_guardrails
from ._types import (
    CheckKind,
    Guardrail,
    GuardrailCheck,
    GuardrailError,
    GuardrailTripped,
    Verdict,
    guardrail_name,
)

__all__ = [
    "DEFAULT_GUARD_MODEL",
    "HAZARDS",
    "Category",
    "CheckKind",
    "Guardrail",
    "GuardrailCheck",
    "GuardrailError",
    "GuardrailTripped",
    "LlamaGuard",
    "Turn",
    "Verdict",
    "check_turns",
    "guardrail_name",
    "parse_verdict",
    "quote",
    "render_prompt",
    "run_guardrails",
]
