"""`agentkit`: run, chat with and inspect agents from the command line (the console script).

Only this package imports click and rich. `_main` declares the commands; the work is in
`_load` (the agent and its tools), `_target` (TARGET arguments), `_session` (run and chat),
`_render` (output) and `_text` (what is safe to print).
"""

from agentkit.cli._main import EXIT_INTERRUPTED, EXIT_OFFLINE, EXIT_RUN_ERROR, EXIT_USAGE, main

__all__ = ["EXIT_INTERRUPTED", "EXIT_OFFLINE", "EXIT_RUN_ERROR", "EXIT_USAGE", "main"]
