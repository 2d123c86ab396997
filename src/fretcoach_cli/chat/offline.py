"""Chat without a model: the README's questions answered from the statistics by fixed rules.

``chat.intents`` reads the question (an intent such as ``summary_week`` or ``why_timing``, a
period, a metric, a scale); this module fetches what that needs and writes the answer:

* ``practice_stats`` (the model's own tool, ``reports.stats``) for totals, averages, trends
  and scales over a period;
* the sessions ``recommend`` plans from (its 20 newest completed sessions, read the same
  way) through ``coach.plans.recommendation_input``, so the chat's "last 20 sessions" trend
  and weakest area are recommend's, and both take trends from ``reports.trend`` (no second
  formula);
* the newest sessions themselves, for "show my last 5 sessions";
* for one session, notes or the coach's words (best/worst/longest/shortest session, the
  notes missed most, what the coach said last time): ``chat.offline_detail``.

Every figure in an answer is formatted from ``OfflineAnswer.data`` (what was fetched, and
the shared trend rule's halves of it), and ``tool_calls`` records each fetch. The responder
is also the agent's deterministic fallback: ``answer(question, fallback_reason=...)`` puts
the reason on the first line and never suggests configuring a model. No free-form SQL.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from fretcoach_cli.chat.intents import METRICS, Query, Span, parse
from fretcoach_cli.chat.tools import PlanDraft, ToolCall, ToolContext, draft_plan, stats_dict
from fretcoach_cli.errors import FretcoachError

if TYPE_CHECKING:
    from fretcoach_cli.coach.plans import RecommendationInput

LABELS = {m: label for m, (_, label) in METRICS.items()}
TABLE_ORDER = ("overall_score", "pitch_accuracy", "scale_conformity", "timing_stability",
               "clean_playing", "scale_coverage")
#: the sessions `recommend` plans from (cli/recommend.py: completed, newest first)
WINDOW = 20

CAPABILITIES = ("your progress over any period (\"how did I do this week?\"), why a score is "
                "low (\"why is my timing low?\"), your weakest area, your recent sessions, "
                "your best, worst, longest and shortest session, the notes you miss most, "
                "what the coach said last time, totals and streaks, your scales, and what to "
                "practise next (a plan you can `/save`)")
EXAMPLES = (
    "\"how did I do this week?\" — also today, yesterday, last week, this month, "
    "since a date (2024-01-01, 1 March, March 2024), in the last 10 days, recently",
    "\"why is my timing low?\" — or pitch, accuracy, clean playing, scale conformity; "
    "\"how can I improve my timing?\", \"is my pitch getting better?\"",
    "\"what is my weakest area?\"",
    "\"show my last 5 sessions\", \"how was my last session?\"",
    "\"how many hours did I practise this month?\", \"how many notes since 1 March?\"",
    "\"which scale have I practised most?\", \"what is my best scale?\"",
    "\"how am I doing on A minor pentatonic?\"",
    "\"what's my streak?\"",
    "\"what was my best session this month?\" — also worst (by overall score), longest, "
    "shortest",
    "\"which notes do I miss most?\" (your last 10 sessions, or a period: \"this month\")",
    "\"what did the coach say last time?\"",
    "\"what should I practise next?\" (a plan you can `/save`)",
)
LIMITS = ("Offline I can't answer free-form questions about your data, write SQL or hold a "
          "conversation — configure a model (`fretcoach config set llm_provider openai`, or "
          "an OpenAI-compatible `llm_base_url`) for that.")
FOOTER = "\n\n_(offline answer from your statistics)_"

#: what each metric measures, and the raw figure behind it (``stats`` ``raw``)
EXPLAIN = {
    "timing_stability": "how even the gaps between your notes are",
    "pitch_accuracy": "how close to the exact pitch each note lands",
    "scale_conformity": "how many of your notes belong to the chosen scale",
    "clean_playing": "how many notes ring cleanly, without buzz or stray strings",
    "scale_coverage": "how many of the scale's degrees you actually play",
    "overall_score": "a blend of the other scores",
}


@dataclass
class OfflineAnswer:
    """One reply. ``understood`` is False when the question was not recognised and ``text``
    is the list of what can be answered; ``data`` holds every figure the text cites."""

    text: str
    intent: str
    plan: PlanDraft | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    understood: bool = True
    data: dict[str, Any] = field(default_factory=dict)


def intent_of(question: str) -> str:
    """The coarse family of a question: progress, weakest, plan, last, totals, detail,
    help or unknown (the fine intent is ``chat.intents.parse(...).intent``)."""
    return parse(question, date.today()).family


def _fmt(x: float | None, digits: int = 0) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _minutes(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


def plural(n: int, word: str) -> str:
    """"1 session", "2 sessions" (offline_detail uses it too)."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


