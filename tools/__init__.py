"""The ready-made tools, a package shipped inside agentkit as `agentkit.toolbox`.

Each public module is a tool module, loaded by short name: `--tools calculator`, or
`load_tools("calculator")` from Python. The `_private` modules are their helpers (path
confinement, the sandbox, HTML to text); they are never loaded as tools.

| module | tools |
|---|---|
| calculator | calculate |
| clock | current_time, add_time, time_between, weekday |
| files | read_file, list_files, search_files, write_file (approval) |
| http_fetch | http_fetch |
| python | python (sandboxed) |
| shell | shell (sandboxed, allowlisted programs, read-only) |
"""
