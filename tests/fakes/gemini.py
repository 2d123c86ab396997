"""A fake Gemini Developer API: ``models/{m}:generateContent`` and ``:streamGenerateContent``.

Script steps:

- ``text``    content="..." (split into several SSE chunks when streaming)
- ``json``    value={...} (a JSON text reply, what structured output expects)
- ``empty``   a candidate with no parts (what Gemini sends when it "returns nothing")
- ``none``    a response without candidates at all
- ``error``   status=429 (RESOURCE_EXHAUSTED), 500 (INTERNAL), 503 (UNAVAILABLE)...
- ``hang``    never answers
"""

from __future__ import annotations

import json
from typing import Any

from .base import FakeServer, Recorded, Step
from .openai_chat import tokens

_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
           404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


class FakeGemini(FakeServer):
    def __init__(self, model_reply: str = "OK") -> None:
        super().__init__()
        self.set_default("text", content=model_reply)

    @property
    def base_url(self) -> str:
        return self.url

    def generate_requests(self) -> list[Recorded]:
        return [r for r in self.requests if "Content" in r.path]

    def handle(self, handler, rec: Recorded) -> None:
        path = rec.path.split("?", 1)[0]
        if not (path.endswith(":generateContent") or path.endswith(":streamGenerateContent")):
            handler.send_json(404, {"error": {"code": 404, "message": f"no route {path}",
                                              "status": "NOT_FOUND"}})
            return
        stream = path.endswith(":streamGenerateContent")
        model = path.rsplit("/", 1)[-1].split(":", 1)[0]
        step = self.next_step() or Step("text", {"content": "OK"})
        kind, data = step.kind, step.data
        if kind == "hang":
            self.hang(handler, data.get("seconds", 60.0))
            return
        if kind == "error":
            status = int(data.get("status", 500))
            handler.send_json(status, {"error": {
                "code": status, "message": data.get("message", f"HTTP {status}"),
                "status": _STATUS.get(status, "UNKNOWN")}})
            return
        if kind == "none":
            responses = [{"usageMetadata": _usage(), "modelVersion": model}]
        elif kind == "empty":
            responses = [{"candidates": [{"content": {"role": "model", "parts": []},
                                          "finishReason": "STOP", "index": 0}],
                          "usageMetadata": _usage(), "modelVersion": model}]
        else:
            text = json.dumps(data["value"]) if kind == "json" else str(data.get("content", ""))
            parts = tokens(text) if stream else [text]
            responses = []
            for i, part in enumerate(parts):
                last = i == len(parts) - 1
                cand: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": part}]},
                                        "index": 0}
                if last:
                    cand["finishReason"] = "STOP"
                responses.append({"candidates": [cand], "modelVersion": model,
                                  **({"usageMetadata": _usage()} if last else {})})
        if stream:
            handler.start_sse()
            for r in responses:
                handler.wfile.write(f"data: {json.dumps(r)}\r\n\r\n".encode())
                handler.wfile.flush()
        else:
            handler.send_json(200, responses[-1])


def _usage() -> dict[str, int]:
    return {"promptTokenCount": 40, "candidatesTokenCount": 8, "totalTokenCount": 48}
