"""The agent's tools: schema, safe SQL, the `stats` aggregates, and practice plans.

Each tool records what it did in :class:`ToolCall` (the REPL's status line and ``--json``
show them) and returns compact text/JSON for the model. Tools never raise for a bad
argument: the model gets a short error and can retry.

Plans are drafted by ``make_practice_plan`` and saved by ``save_practice_plan`` only when the
draft was shown to the user in an earlier turn than the one asking to save it — so a model
cannot draft and save in one go, and nothing is saved by matching words in the user's text.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from fretcoach_cli.chat.schema import describe
from fretcoach_cli.chat.sql_run import QueryResult, SqlRunner
from fretcoach_cli.errors import FretcoachError

if TYPE_CHECKING:
    import psycopg

PLAN_TOOL = "make_practice_plan"
SAVE_TOOL = "save_practice_plan"
#: Where a plan drafted outside a tool call (offline mode) is kept on its AI message.
PLAN_KWARG = "fretcoach_plan"
MAX_RESULT_CHARS = 12000
RECENT_SESSIONS = 20


@dataclass
class ToolCall:
    """One tool call as reported to the user (``--json`` ``tool_calls`` items)."""

    name: str
    args: dict[str, Any]
    sql: str | None = None
    rows: int | None = None
    truncated: bool = False
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SavedPlan:
    practice_id: str
    plan: dict[str, Any]


@dataclass
class PlanDraft:
    """A plan document (``PracticePlan.stored``) and whether a model shaped it."""

    plan: dict[str, Any]
    source: str  # "model" or "offline" (the ai_practice_plans.source column)


@dataclass
class ToolContext:
    """What tools need from the chat service."""

    runner: SqlRunner                                   # also lends its reader connection
    app_conn: Callable[[], psycopg.Connection[Any]]     # app connection, for saving plans
    timezone: str
    model_name: Callable[[], str]
    prompt_version: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    calls: list[ToolCall] = field(default_factory=list)
    drafted: PlanDraft | None = None
    saved: SavedPlan | None = None

    def record(self, call: ToolCall) -> None:
        with self.lock:
            self.calls.append(call)

    def reset_turn(self) -> None:
        with self.lock:
            self.calls = []
            self.drafted = None
            self.saved = None


def _emit(event: dict[str, Any]) -> None:
    """Tell the REPL a tool started/finished (LangGraph's custom stream; no-op outside)."""
    try:
        from langgraph.config import get_stream_writer

        get_stream_writer()(event)
    except Exception:
        pass


def _clip(text: str) -> str:
    return text if len(text) <= MAX_RESULT_CHARS else text[:MAX_RESULT_CHARS] + "…"


# ---------------------------------------------------------------------------------------------
# Core functions (also used by the offline mode and /save)


def stats_dict(ctx: ToolContext, *, since: str | None = None, until: str | None = None,
               scale: str | None = None, group_by: str | None = None) -> dict[str, Any]:
    from fretcoach_cli.reports.filters import build_filter
    from fretcoach_cli.reports.stats import practice_stats

    flt = build_filter(since=since, until=until, scale=scale, timezone=ctx.timezone)
    with ctx.runner.lock:
        result = practice_stats(ctx.runner.conn, flt, by=group_by or None)
    return result.to_dict()


def recent_sessions(ctx: ToolContext, limit: int = RECENT_SESSIONS) -> list[dict[str, Any]]:
    """The newest scored sessions as plain dicts (the input of plan recommendations)."""
    from psycopg.rows import dict_row

    with ctx.runner.lock, ctx.runner.conn.transaction(), \
            ctx.runner.conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT start_time, scale_chosen, duration_seconds, pitch_accuracy, "
            "scale_conformity, timing_stability, clean_playing, scale_coverage, "
            "overall_score, tempo_bpm, strictness, sensitivity, weakest_area, "
            "total_notes_played "
            "FROM fretcoach.sessions WHERE status IN ('completed', 'interrupted') "
            "ORDER BY start_time DESC LIMIT %s", (int(limit),))
        return list(cur.fetchall())


