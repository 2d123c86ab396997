"""The end-of-session summary as rich renderables: shared by the summary screen and the
headless ``fretcoach practice`` output (no Textual here)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from fretcoach_cli.practice.summary import METRIC_LABELS, SUMMARY_LABELS, SessionResult
from fretcoach_cli.tui.live_view import score, weakest
from fretcoach_cli.tui.palette import ACCENT, BAD, DIM, GOOD, TEXT, WARN, score_colour
from fretcoach_cli.tui.widgets.header import format_clock
from fretcoach_cli.tui.widgets.metrics import bar

RAW_FIGURES = (
    ("mean_abs_cents", "mean |cents|", "{:.1f}"),
    ("in_scale_ratio", "in scale", "{:.0%}"),
    ("in_tune_ratio", "in tune", "{:.0%}"),
    ("ioi_cv", "IOI CV", "{:.2f}"),
    ("mean_abs_grid_dev_ms", "mean grid deviation ms", "{:.0f}"),
)


def raw_figures(result: SessionResult, width: int | None = None) -> Text:
    """The raw figures behind the scores, so they can be checked and explained; given a
    ``width``, broken into lines between figures, never inside one."""
    parts = []
    for key, label, spec in RAW_FIGURES:
        value = getattr(result.metrics, key, None)
        if value is not None:
            parts.append(f"{label} {spec.format(value)}")
    if not parts:
        return Text("")
    lines = ["raw: " + parts[0]]
    for part in parts[1:]:
        if width is not None and len(lines[-1]) + 3 + len(part) > width:
            lines.append("     " + part)
        else:
            lines[-1] += " · " + part
    return Text("\n".join(lines), style=DIM)


def _fmt(value: float | None, spec: str = "{:.0f}") -> str:
    return "—" if value is None else spec.format(value)


def headline(result: SessionResult) -> Text:
    out = Text()
    out.append("Session complete  ", style=f"bold {ACCENT}")
    out.append(result.scale_name, style=f"bold {TEXT}")
    out.append(f"  ·  {format_clock(result.duration_s)}  ·  {result.notes} notes", style=TEXT)
    out.append("\n")
    if result.saved:
        out.append(f"✓ saved as session {result.session_id}", style=GOOD)
    else:
        out.append(f"! {result.save_message}", style=WARN)
    if result.reason and result.reason not in {"finished", "end of input", "stopped"}:
        out.append(f"  ({result.reason})", style=DIM)
    return out


def metrics_table(result: SessionResult, *, bar_cells: int = 24,
                  caption: bool = True) -> Table:
    """Every score with its bar, the previous session's and the change; ``caption`` adds
    the raw figures under it (the summary screen lays those out itself)."""
    prev = result.previous
    weak = weakest(result.metrics)
    table = Table(title="Metrics", title_justify="left", title_style=f"bold {ACCENT}",
                  expand=False, box=None, padding=(0, 1))
    table.add_column("", style=TEXT)
    table.add_column("score", justify="right")
    table.add_column("", width=bar_cells)
    table.add_column("previous", justify="right", style=DIM)
    table.add_column("change", justify="right")
    if caption:
        table.caption = raw_figures(result)
        table.caption_justify = "left"
    for key, label in SUMMARY_LABELS:
        now = score(result.metrics, key)
        before = score(prev, key) if prev is not None else None
        change = Text("—", style=DIM)
        if now is not None and before is not None:
            delta = now - before
            change = Text(f"{delta:+.0f}", style=GOOD if delta > 0 else (BAD if delta < 0 else DIM))
        name = Text(label + (" ◀ weakest" if key == weak else ""),
                    style=f"bold {WARN}" if key == weak else TEXT)
        table.add_row(name, Text(_fmt(now), style=f"bold {score_colour(now)}"), bar(now, bar_cells),
                      _fmt(before), change)
    return table


def degree_table(result: SessionResult) -> Table:
    table = Table(title="Per scale degree", title_justify="left", title_style=f"bold {ACCENT}",
                  box=None, padding=(0, 1))
    for col, just in (("degree", "left"), ("played", "right"), ("in tune", "right"),
                      ("mean |¢|", "right")):
        table.add_column(col, justify=just, header_style=DIM)  # type: ignore[arg-type]
    for d in getattr(result.metrics, "per_degree", ()):
        share = None if d.in_tune_share is None else 100.0 * d.in_tune_share
        table.add_row(Text(f"{d.label} {d.name}", style=f"bold {TEXT}"),
                      Text(str(d.count), style=TEXT if d.count else BAD),
                      Text(_fmt(share, "{:.0f}%"), style=score_colour(share)),
                      _fmt(d.mean_abs_cents, "{:.1f}"))
    return table


def worst_table(result: SessionResult) -> Table | Text:
    worst = getattr(result.metrics, "worst_notes", ())
    if not worst:
        return Text("No wrong or out-of-tune notes. Clean!", style=GOOD)
    table = Table(title="Notes to work on", title_justify="left", title_style=f"bold {ACCENT}",
                  box=None, padding=(0, 1))
    for col in ("time", "note", "cents", "why"):
        table.add_column(col, header_style=DIM)
    for w in worst:
        table.add_row(format_clock(w.onset_s), Text(w.name, style="bold"),
                      _fmt(w.cents, "{:+.0f}"),
                      Text(w.reason, style=WARN if w.in_scale else BAD))
    return table


def advice(result: SessionResult) -> Text:
    weak = weakest(result.metrics)
    tip = getattr(result, "extra", {}).get("tip")
    out = Text()
    if weak:
        label = dict(METRIC_LABELS).get(weak, weak)
        out.append("Weakest area: ", style=DIM)
        out.append(label, style=f"bold {WARN}")
    if tip:
        out.append("\n" + str(tip), style=TEXT)
        by = getattr(result, "extra", {}).get("tip_by")
        if by:
            out.append(f"\n— {'offline coach' if by == 'offline' else by}", style=DIM)
    return out


