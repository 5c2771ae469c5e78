"""A text-completions endpoint on 127.0.0.1 for the tests of LlamaGuard(api="completions").

agentkit's `FakeServer` serves chat completions only; until it serves `/v1/completions` too
(INTEGRATION.md asks for it), this small real HTTP server answers scripted texts there,
records each request body, and answers anything else with a 404, as a real server would.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class CompletionsServer:
    """Answers POST /v1/completions with the scripted texts, in order."""

    def __init__(self, texts: list[str], *, finish_reason: str = "stop") -> None:
        self.texts = list(texts)
        self.finish_reason = finish_reason
        self.bodies: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.status = 200
        self.url = ""

    def reply(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.paths.append(path)
        if path != "/v1/completions":
            return 404, {"error": {"message": f"no route {path}"}}
        self.bodies.append(body)
        if self.status != 200:
            return self.status, {"error": {"message": "scripted failure"}}
        text = self.texts.pop(0)
        choice = {"index": 0, "text": text, "finish_reason": self.finish_reason}
        usage = {"prompt_tokens": 211, "completion_tokens": 4, "total_tokens": 215}
        return 200, {
            "id": "cmpl-1",
            "object": "text_completion",
            "choices": [choice],
            "usage": usage,
        }

    @property
    def prompt(self) -> str:
        """The prompt of the last request."""
        return str(self.bodies[-1]["prompt"])


@contextmanager
def completions_server(texts: list[str], **options: Any) -> Iterator[CompletionsServer]:
    server = CompletionsServer(texts, **options)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            status, answer = server.reply(self.path, body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # quiet in test output
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
