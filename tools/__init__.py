"""The ready-made tools, a package shipped inside agentkit as `agentkit.toolbox`.

Each public module is a tool module, loaded by short name: `--tools calculator`, or
`load_tools("calculator")` from Python. The `_private` modules are their helpers (path
confinement, the sandbox, HTML to text); they are never loaded as tools.

| module | tools |
|---|---|
| brave_search | brave_search (Llama 3.1's built-in web search; Brave Search API key) |
| calculator | calculate |
| clock | current_time, add_time, time_between, weekday |
| code_interpreter | code_interpreter (Llama 3.1's built-in: the sandboxed python tool) |
| files | read_file, list_files, search_files, write_file (approval) |
| http_fetch | http_fetch |
| python | python (sandboxed) |
| shell | shell (sandboxed, allowlisted programs, read-only) |
| wolfram_alpha | wolfram_alpha (Llama 3.1's built-in computation; a Wolfram Alpha app id) |
"""
