"""Synthetic practice history for development and benchmarks (`fretcoach db seed`).

The data look like a real player's months: a few favourite scales, most days practised with
gaps of a few days (and the odd week off) so streaks break, evening sessions in the user's
time zone, scores that improve over time with noise and per-scale difficulty, the raw
figures consistent with the scores, detected notes for every session, a practice plan now and
then and a coach summary for some sessions.

Bulk load: rows are generated with numpy, written with ``COPY`` into temporary tables (COPY
FROM cannot target tables with row-level security) and moved with ``INSERT … SELECT``, which
RLS checks — so seeding runs on an ordinary user-scoped connection. Sessions go in batches of
a few thousand (oldest first), all in one transaction, so memory stays bounded and a progress
callback can follow 100k sessions and 10M notes. Everything, ids included, derives from
``random_seed`` and ``end``: the same arguments give the same rows.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    import psycopg

# (scale text, relative weight, difficulty: points taken off the scores)
SCALES: tuple[tuple[str, float, float], ...] = (
    ("A minor pentatonic", 6.0, 0.0),
    ("E minor pentatonic", 3.0, 2.0),
    ("G major", 3.0, 5.0),
    ("C major", 2.0, 4.0),
    ("A blues", 2.0, 6.0),
    ("D dorian", 1.5, 9.0),
    ("E natural minor", 1.5, 7.0),
    ("B mixolydian", 0.7, 12.0),
    ("F# harmonic minor", 0.4, 16.0),
)
AREAS = ("pitch_accuracy", "scale_conformity", "timing_stability", "clean_playing")


@dataclass(frozen=True)
class SeedResult:
    user: str
    sessions: int
    notes: int
    plans: int
    replies: int
    first: datetime | None
    last: datetime | None
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {"user": self.user, "sessions": self.sessions, "notes": self.notes,
                "plans": self.plans, "coach_replies": self.replies,
                "first": self.first.isoformat() if self.first else None,
                "last": self.last.isoformat() if self.last else None,
                "seconds": round(self.seconds, 3)}


def _practice_days(rng: Any, n_sessions: int, end_day: Any) -> list[Any]:
    """Calendar days (newest last) with a session count each, with realistic gaps."""
    per_day = max(1.4, n_sessions / 900.0)  # big seeds pack more sessions into ~2.5 years
    days: list[tuple[Any, int]] = []
    day = end_day
    left = n_sessions
    while left > 0:
        count = min(left, max(1, int(rng.poisson(per_day))))
        days.append((day, count))
        left -= count
        r = rng.random()
        if r < 0.70:
            gap = 1
        elif r < 0.93:
            gap = 2 + int(rng.integers(0, 3))  # a missed day or three: streak breaks
        else:
            gap = 5 + int(rng.integers(0, 9))  # a week or so off
        day = day - timedelta(days=gap)
    days.reverse()
    return days


def _clip(x: Any, lo: float = 0.0, hi: float = 100.0) -> Any:
    import numpy as np

    return np.clip(x, lo, hi)


#: Called as progress(sessions_done, sessions_total) after each batch is stored.
Progress = Callable[[int, int], None]
BATCH = 4000  # sessions per COPY + INSERT … SELECT round
NOTE_BLOCK = 500  # sessions whose notes numpy formats at once


def _uuid(rng: Any, salt: bytes) -> uuid.UUID:
    """A version-4 UUID from the seeded generator and ``salt`` (the user and the end time):
    the same arguments give the same ids, another user or another run's "now" others."""
    import hashlib

    return uuid.UUID(bytes=hashlib.blake2b(rng.bytes(16), key=salt[:64],
                                           digest_size=16).digest(), version=4)


