"""`agentkit`: run, chat with and inspect agents from the command line (the console script).

Only this package imports click, rich and prompt_toolkit. `_main` declares the commands; the
work is in `_load` (the agent and its tools), `_target` (TARGET arguments), `_inspect`
(`agentkit tools`), `_session` (run and chat), `_prompt` (the chat's input line), `_output`,
`_render`, `_jsonlines` and `_markdown` (output), `_text` (what is safe to print) and
`_status` (exit statuses).
"""

from agentkit.cli._main import EXIT_INTERRUPTED, EXIT_OFFLINE, EXIT_RUN_ERROR, EXIT_USAGE, main

__all__ = ["EXIT_INTERRUPTED", "EXIT_OFFLINE", "EXIT_RUN_ERROR", "EXIT_USAGE", "main"]
