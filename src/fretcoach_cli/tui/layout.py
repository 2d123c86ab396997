"""Which layout the terminal's size calls for, as CSS classes set on the app.

What must stay visible, in order: the header (scale, clock, recording and database state,
input level), the tuner, the metrics, the newest coach reply, then the note feed, then the
fretboard. Widgets fit their own content to the width they get (shorter labels, fewer
frets, compact feed rows); these classes decide which panels get room at all:

``-tiny``   below 60×20: one centred line asks for a bigger terminal (the session goes on).
``-narrow`` under 80 columns: the tuner becomes one line above the metrics.
``-medium`` 80–95 columns: note feed and coach share the width equally (compact feed rows).
``-short``  too few rows for the fretboard besides feed and coach: the fretboard moves
            behind the ``f`` key (it then takes the note feed's place).
``-no-neck`` not even the fretboard alone fits under the metrics (60×20): ``f`` is off.
``-wide``   160 columns or more: fretboard (all 24 frets) and note feed side by side.
"""

from __future__ import annotations

from rich.text import Text

from fretcoach_cli.tui.fit import first_fitting

MIN_WIDTH, MIN_HEIGHT = 60, 20
NARROW_BELOW = 80
MEDIUM_BELOW = 96  # under this the feed shows compact rows anyway: the coach gets half
WIDE_FROM = 160
HEADER_ROWS, FOOTER_ROWS = 2, 1
TOP_ROWS, TOP_ROWS_NARROW = 8, 11  # tuner | metrics, or the tuner's line above the metrics
FRETBOARD_ROWS = 10  # fret numbers, six strings, inlays and the border
LOWER_MIN_ROWS = 7  # feed and coach: five lines each inside their borders
SIZE_CLASSES = ("-tiny", "-narrow", "-medium", "-short", "-no-neck", "-wide")


def size_classes(width: int, height: int) -> frozenset[str]:
    """The layout classes for a ``width``×``height`` terminal."""
    if width < MIN_WIDTH or height < MIN_HEIGHT:
        return frozenset({"-tiny"})
    out = set()
    narrow = width < NARROW_BELOW
    if narrow:
        out.add("-narrow")
    elif width < MEDIUM_BELOW:
        out.add("-medium")
    top = TOP_ROWS_NARROW if narrow else TOP_ROWS
    lower = height - HEADER_ROWS - top - FOOTER_ROWS
    if lower < FRETBOARD_ROWS + LOWER_MIN_ROWS:
        out.add("-short")
    if lower < FRETBOARD_ROWS:
        out.add("-no-neck")
    if width >= WIDE_FROM:
        out.add("-wide")
    return frozenset(out)


def too_small_line(width: int, height: int) -> Text:
    """The one line shown instead of the room when the terminal is too small."""
    need = f"{MIN_WIDTH}×{MIN_HEIGHT}"
    return first_fitting((
        Text(f"Terminal {width}×{height}: fretcoach needs at least {need}. "
             "Still recording: enlarge to continue."),
        Text(f"Terminal {width}×{height}: needs at least {need}; still recording."),
        Text(f"{width}×{height}: needs {need}, still recording"),
        Text(f"needs {need}"),
    ), width)
