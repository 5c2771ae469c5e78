"""Run one allowed command-line program, read-only, on the project folder, in a sandbox.

Offers one tool, `shell`, which always requires the user's approval. The model passes an
argv (a list of strings), never a shell command line: no pipes, globs, redirections or
variables are interpreted, so one program runs with exactly the arguments given.

Security model: the program runs in the same sandbox as the `python` tool (see `_sandbox.py`:
bubblewrap, no network, read-only system, private /tmp, unprivileged user, clean environment,
resource limits, wall-clock limit, output cap, every process killed at the end). The folder
named by `AGENTKIT_SHELL_ROOT` (read at each call; default: the current working directory) is
visible read-only at `/work`, the working directory; the home folder itself, or a folder
above it (such as `/`), is refused. Secret files in it (`_secret_files.py`: `.env`,
`.netrc`, SSH keys, `*.pem`, `.ssh/`, ...; outside `.git`, `node_modules` and virtualenvs,
which are not examined) cannot be read: shown empty under bubblewrap, unreadable in
rlimits-only mode; a folder too big to examine (over 100,000 entries) is refused. When
agentkit runs as root the program runs as a uid of its own, so it sees only what is
world-readable in that folder.

The sandbox is the boundary; the allowlist keeps what the model can ask for small, readable
in an approval prompt, and free of programs that run other programs. Only programs that read
and print are allowed; a program is named by its bare name (paths such as `/bin/sh` are
refused) and looked up on the sandbox's own PATH. Left out on purpose: shells and
interpreters; `sed` (its `e` command runs a shell, `w` writes files); `awk` (`system()`);
`xargs`, `env`, `timeout`, `nice` (they run other programs). Refused options: `find`'s
`-exec`, `-execdir`, `-ok`, `-okdir`, `-delete` and `-fprint*`/`-fls` (run programs or write
files), `sort --compress-program` (runs a program), `sort -o`/`--output`, `sort -T` and
`uniq`'s output file (write files). These are checked with the arguments, before the user is
asked to approve the call. Without a working bubblewrap the tool refuses unless the user set
`AGENTKIT_SANDBOX=rlimits`; the result names the mode.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator

from agentkit import _env
from agentkit.errors import ModelRetry
from agentkit.tools import tool

from . import _paths, _sandbox, _secret_files

# The files tools' root check, shared: the prefix is the one `_paths.py` accepts.

_ROOT_ENV = "AGENTKIT_SHELL_ROOT"
_LIMITS = _sandbox.Limits(wall_seconds=20.0, cpu_seconds=15)
_MAX_ARGS = 200
_MAX_ARGV_CHARS = 32_000

_ALLOWED = (
    "cat",
    "cut",
    "date",
    "echo",
    "find",
    "grep",
    "head",
    "ls",
    "pwd",
    "sort",
    "tail",
    "tr",
    "uniq",
    "wc",
)
# Exact arguments refused per program.
_REFUSED = {
    "find": frozenset(
        {"-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fprint0", "-fprintf"}
        | {"-fls"}
    ),
}
# Long options refused per program, with the shortest prefix GNU getopt accepts for them.
_REFUSED_LONG = {
    "sort": (("--compress-program", 4), ("--output", 3), ("--temporary-directory", 3)),
}
# Short options that name a file to write (sort -o FILE, -T DIR), per program, and the short
# options that take an argument (the rest of the word, or the next word). A long option's
# value is read only after its `=`: a next word is checked as if it were an option too.
_REFUSED_SHORT = {"sort": "oT"}
_SHORT_WITH_ARGUMENT = {"sort": "ktoTS", "uniq": "fsw"}


def _refusal(reason: str) -> ModelRetry:
    """A refused call, said as the other argument errors are: before anyone is asked."""
    return ModelRetry(
        f"Invalid arguments for tool `shell`:\n- `argv`: {reason}\n"
        "Call `shell` again with corrected arguments."
    )


def _checked_argv(argv: list[str]) -> list[str]:
    """The argv, when it is allowed; checked as the arguments are, before approval."""
    _check_size(argv)
    if not argv:
        raise _refusal('it is empty: give the program and its arguments, e.g. ["ls", "-la"]')
    _check_program(argv[0])
    _check_options(argv[0], argv[1:])
    return argv


@tool(requires_approval=True, timeout=_LIMITS.wall_seconds + 30)
async def shell(argv: Annotated[list[str], AfterValidator(_checked_argv)]) -> str:
    """Run one read-only command-line program on the project folder and return its output.

    Allowed programs: cat, cut, date, echo, find, grep, head, ls, pwd, sort, tail, tr, uniq,
    wc. The project folder is the working directory (read-only, also at /work); only /tmp
    is writable. There is no shell: pipes, `*` globs, redirections and `$VARS` are not
    interpreted, so list files with `find` or `ls` instead of globs. No network. Options
    that run programs or write files (`find -exec`, `sort -o`, ...) are refused. A command
    still running after 20 s (e.g. `tail -f`) is stopped.

    Args:
        argv: The program and its arguments as a list of strings, one item per argument,
            e.g. ["grep", "-rn", "TODO", "."] or ["ls", "-la"].

    Returns:
        The sandbox mode, the exit status, any notes (timeout, truncated output), then
        stdout and stderr.
    """
    command = _checked(argv)  # also when called directly, not through the tool
    root = _root()
    outcome = await _sandbox.run(command, workdir=root, limits=_LIMITS, hidden=_secrets(root))
    return str(outcome.render())


def _allowed_text() -> str:
    return ", ".join(_ALLOWED)


def _checked(argv: Any) -> list[str]:
    """The argv when it is allowed; otherwise ModelRetry saying what to change."""
    if isinstance(argv, str):
        raise ModelRetry(
            f"`argv` must be a list of strings, not one string ({argv[:80]!r}): split the "
            'command into its words, e.g. ["ls", "-la"]. There is no shell.'
        )
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        raise ModelRetry(
            f'`argv` must be a non-empty list of strings, e.g. ["ls", "-la"]; got {argv!r:.80}.'
        )
    return _checked_argv(list(argv))


def _check_size(argv: list[str]) -> None:
    if len(argv) > _MAX_ARGS or sum(len(a) for a in argv) > _MAX_ARGV_CHARS:
        raise _refusal(
            f"it is too long ({len(argv)} items, {sum(len(a) for a in argv)} characters); "
            f"the limits are {_MAX_ARGS} items and {_MAX_ARGV_CHARS} characters"
        )
    if any("\x00" in a for a in argv):
        raise _refusal("it contains a NUL character; remove it")
    if any(not a.isprintable() and any(0xD800 <= ord(c) <= 0xDFFF for c in a) for a in argv):
        raise _refusal("it contains a lone surrogate (not UTF-8); fix it")


def _check_program(program: str) -> None:
    if "/" in program:
        raise _refusal(
            f"{program!r} is a path: give a bare program name from the allowed list "
            f"({_allowed_text()}); programs are found on the sandbox's PATH"
        )
    if program not in _ALLOWED:
        raise _refusal(
            f"{program!r} is not an allowed program. Allowed: {_allowed_text()}. Shells, "
            "interpreters and programs that run other programs are not available; use the "
            "`python` tool for computation, if it is offered"
        )


def _check_options(program: str, arguments: list[str]) -> None:
    refused = _REFUSED.get(program, frozenset())
    takes_argument = _SHORT_WITH_ARGUMENT.get(program, "")
    operands: list[str] = []
    skip = False
    for index, argument in enumerate(arguments):
        if skip:
            skip = False
            continue
        if argument in refused:
            raise _refusal(
                f"`{program} {argument}` is refused: it runs programs or writes files. Use "
                f"{program} only to read and print; refused here: {', '.join(sorted(refused))}"
            )
        if argument == "--":
            operands += arguments[index + 1 :]
            break
        if argument.startswith("--"):
            # Its value is taken to be after `=`: a next word is checked as a word of its own.
            _check_long(program, argument.split("=", 1)[0], argument)
        elif argument.startswith("-") and len(argument) > 1 and takes_argument:
            skip = _check_short_cluster(program, argument, takes_argument)
        else:
            operands.append(argument)
    if program == "uniq" and len(operands) > 1:
        raise _refusal(
            f"`uniq {' '.join(operands[:2])}` is refused: a second file name is the file uniq "
            "writes. Give one input file (and long options as --name=value); the result "
            "comes back as its output"
        )


def _check_long(program: str, name: str, argument: str) -> None:
    for option, shortest in _REFUSED_LONG.get(program, ()):
        if len(name) >= shortest and option.startswith(name):
            what = "runs another program" if option == "--compress-program" else "writes files"
            raise _refusal(f"`{program} {option}` (given as {argument!r}) is refused: it {what}")


def _check_short_cluster(program: str, argument: str, takes_argument: str) -> bool:
    """Check `-abc`; True when its last option takes the next word as its argument."""
    for position, letter in enumerate(argument[1:], start=1):
        if letter in _REFUSED_SHORT.get(program, ""):
            raise _refusal(
                f"`{program} -{letter}` (in {argument!r}) is refused: it names a file or "
                "folder to write; the result comes back as the output"
            )
        if letter in takes_argument:
            return position == len(argument) - 1  # `-k` alone: its argument is the next word
    return False


def _secrets(root: Path) -> list[str]:
    """The secret files under the folder, which the program must not see."""
    try:
        return _secret_files.find_secrets(str(root))
    except _secret_files.TooManyFiles as exc:
        raise RuntimeError(
            f"{exc}: too many to check for secret files (.env, keys) before showing it to the "
            f"program, so it was not run. Tell the user: {_ROOT_ENV} can name a smaller folder."
        ) from None


def _root() -> Path:
    configured = (_env.setting(_ROOT_ENV) or "").strip()
    root = Path(configured).expanduser() if configured else Path.cwd()
    if not root.is_dir():
        raise NotADirectoryError(
            f"{_ROOT_ENV}={configured!r} is not a folder; the user must set it to an existing "
            "folder (or unset it to use the current directory)"
        )
    root = root.resolve()
    _paths.refuse_whole_home(root, "shell tool", _ROOT_ENV)
    return root