_plural = plural  # the name the answers here use


def _last_n(n: int, your: str = "your") -> str:
    """"your last 5 sessions", or "your last session" for one."""
    return f"{your} last session" if n == 1 else f"{your} last {n} sessions"


def _rounded(change: float | None) -> float | None:
    """As ``recommendation_input`` rounds its trends (one decimal)."""
    return None if change is None else round(change, 1)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class _Fetch:
    """Reads data for one answer, recording each read as a tool call and its result."""

    def __init__(self, ctx: ToolContext) -> None:
        self.ctx = ctx
        self.calls: list[ToolCall] = []
        self.data: dict[str, Any] = {}

    def stats(self, key: str, span: Span | None = None, *, scale: str | None = None,
              group_by: str | None = None) -> dict[str, Any]:
        args: dict[str, Any] = dict(span.args()) if span else {}
        if scale:
            args["scale"] = scale
        if group_by:
            args["group_by"] = group_by
        data = stats_dict(self.ctx, **args)
        self.calls.append(ToolCall("practice_stats", args, rows=data["totals"]["sessions"]))
        self.data[key] = data
        return data

    def sessions(self, limit: int, span: Span | None = None) -> list[dict[str, Any]]:
        """The newest played sessions (completed or interrupted), newest first."""
        from zoneinfo import ZoneInfo

        from psycopg.rows import dict_row

        from fretcoach_cli.reports.filters import build_filter

        args: dict[str, Any] = {"limit": limit, **(span.args() if span else {})}
        flt = build_filter(since=args.get("since"), until=args.get("until"),
                           timezone=self.ctx.timezone)
        where, params = flt.where(("completed", "interrupted"))
        conn = self.ctx.runner.conn
        with self.ctx.runner.lock, conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                "SELECT session_id, start_time, status, scale_chosen, duration_seconds, "
                "total_notes_played, tempo_bpm, weakest_area, "
                f"{', '.join(TABLE_ORDER)} FROM fretcoach.sessions WHERE {where} "
                "ORDER BY start_time DESC, session_id DESC LIMIT %(n)s",
                {**params, "n": int(limit)})
            rows = list(cur.fetchall())
        tz = ZoneInfo(self.ctx.timezone)
        out = []
        for r in rows:
            row = dict(r)
            row["session_id"] = str(r["session_id"])
            row["start_time"] = r["start_time"].astimezone(tz).isoformat()
            out.append(row)
        self.calls.append(ToolCall("recent_sessions", args, rows=len(out)))
        self.data["sessions"] = out
        self.data["sessions_listed"] = len(out)
        return out

    def window(self) -> RecommendationInput:
        """What `recommend` plans from: its newest completed sessions, the same input."""
        from fretcoach_cli.coach.plans import recommendation_input
        from fretcoach_cli.reports.filters import counts_as_practice
        from fretcoach_cli.reports.trend import halves, trend_change
        from fretcoach_cli.store import Sessions

        conn = self.ctx.runner.conn
        with self.ctx.runner.lock, conn.transaction():
            rows = Sessions(conn).list(status="completed", limit=WINDOW)
        inp = recommendation_input(rows, limit=WINDOW)
        # the rows it used, chosen as it chooses them (played, newest first, at most WINDOW)
        played = [r for r in rows if counts_as_practice(r.status, r.total_notes_played)]
        used = sorted(played, key=lambda r: (str(r.start_time), str(r.session_id)),
                      reverse=True)[:WINDOW]
        doc = inp.to_dict()
        # the halves behind each trend, by the same rule (reports.trend.halves)
        doc["halves"] = {m: halves([getattr(r, m) for r in reversed(used)]) for m in METRICS}
        # recommend has no overall trend: the same rule on the same rows gives it
        values = [r.overall_score for r in reversed(used)]
        doc["trend"]["overall_score"] = _rounded(trend_change(
            *doc["halves"]["overall_score"], scored=sum(v is not None for v in values)))
        doc["newest"] = {m: [getattr(r, m) for r in used[:5]] for m in METRICS}
        self.calls.append(ToolCall("recommendation_input", {"limit": WINDOW},
                                   rows=inp.sessions))
        self.data["window"] = doc
        return inp


