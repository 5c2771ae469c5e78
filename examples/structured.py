"""Structured output: turn a free-form description of an event into a validated calendar entry.

    agentkit run examples/structured.py 'Lunch "Kickoff" with Ada on 2025-03-14, 90 minutes'

`result.output` is a `CalendarEntry` (a pydantic model), not text: the model gives it through
the `final_result` tool, whose schema is the model's, and agentkit validates it (asking the
model again when it does not fit). The model is
`model_from_env()` (see examples/weather.py).
"""

from __future__ import annotations

import datetime as dt
import sys

from pydantic import BaseModel, Field

from agentkit import Agent
from agentkit.models import model_from_env

EXAMPLE_PROMPT = (
    'Lunch "Project kickoff" with Ada and Grace on March 14, 2025 at 12:30, for 90 minutes'
)


class CalendarEntry(BaseModel):
    """A calendar entry for one event."""

    title: str = Field(description="A short title, e.g. 'Project kickoff'.")
    date: dt.date = Field(description="The day of the event, as YYYY-MM-DD.")
    start: str | None = Field(None, description="Start time as HH:MM (24 h), when given.")
    duration_minutes: int = Field(
        60, ge=5, le=24 * 60, description="How long it lasts, in minutes."
    )
    attendees: list[str] = Field(
        default_factory=list, description="The people named, other than the user."
    )


agent = Agent(
    model=model_from_env(),
    instructions=(
        "Extract the event the user describes as a calendar entry. Use only what the user "
        "said: leave out what they did not say, and keep the default duration when none is "
        "given."
    ),
    output_type=CalendarEntry,
)

if __name__ == "__main__":
    from agentkit.cli import main

    main(["run", __file__, *(sys.argv[1:] or [EXAMPLE_PROMPT])], prog_name="agentkit")
