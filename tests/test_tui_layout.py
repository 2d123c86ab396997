"""The practice room at every terminal size: what stays on screen, that nothing wraps, and
that resizing mid-session loses no note (real recording, real engine, real PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.text import Text

from fretcoach_cli import config
from fretcoach_cli.audio.sources import FileSource
from fretcoach_cli.music.scales import parse_scale
from fretcoach_cli.practice.recorder import SessionRecorder
from fretcoach_cli.practice.runner import PracticeOptions, PracticeSession
from fretcoach_cli.practice.store_sink import sink_factory
from fretcoach_cli.store import Sessions
from fretcoach_cli.tui.app import PracticeApp
from fretcoach_cli.tui.layout import size_classes, too_small_line
from fretcoach_cli.tui.screens.summary import SummaryScreen
from fretcoach_cli.tui.widgets import (
    CoachPane,
    Fretboard,
    MetricBars,
    Metronome,
    NoteFeed,
    SessionHeader,
    Tuner,
)
from fretcoach_cli.tui.widgets.fretboard import FretMark, fret_window, frets_for_width
from fretcoach_cli.tui.widgets.note_feed import FeedRow
from fretcoach_cli.tui.widgets.size_guard import SizeGuard

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "a_minor_pentatonic_clean.flac"
SCALE = parse_scale("A minor pentatonic")
# what must be on screen, in order of priority; the feed and the fretboard may give way
MUST_SHOW = (SessionHeader, Tuner, MetricBars, CoachPane)
FITTED = (SessionHeader, Tuner, Metronome, MetricBars, Fretboard)


async def wait_until(pilot, condition, timeout: float = 90.0) -> None:
    """Let the app run until ``condition()`` holds (fails the test after ``timeout`` s)."""
    waited = 0.0
    while not condition():
        await pilot.pause(0.05)
        waited += 0.05
        assert waited < timeout, "condition never became true"


def fast_app(**kwargs) -> PracticeApp:
    options = PracticeOptions(scale=SCALE, source_kind="file",
                              source_label=f"examples/{EXAMPLE.name}", **kwargs)
    return PracticeApp(PracticeSession(options, FileSource(EXAMPLE)), coach_every_s=1e9,
                       finish_on_end=False)


def on_screen(app: PracticeApp, widget_type: type) -> bool:
    """The widget is displayed and its whole region lies inside the terminal."""
    widget = app.query_one(widget_type)
    region = widget.region
    return (widget.display and widget.parent.display and region.width > 0
            and region.height > 0 and region.right <= app.size.width
            and region.bottom <= app.size.height - 1)  # the footer's row


def unwrapped(widget) -> bool:
    """Every line the widget draws fits its width (so nothing is wrapped or cut)."""
    rendered = widget.render()
    assert isinstance(rendered, Text)
    return all(line.cell_len <= widget.content_size.width
               for line in rendered.split("\n"))


def test_size_classes_follow_the_priorities():
    assert size_classes(59, 40) == size_classes(120, 19) == {"-tiny"}
    # 80×24: no room for the neck besides feed and coach; 60×20: not even for the neck alone
    assert size_classes(80, 24) == {"-medium", "-short"}
    assert size_classes(100, 30) == frozenset()
    assert size_classes(60, 20) == {"-narrow", "-short", "-no-neck"}
    assert size_classes(90, 40) == {"-medium"}
    assert size_classes(200, 60) == {"-wide"}
    for width, height in ((58, 18), (59, 19), (40, 10)):
        assert too_small_line(width, height).cell_len <= width
        assert "60×20" in too_small_line(width, height).plain


def test_fretboard_shows_all_24_frets_when_wide_and_follows_the_hand_when_narrow():
    assert frets_for_width(103) == 24 and frets_for_width(200) == 24
    assert frets_for_width(72) == 16  # an 80-column terminal: frets 0-16
    shown = frets_for_width(40)
    assert fret_window((), shown) == 0
    low = (FretMark(0, 3, "good", 1), FretMark(1, 5, "good", 0))
    assert fret_window(low, shown) == 0  # open position stays at the nut
    high = (FretMark(0, 12, "good", 2), FretMark(1, 14, "good", 1), FretMark(2, 15, "off", 0))
    start = fret_window(high, shown)
    assert all(start <= m.fret <= start + shown for m in high)
    spread = (FretMark(0, 1, "good", 1), FretMark(5, 22, "good", 0))
    start = fret_window(spread, shown)
    assert start <= 22 <= start + shown  # the newest note is always in view


@pytest.mark.parametrize("size", [(60, 20), (80, 24), (90, 24), (100, 30), (120, 40),
                                  (160, 30), (200, 60)])
async def test_everything_down_to_the_coach_is_on_screen_and_nothing_wraps(size):
    app = fast_app(duration_s=4.0)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, app.session.input_done.is_set)
        await wait_until(pilot, lambda: app.query_one(NoteFeed).count > 5)
        app.query_one(CoachPane).say("Keep the wrist loose and let the pick fall through.")
        app.query_one(SessionHeader).set_storage(True, 1234)
        await pilot.pause()
        for widget_type in MUST_SHOW:
            assert on_screen(app, widget_type), widget_type.__name__
        for widget_type in FITTED:
            widget = app.query_one(widget_type)
            if widget.display and widget.parent.display:
                assert unwrapped(widget), widget_type.__name__
        bars = app.query_one(MetricBars).render().plain
        assert "◀ weakest" in bars and "Timing stability" in bars
        header = app.query_one(SessionHeader).render().plain
        assert "A minor pentatonic" in header and "⏱" in header and "saves" in header
        assert "db ✓" in header and "dB" in header  # database state and input level
        if app.fretboard_shown:
            assert on_screen(app, Fretboard)
            if size[0] >= 120:
                assert app.query_one(Fretboard).shown == range(25)  # frets 0-24
        elif "-no-neck" not in app.classes:  # the neck is behind f, and the footer says so
            assert "show_fretboard" in {b.binding.action for b in app.active_bindings.values()}
            await pilot.press("f")
            await pilot.pause()
            assert app.fretboard_shown and on_screen(app, Fretboard)
            assert on_screen(app, CoachPane)


def make_session(user: str, journal: Path) -> PracticeSession:
    settings = config.load().with_overrides(user=user)
    options = PracticeOptions(scale=SCALE, user=user, source_kind="file",
                              source_label=EXAMPLE.name, duration_s=7.0)
    recorder = SessionRecorder(sink_factory(settings), journal)
    return PracticeSession(options, FileSource(EXAMPLE, realtime=True), recorder=recorder)


async def test_resizing_mid_session_loses_no_note(database, conn, user_id, tmp_path):
    """200×60 → 80×24 → too small → 200×60 while the recording plays in real time: every
    note the engine reported is stored and listed, and the feed is drawn at full width."""
    session = make_session(user_id, tmp_path)
    app = PracticeApp(session, coach=False, finish_on_end=False)
    async with app.run_test(size=(200, 60)) as pilot:
        feed = app.query_one(NoteFeed)
        seen_at: dict[tuple[int, int], int] = {}
        for size, until_s in (((200, 60), 1.5), ((80, 24), 3.0), ((50, 16), 4.5),
                              ((200, 60), 5.5), ((80, 24), 99.0)):
            await pilot.resize_terminal(*size)
            await pilot.pause()
            before = feed.count
            await wait_until(pilot, lambda t=until_s: session.input_done.is_set()
                             or session.position_s >= t)
            seen_at[size] = seen_at.get(size, 0) + feed.count - before
            if size == (50, 16):
                assert app.query_one(SizeGuard).display
                assert not app.query_one("#body").display and not app.query_one("#top").display
                assert session.state == "recording"  # the engine carries on regardless
        await wait_until(pilot, session.input_done.is_set)
        await pilot.resize_terminal(200, 60)
        await pilot.pause(0.2)
        assert all(seen_at[size] > 0 for size in ((80, 24), (50, 16))), seen_at
        assert feed.count == len(session.events) > 12
        assert not feed.pending and len(feed.lines) == feed.count
        assert not feed.compact
        widest = max(line.cell_length for line in feed.lines)
        assert widest >= 40  # drawn again at full width, not kept cropped from 50×16
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryScreen))
        await pilot.press("q")
    result = app.return_value
    assert result is not None and result.saved
    stored = Sessions(conn).notes(result.session_id)
    assert len(stored) == len(session.events) == result.notes
    for got, want in zip(stored, session.events, strict=True):
        assert got.onset_s == pytest.approx(want.onset_s, abs=1e-5)


async def test_summary_at_80x24_shows_every_score_and_offers_the_rest_below():
    app = fast_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, app.session.input_done.is_set)
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryScreen))
        await pilot.pause()
        screen = app.screen
        metrics = screen.query_one("#summary-metrics")
        assert metrics.region.bottom <= 23 and screen.query_one("#summary-advice").region.y < 23
        assert "Timing stability ◀ weakest" in app.export_screenshot().replace("&#160;", " ")
        actions = {b.binding.action for b in app.active_bindings.values()}
        assert "more" in actions  # the degree and worst-note tables are below: ↓ says so
        await pilot.press("down")
        await pilot.pause()
        assert screen.query_one("#summary").scroll_y > 0
        await pilot.resize_terminal(200, 60)
        await wait_until(pilot, lambda: "more" not in {
            b.binding.action for b in app.active_bindings.values()})
        await pilot.press("q")


async def test_coach_keeps_the_newest_reply_when_the_pane_is_short():
    app = fast_app(duration_s=1.0)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(CoachPane)
        for text in ("First: relax the fretting hand between notes. " * 3,
                     "Second: mute the strings you are not playing. " * 3,
                     "Newest: count one-and-two-and out loud."):
            pane.say(text)
        pane.source = "offline"
        pane.styles.height = 4
        await pilot.pause()
        shown = pane.render().plain
        assert shown.startswith("› Newest") and shown.endswith("— offline")
        pane.styles.height = 30
        await pilot.pause()
        assert pane.render().plain.index("First") < pane.render().plain.index("Newest")


async def test_note_feed_redraws_its_rows_when_its_width_changes():
    from textual.app import App

    class FeedApp(App[None]):
        def compose(self):
            yield NoteFeed()

    rows = [FeedRow(1.0 + i / 3, "A3", 2.0, True, True, "1", 12.0) for i in range(30)]
    app = FeedApp()
    async with app.run_test(size=(40, 20)) as pilot:
        feed = app.query_one(NoteFeed)
        for row in rows:
            feed.add_provisional(row.time_s, heard(row))
        for row in rows[:-1]:
            feed.settle(row.time_s, row)
        await pilot.pause()
        assert feed.compact and len(feed.lines) == 30
        assert all("✓ scale" not in strip.text for strip in feed.lines)
        await pilot.resize_terminal(120, 20)
        await pilot.pause()
        await pilot.pause()
        assert not feed.compact
        texts = [strip.text for strip in feed.lines]
        assert len(texts) == 30 and all("✓ scale ✓ tune   deg 1" in t for t in texts[:-1])
        assert "settling" in texts[-1] and feed.pending  # the last one is still provisional
        feed.settle(rows[-1].time_s, rows[-1])  # the line numbers survived the redraw
        assert not feed.pending and "deg 1" in feed.lines[-1].text
        assert feed.rewrite(rows[3].time_s, FeedRow(rows[3].time_s, "C4", -30.0, True, False,
                                                    "b3"))
        assert "C4" in feed.lines[3].text and "~ tune" in feed.lines[3].text
        assert not feed.rewrite(99.0, rows[0])


def heard(row: FeedRow) -> FeedRow:
    return FeedRow(row.time_s, row.name, None, row.in_scale, None, row.degree, provisional=True)
