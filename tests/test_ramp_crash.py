"""kill -9 in the middle of `practice --ramp`: the ramp's best clean tempo and its curve,
stored as the ramp ran (journal first, like the notes), survive into the recovered session."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from audio_fixtures import render_clip
from fretcoach_cli import config
from fretcoach_cli.cli import main
from fretcoach_cli.practice.journal import journal_dir, read_records
from fretcoach_cli.scoring.ramp import RampSpec
from fretcoach_cli.store import Sessions
from test_speed_trainer import AMP, ramp_take

main._register_commands()


def fc(user: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fretcoach_cli.cli.main", "--user", user,
                           *args], capture_output=True, text=True, timeout=120)


def test_a_killed_ramp_keeps_its_best_clean_tempo(database: Any, conn: Any,
                                                  user_id: str) -> None:
    spec = RampSpec(80, 100, 5)
    notes, sim = ramp_take(spec, 16)
    path, _ = render_clip(notes, total_s=notes[-1].offset + 1.0,
                          description="clean take following an 80:100:+5 ramp")
    # in real time (no --fast): the kill comes while the take is still playing
    proc = subprocess.Popen(
        [sys.executable, "-m", "fretcoach_cli.cli.main", "--user", user_id, "practice",
         "--scale", AMP, "--ramp", "80:100:+5", "--input", str(path), "--no-click",
         "--no-tui", "--no-coach"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    sessions = Sessions(conn)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:  # until the database shows the ramp has risen
            rows = sessions.list()
            conn.commit()
            live = rows[0] if rows and rows[0].status == "active" else None
            if live is not None and live.tempo_curve and max(
                    p["bpm"] for p in live.tempo_curve) > 80:
                break
            assert proc.poll() is None, (  # the take ended before its ramp was stored
                proc.stderr.read().decode())  # type: ignore[union-attr]
            time.sleep(0.1)
        else:
            raise AssertionError("no risen tempo curve was stored while the ramp ran")
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    sid = rows[0].session_id
    assert rows[0].ramp == "80:100:+5" and rows[0].status == "active"

    # what the ramp had reached when it was killed: the last ramp record of its journal
    journal = journal_dir(config.load().data_path) / f"{sid}.jsonl"
    reached = [r["fields"] for r in read_records(journal) if r["op"] == "ramp"][-1]
    bpms = [p["bpm"] for p in reached["tempo_curve"]]
    assert bpms == [p.bpm for p in sim.curve][:len(bpms)] and max(bpms) > 80
    assert reached["max_clean_bpm"] is not None and reached["max_clean_bpm"] >= 80
    assert len(bpms) < len(sim.curve)  # killed mid-take

    listed = fc(user_id, "history", "--json")  # the next command replays the journal
    assert listed.returncode == 0, listed.stderr
    assert not journal.exists()
    conn.commit()
    row = sessions.require(sid)
    assert (row.max_clean_bpm, row.tempo_curve) == (reached["max_clean_bpm"],
                                                     reached["tempo_curve"])

    result = CliRunner().invoke(main.app, ["--user", user_id, "sessions", "recover",
                                           "--finish", "--yes"])
    assert result.exit_code == 0, result.output
    assert "finished" in result.output
    done = sessions.require(sid)
    assert done.status == "completed" and done.metrics.get("recovered") is True
    assert (done.ramp, done.max_clean_bpm, done.tempo_curve) == (
        "80:100:+5", reached["max_clean_bpm"], reached["tempo_curve"])
    shown = fc(user_id, "sessions", "show", str(sid)[:8])
    assert f"best clean tempo {reached['max_clean_bpm']:g} bpm" in shown.stdout.replace(
        "\n", " "), shown.stdout


def test_a_looped_exercise_stopped_without_a_summary_keeps_its_passes(
        database: Any, conn: Any, user_id: str, tmp_path: Path) -> None:
    """`--exercise FILE --ramp` played --fast, then stopped with no summary (as a crash after
    the take): the passes settled while it ran are the stored curve, and the fastest clean
    pass the player saw is the stored best clean tempo, kept by `sessions recover --finish`."""
    from fretcoach_cli.audio.sources import FileSource
    from fretcoach_cli.music.scales import parse_scale
    from fretcoach_cli.practice.recorder import SessionRecorder
    from fretcoach_cli.practice.runner import PracticeOptions, PracticeSession
    from fretcoach_cli.practice.speed_trainer import TempoUpdate, TrainerOptions
    from fretcoach_cli.practice.store_sink import sink_factory
    from test_exercise_ramp import lick, loop_take

    _path, ex = lick(tmp_path)
    spec = RampSpec(80, 92, 4)
    notes, sim = loop_take(ex, spec, 12)
    predicted = [p.bpm for p in sim.ramp.curve]
    take, _ = render_clip(notes, total_s=notes[-1].offset + 1.0,
                          description="box lick looped 12 times on an 80:92:+4 ramp")
    settings = config.load().with_overrides(user=user_id)
    recorder = SessionRecorder(sink_factory(settings), tmp_path)
    options = PracticeOptions(scale=parse_scale(AMP), user=user_id, source_kind="file",
                              exercise=ex, trainer=TrainerOptions(spec, click=False))
    session = PracticeSession(options, FileSource(take, realtime=False), recorder=recorder)
    session.tuner_pane = False
    shown: list[TempoUpdate] = []
    session.subscribe(lambda m: shown.append(m) if isinstance(m, TempoUpdate) else None)
    session.start()
    assert session.wait(120), "the take never ended"
    session.abandon()  # no summary: the session is left interrupted
    seen = shown[-1]  # what the room showed last
    assert seen.best_clean_bpm == 92 and len(seen.curve) >= 10

    sessions = Sessions(conn)
    sessions.mark_interrupted()
    row = sessions.require(recorder.session_uuid)
    assert row.status == "interrupted"
    curve = [p.to_dict() for p in seen.curve]
    assert (row.ramp, row.max_clean_bpm, row.tempo_curve) == ("80:92:+4", 92, curve)
    assert [p["bpm"] for p in curve] == predicted[:len(curve)]

    result = CliRunner().invoke(main.app, ["--user", user_id, "sessions", "recover",
                                           "--finish", "--yes"])
    assert result.exit_code == 0, result.output
    done = sessions.require(recorder.session_uuid)
    assert done.status == "completed"
    assert (done.ramp, done.max_clean_bpm, done.tempo_curve) == ("80:92:+4", 92, curve)
