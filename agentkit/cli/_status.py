"""The exit statuses of `agentkit` (see `cli._main` for what each means)."""

__all__ = ["EXIT_INTERRUPTED", "EXIT_OFFLINE", "EXIT_RUN_ERROR", "EXIT_USAGE"]

EXIT_RUN_ERROR = 1
EXIT_USAGE = 2
EXIT_OFFLINE = 3
EXIT_INTERRUPTED = 130
