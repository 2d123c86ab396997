"""Issue 16, deliverable 2: generated histories through every `history`/`stats` form.

Hypothesis draws a history (none to a couple of hundred sessions: all on one day, one per
day, or with gaps; times near local midnight; completed, interrupted, still "active" with a
dead writer, and completed with no notes; scores and durations missing at random), a time
zone and a period, and runs the report commands as a player would (in-process CLI, one
fresh database user per example). Every command must exit 0, and the figures must add up
against a plain Python model of the same rules: which sessions count, the totals, the
local days, every ``--by`` grouping summing to the totals, the trend halves.

Bounded: 15 + 6 examples, at most 300 sessions each (about a minute on a shared machine).
"""

from __future__ import annotations

import csv
import io
import json
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from fretcoach_cli.cli.main import _register_commands, app
from fretcoach_cli.reports.stats import METRICS
from fretcoach_cli.reports.trend import halves

_register_commands()
runner = CliRunner()

ZONES = ("UTC", "America/New_York", "Asia/Kolkata", "Pacific/Auckland", "America/St_Johns")
SCALES = ("A minor pentatonic", "G major", "E minor pentatonic", None)
BASE = date(2026, 2, 1)  # first day of every generated history (local)


@dataclass(frozen=True)
class Sess:
    day: int              # days after BASE (local)
    minute: int           # minute of the local day
    status: str           # completed, interrupted, active (its writer is gone), empty
    notes: int
    seconds: float | None
    scale: str | None
    scores: tuple[float | None, ...]

    @property
    def counts(self) -> bool:
        """Reports count it (filters.PLAYED_COND): not a completed session without notes."""
        return not (self.status in ("completed", "empty") and self.notes == 0)

    def start(self, tz: str) -> datetime:
        local = datetime.combine(BASE + timedelta(days=self.day), datetime.min.time(),
                                 tzinfo=ZoneInfo(tz)) + timedelta(minutes=self.minute)
        return local.astimezone(UTC)


score = st.one_of(st.none(), st.floats(0, 100, allow_nan=False).map(lambda x: round(x, 2)))


@st.composite
def session(draw: Any, days: Any) -> Sess:
    status = draw(st.sampled_from(("completed", "completed", "completed", "interrupted",
                                   "active", "empty")))
    notes = 0 if status == "empty" else draw(st.integers(0, 400))
    scores: tuple[float | None, ...] = (
        (None,) * len(METRICS) if status == "empty" or (draw(st.booleans()) and notes == 0)
        else tuple(draw(score) for _ in METRICS))
    minute = draw(st.one_of(st.integers(0, 24 * 60 - 1),
                            st.sampled_from((0, 1, 23 * 60 + 59, 23 * 60 + 30))))
    return Sess(draw(days), minute, status, notes,
                draw(st.one_of(st.none(), st.floats(1, 3600).map(lambda x: round(x, 1)))),
                draw(st.sampled_from(SCALES)), scores)


DAYS = {"one day": lambda r, i: 3, "one per day": lambda r, i: i,
        "gaps": lambda r, i: r.choice((0, 1, 2, 9, 10, 30, 31, 60)),
        "mixed": lambda r, i: r.randrange(121)}


def _bulk(rng: random.Random, n: int, shape: str) -> list[Sess]:
    """A long history from a drawn seed (hypothesis draws the small ones value by value)."""
    out = []
    for i in range(n):
        status = rng.choice(("completed", "completed", "completed", "interrupted", "active",
                             "empty"))
        notes = 0 if status == "empty" else rng.choice((0, rng.randrange(1, 400)))
        scores = tuple(None if status == "empty" or rng.random() < 0.1
                       else round(rng.uniform(0, 100), 2) for _ in METRICS)
        minute = rng.choice((0, 1, 23 * 60 + 59, rng.randrange(24 * 60)))
        seconds = None if rng.random() < 0.1 else round(rng.uniform(1, 3600), 1)
        out.append(Sess(DAYS[shape](rng, i), minute, status, notes, seconds,
                        rng.choice(SCALES), scores))
    return out


