"""`fretcoach history` and `fretcoach sessions show|delete`: what was played, and in depth.

Output contract (docs/reports.md): ``--json`` prints one JSON document on stdout and nothing
else; ``--csv`` prints a header and rows; diagnostics go to stderr; failures are one line with
the error's exit code (bad dates and unknown scales: 2, unknown session: 3).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer

from fretcoach_cli.cli import context
from fretcoach_cli.errors import ConfigError, UsageError

if TYPE_CHECKING:
    import psycopg
    from rich.console import Console

    from fretcoach_cli.reports.filters import SessionFilter

SINCE_HELP = "From this day: YYYY-MM-DD, today, yesterday, 7d, 4w, 3m (your time zone)."
UNTIL_HELP = "Up to and including this day (same forms as --since)."
SCALE_HELP = "Only this scale, e.g. 'A minor pentatonic' or 'am pent'."


# -- shared by the report commands --------------------------------------------------------
@contextmanager
def user_connection() -> Iterator[psycopg.Connection[Any]]:
    """A connection scoped to the current user (settings.user), database errors as one line.

    Sessions whose writer died (kill -9, power cut) are marked interrupted first, so reports
    never show a dead session as still active.
    """
    from fretcoach_cli.store import Sessions, db_errors, open_database

    settings = context.settings()
    with open_database(settings) as db, db.connect(settings.user) as conn, \
            db_errors("database query failed"):
        Sessions(conn).mark_interrupted()
        yield conn


def timezone_name() -> str:
    """The configured time zone; a bad one is a configuration error (exit 7) that says where
    it was set: no report flag takes a zone, so it is never the command line's fault."""
    from fretcoach_cli.reports.dates import resolve_timezone

    settings = context.settings()
    try:
        return resolve_timezone(settings.timezone)
    except UsageError as err:
        origin = settings.origins.get("timezone", "default")
        where = {"file": f"config file {settings.path}"}.get(origin, origin)
        raise ConfigError(f"{err.message} (timezone set in {where})", hint=err.hint) from None


def make_filter(since: str | None, until: str | None, scale: str | None,
                status: str | None = None) -> SessionFilter:
    """Validate the report flags before anything touches the database."""
    from fretcoach_cli.reports.filters import build_filter

    return build_filter(since=since, until=until, scale=scale, status=status,
                        timezone=timezone_name())


def exclusive_formats(as_json: bool, as_csv: bool) -> None:
    if as_json and as_csv:
        raise UsageError("choose one of --json and --csv")


def console(stderr: bool = False) -> Console:
    """Rich console: colour only on a terminal, and wide enough not to wrap in a pipe."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    tty = stream.isatty()
    return Console(file=stream, no_color=not tty, highlight=False,
                   width=None if tty else 160, soft_wrap=not tty)


def dump_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def write_csv(header: list[str] | tuple[str, ...], rows: list[list[Any]]) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else (round(v, 4) if isinstance(v, float) else v)
                         for v in row])


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = round(float(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def fmt_score(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


MAX_LIMIT = 1_000_000  # a larger --limit is read as this (more than any history holds)


# -- history ------------------------------------------------------------------------------
def history(
    since: str | None = typer.Option(None, "--since", help=SINCE_HELP),
    until: str | None = typer.Option(None, "--until", help=UNTIL_HELP),
    scale: str | None = typer.Option(None, "--scale", help=SCALE_HELP),
    status: str | None = typer.Option(
        None, "--status", help="completed, interrupted, active, all or a comma list."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="At most this many sessions."),
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
    as_csv: bool = typer.Option(False, "--csv", help="CSV with a header row on stdout."),
) -> None:
    """List practice sessions, newest first."""
    from fretcoach_cli.reports.history import HISTORY_COLUMNS, count_sessions, list_sessions

    exclusive_formats(as_json, as_csv)
    flt = make_filter(since, until, scale, status)
    limit = min(limit, MAX_LIMIT)  # a huge --limit means "all", not a bigint overflow
    with user_connection() as conn:
        rows = list_sessions(conn, flt, limit=limit)
        total = count_sessions(conn, flt) if not (as_json or as_csv) else len(rows)
    if as_json:
        dump_json({"filter": flt.as_dict(), "limit": limit, "count": len(rows),
                   "sessions": rows})
        return
    if as_csv:
        write_csv(HISTORY_COLUMNS, [[r[c] for c in HISTORY_COLUMNS] for r in rows])
        return
    _print_history(rows, total)


def _print_history(rows: list[dict[str, Any]], total: int) -> None:
    from rich.table import Table

    out = console()
    if not rows:
        console(stderr=True).print("no sessions match (try a wider --since or no --scale)")
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for name, justify in (("date", "left"), ("id", "left"), ("scale", "left"),
                          ("time", "right"), ("overall", "right"), ("pitch", "right"),
                          ("in scale", "right"), ("timing", "right"), ("clean", "right"),
                          ("notes", "right"), ("clean bpm", "right"), ("status", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        status = r["status"]
        style = {"completed": "", "interrupted": "yellow", "active": "cyan"}.get(status, "")
        table.add_row(
            r["start_time"][:16].replace("T", " "), r["session_id"][:8],
            r["scale_chosen"] or "—", fmt_duration(r["duration_seconds"]),
            fmt_score(r["overall_score"]), fmt_score(r["pitch_accuracy"]),
            fmt_score(r["scale_conformity"]), fmt_score(r["timing_stability"]),
            fmt_score(r["clean_playing"]), str(r["total_notes_played"]),
            "—" if r.get("max_clean_bpm") is None else f"{r['max_clean_bpm']:g}",
            f"[{style}]{status}[/]" if style else status,
        )
    out.print(table)
    if total > len(rows):
        console(stderr=True).print(f"showing {len(rows)} of {total} sessions (use --limit)")


# -- sessions show / delete ---------------------------------------------------------------
def show(
    session_id: str = typer.Argument(..., help="Session id or a unique prefix of it."),
    notes: bool = typer.Option(False, "--notes", help="Also list every detected note."),
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Everything about one session: scores, raw figures, degrees, timing, coach, plan."""
    from fretcoach_cli.reports.history import session_detail

    tz = timezone_name()
    with user_connection() as conn:
        detail = session_detail(conn, session_id, timezone=tz, notes=notes)
    if as_json:
        dump_json(detail)
        return
    _print_detail(detail)


