"""Snapshots of the practice room and its summary: fixed recording, no database, no clock.

Everything shown comes from the audio clock of a fixed file analysed in fast mode, so the
screens are the same on every run. Update with ``pytest --snapshot-update`` after a
deliberate visual change.
"""

from __future__ import annotations

from pathlib import Path

from fretcoach_cli.audio.sources import FileSource
from fretcoach_cli.music.scales import parse_scale
from fretcoach_cli.practice.runner import PracticeOptions, PracticeSession
from fretcoach_cli.tui.app import PracticeApp
from fretcoach_cli.tui.screens.summary import SummaryScreen

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "a_minor_pentatonic_clean.flac"
SIZE = (120, 40)


def make_app() -> PracticeApp:
    options = PracticeOptions(scale=parse_scale("A minor pentatonic"), bpm=None,
                              source_kind="file", source_label=EXAMPLE.name)
    session = PracticeSession(options, FileSource(EXAMPLE))
    return PracticeApp(session, coach_every_s=1e9, finish_on_end=False)


async def _until(pilot, condition) -> None:
    for _ in range(2400):
        if condition():
            break
        await pilot.pause(0.05)
    assert condition()
    for _ in range(5):
        await pilot.pause()


async def _played(pilot) -> None:
    await _until(pilot, pilot.app.session.input_done.is_set)


async def _summary(pilot) -> None:
    await _played(pilot)
    await pilot.press("q")
    await _until(pilot, lambda: isinstance(pilot.app.screen, SummaryScreen))


def test_practice_room_after_a_recording(snap_compare):
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=_played)


def test_summary_screen(snap_compare):
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=_summary)
