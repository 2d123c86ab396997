"""The Textual tuner driven by Pilot, fed from rendered files through the real tuner core."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fretcoach_cli.audio.pitch import get_backend
from fretcoach_cli.audio.sources import FileSource
from fretcoach_cli.audio.tuner import CHORD, Tuner
from fretcoach_cli.errors import AudioError
from fretcoach_cli.music.tunings import STANDARD
from fretcoach_cli.tui.tuner import (
    STROBE_PERIOD,
    Needle,
    NoteView,
    StringList,
    Strobe,
    TunerApp,
    TunerHelp,
    big_text,
)
from test_tuner_material import chord, held_note, write_clip


@pytest.fixture(scope="module")
def backend():
    return get_backend("swift")


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tuner_tui")
    write_clip(root / "e2_flat.wav", held_note(40, cents=-13.0, seconds=4.0, hum_hz=50.0))
    write_clip(root / "b3_sharp.wav", held_note(59, cents=9.0, seconds=3.0, hum_hz=None))
    write_clip(root / "chord.wav", chord([45, 48, 52], seconds=3.0))
    strings = [held_note(m, seconds=3.0, seed=m, hum_hz=None) for m in STANDARD.strings]
    write_clip(root / "all.wav", np.concatenate(strings))
    return root


async def wait_until(pilot, condition, timeout: float = 120.0) -> None:
    """Let the app run until ``condition()`` holds (fails the test after ``timeout`` s)."""
    waited = 0.0
    while not condition():
        await pilot.pause(0.05)
        waited += 0.05
        assert waited < timeout, "condition never became true"


def make_app(path: Path, backend, *, guided: bool = False) -> TunerApp:
    return TunerApp(FileSource(path), Tuner(STANDARD, backend=backend), guided=guided)


async def test_a_held_flat_low_e_fills_the_screen_at_80x24(clips: Path, backend) -> None:
    app = make_app(clips / "e2_flat.wav", backend)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.ended)
        await pilot.pause()
        reading = app.query_one(NoteView).reading
        assert reading is not None and reading.pitched, "the note still rings at the end"
        assert reading.note == "E2" and reading.string == 0 and reading.advice == "tighten"
        assert reading.offset_cents == pytest.approx(-13.0, abs=1.0)
        assert app.query_one(Needle).cents == pytest.approx(-13.0, abs=1.0)
        assert app.query_one(StringList).current == 0
        assert str(app.query_one("#message").render()).startswith("end of input")
        # tracked for as long as it rang: every reading after the pluck settled
        sustain = [r for r in app.readings if r.t >= 0.3]
        assert sum(r.pitched for r in sustain) >= 0.95 * len(sustain)
        assert app.query_one(StringList).heard[0] == pytest.approx(-13.0, abs=1.0)
        screen = app.screen.region
        for widget in (NoteView, Needle, Strobe, StringList):
            region = app.query_one(widget).region
            assert region.height >= 1 and screen.contains_region(region), widget
        assert app.query_one(StringList).region.bottom <= 23  # above the footer
        await pilot.press("q")
    assert app.return_code in (None, 0)


def test_strobe_moves_right_when_sharp_left_when_flat_and_stands_still_in_tune() -> None:
    strobe = Strobe()
    strobe.advance(9.0)
    right = strobe.phase
    strobe.advance(-9.0)
    back = strobe.phase
    strobe.advance(0.0)
    assert right > 0 and back == pytest.approx(0.0) and strobe.phase == back and strobe.lit
    strobe.advance(None)
    assert not strobe.lit


async def test_the_strobe_follows_every_reading(clips: Path, backend) -> None:
    """The band's phase is the sum of the offsets it was shown (audio time, not wall time)."""
    app = make_app(clips / "b3_sharp.wav", backend)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.ended)
        await pilot.pause()
        strobe = app.query_one(Strobe)
        assert strobe.lit
        expected = sum(r.offset_cents for r in app.readings if r.pitched) * 0.12
        gap = (strobe.phase - expected) % STROBE_PERIOD
        assert min(gap, STROBE_PERIOD - gap) < 1e-6
        assert app.query_one(NoteView).reading.advice == "loosen"


async def test_guided_mode_walks_the_strings_and_n_p_move(clips: Path, backend) -> None:
    app = make_app(clips / "all.wav", backend, guided=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.ended)
        await pilot.pause()
        assert app.guide is not None and app.guide.finished
        strings = app.query_one(StringList)
        assert strings.done == (True,) * 6
        assert "all strings in tune" in str(app.query_one("#message").render())
        await pilot.press("p")
        assert app.guide.index == 4 and strings.current == 4 and app.tuner.target == 4
        await pilot.press("n")
        await pilot.press("n")
        assert app.guide.index == 5 and strings.current == 5
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, TunerHelp)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, TunerHelp)
        await pilot.press("q")


async def test_a_chord_says_play_one_string(clips: Path, backend) -> None:
    app = make_app(clips / "chord.wav", backend)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.ended)
        await pilot.pause()
        assert app.query_one(NoteView).reading.state == CHORD
        assert "play one string" in str(app.query_one(NoteView).render())
        assert app.query_one(Needle).cents is None and not app.query_one(Strobe).lit


async def test_wider_terminal_wider_needle(clips: Path, backend) -> None:
    widths = []
    for size in ((80, 24), (140, 40)):
        app = make_app(clips / "b3_sharp.wav", backend)
        async with app.run_test(size=size) as pilot:
            await wait_until(pilot, lambda app=app: app.ended)
            await pilot.pause()
            widths.append(app.query_one(Needle).region.width)
            assert app.query_one(Needle).region.height >= 4
            await pilot.press("q")
    assert widths[1] > widths[0] + 40


class _Broken:
    label = "broken device"

    def open(self) -> None:
        pass

    def read(self, timeout: float = 0.1):
        raise AudioError("input device vanished")

    def close(self) -> None:
        pass


async def test_a_failing_source_closes_the_tuner_with_its_error(backend) -> None:
    app = TunerApp(_Broken(), Tuner(STANDARD, backend=backend))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.ended)
    assert isinstance(app.error, AudioError)


def test_big_font_covers_every_note_name() -> None:
    for name in ("E2", "F#3", "Bb1", "C#4", "G9", "A0"):
        rows = big_text(name)
        assert len({len(r) for r in rows}) == 1 and all(r.strip() for r in rows)
