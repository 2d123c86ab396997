"""Chat with models that cannot call tools: a JSON-schema step picks the lookup, fretcoach
runs it, and the model writes the answer from a short digest of the rows.

Why: small local models (SmolLM2, Qwen 0.5B…) behind llama.cpp or Ollama rarely produce
``tool_calls``; they write calls as text, or answer from imagination. But every such server
decodes under a JSON schema, so a *pick* constrained to the known lookups and their argument
types is always well-formed, even from a 135M model. The reply is then written with the data
in the prompt and checked for figures that are not in it (:mod:`fretcoach_cli.llm.grounding`).
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any, Literal, get_args

from pydantic import BaseModel, Field

LOOKUPS = ("practice_stats", "last_sessions", "make_practice_plan", "run_sql", "none")
#: Lines of digest the writer sees (a small model's context is short and its reading slow).
DIGEST_LINES = 45
#: Tokens the pick may take: a handful of short fields (a tiny model otherwise rambles on
#: inside a string until the general bound).
PICK_TOKENS = 160
FOCUS = Literal["pitch_accuracy", "scale_conformity", "timing_stability", "clean_playing",
                "scale_coverage"]


class Pick(BaseModel):
    """What to look up for a question (the schema the model's JSON must follow)."""

    tool: Literal["practice_stats", "last_sessions", "make_practice_plan", "run_sql", "none"]
    since: str | None = Field(None, max_length=12,
                              description="period start: 7d, 4w, 3m, today, YYYY-MM-DD")
    until: str | None = Field(None, max_length=12, description="period end, same forms")
    scale: str | None = Field(None, max_length=40,
                              description="only this scale, e.g. A minor pentatonic")
    group_by: Literal["day", "week", "month", "scale"] | None = None
    limit: int | None = Field(None, ge=1, le=50, description="how many sessions")
    focus_area: FOCUS | None = None
    sql: str | None = Field(None, max_length=300,
                            description="one read-only SELECT (run_sql only)")


PICK_PROMPT = """\
You route a guitarist's question about their own practice data to ONE lookup. Today is \
{today}. Reply with JSON only.
Lookups:
- practice_stats: totals, averages, trends, weakest area, best/worst scale, streaks; \
optional since/until (7d, 4w, 3m, today, YYYY-MM-DD), scale, group_by (day/week/month/scale)
- last_sessions: the newest sessions one by one (limit = how many)
- make_practice_plan: draft a practice plan (optional scale, focus_area)
- run_sql: one SELECT over fretcoach.sessions (only if nothing else fits)
- none: the question needs no data (greetings, general guitar advice)"""

WRITE_PROMPT = """\
You are a friendly guitar practice coach. Answer the guitarist's question in at most three \
short sentences, using ONLY the data below. Copy every number exactly as it appears in the \
data. Never invent numbers, dates or sessions. Scores are 0-100, higher is better."""

NO_DATA_PROMPT = """\
You are a friendly guitar practice coach. Answer in at most three short sentences. You have \
NOT looked at the guitarist's data, so do not state any of their scores, counts or dates."""


def pick_messages(question: str, today: date, history: list[tuple[str, str]]) -> list[Any]:
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    out: list[Any] = [SystemMessage(PICK_PROMPT.format(today=today.isoformat()))]
    for role, text in history[-2:]:
        out.append(HumanMessage(text) if role == "you" else AIMessage(text[:300]))
    out.append(HumanMessage(question))
    return out


def pick_arguments(pick: Pick) -> dict[str, Any]:
    """The chosen lookup's arguments (only those it takes, only those given)."""
    takes = {"practice_stats": ("since", "until", "scale", "group_by"),
             "last_sessions": ("limit",),
             "make_practice_plan": ("scale", "focus_area"),
             "run_sql": ("sql",)}.get(pick.tool, ())
    return {k: getattr(pick, k) for k in takes if getattr(pick, k) not in (None, "")}


def guided(pick: Pick, question: str, today: date) -> tuple[Pick, str]:
    """The model's pick, checked against what the question plainly says.

    A 135M model often picks "none" (or a plan) for "how did I do last week?", or keeps a
    period the question did not name. When fretcoach's own reading of the question
    (``chat.intents``) is sure what it asks about the user's data, a pick of another lookup
    becomes that one, and a period the question names replaces the model's; questions it
    cannot read are the model's to route. Returns (pick, who chose: "model" or "question").
    """
    from fretcoach_cli.chat.intents import parse

    query = parse(question, today)
    if query.family in ("help", "unknown", "detail"):  # detail: no lookup of ours fits
        return pick, "model"
    span_args = query.span.args() if query.span is not None else {}
    natural = {"last": "last_sessions", "plan": "make_practice_plan"}.get(query.family,
                                                                          "practice_stats")
    if pick.tool != natural:  # "none", run_sql, or a lookup that does not fit the question
        if query.family == "last":
            return Pick(tool="last_sessions", limit=query.count or 5), "question"
        if query.family == "plan":
            focus = query.metric if query.metric in get_args(FOCUS) else None
            return Pick(tool="make_practice_plan", scale=query.scale,
                        focus_area=focus), "question"
        group = "scale" if "scale" in query.intent and not query.scale else None
        return Pick(tool="practice_stats", scale=query.scale, group_by=group,
                    **span_args), "question"
    if pick.tool == "practice_stats" and span_args and \
            (pick.since, pick.until) != (span_args.get("since"), span_args.get("until")):
        return pick.model_copy(update={"since": span_args.get("since"),
                                       "until": span_args.get("until")}), "model+question"
    return pick, "model"


def write_messages(question: str, lookup: str, digest: str, memories: str = "") -> list[Any]:
    """The writer's messages; ``memories`` (coach memory, chat.remember) go first, as facts
    the guitarist stated."""
    from langchain_core.messages import HumanMessage, SystemMessage

    told = f"{memories}\n\n" if memories else ""
    if lookup == "none":
        return [SystemMessage(NO_DATA_PROMPT), HumanMessage(f"{told}{question}")]
    return [SystemMessage(WRITE_PROMPT),
            HumanMessage(f"{told}Data ({lookup}):\n{digest}\n\nQuestion: {question}")]


def repair_message(figures: list[str]) -> Any:
    from langchain_core.messages import HumanMessage

    if figures in (["a repetitive answer"], ["tool-call text"], ["no figure from the data"]):
        return HumanMessage("Answer again in at most three short sentences of plain prose, "
                            "each saying something new, using numbers from the data above.")
    return HumanMessage(
        f"These figures are not in the data: {', '.join(figures[:8])}. Rewrite the answer "
        "using only numbers that appear in the data above, copied exactly.")


def _decimal_text(value: Any) -> bool:
    """A number that JSON carried as text (PostgreSQL numerics arrive as "17.744056")."""
    if not isinstance(value, str) or "." not in value:
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True


def digest(data: Any, max_lines: int = DIGEST_LINES) -> str:
    """``data`` (a tool's JSON) as ``path: value`` lines, scalars only, at most
    ``max_lines``: what a small model can read quickly and quote from."""
    lines: list[str] = []

    def walk(value: Any, path: str) -> None:
        if len(lines) >= max_lines:
            return
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{path}.{key}" if path else str(key))
        elif isinstance(value, list):
            for i, item in enumerate(value[:10]):
                walk(item, f"{path}[{i + 1}]")
        elif value is not None and value != "":
            if isinstance(value, float | Decimal) or _decimal_text(value):
                value = round(float(value), 1)  # what a reader quotes, not 17.744056
            lines.append(f"{path}: {value}")

    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError:
            return data[:2000]
    walk(data, "")
    return "\n".join(lines)
