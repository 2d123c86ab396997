"""Offline chat: best/worst/longest/shortest session, the notes missed most, and what the
coach said last time — figures checked exactly against the seeded rows.

Sessions, their notes (``session_notes``) and coach replies are written on known days
relative to today (UTC); each answer is compared with what those rows give, for all time
and for a named period, and every printed number must be grounded in the answer's data
(both the test's own check and the chat's, ``llm.grounding``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fretcoach_cli.chat.intents import parse
from fretcoach_cli.chat.offline import EXAMPLES, FOOTER, OfflineResponder
from fretcoach_cli.chat.sql_run import SqlRunner
from fretcoach_cli.chat.tools import ToolContext
from fretcoach_cli.llm.grounding import ungrounded as chat_ungrounded
from test_chat_offline_phrasings import ungrounded

AMP, GMAJ = "A minor pentatonic", "G major"

# name: (days ago, hour UTC, scale, overall, pitch, timing, seconds)
SESSIONS: dict[str, tuple[int, int, str, float, float, float, int]] = {
    "s1": (40, 10, AMP, 60, 70, 50, 600),
    "s2": (20, 10, GMAJ, 90, 92, 85, 1200),
    "s3": (9, 10, AMP, 55, 60, 40, 300),
    "s4": (2, 10, GMAJ, 70, 75, 65, 900),
    "s5": (0, 1, AMP, 80, 82, 72, 450),
}
# session: [(note_name, pitch class, cents, in_scale, in_tune, how many)]
NOTES: dict[str, list[tuple[str, int, float, bool, bool, int]]] = {
    "s5": [("F#3", 6, 5, False, True, 3), ("C4", 0, 30, True, False, 2),
           ("A3", 9, 2, True, True, 4)],
    "s4": [("C#4", 1, 4, False, True, 2), ("A3", 9, -35, True, False, 2),
           ("G3", 7, 1, True, True, 3)],
    "s3": [("F#3", 6, -3, False, True, 2), ("A3", 9, 0, True, True, 2)],
    "s2": [("Bb3", 10, 2, False, True, 4), ("D4", 2, 1, True, True, 2)],
    "s1": [("E4", 4, -40, True, False, 1), ("E4", 4, 3, True, True, 1)],
}
# the coach's replies in s5 (minutes after its start, kind, text) and one in s4
REPLIES = {"s5": [(1, "live", "Keep the F# out: it is not in A minor pentatonic."),
                  (2, "live", "Nice and even."),
                  (3, "live", "Watch the C, it drifts sharp."),
                  (4, "live", "Slow down a little."),
                  (5, "live", "Good muting."),
                  (7, "summary", "A solid session: timing 72, pitch 82.")],
           "s4": [(15, "summary", "Timing was your weakest area today.")]}


def _today() -> date:
    return datetime.now(UTC).date()


def _start(name: str) -> datetime:
    days, hour = SESSIONS[name][:2]
    return datetime.combine(_today() - timedelta(days=days), datetime.min.time(),
                            tzinfo=UTC) + timedelta(hours=hour)


def _seed(conn: Any, *, notes: bool = True, replies: bool = True,
          only: tuple[str, ...] = tuple(SESSIONS)) -> dict[str, str]:
    from fretcoach_cli.store import replies as reply_store

    ids = {}
    for name, (_, _, scale, overall, pitch, timing, secs) in SESSIONS.items():
        if name not in only:
            continue
        count = sum(n[5] for n in NOTES[name])
        row = conn.execute(
            """INSERT INTO fretcoach.sessions
               (user_id, start_time, duration_seconds, scale_chosen, status,
                total_notes_played, correct_notes_played, bad_notes_played,
                overall_score, pitch_accuracy, timing_stability, weakest_area)
               VALUES (current_setting('fretcoach.user_id'), %s, %s, %s, 'completed',
                       %s, %s, 0, %s, %s, %s, 'timing_stability') RETURNING session_id""",
            (_start(name), secs, scale, count, count, overall, pitch, timing)).fetchone()
        ids[name] = str(row[0])
        seq = 0
        for note, pc, cents, in_scale, in_tune, n in (NOTES[name] if notes else []):
            for _ in range(n):
                conn.execute(
                    """INSERT INTO fretcoach.session_notes
                       (session_id, seq, user_id, onset_s, offset_s, midi, cents,
                        pitch_class, note_name, kind, in_scale, in_tune)
                       VALUES (%s, %s, current_setting('fretcoach.user_id'), %s, %s, %s,
                               %s, %s, %s, 'note', %s, %s)""",
                    (ids[name], seq, seq * 0.5, seq * 0.5 + 0.4, 48 + pc + cents / 100,
                     cents, pc, note, in_scale, in_tune))
                seq += 1
        if notes:  # an unclear sound and a chord: never counted as missed notes
            conn.execute(
                """INSERT INTO fretcoach.session_notes (session_id, seq, user_id, onset_s,
                   offset_s, kind, in_scale, in_tune, pitch_class, note_name)
                   VALUES (%s, %s, current_setting('fretcoach.user_id'), 90, 91, 'unclear',
                           NULL, NULL, NULL, NULL),
                          (%s, %s, current_setting('fretcoach.user_id'), 92, 93,
                           'polyphonic', false, false, 3, 'D#3')""",
                (ids[name], seq, ids[name], seq + 1))
    conn.commit()
    for name, said in (REPLIES.items() if replies else ()):
        if name not in ids:
            continue
        for minutes, kind, text in said:
            reply_store.record(conn, kind=kind, text=text, source="offline",
                               session_id=ids[name],
                               at=_start(name) + timedelta(minutes=minutes))
    return ids


@pytest.fixture
def responder(database: Any, user_id: str) -> Any:
    app: list[Any] = []

    def app_conn() -> Any:
        if not app or app[0].closed:
            app[:] = [database.connect(user_id, autocommit=True)]
        return app[0]

    runner = SqlRunner(lambda: database.connect(user_id, role="reader", autocommit=True))
    ctx = ToolContext(runner=runner, app_conn=app_conn, timezone="UTC",
                      model_name=lambda: "offline", prompt_version="test")
    yield OfflineResponder(ctx)
    runner.close()
    if app:
        app[0].close()


@pytest.fixture
def seeded(conn: Any, responder: OfflineResponder) -> tuple[OfflineResponder, dict[str, str]]:
    if datetime.now(UTC).hour == 23 and datetime.now(UTC).minute >= 58:
        pytest.skip("too close to midnight UTC for day-relative figures")
    return responder, _seed(conn)


def _grounded(reply: Any, question: str) -> None:
    assert ungrounded(reply.text, reply.data, question) == [], reply.text
    assert chat_ungrounded(reply.text, reply.data, question) == [], reply.text
    assert reply.text.endswith(FOOTER)


def _minutes(seconds: float) -> str:
    m = round(seconds / 60)
    return f"{m // 60} h {m % 60} min" if m >= 60 else f"{m} min"


def _card(name: str, ids: dict[str, str]) -> str:
    _, _, scale, _, _, _, secs = SESSIONS[name]
    notes = sum(n[5] for n in NOTES[name])
    return (f"**{scale}**, {_start(name):%Y-%m-%d %H:%M}, {_minutes(secs)}, {notes} notes "
            f"(id {ids[name][:8]}).")


# ---------------------------------------------------------------------------------------------
# best / worst / longest / shortest

def test_ranked_sessions_all_time(seeded: Any) -> None:
    responder, ids = seeded
    cases = {"what was my best session?": ("s2", "best", "overall score", 5),
             "what was my worst session?": ("s3", "worst", "overall score", 5),
             "what was my longest session?": ("s2", "longest", "length", 5),
             "what was my shortest session?": ("s3", "shortest", "length", 5)}
    for question, (name, word, by, n) in cases.items():
        reply = responder.answer(question)
        assert (reply.intent, reply.understood) == (f"{word}_session", True), question
        head = f"Your {word} session so far, by {by} (of {n} "
        assert reply.text.startswith(head), reply.text
        assert _card(name, ids) in reply.text.splitlines()[0], reply.text
        assert f"| overall score | {SESSIONS[name][3]:.0f} | 71 |" in reply.text
        assert "Weakest: timing stability." in reply.text
        assert [c.name for c in reply.tool_calls] == ["practice_stats", "ranked_sessions"]
        _grounded(reply, question)


def test_ranked_by_a_named_metric(seeded: Any) -> None:
    responder, ids = seeded
    for question, name, head in (
            ("which session had the best timing?", "s2",
             "Your best session so far, by timing stability (of 5 scored sessions)"),
            ("what was my worst session for pitch?", "s3",
             "Your worst session so far, by pitch accuracy (of 5 scored sessions)")):
        reply = responder.answer(question)
        assert reply.text.startswith(head) and _card(name, ids) in reply.text, reply.text
        assert reply.tool_calls[-1].args["by"] in ("timing_stability", "pitch_accuracy")
        _grounded(reply, question)


def test_ranked_sessions_in_a_period(seeded: Any) -> None:
    responder, ids = seeded
    # the last 10 days hold s3, s4 and s5
    for question, name in (("best session in the last 10 days", "s5"),
                           ("worst session in the last 10 days", "s3"),
                           ("which was my longest session in the last 10 days?", "s4"),
                           ("shortest practice session in the last 10 days", "s3")):
        reply = responder.answer(question)
        since = (_today() - timedelta(days=9)).isoformat()
        assert reply.tool_calls[-1].args["since"] == since, question
        assert f" in the last 10 days (since {since}), by " in reply.text
        assert "(of 3 " in reply.text and _card(name, ids) in reply.text, reply.text
        _grounded(reply, question)
    # this month / last week: compared with the rows by their dates
    today = _today()
    month = [k for k in SESSIONS if _start(k).date() >= today.replace(day=1)]
    reply = responder.answer("what was my best session this month?")
    best = max(month, key=lambda k: SESSIONS[k][3])
    assert _card(best, ids) in reply.text and f"(of {len(month)} scored session" in reply.text
    monday = today - timedelta(days=today.weekday() + 7)
    week = [k for k in SESSIONS if monday <= _start(k).date() <= monday + timedelta(days=6)]
    reply = responder.answer("what was my worst session last week?")
    if week:
        assert _card(min(week, key=lambda k: SESSIONS[k][3]), ids) in reply.text
    else:
        assert reply.text.startswith("No scored session last week (")
    reply = responder.answer("what was my best session in 2001?")
    assert reply.understood and reply.text.startswith("No scored session in 2001.")
    reply = responder.answer("my longest session on G major")
    assert _card("s2", ids) in reply.text and reply.text.startswith(
        "Your longest session on G major so far, by length (of 2 sessions)")


def test_worst_session_is_not_the_weakest_area(seeded: Any) -> None:
    responder, _ = seeded
    assert responder.answer("what was my worst session?").intent == "worst_session"
    reply = responder.answer("what is my weakest area?")
    assert reply.intent == "weakest"
    assert reply.text.startswith("Your weakest area is **timing stability**")


# ---------------------------------------------------------------------------------------------
# the notes missed most

def test_missed_notes_default_window(seeded: Any) -> None:
    responder, _ = seeded
    question = "which notes do I miss most?"
    reply = responder.answer(question)
    assert (reply.intent, reply.understood) == ("missed_notes", True)
    first, last = _start("s1").date(), _start("s5").date()
    assert reply.text.startswith(
        f"The notes you miss most over your 5 sessions ({first} to {last}): "
        "**16 of 28 notes** missed (57%)."), reply.text
    rows = [line for line in reply.text.splitlines() if line.startswith("| **")]
    assert rows == [
        "| **F#** | 5 | 5 (100% missed) | 5 | 0 | F#3 (5) |",
        "| **Bb** | 4 | 4 (100% missed) | 4 | 0 | Bb3 (4) |",
        "| **C** | 2 | 2 (100% missed) | 0 | 2 (mostly sharp) | C4 (2) |",
        "| **C#** | 2 | 2 (100% missed) | 2 | 0 | C#4 (2) |",
        "| **A** | 2 | 8 (25% missed) | 0 | 2 (mostly flat) | A3 (2) |"]
    assert "1 more note was missed less often." in reply.text
    assert reply.tool_calls[-1].name == "missed_notes"
    assert reply.tool_calls[-1].args == {"sessions": 10}
    _grounded(reply, question)


def test_missed_notes_periods_and_counts(seeded: Any) -> None:
    responder, _ = seeded
    since = (_today() - timedelta(days=9)).isoformat()
    question = "which notes did I miss most in the last 10 days?"
    reply = responder.answer(question)
    assert reply.text.startswith(
        f"The notes you miss most in the last 10 days (since {since}), over 3 sessions "
        f"({_start('s3').date()} to {_start('s5').date()}): **11 of 20 notes** missed (55%)."
    ), reply.text
    assert "| **F#** | 5 | 5 (100% missed) | 5 | 0 | F#3 (5) |" in reply.text
    assert "Bb" not in reply.text  # s2 is 20 days old
    _grounded(reply, question)
    question = "what notes do I get wrong in my last 2 sessions"
    reply = responder.answer(question)
    assert reply.tool_calls[-1].args == {"sessions": 2}
    assert reply.text.startswith(
        f"The notes you miss most over your last 2 sessions ({_start('s4').date()} to "
        f"{_start('s5').date()}): **9 of 16 notes** missed (56%)."), reply.text
    assert "| **F#** | 3 | 3 (100% missed) | 3 | 0 | F#3 (3) |" in reply.text
    _grounded(reply, question)
    reply = responder.answer("which notes do I miss most in my last 50 sessions?")
    assert "you asked about the last 50, these are all there are" in reply.text
    reply = responder.answer("which notes do I miss most in 2001?")
    assert reply.understood and reply.text.startswith("No sessions in 2001 to count notes")


def test_missed_notes_without_stored_notes(conn: Any, responder: OfflineResponder) -> None:
    _seed(conn, notes=False, replies=False)
    reply = responder.answer("which notes do I miss most?")
    assert reply.understood and reply.text.startswith(
        "No notes were stored over your 5 sessions (")
    reply = responder.answer("what did the coach say last time?")
    assert reply.text.startswith("The coach said nothing that was kept in your last "
                                 "session (")


def test_missed_notes_reads_only_the_chosen_sessions(database: Any, user_id: str) -> None:
    """EXPLAIN: the period's sessions come from an index on sessions, their notes from the
    primary key of session_notes (no scan of every note)."""
    from fretcoach_cli.reports.filters import build_filter
    from fretcoach_cli.reports.missed_notes import _SQL

    with database.connect(user_id) as c:
        where, params = build_filter(since="2024-01-01", timezone="UTC").where(
            ("completed", "interrupted"))
        c.execute("SET LOCAL enable_seqscan = off")  # a tiny table: ask what it would use
        plan = "\n".join(r[0] for r in c.execute(
            "EXPLAIN " + _SQL.format(where=where), {**params, "n": 10}).fetchall())
    assert "session_notes_pkey" in plan, plan
    assert "sessions_user_start_idx" in plan, plan


# ---------------------------------------------------------------------------------------------
# what the coach said

def test_coach_said_last_time(seeded: Any) -> None:
    responder, ids = seeded
    question = "what did the coach say last time?"
    reply = responder.answer(question)
    assert (reply.intent, reply.understood) == ("coach_said", True)
    start = _start("s5")
    assert reply.text.startswith(
        f"What the coach said in your last session (**{AMP}**, {start:%Y-%m-%d %H:%M}, "
        f"id {ids['s5'][:8]}), newest first:"), reply.text
    lines = [line for line in reply.text.splitlines() if line.startswith("- ")]
    newest = sorted(REPLIES["s5"], reverse=True)[:5]
    kinds = {"live": "live tip", "summary": "closing words"}
    assert lines == [f"- {start + timedelta(minutes=m):%H:%M} ({kinds[k]}): {t}"
                     for m, k, t in newest]
    assert "(5 of 6 shown: the newest.)" in reply.text
    assert [c.name for c in reply.tool_calls] == ["practice_stats", "recent_sessions",
                                                  "coach_replies"]
    _grounded(reply, question)
    for other in ("what did you tell me last session?", "show me the coach's tips",
                  "what did the coach suggest last time?"):
        assert responder.answer(other).intent == "coach_said", other


def test_coach_said_falls_back_to_the_last_session_it_spoke_in(seeded: Any, conn: Any) -> None:
    responder, ids = seeded
    conn.execute("DELETE FROM fretcoach.coach_replies WHERE session_id = %s", (ids["s5"],))
    conn.commit()
    question = "what did the coach say last time?"
    reply = responder.answer(question)
    assert reply.text.startswith("The coach said nothing that was kept in your last session")
    assert f"The last session it spoke in was **{GMAJ}**, {_start('s4'):%Y-%m-%d %H:%M} " \
           f"(id {ids['s4'][:8]}):" in reply.text
    at = _start("s4") + timedelta(minutes=15)
    assert f"- {at:%H:%M} (closing words): Timing was your weakest area today." in reply.text
    _grounded(reply, question)
    reply = responder.answer("what did the coach say in 2001?")
    assert reply.text.startswith("No session in 2001, so no coach replies.")


# ---------------------------------------------------------------------------------------------
# no data, help, the classifier

def test_a_new_user_with_one_session(conn: Any, responder: OfflineResponder) -> None:
    ids = _seed(conn, only=("s5",))
    reply = responder.answer("what was my best session?")
    assert reply.text.startswith("Your only scored session so far (so also your best): "
                                 + _card("s5", ids)), reply.text
    reply = responder.answer("what was my longest session?")
    assert reply.text.startswith("Your only session so far (so also your longest): ")
    reply = responder.answer("which notes do I miss most?")
    assert reply.text.startswith(f"The notes you miss most in your only session "
                                 f"({_start('s5').date()}): **5 of 9 notes** missed (56%).")
    _grounded(reply, "which notes do I miss most?")
    reply = responder.answer("what is my weakest area?")
    assert "(average 72 over your last session, the ones `recommend` plans from)" \
        in reply.text
    assert "- Your last session, the ones `recommend` plans from:" in reply.text
    reply = responder.answer("what should I practise next?")
    assert "averaged 72 over the last session, your weakest area" in reply.text, reply.text


def test_new_user_gets_a_sentence(responder: OfflineResponder) -> None:
    for question in ("what was my best session?", "which notes do I miss most?",
                     "what did the coach say last time?", "shortest session this month"):
        reply = responder.answer(question)
        assert reply.understood and "no recorded sessions yet" in reply.text, question


def test_help_names_the_new_questions(responder: OfflineResponder) -> None:
    reply = responder.answer("help")
    for text in ("best session", "which notes do I miss most?",
                 "what did the coach say last time?"):
        assert text in reply.text
    assert all(e in reply.text for e in EXAMPLES)


PHRASES = st.sampled_from([
    "what was my", "which", "best", "worst", "longest", "shortest", "session", "sessions",
    "notes", "do I miss", "most", "did the coach say", "coach's tips", "last time",
    "this month", "last week", "in the last 3 days", "in my last 0 sessions",
    "last 9999 sessions", "scale", "weakest area", "?", "on A minor pentatonic", "since 2001",
    "what should I practise next", "how many", "why", "F#", "you told me", "in 2001",
])


def test_random_phrasing_never_crashes(seeded: Any) -> None:
    responder, _ = seeded
    today = _today()

    @settings(max_examples=60, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow])
    @given(st.one_of(st.lists(PHRASES, min_size=1, max_size=6).map(" ".join),
                     st.text(max_size=40)))
    def check(question: str) -> None:
        query = parse(question, today)
        assert query.intent and query.family
        if query.family == "detail":
            reply = responder.answer(question)
            assert reply.understood and reply.text.strip()
            assert all(c.error is None for c in reply.tool_calls)
            _grounded(reply, question)

    check()


def test_cli_json_names_the_author_and_lookups(database: Any, conn: Any, user_id: str) -> None:
    import json

    from typer.testing import CliRunner

    from fretcoach_cli.cli.main import _register_commands, app

    _register_commands()
    _seed(conn)
    for question, tools in (("what was my best session?", ["practice_stats", "ranked_sessions"]),
                            ("which notes do I miss most?", ["practice_stats", "missed_notes"]),
                            ("what did the coach say last time?",
                             ["practice_stats", "recent_sessions", "coach_replies"])):
        res = CliRunner().invoke(app, ["--user", user_id, "chat", "-m", question, "--json"],
                                 env={"FRETCOACH_LLM_PROVIDER": ""})
        assert res.exit_code == 0, res.output
        out = json.loads(res.stdout)
        assert (out["author"], out["mode"], out["grounded"]) == ("offline", "offline", True)
        assert out["tools_ran"] == tools, out
        assert out["answer"].endswith(FOOTER)
