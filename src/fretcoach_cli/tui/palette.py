"""Colours shared by the practice-room widgets.

Widgets render rich ``Text`` directly (they draw glyph by glyph), so they need concrete
colours rather than CSS variables; keeping them here keeps the room consistent.
"""

from __future__ import annotations

GOOD = "#6cc070"  # in scale and in tune
WARN = "#e5b33c"  # in scale but out of tune / weakest area
BAD = "#e05d5d"  # out of scale
ACCENT = "#5fb3e8"  # root notes, headings
DIM = "#6b7280"  # grid lines, secondary text
FAINT = "#3b4252"  # empty bar cells
TEXT = "#e5e9f0"


def score_colour(score: float | None) -> str:
    """Colour for a 0–100 score: green when good, amber when middling, red when poor."""
    if score is None:
        return DIM
    if score >= 80:
        return GOOD
    if score >= 60:
        return WARN
    return BAD