def draft_plan(ctx: ToolContext, *, scale: str | None = None, focus_area: str | None = None,
               minutes: int | None = None, tempo_bpm: int | None = None,
               exercises: Sequence[str] | None = None, reasoning: str | None = None,
               generated_by: str = "offline") -> PlanDraft:
    """The offline planner's plan for the recent sessions, with the caller's choices applied
    and validated by the shared schema (``coach.plans.PracticePlan``)."""
    from fretcoach_cli.coach.plans import (
        PracticePlan,
        accuracy_target,
        offline_plan,
        recommendation_input,
    )

    data = recommendation_input(recent_sessions(ctx))
    base = offline_plan(data)
    doc = base.model_dump()
    shaped = False
    if focus_area:
        doc["focus_area"] = focus_area
        doc["target_accuracy"] = accuracy_target(data, focus_area)  # type: ignore[arg-type]
        shaped = True
    if scale:
        doc["scale"] = scale
        shaped = True
    if shaped and not exercises:
        from fretcoach_cli.coach.plans import EXERCISES

        tempo = tempo_bpm or doc.get("target_tempo_bpm") or 70
        steps = EXERCISES.get(doc["focus_area"])
        if steps:
            doc["exercises"] = [s.format(scale=doc["scale"], tempo=tempo) for s in steps]
    if minutes:
        doc["session_target"] = {"minutes": int(minutes)}
        shaped = True
    if tempo_bpm:
        doc["target_tempo_bpm"] = int(tempo_bpm)
        shaped = True
    if exercises:
        doc["exercises"] = list(exercises)
        shaped = True
    if reasoning:
        doc["reasoning"] = reasoning
        shaped = True
    plan = _within_limits(ctx, PracticePlan.model_validate(doc))
    source = "model" if shaped and generated_by != "offline" else "offline"
    return PlanDraft(plan.stored(generated_by if source == "model" else "offline"), source)


def save_plan(ctx: ToolContext, draft: PlanDraft) -> SavedPlan:
    from fretcoach_cli.store import Plans

    with ctx.runner.lock:
        pid = Plans(ctx.app_conn()).create(draft.plan, source=draft.source,  # type: ignore[arg-type]
                                           prompt_version=ctx.prompt_version)
    saved = SavedPlan(str(pid), draft.plan)
    ctx.saved = saved
    from fretcoach_cli.coach.memory import remember_plan

    remember_plan(ctx.app_conn(), draft.plan, source="chat")  # coach memory: plan agreed
    return saved


def _within_limits(ctx: ToolContext, plan: Any) -> Any:
    """The plan shortened to a time limit the player stated (coach memory)."""
    from fretcoach_cli.coach.memory import apply_limits, plan_query, recall

    return apply_limits(plan, recall(ctx.app_conn(), plan_query(plan), touch=False))


def latest_draft(messages: Sequence[Any], *, before_last_user: bool) -> PlanDraft | None:
    """The newest plan draft in a conversation (a make_practice_plan result, or an offline
    answer carrying one); with ``before_last_user`` only one the user has already seen."""
    limit = len(messages)
    if before_last_user:
        humans = [i for i, m in enumerate(messages) if getattr(m, "type", "") == "human"]
        limit = humans[-1] if humans else 0
    for msg in reversed(messages[:limit]):
        kind = getattr(msg, "type", "")
        if kind == "tool" and getattr(msg, "name", "") == PLAN_TOOL:
            try:
                data = json.loads(msg.content)
            except (TypeError, ValueError):
                continue
            if isinstance(data, dict) and isinstance(data.get("plan"), dict):
                return PlanDraft(data["plan"], str(data.get("source") or "model"))
        if kind == "ai":
            doc = (getattr(msg, "additional_kwargs", None) or {}).get(PLAN_KWARG)
            if isinstance(doc, dict) and isinstance(doc.get("plan"), dict):
                return PlanDraft(doc["plan"], str(doc.get("source") or "offline"))
    return None


# ---------------------------------------------------------------------------------------------
# LangChain tools


