"""An assistant for the files of a project folder: it lists, searches, reads and writes them.

    agentkit run examples/file_assistant.py "list the files"
    AGENTKIT_FILES_ROOT=~/notes agentkit chat examples/file_assistant.py

The folder is AGENTKIT_FILES_ROOT, else the working directory; paths outside it are refused.
Writing a file always asks you first (y/n). The model is
`model_from_env()` (see examples/weather.py).
"""

from __future__ import annotations

import sys

from agentkit import Agent
from agentkit.models import model_from_env
from agentkit.tools import load_tools

EXAMPLE_PROMPT = "list the files"

agent = Agent(
    model=model_from_env(),
    instructions=(
        "You help the user with the files in their project folder. Look before you answer: "
        "list, search and read the files that matter, and cite the paths you used. Paths are "
        "relative to the project folder. Write a file only when the user asks for it; the "
        "user is asked to approve every write, so say what you are about to write and why."
    ),
    tools=load_tools("files"),
)

if __name__ == "__main__":
    from agentkit.cli import main

    main(["run", __file__, *(sys.argv[1:] or [EXAMPLE_PROMPT])], prog_name="agentkit")