@st.composite
def history(draw: Any) -> list[Sess]:
    """0 to a few hundred sessions: all on one day, one per day, with gaps, or mixed."""
    shape = draw(st.sampled_from(tuple(DAYS)))
    n = draw(st.sampled_from((0, 1, 2, 3, 5, 9, 40, 120, 300)))
    if n > 9:
        return _bulk(random.Random(draw(st.integers(0, 2**32))), n, shape)
    return [draw(session(st.just(DAYS[shape](random.Random(i), i)))) for i in range(n)]


@st.composite
def period(draw: Any) -> tuple[str | None, str | None]:
    since = draw(st.one_of(st.none(), st.just(""), st.integers(-2, 125)))
    until = draw(st.one_of(st.none(), st.integers(0, 60)))
    text_since = since if since in (None, "") else (BASE + timedelta(days=since)).isoformat()
    text_until = None
    if until is not None:
        first = since if isinstance(since, int) else -2
        text_until = (BASE + timedelta(days=first + until)).isoformat()
    return text_since, text_until


def insert(conn: Any, rows: list[Sess], tz: str) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            f"""INSERT INTO fretcoach.sessions
                (user_id, start_time, duration_seconds, scale_chosen, status,
                 total_notes_played, correct_notes_played, {', '.join(METRICS)})
                VALUES (current_setting('fretcoach.user_id'), %s, %s, %s, %s, %s, %s,
                        {', '.join(['%s'] * len(METRICS))})""",
            [(s.start(tz), s.seconds, s.scale,
              "completed" if s.status == "empty" else s.status, s.notes, s.notes // 2,
              *s.scores) for s in rows])
    conn.commit()


def in_period(s: Sess, tz: str, since: str | None, until: str | None) -> bool:
    day = BASE + timedelta(days=s.day)
    after_start = not since or day >= date.fromisoformat(since)
    return after_start and (not until or day <= date.fromisoformat(until))


def run(tz: str, user: str, *args: str) -> str:
    out = runner.invoke(app, ["--user", user, *args], env={"FRETCOACH_TIMEZONE": tz},
                        catch_exceptions=False)
    assert out.exit_code == 0, (args, out.output)
    assert "internal error" not in out.output
    return out.stdout


def period_args(since: str | None, until: str | None) -> list[str]:
    args = []
    if since is not None:
        args += ["--since", since]
    if until is not None:
        args += ["--until", until]
    return args