def build_tools(ctx: ToolContext) -> list[Any]:
    """The tool objects for ``create_agent`` (LangChain imported here, lazily)."""
    from langchain.tools import ToolRuntime, tool

    # annotations are strings here (``from __future__``); LangChain resolves them in this
    # module's globals, so the lazily imported type must be visible there
    globals()["ToolRuntime"] = ToolRuntime

    @tool
    def describe_schema() -> str:
        """List the tables and columns you can query with run_sql, with meanings and units."""
        ctx.record(ToolCall("describe_schema", {}))
        with ctx.runner.lock:  # the meanings are COMMENT ONs, read on the agent's connection
            return describe(ctx.runner.max_rows, ctx.runner.timeout_s, ctx.runner.conn)

    @tool
    def run_sql(sql: str) -> str:
        """Run ONE read-only PostgreSQL SELECT over the user's practice data (tables
        sessions, session_notes, ai_practice_plans) and get JSON rows back. Returns
        {"error": ...} if the query is refused or fails: fix it and retry."""
        _emit({"tool": "run_sql", "phase": "start", "sql": sql})
        result: QueryResult = ctx.runner.run(sql)
        call = ToolCall("run_sql", {"sql": sql}, sql=result.executed or sql,
                        rows=None if result.error else result.row_count,
                        truncated=result.truncated, error=result.error or None)
        ctx.record(call)
        _emit({"tool": "run_sql", "phase": "end", "call": call.to_dict()})
        return result.for_model(MAX_RESULT_CHARS)

    @tool
    def practice_stats(since: str | None = None, until: str | None = None,
                       scale: str | None = None, group_by: str | None = None) -> str:
        """Practice statistics, the same as `fretcoach stats`: totals, per-metric mean/
        min/max/trend (slope per week, first vs second half), per-scale summaries, best and
        worst scale, current and longest streak, weakest area.

        Args:
            since: start of the period: 'today', 'yesterday', '7d', '4w', '3m' or
                'YYYY-MM-DD' (default: all time)
            until: end of the period, same forms (default: now)
            scale: only sessions of this scale, e.g. 'A minor pentatonic'
            group_by: also group by 'day', 'week', 'month' or 'scale'
        """
        args = {k: v for k, v in {"since": since, "until": until, "scale": scale,
                                  "group_by": group_by}.items() if v}
        _emit({"tool": "practice_stats", "phase": "start", "args": args})
        try:
            data = stats_dict(ctx, since=since, until=until, scale=scale, group_by=group_by)
        except FretcoachError as exc:
            ctx.record(ToolCall("practice_stats", args, error=exc.one_line()))
            return json.dumps({"error": exc.one_line()})
        except Exception as exc:
            ctx.record(ToolCall("practice_stats", args, error=type(exc).__name__))
            return json.dumps({"error": f"statistics failed: {type(exc).__name__}"})
        ctx.record(ToolCall("practice_stats", args, rows=data["totals"]["sessions"]))
        _emit({"tool": "practice_stats", "phase": "end"})
        return _clip(json.dumps(data, default=str))

    @tool
    def make_practice_plan(scale: str | None = None, focus_area: str | None = None,
                           minutes: int | None = None, tempo_bpm: int | None = None,
                           exercises: list[str] | None = None,
                           reasoning: str | None = None) -> str:
        """Draft a practice plan from the user's recent sessions. Without arguments it
        targets the weakest area; any argument overrides that choice. The draft is NOT
        saved: show it to the user and ask.

        Args:
            scale: e.g. 'A minor pentatonic', 'Bb dorian'
            focus_area: pitch_accuracy, scale_conformity, timing_stability, clean_playing
                or scale_coverage
            minutes: session length, 1-180
            tempo_bpm: click tempo, 30-260
            exercises: 2-5 short exercise steps
            reasoning: why, citing the statistics (under 60 words)
        """
        args = {k: v for k, v in {"scale": scale, "focus_area": focus_area,
                                  "minutes": minutes, "tempo_bpm": tempo_bpm,
                                  "exercises": exercises, "reasoning": reasoning}.items() if v}
        try:
            draft = draft_plan(ctx, scale=scale, focus_area=focus_area, minutes=minutes,
                               tempo_bpm=tempo_bpm, exercises=exercises, reasoning=reasoning,
                               generated_by=ctx.model_name())
        except (ValueError, FretcoachError) as exc:  # pydantic ValidationError is a ValueError
            text = exc.one_line() if isinstance(exc, FretcoachError) else \
                "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                          for e in getattr(exc, "errors", lambda: [])()) or str(exc)
            ctx.record(ToolCall(PLAN_TOOL, args, error=text[:300]))
            return json.dumps({"error": f"invalid plan: {text[:300]}"})
        ctx.drafted = draft
        ctx.record(ToolCall(PLAN_TOOL, args))
        return json.dumps({"draft": True, "saved": False, "source": draft.source,
                           "plan": draft.plan,
                           "note": "Not saved. Show it to the user; save only if they ask."})

    @tool
    def save_practice_plan(runtime: ToolRuntime) -> str:
        """Save the latest drafted practice plan. Only call this when the user's latest
        message explicitly asks to save the plan they were shown."""
        messages = list(runtime.state.get("messages", []))
        draft = latest_draft(messages, before_last_user=True)
        if draft is None:
            unseen = latest_draft(messages, before_last_user=False)
            why = ("the user has not seen this draft yet: show it and ask whether to save it"
                   if unseen is not None else "there is no drafted plan: call "
                   "make_practice_plan first, show it, and ask")
            ctx.record(ToolCall(SAVE_TOOL, {}, error=why))
            return json.dumps({"error": why})
        try:
            saved = save_plan(ctx, draft)
        except FretcoachError as exc:
            ctx.record(ToolCall(SAVE_TOOL, {}, error=exc.one_line()))
            return json.dumps({"error": exc.one_line()})
        ctx.record(ToolCall(SAVE_TOOL, {}, rows=1))
        return json.dumps({"saved": True, "practice_id": saved.practice_id,
                           "title": saved.plan.get("title")})

    return [practice_stats, describe_schema, run_sql, make_practice_plan, save_practice_plan]