def _print_detail(d: dict[str, Any]) -> None:
    from rich.table import Table

    from fretcoach_cli.reports.charts import bar

    out = console()
    s = d["session"]
    out.print(f"[bold]{s['scale_chosen'] or '—'}[/]  {s['start_time'][:16].replace('T', ' ')}"
              f"  {fmt_duration(s['duration_seconds'])}  [dim]{s['status']}[/]")
    out.print(f"id {s['session_id']}   input {s['input_source'] or '—'}   "
              f"model {s['pitch_model'] or '—'}   tempo "
              f"{(str(round(s['tempo_bpm'])) + ' bpm') if s['tempo_bpm'] else 'free'}")
    if s.get("ramp"):
        from fretcoach_cli.practice.speed_trainer import speed_summary

        out.print(speed_summary(s), markup=False, emoji=False)
    raw = d["raw_figures"]

    def pct(x: float | None) -> str:
        return "—" if x is None else f"{100 * x:.0f}%"

    scores = Table(box=None, pad_edge=False, header_style="bold", title_justify="left")
    scores.add_column("metric")
    scores.add_column("score", justify="right")
    scores.add_column("from")
    cents = raw["mean_abs_cents"]
    scores.add_row("overall", fmt_score(s["overall_score"]),
                   f"weakest: {(s['weakest_area'] or '—').replace('_', ' ')}")
    scores.add_row("pitch accuracy", fmt_score(s["pitch_accuracy"]),
                   f"{pct(raw['in_tune_ratio'])} in tune, mean |cents| "
                   f"{'—' if cents is None else f'{cents:.1f}'}")
    scores.add_row("scale conformity", fmt_score(s["scale_conformity"]),
                   f"{pct(raw['in_scale_ratio'])} of notes in the scale "
                   f"({s['correct_notes_played']} in, {s['bad_notes_played']} out)")
    timing_from = (f"IOI CV {raw['ioi_cv']:.3f}" if raw["ioi_cv"] is not None else "—")
    if raw.get("mean_abs_grid_dev_ms") is not None:
        timing_from += f", mean |grid dev| {raw['mean_abs_grid_dev_ms']:.0f} ms"
    scores.add_row("timing stability", fmt_score(s["timing_stability"]), timing_from)
    scores.add_row("clean playing", fmt_score(s["clean_playing"]),
                   f"{pct(raw['clean_ratio'])} clean notes")
    scores.add_row("scale coverage", fmt_score(s["scale_coverage"]),
                   f"{sum(1 for g in d['degrees'] if g['in_scale'] and g['count'])} of "
                   f"{sum(1 for g in d['degrees'] if g['in_scale'])} degrees played")
    out.print(scores)

    if d["degrees"]:
        out.print("\n[bold]per scale degree[/]")
        deg = Table(box=None, pad_edge=False, header_style="bold")
        for col in ("degree", "note", "played", "in tune", "mean cents", "|cents|"):
            deg.add_column(col, justify="left" if col in ("degree", "note") else "right")
        for g in d["degrees"]:
            label = g["degree"] or "?"
            if g["in_scale"] is False:
                label = f"[red]{label}[/] (outside)"
            deg.add_row(label, g["note"] or str(g["pitch_class"]), str(g["count"]),
                        pct(g["in_tune_share"]),
                        "—" if g["mean_cents"] is None else f"{g['mean_cents']:+.1f}",
                        "—" if g["mean_abs_cents"] is None else f"{g['mean_abs_cents']:.1f}")
        out.print(deg)
    if d["worst_notes"]:
        out.print("\n[bold]worst notes[/]")
        for w in d["worst_notes"]:
            c = "" if w["cents"] is None else f" {w['cents']:+.0f}¢"
            out.print(f"  {w['onset_s']:7.2f}s  {w['note'] or '?':4}{c:7}  {w['reason']}")
    timing = d["timing"]
    if timing["median_ioi_s"]:
        out.print(f"\n[bold]timing[/] (intervals vs the median {timing['median_ioi_s']:.2f} s)")
        peak = max(b["count"] for b in timing["bins"]) or 1
        for b in timing["bins"]:
            out.print(f"  {b['label']:>13} {b['count']:5d} {bar(b['count'], peak, 30)}")
    if d["coach_replies"]:
        out.print("\n[bold]coach[/]")
        for r in d["coach_replies"]:
            rated = {1: " +", -1: " -"}.get(r.get("rating") or 0, "")
            out.print(f"  [dim]{r['at'][11:16]} {r['kind']} #{r['reply_id']}{rated}[/] "
                      f"{r['text']}")
    if d["plan"]:
        p = d["plan"]
        title = p["practice_plan"].get("title") if isinstance(p["practice_plan"], dict) else None
        out.print(f"\n[bold]plan[/] {title or p['practice_id']} "
                  f"[dim]({p['status']}, {p['generated_at'][:10]})[/]")
    if d.get("exercise"):
        from fretcoach_cli.tui.exercise_view import exercise_table

        ex = d["exercise"]
        bpm = f" at {ex['bpm']:g} bpm" if ex.get("bpm") else ""
        from fretcoach_cli.practice.speed_trainer import stored_pass

        which = stored_pass(s)  # --exercise --ramp: the one pass stored
        bpm += f" ({which})" if which else ""
        out.print()
        out.print(exercise_table(ex["verdicts"], title=f"exercise {ex['name']}{bpm}: every "
                                 "note", summary=ex["summary"]))
    if "notes" in d:
        out.print("\n[bold]notes[/]")
        tbl = Table(box=None, pad_edge=False, header_style="bold")
        for col in ("seq", "onset", "note", "cents", "in scale", "in tune", "kind"):
            tbl.add_column(col, justify="right" if col in ("seq", "onset", "cents") else "left")
        for n in d["notes"]:
            tbl.add_row(str(n["seq"]), f"{n['onset_s']:.2f}", n["note_name"] or "—",
                        "—" if n["cents"] is None else f"{n['cents']:+.1f}",
                        _yn(n["in_scale"]), _yn(n["in_tune"]), n["kind"])
        out.print(tbl)


