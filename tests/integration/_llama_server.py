"""llama.cpp's own HTTP server (from the `xllamacpp` wheel) in a child process, for tests.

`xllamacpp.Server(params)` runs llama.cpp's C++ server inside the Python process that makes
it. Run as a script, this file is that process: it takes llama-server's flag names, prints
one JSON line with the address once the server listens, and exits when its stdin closes (the
test process stopped or died, so no server outlives it) or on SIGTERM. `LlamaServer` starts
it, waits until `/health` answers 200 (the model is loaded) and stops it.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="llama.cpp's server, from the xllamacpp wheel")
    parser.add_argument("-m", "--model", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--jinja", action="store_true")
    parser.add_argument("--temp", type=float, default=0.8)
    parser.add_argument("-n", "--n-predict", type=int, default=-1)
    parser.add_argument("-c", "--ctx-size", type=int, default=0)
    return parser.parse_args(argv)


def serve(argv: list[str]) -> None:
    """Run the server until stdin closes or SIGTERM; never returns."""
    args = _arguments(argv)
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.hostnames = [args.host]
    params.port = args.port
    params.use_jinja = args.jinja
    params.sampling.temp = args.temp
    params.n_predict = args.n_predict
    params.n_ctx = args.ctx_size
    # The C++ server's threads would make a normal exit wait for them: leave at once.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    server = xllamacpp.Server(params)
    print(json.dumps({"listening": server.listening_address}), flush=True)
    try:
        sys.stdin.buffer.read()
    finally:
        os._exit(0)


class ServerFailed(RuntimeError):
    """The server did not start; the message holds the end of its log."""


class LlamaServer:
    """llama.cpp's server on 127.0.0.1 serving `model`, with llama-server's flags.

    Args:
        model: The GGUF file.
        log: Where the server's own log goes (its stderr).
        flags: More llama-server flags, e.g. ("--jinja", "--temp", "0").
    """

    def __init__(self, model: Path, log: Path, flags: tuple[str, ...] = ()) -> None:
        self.model = model
        self.log = log
        self.flags = flags
        self.url = ""
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL (ends in /v1)."""
        return f"{self.url}/v1"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self, timeout: float = 120.0) -> LlamaServer:
        """Start the server and wait until it answers /health with 200.

        Raises:
            ServerFailed: It exited, or was not ready within `timeout` seconds.
        """
        command = [sys.executable, __file__, "--model", str(self.model), *self.flags]
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log
            )
        deadline = time.monotonic() + timeout
        try:
            assert self._process.stdout is not None
            self.url = self._listening(self._process.stdout, deadline)
            self._wait_healthy(deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def _listening(self, stdout: IO[bytes], deadline: float) -> str:
        """The address from the child's JSON line (anything else it prints is skipped)."""
        while True:
            wait = deadline - time.monotonic()
            ready, _, _ = select.select([stdout], [], [], max(0.0, wait))
            line = stdout.readline() if ready else b""
            if not line:
                raise ServerFailed(self._failure("did not report its address"))
            try:
                return str(json.loads(line)["listening"]).rstrip("/")
            except (ValueError, KeyError, TypeError):
                continue

    def _wait_healthy(self, deadline: float) -> None:
        while True:
            if self._process is None or self._process.poll() is not None:
                raise ServerFailed(self._failure("exited while loading the model"))
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass  # 503 while loading, or not accepting yet
            if time.monotonic() > deadline:
                raise ServerFailed(self._failure("was not healthy in time"))
            time.sleep(0.05)

    def _failure(self, what: str) -> str:
        tail = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
        return f"llama.cpp's server {what} (model {self.model}); its log ends:\n{tail}"

    def stop(self) -> None:
        """Stop the server and wait for it: closing its stdin ends it, then SIGTERM, SIGKILL."""
        process, self._process = self._process, None
        if process is None:
            return
        for step in (_close_stdin, subprocess.Popen.terminate, subprocess.Popen.kill):
            step(process)
            try:
                process.wait(timeout=5)
                break
            except subprocess.TimeoutExpired:
                continue
        if process.stdout is not None:
            process.stdout.close()

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        """POST JSON to the server; the status and the raw body (errors included)."""
        request = urllib.request.Request(
            self.url + path, json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def tokenize(self, text: str) -> list[int]:
        """The server's tokens of `text`, special tokens parsed."""
        status, body = self.post("/tokenize", {"content": text, "parse_special": True})
        assert status == 200, body
        return [int(t) for t in json.loads(body)["tokens"]]


# Variables of the test session itself, which a child `agentkit` must keep: the tiny model's
# folder and the test's own sessions database (`agentkit run` stores by default).
KEPT = ("AGENTKIT_TINYLLAMA_DIR", "AGENTKIT_SESSIONS")


def endpoint_free(environ: dict[str, str]) -> dict[str, str]:
    """`environ` without the developer's endpoint, key or model (AGENTKIT_*, OPENAI_*)."""
    return {
        k: v for k, v in environ.items() if not k.startswith(("AGENTKIT_", "OPENAI_")) or k in KEPT
    }


def _close_stdin(process: subprocess.Popen[bytes]) -> None:
    if process.stdin is not None and not process.stdin.closed:
        process.stdin.close()


if __name__ == "__main__":
    serve(sys.argv[1:])
