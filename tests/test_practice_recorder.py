"""The session recorder against real PostgreSQL: batches, journal, outages and replay."""

from __future__ import annotations

import shutil
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from fretcoach_cli import config
from fretcoach_cli.events import NoteEvent
from fretcoach_cli.music.scales import parse_scale
from fretcoach_cli.practice.journal import journal_dir, read_records
from fretcoach_cli.practice.recorder import SessionRecorder, replay_journals
from fretcoach_cli.practice.runner import PracticeOptions
from fretcoach_cli.practice.store_sink import sink_factory
from fretcoach_cli.practice.summary import note_row, session_meta, summary_fields
from fretcoach_cli.scoring.judge import judge_note, tolerance_cents
from fretcoach_cli.store import Sessions

SCALE = parse_scale("A minor pentatonic")
OPTIONS = PracticeOptions(scale=SCALE, user="x", source_kind="file", source_label="test.flac")
RUN = [57.02, 60.1, 61.9, 64.0, 67.2, 69.0, 70.0, 72.05]  # 70 = A#4: a wrong note


def events(n: int, start: float = 0.0) -> list[NoteEvent]:
    return [NoteEvent(start + 0.4 * i, start + 0.4 * i + 0.35, RUN[i % len(RUN)], 0.9)
            for i in range(n)]


def rows(evs: list[NoteEvent], first_seq: int = 1) -> list[dict]:
    tol = tolerance_cents(0.5)
    return [note_row(first_seq + i, e, judge_note(e, SCALE, tolerance=tol))
            for i, e in enumerate(evs)]


def settings_for(user: str, url: str = "") -> config.Settings:
    """The test run's settings (its embedded server) as ``user``, or another server."""
    s = config.load().with_overrides(user=user)
    if url:
        s = s.with_overrides(database_url=url)
    return s


