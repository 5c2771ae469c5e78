"""The turn loop and its steps (private).

`loop` runs turns; `state` holds a run's conversation (its one writer), usage and limits;
`reply` gets a well-formed reply from the model; `calls` admits and records a reply's tool
calls, which `execute` runs; `output` is the structured-output tool; `notes` holds every
sentence the loop itself sends the model; `hooks` hands each event to the agent's hooks,
`guard` runs the guardrails at their points, and `nested` runs agents used as tools inside
their caller's tool calls.
"""
