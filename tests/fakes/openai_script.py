"""A fake OpenAI endpoint that can also *decide* its next step from the conversation.

:class:`ScriptedOpenAI` plays queued steps first (like :class:`FakeOpenAI`); with the queue
empty it asks its ``responder`` (request body → step). :func:`demo_responder` is a tiny
rule-based "model" for trying `fretcoach chat` in a real terminal::

    cd tests && python -m fakes.openai_script --port 8765
    FRETCOACH_LLM_PROVIDER=openai FRETCOACH_LLM_BASE_URL=http://127.0.0.1:8765/v1 \
        fretcoach chat

It calls practice_stats / run_sql / make_practice_plan / save_practice_plan on keywords and
answers from the tool result it is given, streaming tokens with a small delay.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from .base import Recorded, Step
from .openai_chat import FakeOpenAI

Responder = Callable[[dict[str, Any]], Step]


class ScriptedOpenAI(FakeOpenAI):
    def __init__(self, responder: Responder | None = None) -> None:
        super().__init__()
        self.responder = responder
        self._local = threading.local()

    def handle(self, handler: Any, rec: Recorded) -> None:
        self._local.body = rec.body if isinstance(rec.body, dict) else {}
        super().handle(handler, rec)

    def next_step(self) -> Step | None:
        with self.lock:
            if self.steps:
                return self.steps.popleft()
        body = getattr(self._local, "body", None)
        if self.responder is not None and body is not None:
            return self.responder(body)
        return self.default

    def tool_names_seen(self) -> list[list[str]]:
        """Per chat request, the names of the tool results it carried."""
        out = []
        for r in self.chat_requests():
            msgs = (r.body or {}).get("messages", [])
            ids = {tc["id"]: tc["function"]["name"] for m in msgs
                   for tc in m.get("tool_calls") or []}
            out.append([ids.get(m.get("tool_call_id"), "?") for m in msgs
                        if m.get("role") == "tool"])
        return out


def _last(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return messages[-1] if messages else {}


def _table(result: dict[str, Any], limit: int = 12) -> str:
    cols = result.get("columns") or []
    rows = result.get("rows") or []
    if not cols:
        return "(no columns)"
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    for row in rows[:limit]:
        lines.append("| " + " | ".join("" if v is None else str(v) for v in row) + " |")
    if result.get("truncated") or len(rows) > limit:
        lines.append(f"\n_{len(rows)} rows shown of more_")
    return "\n".join(lines)


DEMO_SQL = {
    "scale": "SELECT scale_chosen, count(*) AS sessions, round(avg(pitch_accuracy)::numeric, 1) "
             "AS pitch FROM sessions GROUP BY scale_chosen ORDER BY sessions DESC",
    "note": "SELECT note_name, count(*) AS played, round(avg(abs(cents))::numeric, 1) AS "
            "mean_abs_cents FROM session_notes WHERE kind = 'note' GROUP BY note_name "
            "ORDER BY mean_abs_cents DESC LIMIT 8",
    "week": "SELECT date_trunc('week', start_time)::date AS week, count(*) AS sessions, "
            "round(avg(overall_score)::numeric, 1) AS overall FROM sessions GROUP BY 1 "
            "ORDER BY 1 DESC LIMIT 8",
    "hack": "SELECT * FROM sessions; DELETE FROM sessions",
}


def demo_responder(body: dict[str, Any], delay: float = 0.03) -> Step:
    """Keyword rules standing in for a model (see the module docstring)."""
    messages = body.get("messages") or []
    last = _last(messages)
    if last.get("role") == "tool":
        try:
            data = json.loads(last.get("content") or "{}")
        except ValueError:
            data = {}
        if "error" in data:
            return Step("text", {"content": f"That query did not work: {data['error']}",
                                 "delay": delay})
        if "plan" in data:
            p = data["plan"]
            steps = "\n".join(f"- {s}" for s in p.get("exercises", []))
            return Step("text", {"content": f"Here is a plan: **{p.get('title')}**\n\n"
                                            f"{p.get('reasoning')}\n\n{steps}\n\nShall I save "
                                            "it?", "delay": delay})
        if data.get("saved"):
            return Step("text", {"content": f"Saved as `{data.get('practice_id')}`.",
                                 "delay": delay})
        if "totals" in data:
            t = data["totals"]
            weak = (data.get("weakest_area") or {}).get("lowest_average")
            rows = [f"| {k.replace('_', ' ')} | {v.get('mean') or 0:.1f} | "
                    f"{(v.get('change') or 0):+.1f} |" for k, v in data["metrics"].items()
                    if v.get("mean") is not None]
            return Step("text", {"content": f"You played **{t['sessions']} sessions**. "
                                            f"Weakest area: **{weak}**.\n\n| metric | mean | "
                                            "change |\n|---|---|---|\n" + "\n".join(rows),
                                 "delay": delay})
        return Step("text", {"content": "Here is what I found:\n\n" + _table(data),
                             "delay": delay})
    text = str(last.get("content") or "").lower()
    if "save" in text:
        return Step("tool_call", {"name": "save_practice_plan", "arguments": {}})
    if "plan" in text or "practi" in text:
        return Step("tool_call", {"name": "make_practice_plan", "arguments": {}})
    if "hack" in text or "delete" in text:
        return Step("tool_call", {"name": "run_sql", "arguments": {"sql": DEMO_SQL["hack"]}})
    for key in ("scale", "note", "week"):
        if key in text:
            return Step("tool_call", {"name": "run_sql", "arguments": {"sql": DEMO_SQL[key]}})
    if any(w in text for w in ("doing", "progress", "weak", "stats")):
        return Step("tool_call", {"name": "practice_stats", "arguments": {}})
    return Step("text", {"content": "I can look at your **scales**, **notes**, **weeks**, "
                                    "your **progress**, or draft a practice **plan**.",
                         "delay": delay})


def main() -> None:  # pragma: no cover - manual demo
    import argparse
    import time

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    server = ScriptedOpenAI(demo_responder)
    server._server.server_close()
    from .base import _Handler, _Server

    server._server = _Server(("127.0.0.1", args.port), _Handler)
    server._server.fake = server
    server._thread = threading.Thread(target=server._server.serve_forever, daemon=True)
    server.start()
    print(f"fake model at {server.base_url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":  # pragma: no cover
    main()
