"""Report aggregates (SQL) against hand-computed values on a fixed dataset.

The dataset is built so UTC and local (America/New_York, UTC−5 in January) answers differ:
one session is on Jan 7 in UTC but Jan 6 locally (it joins a 3-day streak only in local
time), and one is on Monday Jan 12 in UTC but Sunday Jan 11 locally (another ISO week).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pytest

from fretcoach_cli.errors import UsageError
from fretcoach_cli.reports.filters import build_filter
from fretcoach_cli.reports.history import count_sessions, list_sessions
from fretcoach_cli.reports.stats import buckets, daily_seconds, practice_stats
from fretcoach_cli.store.sessions import _WRITER_LOCK_CLASS

TZ = "America/New_York"
NOW = datetime(2026, 1, 15, 17, 0, tzinfo=UTC)  # Jan 15, 12:00 in New York

# name, UTC start, seconds, scale, overall, pitch, conformity, timing, clean, notes, status,
# weakest
DATASET = (
    ("s1", datetime(2026, 1, 5, 15, 0, tzinfo=UTC), 600, "A minor pentatonic",
     60, 50, 70, 40, 80, 100, "completed", "timing_stability"),
    ("s2", datetime(2026, 1, 7, 3, 30, tzinfo=UTC), 300, "A minor pentatonic",
     70, 60, 80, 50, 90, 50, "completed", "timing_stability"),
    ("s3", datetime(2026, 1, 7, 23, 0, tzinfo=UTC), 900, "G major",
     80, 90, 85, 60, 85, 200, "completed", "timing_stability"),
    ("s4", datetime(2026, 1, 12, 4, 30, tzinfo=UTC), 1200, "G major",
     50, 40, 60, 70, 30, 150, "interrupted", "clean_playing"),
    ("s5", datetime(2026, 1, 14, 14, 0, tzinfo=UTC), 600, "A minor pentatonic",
     90, 85, 95, 80, 100, 120, "completed", "timing_stability"),
    ("s6", datetime(2026, 1, 14, 16, 0, tzinfo=UTC), None, "C major",
     None, None, None, None, None, 0, "active", None),
)




def insert_dataset(conn: Any) -> dict[str, str]:
    """Insert DATASET for the connection's user; returns name → session id."""
    ids = {}
    for (name, start, secs, scale, overall, pitch, conf, timing, clean, notes, status,
         weakest) in DATASET:
        row = conn.execute(
            """INSERT INTO fretcoach.sessions
               (user_id, start_time, duration_seconds, scale_chosen, overall_score,
                pitch_accuracy, scale_conformity, timing_stability, clean_playing,
                total_notes_played, correct_notes_played, bad_notes_played, status,
                weakest_area)
               VALUES (current_setting('fretcoach.user_id'), %s, %s, %s, %s, %s, %s, %s, %s,
                       %s, %s, 0, %s, %s) RETURNING session_id""",
            (start, secs, scale, overall, pitch, conf, timing, clean, notes, notes, status,
             weakest)).fetchone()
        ids[name] = str(row[0])
        if status == "active":
            # An active session has a live writer holding its lock (as `practice` does);
            # without one, reports would rightly mark it interrupted.
            conn.execute("SELECT pg_advisory_lock(%s, hashtext(%s))",
                         (_WRITER_LOCK_CLASS, ids[name]))
    conn.commit()
    return ids


@pytest.fixture
def data(conn: Any, database: Any) -> dict[str, str]:
    ids = insert_dataset(conn)
    # another user's sessions must never count
    with database.connect("someone-else-" + ids["s1"][:8]) as other:
        insert_dataset(other)
    return ids


def flt(**kw: Any) -> Any:
    return build_filter(timezone=TZ, now=NOW, **kw)


