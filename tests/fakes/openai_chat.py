"""A fake OpenAI Chat Completions endpoint: JSON and SSE streaming, tool_calls, errors, hangs.

Script it with :meth:`FakeServer.push`:

- ``text``      content="..." (streamed word by word when the request asks for a stream)
- ``tool_call`` arguments={...} or raw="..." (name defaults to the first tool offered; to a
  request with a ``response_format`` and no tools, the same JSON comes back as the text)
- ``error``     status=429, message="...", headers={"retry-after": "1"}
- ``hang``      never answers (until the server stops)
- ``garbage``   body="..." (a 200 that is not JSON)
- ``cut``       content="...", after=N: stream N tokens, then drop the connection

With nothing queued it answers the ``default`` step (``text`` "OK" unless set).
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from .base import FakeServer, Recorded, Step

_TOKEN_RE = re.compile(r"\S+\s*|\s+")


def tokens(text: str) -> list[str]:
    """Split text into word-with-trailing-space tokens, as a model would stream them."""
    return _TOKEN_RE.findall(text) or [""]


class FakeOpenAI(FakeServer):
    def __init__(self, model_reply: str = "OK") -> None:
        super().__init__()
        self.set_default("text", content=model_reply)
        #: what GET /props answers (llama.cpp's server info), or None for a 404
        self.props: dict[str, Any] | None = None

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def chat_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def handle(self, handler, rec: Recorded) -> None:
        if not rec.path.endswith("/chat/completions"):
            if rec.path.rstrip("/").endswith("/props") and self.props is not None:
                handler.send_json(200, self.props)
                return
            if rec.path.rstrip("/").endswith("/models"):
                handler.send_json(200, {"object": "list", "data": []})
                return
            handler.send_json(404, {"error": {"message": f"no route {rec.path}"}})
            return
        step = self.next_step() or Step("text", {"content": "OK"})
        body = rec.body if isinstance(rec.body, dict) else {}
        model = body.get("model", "fake-model")
        stream = bool(body.get("stream"))
        usage = bool((body.get("stream_options") or {}).get("include_usage"))
        kind, data = step.kind, step.data
        if kind == "hang":
            self.hang(handler, data.get("seconds", 60.0))
            return
        if kind == "error":
            status = int(data.get("status", 500))
            err_type = {429: "rate_limit_exceeded", 401: "invalid_api_key"}.get(status,
                                                                               "server_error")
            handler.send_json(status, {"error": {"message": data.get("message", f"HTTP {status}"),
                                                 "type": err_type, "code": err_type}},
                              data.get("headers"))
            return
        if kind == "garbage":
            handler.send_raw(200, str(data.get("body", "{not json")).encode(), "application/json")
            return
        if kind == "tool_call" and body.get("response_format") and not body.get("tools"):
            # A server decoding under a JSON schema writes the object as the reply's text.
            kind, data = "text", {"content": data.get("raw") if data.get("raw") is not None
                                  else json.dumps(data.get("arguments", {}))}
        if kind == "tool_call":
            tools = body.get("tools") or []
            name = data.get("name") or (tools[0]["function"]["name"] if tools else "tool")
            args = data.get("raw")
            if args is None:
                args = json.dumps(data.get("arguments", {}))
            call = {"id": data.get("id", "call_1"), "type": "function",
                    "function": {"name": name, "arguments": args}}
            if stream:
                self._stream_tool_call(handler, model, call, usage)
            else:
                handler.send_json(200, _completion(model, None, [call], "tool_calls"))
            return
        content = data.get("content", "")
        if stream:
            self._stream_text(handler, model, content, usage, data.get("after"),
                              float(data.get("delay", 0.0)))
        else:
            handler.send_json(200, _completion(model, content, None, "stop"))

    def _stream_text(self, handler, model: str, content: str | None, usage: bool,
                     cut_after: int | None, delay: float) -> None:
        handler.start_sse()
        handler.sse(_chunk(model, {"role": "assistant", "content": ""}))
        for i, tok in enumerate(tokens(content or "")):
            if cut_after is not None and i >= cut_after:
                handler.wfile.flush()
                return  # connection closes without finish_reason or [DONE]
            handler.sse(_chunk(model, {"content": tok}))
            if delay:
                time.sleep(delay)
        handler.sse(_chunk(model, {}, "stop"))
        if usage:
            handler.sse(_usage_chunk(model))
        handler.sse("[DONE]")

    def _stream_tool_call(self, handler, model: str, call: dict[str, Any], usage: bool) -> None:
        handler.start_sse()
        head = {"index": 0, "id": call["id"], "type": "function",
                "function": {"name": call["function"]["name"], "arguments": ""}}
        handler.sse(_chunk(model, {"role": "assistant", "content": None, "tool_calls": [head]}))
        args = call["function"]["arguments"]
        for i in range(0, len(args), 12):
            part = {"index": 0, "function": {"arguments": args[i:i + 12]}}
            handler.sse(_chunk(model, {"tool_calls": [part]}))
        handler.sse(_chunk(model, {}, "tool_calls"))
        if usage:
            handler.sse(_usage_chunk(model))
        handler.sse("[DONE]")


def _usage() -> dict[str, int]:
    return {"prompt_tokens": 42, "completion_tokens": 7, "total_tokens": 49}


def _completion(model: str, content: str | None, tool_calls: list | None,
                finish: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
            "model": model, "choices": [{"index": 0, "message": message,
                                         "finish_reason": finish, "logprobs": None}],
            "usage": _usage()}


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "chatcmpl-fake", "object": "chat.completion.chunk",
            "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}


def _usage_chunk(model: str) -> dict[str, Any]:
    return {"id": "chatcmpl-fake", "object": "chat.completion.chunk",
            "created": int(time.time()), "model": model, "choices": [], "usage": _usage()}