def seed(conn: psycopg.Connection[Any], *, user: str, sessions: int,
         notes_per_session: int = 120, timezone: str = "UTC",
         end: datetime | None = None, random_seed: int = 7,
         progress: Progress | None = None) -> SeedResult:
    """Insert ``sessions`` synthetic sessions (and their notes, plans, replies) for ``user``.

    ``conn`` must be a connection scoped to ``user`` (RLS checks every row). Commits once,
    at the end; ``progress`` hears of every stored batch.
    """
    import numpy as np

    from fretcoach_cli.music.scales import parse_scale

    t0 = time.perf_counter()
    if sessions <= 0:
        return SeedResult(user, 0, 0, 0, 0, None, None, 0.0)
    rng = np.random.default_rng(random_seed)
    tz = ZoneInfo(timezone)
    end = (end or datetime.now(UTC)).astimezone(tz)
    days = _practice_days(rng, sessions, end.date() - timedelta(days=1))

    scales = [parse_scale(text) for text, _w, _d in SCALES]
    weights = np.array([w for _t, w, _d in SCALES])
    difficulty = np.array([d for _t, _w, d in SCALES])

    # --- sessions -------------------------------------------------------------------------
    n = sessions
    day_index = np.repeat(np.arange(len(days)), [c for _d, c in days])
    starts: list[datetime] = []
    for day, count in days:
        # evening practice, sessions of one day spread over the evening
        base = datetime(day.year, day.month, day.day, 17, 0, tzinfo=tz)
        offsets = np.sort(rng.uniform(0, 6.5 * 3600, size=count))
        starts.extend(base + timedelta(seconds=float(s)) for s in offsets)
    career = day_index / max(1, len(days) - 1)  # 0 → 1 over the history
    scale_ix = rng.choice(len(scales), size=n, p=weights / weights.sum())
    n_notes = np.maximum(8, rng.poisson(notes_per_session, size=n))
    ioi = rng.uniform(0.35, 0.9, size=n)
    duration = n_notes * ioi + rng.uniform(5, 40, size=n)
    skill = 55 + 30 * (1 - np.exp(-3 * career)) - difficulty[scale_ix]
    pitch = _clip(skill + 4 + rng.normal(0, 7, n))
    conform = _clip(skill + 15 + rng.normal(0, 6, n))
    timing = _clip(skill - 3 + rng.normal(0, 9, n))
    clean = _clip(skill + 8 + rng.normal(0, 6, n))
    coverage = _clip(60 + 40 * career + rng.normal(0, 10, n))
    overall = (pitch + conform + timing + clean) / 4
    area_scores = np.stack([pitch, conform, timing, clean])
    weakest = np.array(AREAS)[area_scores.argmin(axis=0)]
    in_scale_ratio = conform / 100
    bad = np.round(n_notes * (1 - in_scale_ratio)).astype(int)
    correct = n_notes - bad
    in_tune_ratio = pitch / 100
    mean_abs_cents = np.maximum(1.5, 45 - 0.42 * pitch + rng.normal(0, 2, n))
    ioi_cv = np.maximum(0.02, 0.6 * (1 - timing / 100) + rng.normal(0, 0.02, n))
    statuses = np.where(rng.random(n) < 0.03, "interrupted", "completed")
    salt = f"{user}|{end.isoformat()}".encode()
    session_ids = [_uuid(rng, salt) for _ in range(n)]

    # --- plans: one every ~12 sessions, the following sessions follow it ----------------
    plan_every = 12
    plan_rows = []
    practice_ids: list[uuid.UUID | None] = [None] * n
    for p_start in range(0, n, plan_every):
        pid = _uuid(rng, salt)
        first = p_start
        follow = range(first, min(n, first + int(rng.integers(2, 6))))
        target = scales[int(scale_ix[first])].display_name
        plan = {"title": f"Clean up {target}", "focus": str(weakest[first]),
                "steps": [f"Play {target} slowly with the metronome at 70 bpm",
                          f"Work on {weakest[first].replace('_', ' ')}",
                          "Record one minute and listen back"],
                "minutes": 15}
        for s in follow:
            practice_ids[s] = pid
        plan_rows.append((pid, starts[first] - timedelta(minutes=5), json.dumps(plan),
                          "completed", session_ids[first]))

    # --- write ----------------------------------------------------------------------------
    with conn.transaction():
        # historical timestamps are the point: keep them (see ddl/010_reports.sql)
        conn.execute("SELECT set_config('fretcoach.sync', 'on', true)")
        conn.execute(
            "CREATE TEMP TABLE seed_sessions (LIKE fretcoach.sessions INCLUDING DEFAULTS) "
            "ON COMMIT DROP")
        conn.execute(
            "CREATE TEMP TABLE seed_notes (LIKE fretcoach.session_notes INCLUDING DEFAULTS) "
            "ON COMMIT DROP")
        session_cols = ("session_id", "user_id", "start_time", "end_time", "duration_seconds",
                        "scale_chosen", "scale_type", "scale_root", "pitch_accuracy",
                        "scale_conformity", "timing_stability", "total_notes_played",
                        "correct_notes_played", "bad_notes_played", "sensitivity",
                        "strictness", "status", "input_source", "pitch_model", "a4_hz",
                        "clean_playing", "scale_coverage", "overall_score", "mean_abs_cents",
                        "in_scale_ratio", "in_tune_ratio", "ioi_cv", "weakest_area",
                        "practice_id", "metrics", "updated_at")
        with conn.cursor() as cur:  # plans first: sessions reference them
            cur.executemany(
                "INSERT INTO fretcoach.ai_practice_plans (practice_id, user_id, generated_at, "
                "practice_plan, status, source, updated_at) "
                "VALUES (%s, %s, %s, %s::jsonb, %s, 'offline', %s)",
                [(pid, user, gen, plan, status, gen)
                 for pid, gen, plan, status, _sid in plan_rows])
        cols = ", ".join(session_cols)
        total_notes = 0
        for lo in range(0, n, BATCH):
            hi = min(n, lo + BATCH)
            with conn.cursor().copy(
                    f"COPY seed_sessions ({cols}) FROM STDIN") as copy:
                for i in range(lo, hi):
                    sc = scales[int(scale_ix[i])]
                    st = starts[i]
                    et = st + timedelta(seconds=float(duration[i]))
                    metrics = {"seeded": True, "tolerance_cents": 25.0,
                               "degrees_played": list(sc.degree_labels[: max(1, round(
                                   sc.size * float(coverage[i]) / 100))])}
                    copy.write_row((
                        session_ids[i], user, st, et, round(float(duration[i]), 3),
                        sc.display_name, sc.type_name, sc.root_name,
                        _r(pitch[i]), _r(conform[i]), _r(timing[i]), int(n_notes[i]),
                        int(correct[i]), int(bad[i]), 0.5, 0.5, str(statuses[i]),
                        "demo", "swift", 440.0, _r(clean[i]), _r(coverage[i]),
                        _r(overall[i]), _r(mean_abs_cents[i]), _r(in_scale_ratio[i], 4),
                        _r(in_tune_ratio[i], 4), _r(ioi_cv[i], 4), str(weakest[i]),
                        practice_ids[i], json.dumps(metrics), et,
                    ))
            with conn.cursor().copy(
                    f"COPY seed_notes ({', '.join(NOTE_COPY_COLUMNS)}) FROM STDIN") as copy:
                # numpy builds each block's COPY text as fixed-width string arrays: a few
                # hundred sessions at a time keeps them to tens of MB
                for a in range(lo, hi, NOTE_BLOCK):
                    b = min(hi, a + NOTE_BLOCK)
                    total_notes += _note_block(copy, rng, session_ids[a:b], scales,
                                               scale_ix[a:b], n_notes[a:b], ioi[a:b],
                                               in_scale_ratio[a:b], pitch[a:b], user)
            conn.execute(f"INSERT INTO fretcoach.sessions ({cols}) "
                         f"SELECT {cols} FROM seed_sessions")
            conn.execute("INSERT INTO fretcoach.session_notes SELECT * FROM seed_notes")
            conn.execute("TRUNCATE seed_sessions, seed_notes")
            if progress is not None:
                progress(hi, n)
        conn.execute(
            "UPDATE fretcoach.ai_practice_plans p SET session_id = x.sid "
            "FROM unnest(%s::uuid[], %s::uuid[]) AS x(pid, sid) WHERE p.practice_id = x.pid",
            ([r[0] for r in plan_rows], [r[4] for r in plan_rows]))
        replies = [(session_ids[i], user, starts[i] + timedelta(seconds=float(duration[i])),
                    _reply_text(str(weakest[i]), scales[int(scale_ix[i])].display_name,
                                float(overall[i])))
                   for i in range(0, n, 3)]
        conn.execute("CREATE TEMP TABLE seed_replies (session_id uuid, user_id text, "
                     "at timestamptz, text text) ON COMMIT DROP")
        with conn.cursor().copy("COPY seed_replies FROM STDIN") as copy:
            for row in replies:
                copy.write_row(row)
        conn.execute("INSERT INTO fretcoach.coach_replies (session_id, user_id, at, source, "
                     "kind, text) SELECT session_id, user_id, at, 'offline', 'summary', text "
                     "FROM seed_replies")
    conn.commit()
    return SeedResult(user, n, total_notes, len(plan_rows), len(replies), starts[0],
                      starts[-1], time.perf_counter() - t0)


