"""A threaded HTTP server on 127.0.0.1 with a request log and a queue of scripted steps."""

from __future__ import annotations

import contextlib
import gzip
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorded:
    """One request as the server saw it (body decompressed and JSON-decoded when possible)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    raw: bytes = b""


@dataclass
class Step:
    """One scripted behaviour; ``kind`` is interpreted by the concrete server."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def _read_body(self) -> tuple[bytes, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        data = raw
        encoding = (self.headers.get("Content-Encoding") or "").lower()
        if encoding == "gzip" and raw:
            data = gzip.decompress(raw)
        try:
            return raw, json.loads(data) if data else None
        except (ValueError, UnicodeDecodeError):
            return raw, data

    def _dispatch(self) -> None:
        raw, body = self._read_body()
        rec = Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                       body, raw)
        with self.server.fake.lock:
            self.server.fake.requests.append(rec)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.server.fake.handle(self, rec)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _dispatch

    # helpers for subclasses
    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def send_raw(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def start_sse(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def sse(self, payload: Any) -> None:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        self.wfile.write(f"data: {data}\n\n".encode())
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeServer


class FakeServer:
    """Base class: start/stop, request log, scripted steps, and a release for hung requests.

    Use as a context manager. ``hang`` steps block until ``stop()`` (or ``release()``), so a
    client with a small timeout sees a real read timeout and the test never waits long.
    """

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.steps: deque[Step] = deque()
        self.default: Step | None = None
        self.lock = threading.Lock()
        self._released = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name=type(self).__name__, daemon=True)

    # lifecycle
    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()

    def release(self) -> None:
        """Let hung requests finish (they then close without a response)."""
        self._released.set()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # scripting
    def push(self, kind: str, **data: Any) -> FakeServer:
        self.steps.append(Step(kind, data))
        return self

    def set_default(self, kind: str, **data: Any) -> FakeServer:
        self.default = Step(kind, data)
        return self

    def next_step(self) -> Step | None:
        with self.lock:
            if self.steps:
                return self.steps.popleft()
        return self.default

    def hang(self, handler: _Handler, seconds: float = 60.0) -> None:
        """Hold the connection open without answering (until released or ``seconds``)."""
        self._released.wait(seconds)
        handler.close_connection = True

    def handle(self, handler: _Handler, rec: Recorded) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def wait_for(self, predicate, timeout: float = 10.0) -> bool:
        """Poll the request log until ``predicate(requests)`` is true (for async senders)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate(list(self.requests)):
                    return True
            time.sleep(0.02)
        return False