def test_totals_metrics_and_halves(conn: Any, data: dict[str, str]) -> None:
    st = practice_stats(conn, flt(), today=date(2026, 1, 15))
    t = st.totals
    assert (t.sessions, t.practice_seconds, t.notes, t.days_practised) == (5, 3600, 620, 5)
    o = st.metrics["overall_score"]
    assert (o.sessions, o.mean, o.min, o.max) == (5, 70, 50, 90)
    # the older floor(5/2) sessions against the rest: s1–s2 then s3–s5
    assert o.first_half == pytest.approx(65) and o.second_half == pytest.approx(220 / 3)
    p = st.metrics["pitch_accuracy"]
    assert p.first_half == pytest.approx(55) and p.second_half == pytest.approx(215 / 3)
    assert p.change == pytest.approx(215 / 3 - 55)
    # least-squares slope, points per week, checked independently
    weeks = np.array([r[1].timestamp() / 604800 for r in DATASET[:5]])
    for metric, col in (("overall_score", 4), ("timing_stability", 7)):
        expect = np.polyfit(weeks, np.array([r[col] for r in DATASET[:5]], float), 1)[0]
        assert st.metrics[metric].slope_per_week == pytest.approx(expect, rel=1e-6)
    assert t.first_session.isoformat() == "2026-01-05T10:00:00-05:00"


def test_scales_best_worst_and_weakest_area(conn: Any, data: dict[str, str]) -> None:
    st = practice_stats(conn, flt(), today=date(2026, 1, 15))
    by_name = {s.scale: s for s in st.scales}
    assert set(by_name) == {"A minor pentatonic", "G major"}  # the active C major excluded
    assert by_name["A minor pentatonic"].sessions == 3
    assert by_name["A minor pentatonic"].overall_score == pytest.approx(220 / 3)
    assert by_name["G major"].practice_seconds == 2100
    assert (st.best_scale, st.worst_scale) == ("A minor pentatonic", "G major")
    w = st.weakest_area
    assert (w.most_often, w.most_often_sessions, w.lowest_average) == (
        "timing_stability", 4, "timing_stability")


def test_streaks_follow_local_days(conn: Any, data: dict[str, str]) -> None:
    current, longest = practice_stats(conn, flt(), today=date(2026, 1, 15)).current_streak, \
        practice_stats(conn, flt(), today=date(2026, 1, 15)).longest_streak
    # local days: Jan 5, 6, 7, 11, 14 (UTC would be Jan 5, 7, 7, 12, 14: no 3-day run)
    assert (longest.days, longest.first, longest.last) == (3, date(2026, 1, 5),
                                                            date(2026, 1, 7))
    # not having played yet today does not break yesterday's streak
    assert (current.days, current.first) == (1, date(2026, 1, 14))
    assert practice_stats(conn, flt(), today=date(2026, 1, 16)).current_streak.days == 0
    utc = build_filter(timezone="UTC", now=NOW)
    assert practice_stats(conn, utc, today=date(2026, 1, 15)).longest_streak.days == 1


def test_buckets_by_local_day_week_month_scale(conn: Any, data: dict[str, str]) -> None:
    days = buckets(conn, flt(), "day")
    assert [b.key for b in days] == ["2026-01-05", "2026-01-06", "2026-01-07", "2026-01-11",
                                     "2026-01-14"]
    weeks = buckets(conn, flt(), "week")
    assert [(b.key, b.start, b.sessions, b.practice_seconds) for b in weeks] == [
        ("2026-W02", date(2026, 1, 5), 4, 3000.0), ("2026-W03", date(2026, 1, 12), 1, 600.0)]
    assert weeks[0].metrics["overall_score"] == pytest.approx(65)
    utc_weeks = buckets(conn, build_filter(timezone="UTC", now=NOW), "week")
    assert [b.sessions for b in utc_weeks] == [3, 2]
    months = buckets(conn, flt(), "month")
    assert [(b.key, b.sessions, b.notes) for b in months] == [("2026-01", 5, 620)]
    scales = buckets(conn, flt(), "scale")
    assert [(b.key, b.sessions) for b in scales] == [("A minor pentatonic", 3), ("G major", 2)]
    assert daily_seconds(conn, flt(), date(2026, 1, 6), date(2026, 1, 11)) == {
        date(2026, 1, 6): 300.0, date(2026, 1, 7): 900.0, date(2026, 1, 11): 1200.0}


