"""A fake Opik backend: records trace/span ingestion (batched or single), can hang.

It answers every request with an empty success, so the SDK's background sender is happy;
``hang=True`` holds every request open instead, to prove a dead endpoint cannot stall the app.
"""

from __future__ import annotations

from typing import Any

from .base import FakeServer, Recorded


class FakeOpik(FakeServer):
    def __init__(self, hang: bool = False) -> None:
        super().__init__()
        self.hanging = hang

    @property
    def api_url(self) -> str:
        return self.url + "/api/"

    def handle(self, handler, rec: Recorded) -> None:
        if self.hanging:
            self.hang(handler)
            return
        if rec.method == "GET":
            handler.send_json(200, {})
            return
        handler.send_raw(204 if rec.method != "POST" else 201, b"", "application/json")

    # what was ingested
    def _items(self, kind: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for r in list(self.requests):
            path = r.path.split("?", 1)[0]
            if f"/v1/private/{kind}" not in path or not isinstance(r.body, dict):
                continue
            if path.endswith("/batch"):
                out.extend(r.body.get(kind, []))
            else:
                out.append({**r.body, "_method": r.method, "_path": path})
        return out

    def traces(self) -> list[dict[str, Any]]:
        return self._items("traces")

    def spans(self) -> list[dict[str, Any]]:
        return self._items("spans")