@settings(max_examples=15, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(rows=history(), tz=st.sampled_from(ZONES), when=period(),
       by=st.sampled_from(("day", "week", "month", "scale")),
       scale=st.sampled_from((None, "A minor pentatonic")))
def test_generated_histories_through_every_report(database: Any, rows: list[Sess], tz: str,
                                                  when: tuple[str | None, str | None],
                                                  by: str, scale: str | None) -> None:
    user = f"prop-{uuid.uuid4().hex[:12]}"  # one fresh user per example
    with database.connect(user) as conn:
        insert(conn, rows, tz)
    since, until = when
    if since and until and until < since:
        until = None  # an empty period is a usage error, tested elsewhere
    chosen = [s for s in rows if in_period(s, tz, since, until)
              and (scale is None or s.scale == scale)]
    counted = [s for s in chosen if s.counts]
    pargs = period_args(since, until) + (["--scale", scale] if scale else [])

    # stats --json: totals, local days, halves, and every grouping adding up
    doc = json.loads(run(tz, user, "stats", "--json", *pargs))
    t = doc["totals"]
    assert t["sessions"] == len(counted)
    assert t["notes"] == sum(s.notes for s in counted)
    assert t["practice_seconds"] == pytest.approx(sum(s.seconds or 0 for s in counted),
                                                  abs=0.05)
    assert t["days_practised"] == len({s.day for s in counted})
    ordered = sorted(counted, key=lambda s: s.start(tz))
    if len({s.start(tz) for s in counted}) == len(counted):  # ties: order by id, unknown here
        scored = [s.scores[0] for s in ordered]
        first, second = halves(scored)
        n = sum(v is not None for v in scored)
        o = doc["metrics"]["overall_score"]
        assert o["sessions"] == n
        if n >= 2:
            assert o["first_half"] == pytest.approx(first, abs=1e-3)
            assert o["second_half"] == pytest.approx(second, abs=1e-3)
    for group in ("day", "week", "month", "scale"):
        grouped = json.loads(run(tz, user, "stats", "--json", "--by", group, *pargs))
        assert sum(b["sessions"] for b in grouped["buckets"]) == len(counted), group
        assert sum(b["notes"] for b in grouped["buckets"]) == t["notes"], group
    if by == "day":
        days = json.loads(run(tz, user, "stats", "--json", "--by", "day", *pargs))["buckets"]
        assert [b["start"] for b in days] == sorted(
            {(BASE + timedelta(days=s.day)).isoformat() for s in counted})

    # the other forms of stats: exit 0, and they say what they show
    text = run(tz, user, "stats", *pargs)
    if counted:
        assert f"{len(counted)} session{'s' if len(counted) != 1 else ''}," in text
    run(tz, user, "stats", "--charts", "--by", by, *pargs)
    lines = list(csv.DictReader(io.StringIO(run(tz, user, "stats", "--csv", "--by", by,
                                                *pargs))))
    assert sum(int(r["sessions"]) for r in lines) == len(counted)
    run(tz, user, "stats", "--csv", *pargs)

    # history: every counted session (and nothing else) in json, csv and text
    listed = json.loads(run(tz, user, "history", "--json", "--status", "all",
                            "--limit", "1000", *pargs))
    assert listed["count"] == len(counted)
    assert sum(s["total_notes_played"] for s in listed["sessions"]) == t["notes"]
    assert {s["status"] for s in listed["sessions"]} <= {"completed", "interrupted"}
    table = run(tz, user, "history", "--csv", "--limit", "1000", *pargs)
    assert len(list(csv.DictReader(io.StringIO(table)))) == len(counted)
    run(tz, user, "history", *pargs)
    if listed["sessions"]:
        run(tz, user, "sessions", "show", listed["sessions"][-1]["session_id"][:8])


@settings(max_examples=6, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(rows=history(), tz=st.sampled_from(ZONES))
def test_export_import_round_trip_and_recommend(database: Any, tmp_path_factory: Any,
                                                rows: list[Sess], tz: str) -> None:
    """Export everything, delete it, import it back: the same reports; `recommend` copes
    with any history."""
    user = f"prop-{uuid.uuid4().hex[:12]}"
    with database.connect(user) as conn:
        insert(conn, rows, tz)
    before = (run(tz, user, "stats", "--json", "--by", "week"),
              run(tz, user, "history", "--json", "--status", "all", "--limit", "1000"))
    dump = tmp_path_factory.mktemp("export") / "all.json"
    run(tz, user, "export", "--output", str(dump))
    exported = json.loads(dump.read_text())
    assert len(exported["sessions"]) == len(rows)  # a backup keeps every row
    with database.connect(user) as conn:
        conn.execute("DELETE FROM fretcoach.sessions")
        conn.commit()
    report = json.loads(run(tz, user, "import", str(dump), "--json"))
    assert report["sessions_inserted"] == len(rows)
    after = (run(tz, user, "stats", "--json", "--by", "week"),
             run(tz, user, "history", "--json", "--status", "all", "--limit", "1000"))
    for a, b in zip(before, after, strict=True):
        da, db = json.loads(a), json.loads(b)
        da.pop("today", None), db.pop("today", None)
        assert not _differences(da, db), _differences(da, db)
    plan = json.loads(run(tz, user, "recommend", "--json"))
    assert plan["practice_plan"]["scale"]


def _differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two JSON documents differ (a readable failure instead of two dumps)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b))
                for d in _differences(a.get(k), b.get(k), f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True))
                for d in _differences(x, y, f"{path}[{i}]")]
    if isinstance(a, float) and isinstance(b, float):  # sums in another order
        return [] if a == pytest.approx(b, rel=1e-6, abs=2e-4) else [f"{path}: {a} != {b}"]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]