def test_period_and_scale_filters_use_local_days(conn: Any, data: dict[str, str]) -> None:
    def names(**kw: Any) -> list[str]:
        rows = list_sessions(conn, flt(**kw), limit=None)
        inv = {v: k for k, v in data.items()}
        return [inv[r["session_id"]] for r in rows]

    assert names() == ["s6", "s5", "s4", "s3", "s2", "s1"]  # newest first, all statuses
    assert names(until="2026-01-06") == ["s2", "s1"]  # s2 is Jan 6 in New York
    assert names(since="2026-01-06", until="2026-01-07") == ["s3", "s2"]
    assert names(since="2026-01-12") == ["s6", "s5"]  # s4 is still Sunday Jan 11 locally
    assert names(scale="am pent") == ["s5", "s2", "s1"]
    assert names(status="interrupted,active") == ["s6", "s4"]
    assert names(since="3d") == ["s6", "s5"]  # Jan 13–15
    assert count_sessions(conn, flt(scale="G major", status="completed")) == 1
    rows = list_sessions(conn, flt(), limit=2)
    assert [r["start_time"] for r in rows] == ["2026-01-14T11:00:00-05:00",
                                               "2026-01-14T09:00:00-05:00"]
    st = practice_stats(conn, flt(since="2026-01-06", until="2026-01-07"),
                        today=date(2026, 1, 15))
    assert st.totals.sessions == 2 and st.totals.practice_seconds == 1200


def test_empty_selection(conn: Any, data: dict[str, str]) -> None:
    st = practice_stats(conn, flt(since="2030-01-01"), today=date(2030, 1, 2))
    assert st.totals.sessions == 0 and st.metrics["overall_score"].mean is None
    assert st.longest_streak.days == 0 and st.best_scale is None
    d = st.to_dict()
    assert d["totals"]["sessions"] == 0 and d["current_streak"]["first"] is None


@pytest.mark.parametrize("bad", ["7x", "2026-02-30", "0d", "next tuesday", "2026-1-5"])
def test_bad_dates_raise_usage_error(bad: str) -> None:
    with pytest.raises(UsageError) as err:
        build_filter(since=bad, timezone=TZ, now=NOW)
    assert "\n" not in str(err.value) and bad in str(err.value)


def test_relative_dates_and_inverted_period() -> None:
    f = build_filter(since="1w", until="yesterday", timezone=TZ, now=NOW)
    assert f.period.start.isoformat() == "2026-01-09T00:00:00-05:00"
    assert f.period.end.isoformat() == "2026-01-15T00:00:00-05:00"
    assert build_filter(since="1m", timezone=TZ, now=NOW).period.start.date() == date(2025, 12,
                                                                                      16)
    with pytest.raises(UsageError):
        build_filter(since="today", until="yesterday", timezone=TZ, now=NOW)
    with pytest.raises(UsageError):
        build_filter(timezone="Mars/Olympus_Mons")


def _approx_equal(a: Any, b: Any) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _approx_equal(a[k], b[k])
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _approx_equal(x, y)
    elif isinstance(a, float):
        assert a == pytest.approx(b, rel=1e-6, abs=1e-3)
    else:
        assert a == b


def test_rollup_follows_every_write_and_matches_the_scan(conn: Any, database: Any,
                                                          user_id: str) -> None:
    ids = insert_dataset(conn)
    today = date(2026, 1, 15)
    before = practice_stats(conn, flt(), today=today)  # registers the zone, builds the days
    zone = conn.execute("SELECT count(*) FROM fretcoach.report_days WHERE tz = %s",
                        (TZ,)).fetchone()[0]
    conn.commit()
    assert zone == 5
    # every kind of write after the build: insert, update (score, scale, status), delete
    conn.execute("UPDATE fretcoach.sessions SET overall_score = 10, scale_chosen = 'C major' "
                 "WHERE session_id = %s", (ids["s1"],))
    conn.execute("UPDATE fretcoach.sessions SET status = 'completed', overall_score = 75, "
                 "duration_seconds = 60, total_notes_played = 20 WHERE session_id = %s",
                 (ids["s6"],))
    conn.execute("DELETE FROM fretcoach.sessions WHERE session_id = %s", (ids["s3"],))
    conn.execute("INSERT INTO fretcoach.sessions (user_id, start_time, duration_seconds, "
                 "scale_chosen, overall_score, status, total_notes_played) VALUES "
                 "(current_setting('fretcoach.user_id'), '2026-01-15T04:00Z', 30, 'G major', "
                 "55, 'completed', 10)")
    conn.commit()
    after = practice_stats(conn, flt(), today=today)
    # s3 gone; s6 now completed; one new session (Jan 14, 23:00 in New York)
    assert after.totals.sessions == 6 and after.totals.practice_seconds == 3600 - 900 + 60 + 30
    assert after.metrics["overall_score"].mean == pytest.approx((10 + 70 + 50 + 90 + 75 + 55)
                                                                / 6)
    assert {s.scale: s.sessions for s in after.scales} == {
        "A minor pentatonic": 2, "G major": 2, "C major": 2}
    assert before.totals.sessions == 5
    for by in (None, "day", "week", "scale"):
        for period in ({}, {"since": "2026-01-06", "until": "2026-01-14"}):
            fast = practice_stats(conn, flt(**period), by=by, today=today)
            scan = practice_stats(conn, flt(**period), by=by, today=today, use_rollup=False)
            _approx_equal(fast.to_dict(), scan.to_dict())


