"""`fretcoach practice --speak` through the CLI: with no sound card (none here) or no
espeak-ng, one warning line and the session goes on, saved, with its replies."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fretcoach_cli.cli.main import _register_commands, app
from fretcoach_cli.errors import ExitCode

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "a_minor_pentatonic_clean.flac"
_register_commands()
runner = CliRunner()


@pytest.fixture(autouse=True)
def _offline_coach(monkeypatch):
    for name in ("OPENAI_API_KEY", "FRETCOACH_LLM_PROVIDER", "FRETCOACH_LLM_BASE_URL",
                 "FRETCOACH_LLM_API_KEY", "FRETCOACH_LLM_FALLBACKS", "FRETCOACH_SPEECH"):
        monkeypatch.delenv(name, raising=False)


def _practice(user_id: str, *extra: str):
    return runner.invoke(app, ["--user", user_id, "practice", "--input", str(EXAMPLE), "--fast",
                               "--no-tui", "--json", "--coach-every", "10s",
                               "--scale", "A minor pentatonic", *extra])


def _warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("fretcoach: warning:")]


def _stored_kinds(user_id: str, session_id: str) -> list[str]:
    shown = runner.invoke(app, ["--user", user_id, "sessions", "show", session_id, "--json"])
    assert shown.exit_code == 0, shown.output
    return [r["kind"] for r in json.loads(shown.stdout)["coach_replies"]]


def test_speak_without_a_sound_card_warns_once_and_goes_on(database, user_id):
    played = _practice(user_id, "--speak")
    assert played.exit_code == 0, played.output
    assert _warnings(played.stderr) == [
        "fretcoach: warning: cannot play speech: Error querying device -1; "
        "the coach is text-only from now on"]
    row = json.loads(played.stdout)
    assert row["status"] == "completed"
    kinds = _stored_kinds(user_id, row["session_id"])
    assert "live" in kinds and kinds[-1] == "summary"


def test_speak_without_espeak_ng_is_one_clear_line(database, user_id, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no espeak-ng anywhere
    played = _practice(user_id, "--speak")
    assert played.exit_code == 0, played.output
    assert _warnings(played.stderr) == [
        "fretcoach: warning: speech: espeak-ng is not installed (sudo apt install espeak-ng); "
        "the coach stays silent"]
    assert json.loads(played.stdout)["status"] == "completed"


def test_speak_needs_the_coach(user_id):
    proc = subprocess.run([sys.executable, "-m", "fretcoach_cli.cli.main", "--user", user_id,
                           "practice", "--input", str(EXAMPLE), "--speak", "--no-coach",
                           "--scale", "A minor pentatonic"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == ExitCode.USAGE
    assert proc.stderr == ("fretcoach: error: --speak reads the coach aloud: it cannot go "
                           "with --no-coach\n")


async def test_in_the_practice_room_a_speech_warning_is_a_notification(database, user_id,
                                                                       tmp_path, capfd):
    from fretcoach_cli import config
    from fretcoach_cli.audio.sources import FileSource
    from fretcoach_cli.coach.speech import speaker_from_settings
    from fretcoach_cli.music.scales import parse_scale
    from fretcoach_cli.practice.coach_link import CoachLink
    from fretcoach_cli.practice.recorder import SessionRecorder
    from fretcoach_cli.practice.runner import PracticeOptions, PracticeSession
    from fretcoach_cli.practice.store_sink import sink_factory
    from fretcoach_cli.tui.app import PracticeApp
    from fretcoach_cli.tui.screens.summary import SummaryScreen

    settings = config.load().with_overrides(user=user_id)
    options = PracticeOptions(scale=parse_scale("A minor pentatonic"), user=user_id,
                              source_kind="file", source_label=EXAMPLE.name)
    session = PracticeSession(options, FileSource(EXAMPLE),
                              recorder=SessionRecorder(sink_factory(settings), tmp_path))
    link = CoachLink()
    room = PracticeApp(session, coach_every_s=5.0, coach_link=link)
    speaker = speaker_from_settings(settings, on_warning=room.warn_from_thread)
    assert speaker is not None
    link.on_reply(speaker)
    capfd.readouterr()
    try:
        async with room.run_test(size=(120, 40)) as pilot:
            for _ in range(2400):
                if isinstance(room.screen, SummaryScreen) and speaker.silent:
                    break
                await pilot.pause(0.05)
            for _ in range(200):
                if room.warnings:
                    break
                await pilot.pause(0.05)
            shown = list(room.warnings)
            await pilot.press("q")
    finally:
        speaker.close()
    assert shown == [
        "cannot play speech: Error querying device -1; the coach is text-only from now on"]
    out, err = capfd.readouterr()
    assert "speech" not in out + err  # nothing printed over the practice room