def _copy_text(value: str) -> str:
    """Escape a value for COPY's text format."""
    return (value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r"))


def _r(x: Any, digits: int = 2) -> float:
    return round(float(x), digits)


def _reply_text(area: str, scale: str, overall: float) -> str:
    return (f"Overall {overall:.0f}/100 on {scale}. Your weakest area was "
            f"{area.replace('_', ' ')}: slow down and focus on it next time.")


NOTE_COPY_COLUMNS = ("session_id", "seq", "onset_s", "offset_s", "midi", "cents",
                     "pitch_class", "note_name", "kind", "in_scale", "in_tune", "confidence",
                     "level_db", "user_id")


def _note_block(copy: Any, rng: Any, session_ids: list[uuid.UUID], scales: list[Any],
                scale_ix: Any, n_notes: Any, ioi: Any, in_scale_ratio: Any, pitch: Any,
                user: str) -> int:
    """Generate the notes of these sessions with numpy and write them as COPY text."""
    import numpy as np

    from fretcoach_cli.music import notes as notes_mod

    total = int(n_notes.sum())
    owner = np.repeat(np.arange(len(session_ids)), n_notes)
    starts_at = np.concatenate([[0], np.cumsum(n_notes)[:-1]])
    seq = np.arange(total) - np.repeat(starts_at, n_notes)
    gaps = rng.gamma(8.0, np.repeat(ioi, n_notes) / 8.0)
    onset = np.empty(total)
    # cumulative onset within each session
    csum = np.cumsum(gaps)
    onset[:] = csum - np.repeat(csum[starts_at] - gaps[starts_at], n_notes)
    offset = onset + gaps * rng.uniform(0.6, 0.95, total)
    # pitch classes: in scale with the session's in-scale ratio
    inscale = rng.random(total) < np.repeat(in_scale_ratio, n_notes)
    sc_ix = np.repeat(scale_ix, n_notes)
    pcs = np.empty(total, dtype=int)
    roots = np.array([s.root_pc for s in scales])
    sizes = np.array([s.size for s in scales])
    interval_table = np.full((len(scales), 12), -1)
    out_table = np.full((len(scales), 12), -1)
    for k, s in enumerate(scales):
        interval_table[k, : s.size] = s.intervals
        outside = [i for i in range(12) if i not in s.intervals]
        out_table[k, : len(outside)] = outside
    deg = (rng.random(total) * sizes[sc_ix]).astype(int)
    out_n = 12 - sizes[sc_ix]
    out_pick = (rng.random(total) * out_n).astype(int)
    rel = np.where(inscale, interval_table[sc_ix, deg], out_table[sc_ix, out_pick])
    pcs = (roots[sc_ix] + rel) % 12
    octave_base = 12 * rng.integers(3, 6, total)  # MIDI 48..83-ish: guitar range
    # cents spread such that the share within ±25 cents is the session's pitch accuracy
    from statistics import NormalDist

    z = np.array([NormalDist().inv_cdf((1 + min(0.995, max(0.05, p / 100))) / 2)
                  for p in pitch])
    spread = np.repeat(25.0 / z, n_notes)
    cents = np.clip(rng.normal(0, 1, total) * spread, -49, 49)
    midi = octave_base + 12 + pcs + cents / 100
    in_tune = np.abs(cents) <= 25
    kinds = np.where(rng.random(total) < 0.02, "unclear", "note")
    conf = np.clip(rng.normal(0.9, 0.05, total), 0.3, 1.0)
    level = rng.normal(-24, 5, total)
    names = np.array([notes_mod.pc_name(pc, False) for pc in range(12)])
    octs = (np.round(midi).astype(int) // 12) - 1
    ids = np.array([str(s) for s in session_ids])
    is_note = kinds == "note"

    def col(a: Any, fmt: str) -> Any:
        return np.char.mod(fmt, a)

    fields = [
        ids[owner], seq.astype(str), col(onset, "%.4f"), col(offset, "%.4f"),
        np.where(is_note, col(midi, "%.3f"), "\\N"),
        np.where(is_note, col(cents, "%.2f"), "\\N"),
        np.where(is_note, pcs.astype(str), "\\N"),
        np.where(is_note, np.char.add(names[pcs], octs.astype(str)), "\\N"),
        kinds,
        np.where(is_note, np.where(inscale, "t", "f"), "\\N"),
        np.where(is_note, np.where(in_tune & inscale, "t", "f"), "\\N"),
        col(conf, "%.3f"), col(level, "%.1f"),
    ]
    parts = fields
    lines = parts[0]
    for p in parts[1:]:
        lines = np.char.add(np.char.add(lines, "\t"), p)
    lines = np.char.add(np.char.add(lines, "\t"), _copy_text(user))
    copy.write("\n".join(lines.tolist()) + "\n")
    return total
