"""`python -m agentkit ...`: the same as the `agentkit` command."""

from agentkit.cli._main import main

if __name__ == "__main__":
    main(prog_name="agentkit")