def test_read_only_reader_gets_the_same_numbers(conn: Any, database: Any,
                                                 user_id: str) -> None:
    insert_dataset(conn)
    with database.connect(user_id, role="reader") as reader:
        st = practice_stats(reader, flt(), today=date(2026, 1, 15))
        assert st.totals.sessions == 5 and st.longest_streak.days == 3
    zones = conn.execute("SELECT count(*) FROM fretcoach.report_zones").fetchone()[0]
    assert zones == 0  # the reader could not (and did not) register the zone
    sub_day = practice_stats(conn, flt(since="2026-01-06T12:00"), today=date(2026, 1, 15))
    assert sub_day.totals.sessions == 4  # a period inside a day is computed from sessions


def test_rollup_after_a_bulk_load_spanning_many_days(conn: Any, user_id: str) -> None:
    from fretcoach_cli.reports.seed import seed

    empty = practice_stats(conn, flt(), today=date(2026, 1, 15))  # registers the zone
    assert empty.totals.sessions == 0
    seed(conn, user=user_id, sessions=80, notes_per_session=3, timezone=TZ,
         end=datetime(2026, 1, 15, tzinfo=UTC))
    days = conn.execute("SELECT count(DISTINCT day) FROM fretcoach.report_days").fetchone()[0]
    conn.commit()
    assert days > 31  # the refresh took its one-pass branch
    fast = practice_stats(conn, flt(), by="week", today=date(2026, 1, 15))
    scan = practice_stats(conn, flt(), by="week", today=date(2026, 1, 15), use_rollup=False)
    assert fast.totals.sessions == 80
    _approx_equal(fast.to_dict(), scan.to_dict())


def test_day_groups_and_session_scan_give_the_same_report(conn: Any, user_id: str) -> None:
    """The maintained day groups (with the edge days of a period that starts or ends at an
    instant computed from their sessions) give the very report a scan of the sessions
    gives, for every grouping and period shape."""
    from datetime import UTC

    from fretcoach_cli.reports.seed import seed

    end = datetime(2026, 3, 1, 12, tzinfo=UTC)
    seed(conn, user=user_id, sessions=400, notes_per_session=2, timezone="America/Chicago",
         end=end)
    today = date(2026, 3, 1)
    periods = [{}, {"since": "2025-11-02"}, {"since": "2025-11-01T19:30"},
               {"until": "2026-02-10T18:00"}, {"since": "2026-01-05T18:00",
                                              "until": "2026-01-05T21:00"},
               {"since": "2026-01-05T18:00", "until": "2026-01-06T20:00"},
               {"since": "2025-03-09T01:30", "until": "2025-12-24T23:59",
                "scale": "A minor pentatonic"}]
    for kw in periods:
        flt = build_filter(timezone="America/Chicago", now=end, **kw)
        for by in (None, "day", "week", "month", "scale"):
            fast = practice_stats(conn, flt, by=by, today=today).to_dict()
            scan = practice_stats(conn, flt, by=by, today=today, use_rollup=False).to_dict()
            assert fast == scan, (kw, by)
            assert fast["totals"]["sessions"] > 0 or kw.get("until"), (kw, by)
    assert conn.execute("SELECT count(*) FROM fretcoach.report_zones").fetchone()[0] == 1
