"""A tiny OpenAI-compatible chat server on localhost, for tests that run real processes.

It answers /v1/chat/completions after an adjustable delay, so a test can hold a worker
mid-triage (waiting on its LLM) and kill it there.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class OpenAIStub:
    """Counts requests; replies with `reply` after `delay_s` seconds."""

    def __init__(self, reply: str = "{}", delay_s: float = 0.0) -> None:
        self.reply = reply
        self.delay_s = delay_s
        self.requests = 0
        self.first_request = threading.Event()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                stub.requests += 1
                stub.first_request.set()
                deadline = time.monotonic() + stub.delay_s
                while time.monotonic() < deadline:
                    time.sleep(0.05)
                body = json.dumps(stub.completion()).encode()
                try:
                    self.send_response(200)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client (a killed worker) is gone

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def completion(self) -> dict[str, Any]:
        """An OpenAI chat completion carrying the reply text."""
        return {
            "id": "chatcmpl-stub",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": "stub",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": self.reply},
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
        }

    @property
    def base_url(self) -> str:
        """The api_base to give litellm."""
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> OpenAIStub:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.delay_s = 0
        self.server.shutdown()
        self.server.server_close()
