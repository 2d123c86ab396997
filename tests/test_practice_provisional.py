"""Provisional notes in the practice room: heard at once, judged in place, never a ghost.

Real recordings through the real engine and session (no database: scoring and the UI are
what is tested here; storage of final notes is covered by test_tui_practice).
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import App, ComposeResult

from fretcoach_cli.audio.engine import analyze_file
from fretcoach_cli.audio.sources import FileSource
from fretcoach_cli.events import NoteEvent
from fretcoach_cli.music.scales import parse_scale
from fretcoach_cli.practice.messages import NoteHeard, NoteJudged, NoteRetracted
from fretcoach_cli.practice.runner import PracticeOptions, PracticeSession
from fretcoach_cli.scoring.judge import judge_note
from fretcoach_cli.tui.app import PracticeApp
from fretcoach_cli.tui.live_view import MarkTrail
from fretcoach_cli.tui.widgets import NoteFeed
from fretcoach_cli.tui.widgets.note_feed import FeedRow

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CLEAN = EXAMPLES / "a_minor_pentatonic_clean.flac"
WITH_DROP = EXAMPLES / "low_e_a_sustained.flac"  # one onset here is heard, then retracted
SCALE = parse_scale("A minor pentatonic")


def session_for(path: Path, **options) -> PracticeSession:
    opts = PracticeOptions(scale=SCALE, source_kind="file", source_label=path.name, **options)
    return PracticeSession(opts, FileSource(path))


def run_headless(session: PracticeSession) -> list:
    messages: list = []
    session.subscribe(messages.append)
    session.start()
    assert session.wait(120)
    session.finish()
    return [m for m in messages if isinstance(m, NoteHeard | NoteJudged | NoteRetracted)]


def test_session_announces_each_note_before_judging_it_and_scores_only_final_notes():
    messages = run_headless(session_for(CLEAN))
    heard: dict[float, NoteHeard] = {}
    judged = 0
    for m in messages:
        if isinstance(m, NoteHeard):
            heard[m.onset_s] = m
        elif isinstance(m, NoteJudged):
            assert m.note.onset_s in heard, "judged before it was heard"
            h = heard.pop(m.note.onset_s)
            assert h.note.emitted_at_s <= m.note.offset_s + 0.2
            judged += 1
        else:
            heard.pop(m.onset_s)
    assert not heard
    assert judged == len(analyze_file(CLEAN).notes) > 40
    named = [m for m in messages if isinstance(m, NoteHeard) and m.name is not None]
    assert all(m.in_scale is not None for m in named) and len(named) > 40


def test_session_result_is_the_final_notes_only():
    session = session_for(WITH_DROP)
    messages = run_headless(session)
    assert any(isinstance(m, NoteRetracted) for m in messages)
    assert session.events == analyze_file(WITH_DROP).notes
    assert session.result is not None
    assert session.result.notes == sum(e.is_note for e in session.events)


def test_duration_limit_applies_to_provisional_notes_too():
    messages = run_headless(session_for(CLEAN, duration_s=3.0))
    assert messages
    assert all((m.onset_s if isinstance(m, NoteHeard | NoteRetracted) else m.note.onset_s) < 3.0
               for m in messages)
    assert (sum(isinstance(m, NoteHeard) for m in messages)
            == sum(isinstance(m, NoteJudged | NoteRetracted) for m in messages))


# ---------------------------------------------------------------------------- the room


async def _until(pilot, condition, timeout: float = 120.0) -> None:
    waited = 0.0
    while not condition():
        await pilot.pause(0.05)
        waited += 0.05
        assert waited < timeout, "condition never became true"
    for _ in range(5):
        await pilot.pause()


def feed_text(feed: NoteFeed) -> list[str]:
    return [strip.text for strip in feed.lines]


async def test_practice_room_leaves_no_ghost_notes():
    for path in (CLEAN, WITH_DROP):
        session = session_for(path)
        app = PracticeApp(session, coach=False, finish_on_end=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await _until(pilot, session.input_done.is_set)
            feed = app.query_one(NoteFeed)
            assert feed.count == len(session.events) > 5
            assert feed.heard == feed.count + feed.retracted  # every note was shown early
            assert not feed.pending
            lines = feed_text(feed)
            assert len(lines) == feed.count
            assert not any("settling" in line for line in lines)
            assert all(status != "pending" for *_, status in app.trail.items)
            if path == WITH_DROP:
                assert feed.retracted >= 1


class FeedApp(App[None]):
    def __init__(self, early: bool = False) -> None:
        super().__init__()
        self.early = early

    def compose(self) -> ComposeResult:
        yield NoteFeed(id="feed")

    def on_mount(self) -> None:
        if self.early:  # before the log knows its size: writes are still queued
            feed = self.query_one(NoteFeed)
            feed.add_provisional(1.0, FeedRow(1.0, "A", None, True, None, provisional=True))
            feed.add_provisional(2.0, FeedRow(2.0, "C", None, True, None, provisional=True))
            feed.retract(1.0)
            feed.settle(2.0, FeedRow(2.0, "C", 4.0, True, True, "b3"))


async def test_feed_rewrites_a_heard_row_in_place_and_removes_a_retracted_one():
    app = FeedApp()
    async with app.run_test(size=(80, 10)) as pilot:
        feed = app.query_one(NoteFeed)
        feed.add_provisional(0.5, FeedRow(0.5, "A", None, True, None, provisional=True))
        feed.add_provisional(1.0, FeedRow(1.0, "C", None, True, None, provisional=True))
        feed.add(FeedRow(1.2, None, None, None, None, kind="polyphonic"))
        await pilot.pause()
        assert ["settling" in t for t in feed_text(feed)] == [True, True, False]
        feed.settle(0.5004, FeedRow(0.5, "A", -3.0, True, True, "1"))  # within 1 ms
        feed.retract(1.0)
        feed.add_provisional(1.5, FeedRow(1.5, "D", None, True, None, provisional=True))
        feed.settle(1.5, FeedRow(1.5, "D", 12.0, True, True, "4"))
        await pilot.pause()
        lines = feed_text(feed)
        assert len(lines) == 3 and feed.count == 3 and not feed.pending
        assert "A" in lines[0] and "-3¢" in lines[0] and "deg 1" in lines[0]
        assert "chord" in lines[1]
        assert "D" in lines[2] and "+12¢" in lines[2]
        # the rewritten line is exactly what a plain write of the judged row gives
        fresh = FeedApp()
        async with fresh.run_test(size=(80, 10)) as pilot2:
            other = fresh.query_one(NoteFeed)
            other.add(FeedRow(0.5, "A", -3.0, True, True, "1"))
            await pilot2.pause()
            assert other.lines[0] == feed.lines[0]


def _heard(t: float, name: str) -> FeedRow:
    return FeedRow(t, name, None, True, None, provisional=True)


async def test_feed_keeps_onset_order_when_a_note_is_named_after_the_next_one():
    """Under a reverberant tail the engine names a note only once the model stops hearing
    the previous one, which can be after the next pluck was named: its line goes above."""
    app = FeedApp()
    async with app.run_test(size=(80, 10)) as pilot:
        feed = app.query_one(NoteFeed)
        feed.add(FeedRow(0.5, "A", -3.0, True, True, "1"))
        feed.add_provisional(1.0, _heard(1.0, "C"))
        feed.add_provisional(2.0, _heard(2.0, "E"))
        feed.add_provisional(1.5, _heard(1.5, "D"))  # named late
        await pilot.pause()
        assert [t.split()[1] for t in feed_text(feed)] == ["A", "C", "D", "E"]
        feed.settle(2.0, FeedRow(2.0, "E", 1.0, True, True, "5"))
        feed.retract(1.0)
        feed.settle(1.5, FeedRow(1.5, "D", -2.0, True, True, "4"))
        feed.add_provisional(2.5, _heard(2.5, "G"))
        await pilot.pause()
        lines = feed_text(feed)
        assert [t.split()[1] for t in lines] == ["A", "D", "E", "G"]
        assert "-2¢" in lines[1] and "+1¢" in lines[2] and "settling" in lines[3]
        assert feed.pending == {2.5: 3} and feed.count == 3


async def test_feed_edits_writes_queued_before_its_size_is_known():
    app = FeedApp(early=True)
    async with app.run_test(size=(80, 10)) as pilot:
        await pilot.pause()
        feed = app.query_one(NoteFeed)
        lines = feed_text(feed)
        assert len(lines) == 1 and "+4¢" in lines[0] and "settling" not in lines[0]
        assert feed.count == 1 and feed.retracted == 1 and not feed.pending


def test_fretboard_trail_ends_as_if_only_judged_notes_were_added():
    notes = analyze_file(CLEAN).notes[:20]
    verdicts = [judge_note(n, SCALE, tolerance=20.0) for n in notes]
    plain, live = MarkTrail(size=4), MarkTrail(size=4)
    for n, v in zip(notes, verdicts, strict=True):
        plain.add(v)
        live.add_pending(n.onset_s, n.midi)
        assert live.marks()[-1].status == "pending" and live.marks()[-1].age == 0
        live.settle(n.onset_s, v)
        assert live.items == plain.items
    # a note heard and then retracted leaves no trace, even when the trail is full
    ghost = NoteEvent(99.0, 99.1, 64.0, 0.9)
    live.add_pending(ghost.onset_s, ghost.midi)
    assert len(live.items) == 5
    live.retract(ghost.onset_s)
    assert live.items == plain.items
    v = judge_note(NoteEvent(100.0, 100.5, 60.0, 0.9), SCALE, tolerance=20.0)
    plain.add(v)
    live.settle(100.0, v)  # judged without having been heard: simply added
    assert live.items == plain.items


def test_provisional_row_is_dim_and_narrower_than_judged_rows():
    from fretcoach_cli.tui.widgets.note_feed import format_row

    heard = format_row(FeedRow(61.25, "F#", None, False, None, provisional=True))
    assert isinstance(heard, Text) and "…¢" in heard.plain and "F#" in heard.plain
    judged = [format_row(FeedRow(61.25, "F#", 1.0, True, True, "b7")),
              format_row(FeedRow(61.25, None, None, None, None, kind="polyphonic"))]
    assert all(heard.cell_len < j.cell_len for j in judged)
