"""Which files hold secrets: the names the `files` and `shell` tools never show the model.

A helper of `files.py` and `shell.py`, not a tool module. It holds `is_secret(name)` and
`secret_reason(name)`: whether a file or folder name is a well-known home of keys,
passwords or tokens, and what it holds; `find_secrets(root)`, those under a folder; and
`readable_except(root, secrets)`, the Landlock grants that read a folder without them.
Matched by name only, never by content:

- environment files: `.env` and `.env.*` (except the templates `.env.example`,
  `.env.sample`, `.env.template`, `.env.dist`), and `*.env`;
- credentials of tools: `.netrc`, `_netrc`, `.pgpass`, `.git-credentials`, `.npmrc`,
  `.pypirc`, `.htpasswd`, `credentials`, `credentials.json`;
- SSH private keys: `id_rsa`, `id_dsa`, `id_ecdsa`, `id_ed25519` (and their `_sk` forms);
- key material: `*.pem`, `*.key`, `*.p12`, `*.pfx`, `*.jks`, `*.keystore`;
- folders of them: `.ssh`, `.gnupg`, `.aws`, `.docker`.

Security role: the model, and everything it reads, is untrusted; a tool that reads such a
file hands its secrets to the model, which can send them on (`http_fetch`). agentkit's own
key is redacted from whatever reaches the model, but other keys in those files are not known
to it: keeping the files out is the only protection they have.
"""

from __future__ import annotations

import os

_NAMES = {
    ".netrc": "login credentials",
    "_netrc": "login credentials",
    ".pgpass": "database passwords",
    ".git-credentials": "git credentials",
    ".npmrc": "registry tokens",
    ".pypirc": "registry tokens",
    ".htpasswd": "password hashes",
    "credentials": "cloud credentials",
    "credentials.json": "credentials",
}
_SSH_KEYS = ("id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk")
_FOLDERS = {".ssh": "SSH keys", ".gnupg": "GnuPG keys", ".aws": "AWS keys", ".docker": "tokens"}
_KEY_SUFFIXES = (".pem", ".key", ".p12", ".pfx", ".jks", ".keystore")
_ENV_TEMPLATES = (".example", ".sample", ".template", ".dist")


def secret_reason(name: str) -> str | None:
    """What a file or folder of this name holds, when it is a secret one; else None."""
    lowered = name.lower()
    if lowered in _NAMES:
        return _NAMES[lowered]
    if lowered in _FOLDERS:
        return _FOLDERS[lowered]
    if lowered in _SSH_KEYS:
        return "an SSH private key"
    if lowered == ".env" or lowered.endswith(".env"):
        return "environment secrets"
    if lowered.startswith(".env.") and not lowered.endswith(_ENV_TEMPLATES):
        return "environment secrets"
    if lowered.endswith(_KEY_SUFFIXES):
        return "key material"
    return None


def is_secret(name: str) -> bool:
    """Whether a file or folder name is a well-known home of secrets (see the module)."""
    return secret_reason(name) is not None


# Folders a search for secret files does not enter: tools' own trees, big and never the
# user's secrets (they are still visible to the `shell` tool, unexamined).
UNEXAMINED = frozenset({".git", "node_modules", "__pycache__", ".venv", "venv", ".tox"})
MAX_EXAMINED = 100_000


class TooManyFiles(Exception):
    """The folder has more entries than a search for secret files looks at."""


def find_secrets(root: str, max_entries: int = MAX_EXAMINED) -> list[str]:
    """The secret files and folders under `root` (paths relative to it), not following links.

    Raises:
        TooManyFiles: More than `max_entries` entries were met before the search ended.
    """
    found: list[str] = []
    seen = 0
    todo = [""]
    while todo:
        relative = todo.pop()
        try:
            scan = os.scandir(os.path.join(root, relative) if relative else root)
        except OSError:
            continue
        with scan:
            for entry in scan:
                seen += 1
                if seen > max_entries:
                    raise TooManyFiles(f"{root} has over {max_entries} files and folders")
                path = f"{relative}/{entry.name}" if relative else entry.name
                if entry.is_symlink():
                    continue  # where it leads is examined (inside the root), or not shown
                if is_secret(entry.name):
                    found.append(path)
                elif entry.is_dir(follow_symlinks=False) and entry.name not in UNEXAMINED:
                    todo.append(path)
    return sorted(found)


def readable_except(root: str, secrets: list[str]) -> tuple[list[str], list[str]]:
    """What to grant to read all of `root` but `secrets`: (trees to read, folders to list).

    Landlock grants whole trees: each folder on the way to a secret is granted only its
    listing, and each of its other entries is granted whole.
    """
    if not secrets:
        return [root], []
    on_the_way = {""}
    for secret in secrets:
        parts = secret.split("/")
        on_the_way.update("/".join(parts[:i]) for i in range(1, len(parts)))
    hidden = set(secrets)
    trees: list[str] = []
    listed = [root]
    for folder in sorted(on_the_way):
        base = os.path.join(root, folder) if folder else root
        if folder:
            listed.append(base)
        try:
            names = sorted(os.listdir(base))
        except OSError:
            continue
        for name in names:
            path = f"{folder}/{name}" if folder else name
            if path not in hidden and path not in on_the_way:
                trees.append(os.path.join(root, path))
    return trees, listed