class OfflineResponder:
    def __init__(self, ctx: ToolContext) -> None:
        self.ctx = ctx

    # public ----------------------------------------------------------------------------------
    def answer(self, question: str, fallback_reason: str | None = None) -> OfflineAnswer:
        """Answer ``question`` from the data; ``fallback_reason`` (the model failed or was
        not trusted) goes first, on one line, and no model is suggested."""
        query = parse(question, self._today())
        told = self._memory(question, query)
        if told is not None:
            reply = told
        elif query.intent == "help":
            reply = self._help(query, fallback=fallback_reason is not None)
        else:
            fetch = _Fetch(self.ctx)
            try:
                reply = self._answer(query, fetch)
            except FretcoachError as exc:
                reply = OfflineAnswer(f"I couldn't answer that from your data: "
                                      f"{exc.one_line()}", query.intent)
            reply.tool_calls = fetch.calls + reply.tool_calls
            reply.data = {**fetch.data, **reply.data}
            if query.span is not None:
                reply.data["period"] = {"label": query.span.label,
                                        **{k: v for k, v in query.span.args().items()}}
        if fallback_reason:
            reply.text = f"{_one_line(fallback_reason)}\n\n{reply.text}"
        return reply

    def _memory(self, question: str, query: Query) -> OfflineAnswer | None:
        """Coach memory: "what do you know about me?" is answered from it, and a statement
        it took in (chat.remember) that asks nothing is acknowledged, not met with help."""
        from fretcoach_cli.chat.remember import NOTED, recall_answer
        from fretcoach_cli.coach.memory import extract, memory_question, states_only

        kinds = memory_question(question)
        if kinds is not None:
            text, n = recall_answer(self.ctx.app_conn(), kinds)
            return OfflineAnswer(text, "memory", data={"memories": n}, tool_calls=[
                ToolCall("coach_memory", {"kinds": list(kinds)}, rows=n)])
        if states_only(question) or (query.intent == "help" and query.family != "help"
                                     and extract(question)):
            return OfflineAnswer(NOTED, "remember")
        return None

    def answer_from_stats(self, question: str, data: dict[str, Any]) -> OfflineAnswer:
        """A progress answer from given ``stats`` figures (``PracticeStats.to_dict()``), with
        no database: what "how am I doing?" says about them."""
        query = parse(question, date.fromisoformat(str(data.get("today"))[:10])
                      if data.get("today") else date.today())
        if not data["totals"]["sessions"]:
            return OfflineAnswer(_NO_SESSIONS, query.intent, data={"stats": data})
        reply = OfflineAnswer(self._summary_text(data, None) + FOOTER, query.intent,
                              data={"stats": data})
        return reply

    # dispatch --------------------------------------------------------------------------------
    def _today(self) -> date:
        from fretcoach_cli.reports.dates import now_in

        return now_in(self.ctx.timezone).date()

    def _answer(self, q: Query, f: _Fetch) -> OfflineAnswer:
        everything = f.stats("stats")
        if not everything["totals"]["sessions"]:
            return OfflineAnswer(_NO_SESSIONS, q.intent)
        if q.intent.startswith("summary_"):
            text = self._summary(q, f, everything)
        elif q.intent.startswith(("why_", "trend_")) or q.intent == "weakest":
            text = self._metric(q, f, everything)
        elif q.intent == "plan":
            return self._plan(q)
        elif q.family == "detail":
            from fretcoach_cli.chat import offline_detail as detail

            text = (detail.missed_notes(q, f) if q.intent == "missed_notes" else
                    detail.coach_said(q, f) if q.intent == "coach_said" else
                    detail.ranked_session(q, f, everything))
        else:
            text = getattr(self, f"_{q.intent}")(q, f, everything)
        return OfflineAnswer(text + FOOTER, q.intent)

    def _help(self, q: Query, *, fallback: bool) -> OfflineAnswer:
        understood = q.family == "help"
        lead = "" if understood else "I can't answer that offline. "
        lines = [f"{lead}Offline I can answer questions like these:", ""]
        lines += [f"- {e}" for e in EXAMPLES]
        if not fallback:
            lines += ["", LIMITS]
        return OfflineAnswer("\n".join(lines), "help", understood=understood)

    # summaries -------------------------------------------------------------------------------
    def _selection(self, q: Query, f: _Fetch, everything: dict[str, Any],
                   group_by: str | None = None) -> dict[str, Any]:
        if q.span is None and q.scale is None and group_by is None:
            return everything
        return f.stats("selection", q.span, scale=q.scale, group_by=group_by)

    def _summary(self, q: Query, f: _Fetch, everything: dict[str, Any]) -> str:
        data = self._selection(q, f, everything)
        where = q.span.label if q.span else ""
        if q.scale:
            where = f"on {q.scale}" + (f" {where}" if where else "")
        if not data["totals"]["sessions"]:
            before = _previous(q.span) if q.span is not None and q.scale is None else None
            if before is None:
                return self._empty(where, everything)
            data = f.stats("previous", before)
            if not data["totals"]["sessions"]:
                return self._empty(where, everything)
            return (f"No sessions {where} yet.\n\n"
                    + self._summary_text(data, before.label))
        text = self._summary_text(data, where or None)
        extra = []
        if data["totals"]["sessions"] != everything["totals"]["sessions"]:
            overall = (everything["metrics"].get("overall_score") or {}).get("mean")
            sel = (data["metrics"].get("overall_score") or {}).get("mean")
            if overall is not None and sel is not None:
                extra.append(f"Your overall average here is {_fmt(sel)}, against "
                             f"{_fmt(overall)} over all your sessions.")
        weak = data["weakest_area"].get("lowest_average")
        if weak:
            extra.append(f"Weakest area: **{LABELS[weak]}** (average "
                         f"{_fmt(data['metrics'][weak]['mean'])}) — ask \"why is my "
                         f"{LABELS[weak]} low?\".")
        if data.get("best_scale") and not q.scale:
            extra.append(f"Best scale: {data['best_scale']}.")
        return text + ("\n\n" + " ".join(extra) if extra else "")

    def _summary_text(self, data: dict[str, Any], where: str | None) -> str:
        from fretcoach_cli.reports.trend import verdict

        lines = ["| metric | average | older half → newer half | per week |",
                 "|---|---|---|---|"]
        for key in TABLE_ORDER:
            m = data["metrics"].get(key) or {}
            if not m.get("sessions"):
                continue
            change = m.get("change")
            halves = (f"{_fmt(m.get('first_half'))} → {_fmt(m.get('second_half'))} "
                      f"({change:+.1f})" if change is not None else "—")
            slope = m.get("slope_per_week")
            lines.append(f"| {LABELS[key]} | {_fmt(m.get('mean'))} | {halves} | "
                         f"{'—' if slope is None else f'{slope:+.1f}'} |")
        # the change `stats` computed with the one trend rule (reports.trend)
        said = verdict((data["metrics"].get("overall_score") or {}).get("change"))
        t = data["totals"]
        if where is None:
            head = f"Over {_plural(t['sessions'], 'session')} ({_minutes(t['practice_seconds'])})"
        else:
            head = (f"{where[0].upper()}{where[1:]}: {_plural(t['sessions'], 'session')} "
                    f"({_minutes(t['practice_seconds'])}, {t['notes']} notes, "
                    f"{_plural(t['days_practised'], 'day')})")
        return f"{head}: {said}\n\n" + "\n".join(lines)

    def _empty(self, where: str, everything: dict[str, Any]) -> str:
        last = everything["totals"].get("last_session")
        tail = f" Your last session was on {str(last)[:10]}." if last else ""
        return f"No sessions {where}.{tail}"

    # metrics: why / trend / weakest ----------------------------------------------------------
    def _metric(self, q: Query, f: _Fetch, everything: dict[str, Any]) -> str:
        from fretcoach_cli.reports.trend import verdict

        window = f.window()
        focus = q.metric
        lines: list[str] = []
        if focus is None:  # weakest: recommend's choice, from the same sessions
            focus = window.weakest_area or everything["weakest_area"].get("lowest_average")
            if focus is None:
                return "I can't tell yet: your sessions have no scores."
            avg = window.averages.get(focus)
            lines.append(f"Your weakest area is **{LABELS[focus]}**" + (
                f" (average {_fmt(avg)} over {_last_n(window.sessions)}"
                ", the ones `recommend` plans from)." if avg is not None else "."))
        data = self._selection(q, f, everything, group_by="scale")
        where = q.span.label if q.span else ""
        if q.scale:
            where = f"on {q.scale}" + (f" {q.span.label}" if q.span else "")
        if not data["totals"]["sessions"]:
            return self._empty(where, everything)
        m = data["metrics"].get(focus) or {}
        label = LABELS[focus]
        title = f"**{label[0].upper()}{label[1:]}**"
        scope = where or "all time"
        if q.intent.startswith("trend_"):
            # the trend over what was asked about, in the shared words (reports.trend)
            lines.append(f"{title}, {scope}: {verdict(m.get('change'), label)}")
        elif q.metric is not None:
            avg = window.averages.get(focus)
            present = {k: v for k, v in window.averages.items() if v is not None}
            if focus in present and len(present) > 1:
                weakest = min(present, key=lambda k: present[k])
                strongest = max(present, key=lambda k: present[k])
                last = f"over {_last_n(window.sessions)}"
                if weakest == focus:
                    lines.append(f"{title} is your weakest area: average {_fmt(avg)} {last}.")
                elif strongest == focus:
                    lines.append(f"{title} is actually your strongest area (average "
                                 f"{_fmt(avg)} {last}); your weakest is {LABELS[weakest]} "
                                 f"({_fmt(present[weakest])}).")
                else:
                    lines.append(f"{title} averages {_fmt(avg)} {last}; your weakest area "
                                 f"is {LABELS[weakest]} ({_fmt(present[weakest])}).")
            else:
                lines.append(f"{title}, {scope}: average {_fmt(m.get('mean'))}. "
                             f"{verdict(m.get('change'), label)}")
        lines.append("")
        if m.get("sessions"):
            bit = (f"- {scope[0].upper()}{scope[1:]}: average {_fmt(m.get('mean'))} over "
                   f"{_plural(int(m['sessions']), 'session')}")
            if m.get("change") is not None:
                bit += (f"; older half {_fmt(m.get('first_half'))} → newer half "
                        f"{_fmt(m.get('second_half'))} ({m['change']:+.1f})")
            if m.get("slope_per_week") is not None:
                bit += f", {m['slope_per_week']:+.1f} per week"
            lines.append(bit + ".")
        else:
            lines.append(f"- No {label} scores {where or 'yet'}.")
        if window.sessions:
            change = f.data["window"]["trend"].get(focus)
            h1, h2 = f.data["window"]["halves"][focus]
            bit = (f"- {_last_n(window.sessions, 'Your')}, the ones `recommend` "
                   "plans from: ")
            if change is not None:
                bit += f"older half {_fmt(h1)} → newer half {_fmt(h2)}. "
            lines.append(bit + verdict(change, label))
        newest = [v for v in f.data["window"]["newest"].get(focus, []) if v is not None]
        all_mean = (everything["metrics"].get(focus) or {}).get("mean")
        if newest:
            lines.append(f"- Your newest scores, newest first: "
                         f"{', '.join(_fmt(v) for v in newest)} — your all-time average is "
                         f"{_fmt(all_mean)}.")
        weak_scales = self._weak_scales(data, focus)
        if weak_scales:
            lines.append("- Lowest on: " + ", ".join(
                f"{b['key']} ({_fmt(b['metrics'][focus])}, "
                f"{_plural(int(b['sessions']), 'session')})" for b in weak_scales) + ".")
        lines.append(f"- {label[0].upper()}{label[1:]} measures {EXPLAIN[focus]}"
                     + self._raw(focus, data) + ".")
        tip = self._suggestion(window, focus, q.scale, f)
        if tip:
            lines.append(f"- Try: {tip}")
        return "\n".join(lines)

    @staticmethod
    def _weak_scales(data: dict[str, Any], focus: str) -> list[dict[str, Any]]:
        rows = [b for b in data.get("buckets") or []
                if b.get("key") not in (None, "(none)") and b["metrics"].get(focus) is not None]
        if len(rows) < 2:
            return []
        pool = [b for b in rows if b["sessions"] >= 2] or rows
        return sorted(pool, key=lambda b: (b["metrics"][focus], b["key"]))[:2]

    @staticmethod
    def _raw(focus: str, data: dict[str, Any]) -> str:
        raw = data.get("raw") or {}
        if focus == "timing_stability" and raw.get("ioi_cv") is not None:
            return (f": the gaps between your notes vary by {raw['ioi_cv'] * 100:.0f}% on "
                    f"average (steadier spacing raises it)")
        if focus == "pitch_accuracy" and raw.get("mean_abs_cents") is not None:
            tail = (f", and {raw['in_tune_ratio'] * 100:.0f}% of them are in tune"
                    if raw.get("in_tune_ratio") is not None else "")
            return f": your notes are {raw['mean_abs_cents']:.0f} cents off on average{tail}"
        if focus == "scale_conformity" and raw.get("in_scale_ratio") is not None:
            return f": {raw['in_scale_ratio'] * 100:.0f}% of your notes were in the scale"
        if focus == "overall_score":
            parts = [(m, mean) for m in TABLE_ORDER[1:]
                     if (mean := (data["metrics"].get(m) or {}).get("mean")) is not None]
            if parts:
                low = min(parts, key=lambda mv: mv[1])
                return (f"; the lowest part of it is {LABELS[low[0]]} (average "
                        f"{_fmt(low[1])})")
        return ""

    @staticmethod
    def _suggestion(window: RecommendationInput, focus: str, scale: str | None,
                    f: _Fetch) -> str | None:
        from fretcoach_cli.coach.plans import EXERCISES, FOCUS_AREAS, offline_plan

        if not window.sessions:
            return None
        area = focus if focus in FOCUS_AREAS else window.weakest_area
        if area is None:
            return None
        plan = offline_plan(dataclasses.replace(window, weakest_area=area))
        doc = plan.model_dump(mode="json")
        if scale:
            doc["scale"] = scale
            doc["exercises"] = [s.format(scale=scale, tempo=plan.target_tempo_bpm)
                                for s in EXERCISES[area]]
        f.data["suggestion"] = doc
        minutes = (doc.get("session_target") or {}).get("minutes")
        where = (f"{doc['scale']}, the scale you asked about" if scale else
                 f"{doc['scale']}, where it is lowest in those sessions"
                 if any(s.averages.get(area) is not None for s in window.per_scale)
                 else doc["scale"])
        if area != focus:
            where += f", for your weakest area ({LABELS[area]})"
        return (f"{doc['exercises'][0]}, for {minutes} min on {where} (ask \"what should "
                f"I practise next?\" for a plan you can `/save`).")

    # sessions --------------------------------------------------------------------------------
    def _last_session(self, q: Query, f: _Fetch, everything: dict[str, Any]) -> str:
        rows = f.sessions(1, q.span)
        if not rows:
            return f"No finished session {q.span.label if q.span else 'yet'}."
        return session_card(rows[0], everything,
                            f"Your last session{' ' + q.span.label if q.span else ''}")

    def _last_sessions(self, q: Query, f: _Fetch, everything: dict[str, Any]) -> str:
        from fretcoach_cli.reports.trend import halves, trend_change, verdict

        n = q.count or 5
        rows = f.sessions(n, q.span)
        if not rows:
            return f"No sessions {q.span.label if q.span else 'yet'}."
        cols = ("overall_score", "pitch_accuracy", "scale_conformity", "timing_stability",
                "clean_playing")
        head = f"Your last {_plural(len(rows), 'session')}"
        if q.span:
            head += f" {q.span.label}"
        lines = [head + " (newest first):", "",
                 "| id | date | scale | length | notes | overall | pitch | in scale | "
                 "timing | clean |", "|---|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            when = datetime.fromisoformat(r["start_time"])
            scores = " | ".join(_fmt(r.get(c)) for c in cols)
            lines.append(f"| {r['session_id'][:8]} | {when:%Y-%m-%d %H:%M} | "
                         f"{r.get('scale_chosen') or '—'} | "
                         f"{_minutes(float(r.get('duration_seconds') or 0))} | "
                         f"{r.get('total_notes_played') or 0} | {scores} |")
        values = [r.get("overall_score") for r in reversed(rows)]
        h1, h2 = halves(values)
        change = trend_change(h1, h2, scored=sum(v is not None for v in values))
        f.data["listed"] = {"overall_score": {"first_half": h1, "second_half": h2,
                                              "change": change}}
        if len(rows) >= 2:
            lines += ["", f"Across these: {verdict(change)}"]
        return "\n".join(lines)

    # counts, streaks, scales -----------------------------------------------------------------
    def _count(self, q: Query, f: _Fetch, everything: dict[str, Any]) -> str:
        data = self._selection(q, f, everything)
        t = data["totals"]
        where = q.span.label if q.span else "in total"
        if q.scale:
            where = f"on {q.scale} " + (q.span.label if q.span else "in total")
        sessions, time = _plural(t["sessions"], "session"), _minutes(t["practice_seconds"])
        days, notes = _plural(t["days_practised"], "day"), _plural(t["notes"], "note")
        if not t["sessions"]:
            return self._empty(where, everything)
        first = {"time": f"**{time}** of practice in {sessions} on {days}, {notes}",
                 "notes": f"**{notes}** ({t['correct_notes']} correct, {t['bad_notes']} "
                          f"wrong) in {sessions}, {time}",
                 "days": f"practice on **{days}** ({sessions}, {time})",
                 "sessions": f"**{sessions}** ({time}, {notes}) on {days}"}[q.unit or
                                                                              "sessions"]
        return f"{where[0].upper()}{where[1:]}: {first}."

    def _streak(self, q: Query, f: _Fetch, everything: dict[str, Any]) -> str:
        cur, best = everything["current_streak"], everything["longest_streak"]

        def span(s: dict[str, Any]) -> str:
            return f" ({s['first']} to {s['last']})" if s.get("first") and s["days"] > 1 \
                else (f" ({s['last']})" if s.get("last") else "")

        if cur["days"]:
            text = f"Your current streak is **{_plural(cur['days'], 'day')}**{span(cur)}"
        else:
            last = str(everything["totals"].get("last_session") or "")[:10]
            text = f"You have no streak going: your last session was on {last}"
        return text + f"; your longest is {_plural(best['days'], 'day')}{span(best)}."

    def _scale_rows(self, q: Query, f: _Fetch, everything: dict[str, Any]
                    ) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
        data = self._selection(q, f, everything)
        where = f" {q.span.label}" if q.span else ""
        return data, list(data.get("scales") or []), where

    def _scale_line(self, s: dict[str, Any]) -> str:
        score = s.get("overall_score")
        return (f"**{s['scale']}** ({_plural(int(s['sessions']), 'session')}, "
                f"{_minutes(float(s['practice_seconds']))}"
                + (f", overall {_fmt(score)}" if score is not None else "") + ")")

    def _most_practised_scale(self, q: Query, f: _Fetch, everything: dict[str, Any]) -> str:
        _, scales, where = self._scale_rows(q, f, everything)
        if not scales:
            return f"No scale practised{where or ' yet'}."
        top = sorted(scales, key=lambda s: (-int(s["sessions"]), -float(s["practice_seconds"]),
                                            s["scale"]))[:3]
        text = f"Your most practised scale{where} is {self._scale_line(top[0])}."
        if len(top) > 1:
            text += " Then " + ", ".join(self._scale_line(s) for s in top[1:]) + "."
        return text

    def _least_practised_scale(self, q: Query, f: _Fetch, everything: dict[str, Any]) -> str:
        _, scales, where = self._scale_rows(q, f, everything)
        if not scales:
            return f"No scale practised{where or ' yet'}."
        low = sorted(scales, key=lambda s: (int(s["sessions"]), float(s["practice_seconds"]),
                                            s["scale"]))[:3]
        return (f"Your least practised scale{where} is {self._scale_line(low[0])}."
                + (" Also rarely: " + ", ".join(self._scale_line(s) for s in low[1:]) + "."
                   if len(low) > 1 else ""))

    def _best_scale(self, q: Query, f: _Fetch, everything: dict[str, Any]) -> str:
        return self._ranked(q, f, everything, "best_scale", "best")

    def _worst_scale(self, q: Query, f: _Fetch, everything: dict[str, Any]) -> str:
        return self._ranked(q, f, everything, "worst_scale", "weakest")

    def _ranked(self, q: Query, f: _Fetch, everything: dict[str, Any], key: str,
                word: str) -> str:
        data, scales, where = self._scale_rows(q, f, everything)
        name = data.get(key)
        if name is None:
            return (f"I can't rank your scales{where}: that needs scored sessions on at "
                    "least two scales.")
        row = next(s for s in scales if s["scale"] == name)
        text = (f"Your {word} scale{where} is {self._scale_line(row)} — by average overall "
                "score, among scales played at least twice.")
        other = data.get("worst_scale" if key == "best_scale" else "best_scale")
        if other:
            orow = next(s for s in scales if s["scale"] == other)
            text += (f" {'Weakest' if key == 'best_scale' else 'Best'}: "
                     f"{self._scale_line(orow)}.")
        return text

    def _scale_detail(self, q: Query, f: _Fetch, everything: dict[str, Any]) -> str:
        data = self._selection(q, f, everything)
        where = f"on {q.scale}" + (f" {q.span.label}" if q.span else "")
        if not data["totals"]["sessions"]:
            played = [s["scale"] for s in everything.get("scales") or []][:5]
            tail = f" You have played: {', '.join(played)}." if played else ""
            return f"No sessions {where}.{tail}"
        return self._scale_summary(data, everything, where)

    def _scale_summary(self, data: dict[str, Any], everything: dict[str, Any],
                       where: str) -> str:
        text = self._summary_text(data, where)
        mine = (data["metrics"].get("overall_score") or {}).get("mean")
        overall = (everything["metrics"].get("overall_score") or {}).get("mean")
        if mine is not None and overall is not None:
            text += (f"\n\nOverall average {_fmt(mine)} here, against {_fmt(overall)} across "
                     "all your scales.")
        weak = data["weakest_area"].get("lowest_average")
        if weak:
            text += (f" Weakest here: {LABELS[weak]} "
                     f"({_fmt(data['metrics'][weak]['mean'])}).")
        return text

    # plans -----------------------------------------------------------------------------------
    def _plan(self, q: Query) -> OfflineAnswer:
        draft = draft_plan(self.ctx, focus_area=q.metric if q.metric != "overall_score"
                           else None, scale=q.scale)
        p = draft.plan
        target = p.get("session_target") or {}
        lines = [f"**{p.get('title')}**", "", p.get("reasoning", ""), "",
                 f"- tempo: {p.get('target_tempo_bpm') or '—'} BPM, "
                 f"{target.get('minutes') or '—'} min, strictness {p.get('strictness')}"]
        lines += [f"- {step}" for step in p.get("exercises", [])]
        lines += ["", "Type `/save` to save this plan."]
        args = {k: v for k, v in {"focus_area": q.metric, "scale": q.scale}.items() if v}
        reply = OfflineAnswer("\n".join(lines) + FOOTER, "plan", plan=draft,
                              tool_calls=[ToolCall("make_practice_plan", args)])
        reply.data["plan"] = p
        return reply


def session_card(r: dict[str, Any], everything: dict[str, Any], head: str) -> str:
    """One session: ``head``, then its scale, date, length, notes and id, its scores
    against the user's averages, and its weakest area."""
    when = datetime.fromisoformat(r["start_time"])
    lines = [f"{head}: **{r.get('scale_chosen') or 'no scale'}**, {when:%Y-%m-%d %H:%M}, "
             f"{_minutes(float(r.get('duration_seconds') or 0))}, "
             f"{r.get('total_notes_played') or 0} notes (id {r['session_id'][:8]}).", "",
             "| metric | score | your average |", "|---|---|---|"]
    for key in TABLE_ORDER:
        if r.get(key) is not None:
            mean = (everything["metrics"].get(key) or {}).get("mean")
            lines.append(f"| {LABELS[key]} | {_fmt(r[key])} | {_fmt(mean)} |")
    if r.get("weakest_area") in LABELS:
        lines += ["", f"Weakest: {LABELS[r['weakest_area']]}."]
    return "\n".join(lines)


def _previous(span: Span) -> Span | None:
    """The period before a current one (last week for this week), for an empty answer."""
    from fretcoach_cli.chat.intents import parse_span

    phrase = {"today": "yesterday", "week": "last week", "month": "last month",
              "year": "last year"}.get(span.key)
    if phrase is None or span.first is None:
        return None
    # computed from the period's first day: the week/month/year before it
    return parse_span(phrase, span.first)


_NO_SESSIONS = ("You have no recorded sessions yet — play one with `fretcoach practice` and "
                "ask me again.")
