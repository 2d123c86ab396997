"""Issue 16, first hour: `stats` with any shape of history, and halves that split sessions.

The report was: two sessions on one day made `fretcoach stats` crash formatting ``None``
(the trend halves were split by day, so the second half was empty). Here the halves are
checked against a brute-force Python computation on generated histories — one day, one
session a day, gaps, a day that straddles the split, equal start times, unscored sessions,
sessions near local midnight — through both the maintained day groups and the scan.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from fretcoach_cli.cli.main import _register_commands, app
from fretcoach_cli.reports.filters import build_filter
from fretcoach_cli.reports.stats import METRICS, practice_stats

TZ = "America/New_York"
NOW = datetime(2026, 3, 20, 17, 0, tzinfo=UTC)
_register_commands()
runner = CliRunner()


def insert(conn: Any, start: datetime, *, scale: str = "A minor pentatonic",
           score: float | None = 70.0, notes: int = 40, status: str = "completed",
           sid: str | None = None) -> str:
    """One finished session; every score is ``score`` shifted per metric (None: unscored)."""
    scores = [None if score is None else min(100.0, score + i) for i in range(len(METRICS))]
    row = conn.execute(
        f"""INSERT INTO fretcoach.sessions
            (session_id, user_id, start_time, duration_seconds, scale_chosen, status,
             total_notes_played, correct_notes_played, {', '.join(METRICS)})
            VALUES (coalesce(%s::uuid, gen_random_uuid()), current_setting('fretcoach.user_id'),
                    %s, 300, %s, %s, %s, %s, {', '.join(['%s'] * len(METRICS))})
            RETURNING session_id""",
        (sid, start, scale, status, notes, notes, *scores)).fetchone()
    conn.commit()
    return str(row[0])


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args), env={"FRETCOACH_TIMEZONE": TZ},
                         catch_exceptions=False)


def test_two_sessions_on_one_day_every_stats_form_exits_0(conn: Any, user_id: str) -> None:
    day = datetime(2026, 3, 19, 14, 0, tzinfo=UTC)
    insert(conn, day, score=60)
    insert(conn, day + timedelta(hours=1), score=80)
    for extra in ((), ("--since", "2024-01-01"), ("--since", ""), ("--charts",),
                  ("--by", "day"), ("--by", "scale")):
        out = invoke("--user", user_id, "stats", *extra)
        assert out.exit_code == 0, (extra, out.stdout, out.stderr)
        assert "2 sessions" in out.stdout
        # the older session against the newer one, both shown
        assert "60 → 80" in out.stdout, (extra, out.stdout)


@pytest.mark.parametrize("unscored_first", [True, False])
def test_a_half_without_scores_renders_as_a_dash(conn: Any, user_id: str,
                                                 unscored_first: bool) -> None:
    day = datetime(2026, 3, 19, 14, 0, tzinfo=UTC)
    scores = [None, None, 75, 85] if unscored_first else [75, 85, None, None]
    for i, score in enumerate(scores):
        insert(conn, day + timedelta(hours=i), score=score)
    out = invoke("--user", user_id, "stats")
    assert out.exit_code == 0, out.stdout
    assert "4 sessions" in out.stdout
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("overall"))
    # one half has no score: shown as a dash, no arrow
    assert ("— → 80" if unscored_first else "80 → —") in line, line
    assert "▲" not in line and "▼" not in line


# -- halves against brute force ----------------------------------------------------------
def brute_halves(rows: list[tuple[datetime, str, list[float | None]]], metric_ix: int,
                 ) -> tuple[float | None, float | None]:
    """The older floor(N/2) sessions (by start time, then id) against the rest."""
    ordered = sorted(rows, key=lambda r: (r[0], r[1]))
    k = len(ordered) // 2

    def mean(part: list[Any]) -> float | None:
        xs = [r[2][metric_ix] for r in part if r[2][metric_ix] is not None]
        return sum(xs) / len(xs) if xs else None

    scored = sum(1 for r in ordered if r[2][metric_ix] is not None)
    if scored < 2:
        return None, None
    return mean(ordered[:k]), mean(ordered[k:])


def _history(shape: str, rng: random.Random) -> list[datetime]:
    tz = ZoneInfo(TZ)
    base = datetime(2026, 3, 1, tzinfo=tz)
    if shape == "one day":
        return [base + timedelta(hours=9, minutes=rng.randrange(600)) for _ in range(7)]
    if shape == "one per day":
        return [base + timedelta(days=i, hours=18) for i in range(9)]
    if shape == "gaps":
        return [base + timedelta(days=d, hours=rng.randrange(8, 22))
                for d in (0, 1, 5, 6, 12, 13, 14, 19)]
    if shape == "straddling day":  # 2 + 3 + 2 sessions: the split falls inside day 2
        return [base + timedelta(days=d, hours=h) for d, h in
                ((0, 10), (0, 11), (1, 9), (1, 12), (1, 20), (2, 10), (2, 11))]
    if shape == "midnight":  # near local midnight: another day in UTC
        return [base + timedelta(days=d, hours=23, minutes=50 + i)
                for d in range(3) for i in range(2)] + [base + timedelta(days=3, minutes=5)]
    if shape == "equal times":  # ties broken by id
        return [base + timedelta(days=1, hours=12)] * 5 + [base + timedelta(days=2)]
    raise AssertionError(shape)


SHAPES = ("one day", "one per day", "gaps", "straddling day", "midnight", "equal times")


@pytest.mark.parametrize("shape", SHAPES)
def test_halves_split_sessions_like_brute_force(conn: Any, shape: str) -> None:
    rng = random.Random(shape)
    rows: list[tuple[datetime, str, list[float | None]]] = []
    for start in _history(shape, rng):
        score = None if rng.random() < 0.15 else float(rng.randrange(20, 95))
        sid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        scale = rng.choice(("A minor pentatonic", "G major"))
        insert(conn, start.astimezone(UTC), score=score, sid=sid, scale=scale)
        scores = [None if score is None else min(100.0, score + i) for i in range(len(METRICS))]
        rows.append((start.astimezone(UTC), sid, scores))
    today = date(2026, 3, 20)
    selections: list[tuple[dict[str, Any], Any]] = [
        ({}, lambda r: True),
        ({"since": "2026-03-02"},
         lambda r: r[0] >= datetime(2026, 3, 2, tzinfo=ZoneInfo(TZ))),
        ({"since": "2026-03-01T11:30"},  # not whole days: computed from the sessions
         lambda r: r[0] >= datetime(2026, 3, 1, 11, 30, tzinfo=ZoneInfo(TZ))),
    ]
    for kw, keep in selections:
        chosen = [r for r in rows if keep(r)]
        flt = build_filter(timezone=TZ, now=NOW, **kw)
        for use_rollup in (True, False):
            st = practice_stats(conn, flt, today=today, use_rollup=use_rollup)
            assert st.totals.sessions == len(chosen)
            for i, m in enumerate(METRICS):
                first, second = brute_halves(chosen, i)
                got = st.metrics[m]
                assert got.first_half == pytest.approx(first), (shape, kw, m, use_rollup)
                assert got.second_half == pytest.approx(second), (shape, kw, m, use_rollup)
                if first is not None and second is not None:
                    assert got.change == pytest.approx(second - first)
    # a scale filter: the halves of that scale's sessions only
    scale_rows = conn.execute(
        "SELECT start_time, session_id::text FROM fretcoach.sessions "
        "WHERE scale_chosen = 'G major'").fetchall()
    gm = {(r[0], r[1]) for r in scale_rows}
    chosen = [r for r in rows if (r[0], r[1]) in gm]
    st = practice_stats(conn, build_filter(timezone=TZ, now=NOW, scale="G major"), today=today)
    first, second = brute_halves(chosen, 0)
    assert st.metrics["overall_score"].first_half == pytest.approx(first)
    assert st.metrics["overall_score"].second_half == pytest.approx(second)