def _yn(v: bool | None) -> str:
    return "—" if v is None else ("yes" if v else "no")


def delete(
    session_id: str = typer.Argument(..., help="Session id or a unique prefix of it."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete a session with its notes and coach replies (a sync will delete it elsewhere)."""
    from fretcoach_cli.reports.history import delete_session
    from fretcoach_cli.store import Sessions

    with user_connection() as conn:
        repo = Sessions(conn)
        sid = repo.resolve(session_id)
        row = repo.require(sid)
        if not yes:
            when = row.start_time.strftime("%Y-%m-%d %H:%M")
            try:
                ok = typer.confirm(f"Delete session {str(sid)[:8]} ({row.scale_chosen}, "
                                   f"{when}, {row.total_notes_played} notes)?", default=False,
                                   err=True)
            except typer.Abort:
                ok = False
            if not ok:
                typer.echo("nothing deleted", err=True)
                raise typer.Exit(1)
        delete_session(conn, str(sid))
    typer.echo(f"deleted session {sid}", err=True)


def _sessions_group(app: typer.Typer) -> typer.Typer:
    """The `sessions` group: the practice module's ``sessions_app`` (it adds it to the app
    and owns `sessions recover`); a group of our own only if that module is missing."""
    try:
        from fretcoach_cli.cli.sessions import sessions_app
    except ImportError:
        group = typer.Typer(help="Manage stored practice sessions.", no_args_is_help=True)
        app.add_typer(group, name="sessions", rich_help_panel="History")
        return group
    return sessions_app


def register(app: typer.Typer) -> None:
    app.command("history", rich_help_panel="History")(history)
    group = _sessions_group(app)
    group.command("show")(show)
    group.command("delete")(delete)
