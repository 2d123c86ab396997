"""Practice-room widgets: each renders plain values and knows nothing about the engine."""

from fretcoach_cli.tui.widgets.coach import CoachPane
from fretcoach_cli.tui.widgets.fretboard import Fretboard, FretMark
from fretcoach_cli.tui.widgets.header import SessionHeader
from fretcoach_cli.tui.widgets.metrics import MetricBars, MetricRow
from fretcoach_cli.tui.widgets.metronome import Metronome
from fretcoach_cli.tui.widgets.note_feed import FeedRow, NoteFeed
from fretcoach_cli.tui.widgets.tuner import Tuner, TunerReading

__all__ = [
    "CoachPane",
    "FeedRow",
    "FretMark",
    "Fretboard",
    "MetricBars",
    "MetricRow",
    "Metronome",
    "NoteFeed",
    "SessionHeader",
    "Tuner",
    "TunerReading",
]