class Waiter:
    """Collects recorder status callbacks and waits for a condition on them."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.seen = []

    def __call__(self, status) -> None:
        with self.cond:
            self.seen.append(status)
            self.cond.notify_all()

    def until(self, pred, timeout: float = 30.0):
        with self.cond:
            assert self.cond.wait_for(lambda: self.seen and pred(self.seen[-1]), timeout), \
                self.seen[-1:] or "no status"
            return self.seen[-1]


def test_a_session_is_written_as_it_happens(database, conn, user_id, tmp_path):
    waiter = Waiter()
    rec = SessionRecorder(sink_factory(settings_for(user_id)), tmp_path,
                          on_status=waiter)
    rec.start(session_meta(OPTIONS), replay=False)
    evs = events(12)
    for r in rows(evs[:6]):
        rec.add_note(r)
    waiter.until(lambda s: s.saved_notes == 6)  # before the end: written as it happens
    sessions = Sessions(conn)
    live = sessions.require(rec.session_id)
    assert live.status == "active" and len(sessions.notes(rec.session_id)) == 6
    for r in rows(evs[6:], first_seq=7):
        rec.add_note(r)
    outcome = rec.finish(summary_fields(OPTIONS, evs, 5.0))
    assert outcome.saved and outcome.row["status"] == "completed"
    done = sessions.require(rec.session_id)
    assert done.total_notes_played == 12 and done.bad_notes_played == 1
    assert [n.seq for n in sessions.notes(rec.session_id)] == list(range(1, 13))
    assert [n.note_name for n in sessions.notes(rec.session_id)][:2] == ["A3", "C4"]
    assert not list(journal_dir(tmp_path).glob("*.jsonl"))  # nothing left to replay


@pytest.fixture
def outage_server(tmp_path_factory):
    """A second PostgreSQL the test can stop and restart (same socket URL both times)."""
    from fretcoach_cli.store.server import ensure_server, release_server

    where = tmp_path_factory.mktemp("outage", numbered=True)
    where = Path("/tmp") / f"fc-outage-{where.name}"
    server = ensure_server(where)

    class Handle:
        url = server.uri

        def stop(self) -> None:
            release_server(where)

        def start(self) -> None:
            ensure_server(where)

    yield Handle()
    release_server(where)
    shutil.rmtree(where, ignore_errors=True)


def test_database_outage_mid_session_loses_nothing(outage_server, tmp_path):
    settings = settings_for("outage-user", outage_server.url)
    waiter = Waiter()
    rec = SessionRecorder(sink_factory(settings), tmp_path, on_status=waiter, retry_s=0.3)
    rec.start(session_meta(OPTIONS), replay=False)
    evs = events(30)
    for r in rows(evs[:10]):
        rec.add_note(r)
    waiter.until(lambda s: s.saved_notes == 10)
    outage_server.stop()
    for r in rows(evs[10:20], first_seq=11):
        rec.add_note(r)
    waiter.until(lambda s: not s.online)
    outage_server.start()
    waiter.until(lambda s: s.online and s.saved_notes == 20)
    for r in rows(evs[20:], first_seq=21):
        rec.add_note(r)
    outcome = rec.finish(summary_fields(OPTIONS, evs, 12.0))
    assert outcome.saved
    from fretcoach_cli.store import open_database

    with open_database(settings) as db, db.connect("outage-user") as c:
        stored = Sessions(c)
        assert [n.seq for n in stored.notes(rec.session_id)] == list(range(1, 31))
        assert stored.require(rec.session_id).status == "completed"


def test_database_down_until_the_end_is_replayed_on_the_next_run(outage_server, tmp_path):
    settings = settings_for("replay-user", outage_server.url)
    outage_server.stop()
    rec = SessionRecorder(sink_factory(settings), tmp_path, retry_s=0.2)
    rec.start(session_meta(replace(OPTIONS, user="replay-user")), replay=False)
    evs = events(9)
    for r in rows(evs):
        rec.add_note(r)
    outcome = rec.finish(summary_fields(OPTIONS, evs, 4.0), timeout=60)
    assert not outcome.saved and outcome.journal is not None and outcome.journal.exists()
    outage_server.start()
    report = replay_journals(tmp_path, sink_factory(settings.with_overrides(user="other")))
    assert (report.journals, report.sessions_finished, report.notes) == (1, 1, 9)
    assert not outcome.journal.exists()
    from fretcoach_cli.store import open_database

    with open_database(settings) as db, db.connect("replay-user") as c:
        (row,) = Sessions(c).list()
        assert row.status == "completed" and row.total_notes_played == 9
        assert len(Sessions(c).notes(row.session_id)) == 9


def test_a_ramp_journaled_while_the_database_was_down_is_replayed(database, conn, user_id,
                                                                  tmp_path):
    """practice --ramp with the database unreachable, then killed (no summary): the ramp's
    outcome so far is in the journal, and the next run's replay stores it on the session,
    which `sessions recover --finish` keeps."""
    from fretcoach_cli.practice.recovery import finish_interrupted
    from fretcoach_cli.practice.speed_trainer import ramp_fields
    from fretcoach_cli.scoring.ramp import RampSpec, TempoRamp

    down = settings_for(user_id, "postgresql://fretcoach@127.0.0.1:1/fretcoach")
    rec = SessionRecorder(sink_factory(down), tmp_path, retry_s=0.2)
    rec.start(session_meta(replace(OPTIONS, user=user_id)), replay=False)
    spec = RampSpec(80, 100, 5)
    ramp = TempoRamp(spec)
    assert rec.ramp_progress(ramp_fields(spec, ramp))  # the spec, stored from the start
    evs = []
    for bar in range(6):  # six clean bars of quarter notes on the ramp's own grid
        start, beat = ramp.map.bar_start(bar), 60.0 / ramp.map.bpm_of_bar(bar)
        bar_evs = [NoteEvent(start + i * beat, start + i * beat + 0.5 * beat,
                             RUN[(4 * bar + i) % 6], 0.9) for i in range(4)]
        for e in bar_evs:
            ramp.feed(e.onset_s, True)
        for r in rows(bar_evs, first_seq=len(evs) + 1):
            rec.add_note(r)
        evs += bar_evs
        assert rec.ramp_progress(ramp_fields(spec, ramp))
    reached = ramp_fields(spec, ramp)
    assert reached["max_clean_bpm"] is not None and max(
        p["bpm"] for p in reached["tempo_curve"]) > 80  # it rose while the database was down
    journal = rec.journal.path
    rec.abandon()  # as a kill: no summary
    assert not rec.status.online
    records = [r["fields"] for r in read_records(journal) if r["op"] == "ramp"]
    assert records[0]["tempo_curve"] == [] and records[0]["ramp"] == "80:100:+5"
    assert records[-1] == reached  # the latest (quicker ones are coalesced) on the way out

    report = replay_journals(tmp_path, sink_factory(settings_for("someone-else")))
    assert (report.journals, report.sessions_interrupted, report.notes) == (1, 1, len(evs))
    assert not journal.exists()
    sessions = Sessions(conn)
    row = sessions.require(rec.session_uuid)
    assert row.status == "interrupted"
    assert (row.ramp, row.max_clean_bpm, row.tempo_curve) == (
        "80:100:+5", reached["max_clean_bpm"], reached["tempo_curve"])

    done = finish_interrupted(conn, row)
    assert done.status == "completed" and done.total_notes_played == len(evs)
    assert (done.ramp, done.max_clean_bpm, done.tempo_curve) == (
        "80:100:+5", reached["max_clean_bpm"], reached["tempo_curve"])
    # a finished session's ramp is the summary's: a late update changes nothing
    assert not sessions.set_ramp(rec.session_uuid, ramp="80:100:+5", max_clean_bpm=None,
                                 tempo_curve=[])
    assert sessions.require(rec.session_uuid).max_clean_bpm == reached["max_clean_bpm"]
