"""A real OpenAI-compatible HTTP server on localhost, serving scripted replies, for LLM tests.

Each scripted step is a dict: {"content": str} (a normal reply), {"tool_calls": [...]} (an assistant
tool-call reply), {"status": 500|429, "retry_after": s} (an HTTP error), {"sleep": s} (hang longer than
the client's timeout), {"raw": obj} (a raw JSON body, e.g. choices: []). When the script runs out, the
last step repeats. Requests are recorded for assertions.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeOpenAI:
    def __init__(self, script: list[dict[str, Any]]) -> None:
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._i = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                n = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(n) or b"{}")
                with server._lock:
                    server.requests.append(body)
                    server.headers.append(dict(self.headers))
                    step = server.script[min(server._i, len(server.script) - 1)] if server.script else {"content": "{}"}
                    server._i += 1
                if "sleep" in step:
                    time.sleep(step["sleep"])
                    step = {"content": "{}"}
                if "status" in step:
                    payload = json.dumps({"error": {"message": "scripted error", "type": "server_error"}}).encode()
                    self.send_response(step["status"])
                    if "retry_after" in step:
                        self.send_header("Retry-After", str(step["retry_after"]))
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                if "raw" in step:
                    out = step["raw"]
                else:
                    msg: dict[str, Any] = {"role": "assistant", "content": step.get("content")}
                    if "tool_calls" in step:
                        msg["tool_calls"] = step["tool_calls"]
                        msg["content"] = step.get("content") or None
                    out = {
                        "id": f"chatcmpl-{server._i}",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body.get("model", "fake"),
                        "choices": [
                            {
                                "index": 0,
                                "message": msg,
                                "finish_reason": "tool_calls" if "tool_calls" in step else "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
                    }
                data = json.dumps(out).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    @property
    def calls(self) -> int:
        return len(self.requests)

    def __enter__(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def __exit__(self, *a: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
