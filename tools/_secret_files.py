"""Which files hold secrets: the names the `files` and `shell` tools never show the model.

A helper of `files.py` and `shell.py`, not a tool module. It holds `is_secret(name)` and
`secret_reason(name)`: whether a file or folder name is a well-known home of keys,
passwords or tokens, and what it holds. Matched by name only, never by content:

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
