"""Snapshots of the practice room, its summary and help at the sizes terminals open with.

Everything shown comes from the audio clock of a fixed file analysed in fast mode, so the
screens are the same on every run. Update with ``pytest --snapshot-update`` after a
deliberate visual change.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fretcoach_cli.audio.sources import FileSource
from fretcoach_cli.music.scales import parse_scale
from fretcoach_cli.practice.runner import PracticeOptions, PracticeSession
from fretcoach_cli.tui.app import PracticeApp
from fretcoach_cli.tui.screens.help import HelpScreen
from fretcoach_cli.tui.screens.summary import SummaryScreen

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "a_minor_pentatonic_clean.flac"
SIZES = [(80, 24), (100, 30), (120, 40), (200, 60)]
SIZE_IDS = [f"{w}x{h}" for w, h in SIZES]


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


async def _help(pilot) -> None:
    await _played(pilot)
    await pilot.press("question_mark")
    await _until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))


async def _neck_instead_of_notes(pilot) -> None:
    await _played(pilot)
    await pilot.press("f")
    await _until(pilot, lambda: pilot.app.fretboard_shown)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_practice_room_after_a_recording(snap_compare, size):
    assert snap_compare(make_app(), terminal_size=size, run_before=_played)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_summary_screen(snap_compare, size):
    assert snap_compare(make_app(), terminal_size=size, run_before=_summary)


@pytest.mark.parametrize("size", [(60, 20), (80, 24)], ids=["60x20", "80x24"])
def test_help_screen(snap_compare, size):
    assert snap_compare(make_app(), terminal_size=size, run_before=_help)


def test_fretboard_in_place_of_the_notes_at_80x24(snap_compare):
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=_neck_instead_of_notes)


def test_too_small_terminal(snap_compare):
    assert snap_compare(make_app(), terminal_size=(58, 18), run_before=_played)
