"""`fretcoach export` and `fretcoach import`: a user's history as a file, and back.

``export`` writes to stdout (redirect it) or ``--output FILE``; ``import FILE`` is idempotent
(importing the same file twice adds nothing the second time). Formats: docs/reports.md.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TextIO

import typer

from fretcoach_cli.cli import context
from fretcoach_cli.cli.history import (
    SCALE_HELP,
    SINCE_HELP,
    UNTIL_HELP,
    dump_json,
    make_filter,
    user_connection,
)
from fretcoach_cli.errors import NotFoundError, UsageError


def export(
    fmt: str = typer.Option("json", "--format", "-f", help="json (re-importable) or csv."),
    since: str | None = typer.Option(None, "--since", help=SINCE_HELP),
    until: str | None = typer.Option(None, "--until", help=UNTIL_HELP),
    scale: str | None = typer.Option(None, "--scale", help=SCALE_HELP),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here, not stdout."),
) -> None:
    """Export your whole history as JSON (re-importable), or sessions as CSV."""
    from fretcoach_cli.reports.exchange import export_csv, export_json

    if fmt not in ("json", "csv"):
        raise UsageError(f"unknown --format {fmt!r}", hint="use json or csv")
    flt = make_filter(since, until, scale, "all")
    user = context.settings().user
    if output is not None and output.is_dir():
        raise UsageError(f"--output {output} is a directory", hint="give a file name")
    tmp = output.with_name(output.name + ".part") if output else None
    try:
        with user_connection() as conn:
            out = _open_output(tmp) if tmp else sys.stdout
            try:
                if fmt == "json":
                    summary = export_json(conn, flt, out, user=user)
                    what = (f"{summary.sessions} sessions, {summary.notes} notes, "
                            f"{summary.plans} plans, {summary.coach_replies} coach replies, "
                            f"{summary.exercise_verdicts} exercise verdicts, "
                            + ", ".join(f"{n} {t.replace('_', ' ')}"
                                        for t, n in summary.other.items()))
                else:
                    what = f"{export_csv(conn, flt, out)} sessions"
            finally:
                if tmp:
                    out.close()
        if tmp and output:
            tmp.replace(output)
    except BaseException:
        if tmp and tmp.exists():
            tmp.unlink()
        raise
    typer.echo(f"exported {what}" + (f" to {output}" if output else ""), err=True)


def _open_output(tmp: Path) -> TextIO:
    """The ``.part`` file export writes first; a one-line error when it cannot be created."""
    try:
        return tmp.open("w", encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(f"cannot write {tmp.with_suffix('')}: no such directory "
                            f"{tmp.parent}") from None
    except OSError as exc:
        raise UsageError(f"cannot write {tmp.with_suffix('')}: {exc.strerror or exc}") from None


def _read_export(path: Path) -> dict[str, Any]:
    """``read_export`` with the file-system failures it does not map turned into one line."""
    from fretcoach_cli.reports.exchange import read_export

    if str(path) != "-" and path.is_dir():
        raise UsageError(f"{path} is a directory", hint="give the JSON file 'export' wrote")
    try:
        return read_export(path)
    except OSError as exc:  # unreadable (permission, I/O error, a special file)
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (ValueError, TypeError) as exc:  # e.g. a "version" that is not a number
        raise UsageError(f"{path} is not a fretcoach JSON export ({exc.__class__.__name__})",
                         hint="import reads files written by 'fretcoach export --format json'"
                         ) from None


def _apply_import(conn: Any, data: dict[str, Any], path: Path) -> Any:
    """``import_data``; a file with the right header but rows of the wrong shape or type (a
    string where a list of sessions belongs, a session id that is not a uuid) is a usage
    error naming the file, not an internal or a database error. Its pages roll back."""
    import psycopg
    import psycopg.errors

    from fretcoach_cli.reports.exchange import ForeignIds, import_data

    try:
        return import_data(conn, data)
    except ForeignIds as exc:
        raise UsageError(f"{path}: {exc.message}", hint=exc.hint) from None
    except psycopg.errors.InsufficientPrivilege:  # row-level security: an id someone else owns
        raise UsageError(f"{path} holds ids that another user of this database owns",
                         hint="its \"user\" was changed to yours: put the exporter's name "
                         "back, and the rows get ids of their own") from None
    except (AttributeError, KeyError, TypeError, ValueError, psycopg.DataError,
            psycopg.IntegrityError) as exc:
        what = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"{path} is not a valid fretcoach export: {what}",
                         hint="import reads files written by 'fretcoach export --format json'"
                         ) from None


def import_(
    path: Path = typer.Argument(..., help="A JSON export ('-' reads stdin)."),
    as_json: bool = typer.Option(False, "--json", help="Print what changed as JSON."),
) -> None:
    """Import a JSON export into your history (idempotent: no duplicates)."""
    data = _read_export(path)
    with user_connection() as conn:
        report = _apply_import(conn, data, path)
    if as_json:
        dump_json(report.as_dict())
        return
    r = report
    typer.echo(f"sessions: {r.sessions_inserted} new, {r.sessions_updated} updated, "
               f"{r.sessions_unchanged} already there"
               + (f", {r.sessions_kept_newer} kept (newer here)" if r.sessions_kept_newer
                  else ""))
    typer.echo(f"notes: {r.notes_inserted} new; coach replies: {r.coach_replies_inserted} new; "
               f"exercise verdicts: {r.exercise_verdicts_inserted} written; "
               f"plans: {r.plans_inserted} new, {r.plans_updated} updated")
    if r.other:
        typer.echo("; ".join(f"{t.replace('_', ' ')}: {n} written" for t, n in r.other.items()))
    if r.ids_remapped:
        typer.echo("(another user's export: its sessions, plans, replies and threads got ids "
                   "of their own)")


def seed(
    # upper bounds: numpy's Poisson draw fails past ~1e18 (an internal error before them)
    sessions: int = typer.Option(..., "--sessions", "-n", min=1, max=10_000_000,
                                 help="How many sessions."),
    user: str | None = typer.Option(None, "--user", help="Seed this user (default: you)."),
    notes: int = typer.Option(120, "--notes-per-session", min=1, max=100_000,
                              help="Mean notes per session."),
    random_seed: int = typer.Option(7, "--seed", min=0,
                                    help="Random seed (same seed, same data)."),
    as_json: bool = typer.Option(False, "--json", help="Print what was made as JSON."),
) -> None:
    """(Development) Add a realistic synthetic practice history, bulk-loaded with COPY."""
    from fretcoach_cli.reports.dates import resolve_timezone
    from fretcoach_cli.reports.seed import seed as run_seed
    from fretcoach_cli.store import db_errors, open_database

    settings = context.settings()
    who = user or settings.user
    tz = resolve_timezone(settings.timezone)
    import sys

    from rich.console import Console
    from rich.progress import Progress

    shown = not as_json and sys.stderr.isatty()
    with open_database(settings) as db, db.connect(who) as conn, db_errors("seeding failed"), \
            Progress(console=Console(stderr=True), disable=not shown, transient=True) as bar:
        task = bar.add_task("seeding", total=sessions)
        result = run_seed(conn, user=who, sessions=sessions, notes_per_session=notes,
                          timezone=tz, random_seed=random_seed,
                          progress=lambda done, total: bar.update(task, completed=done,
                                                                  total=total))
    if as_json:
        dump_json(result.as_dict())
        return
    counts = ", ".join(f"{n} {one if n == 1 else many}" for n, one, many in (
        (result.sessions, "session", "sessions"), (result.notes, "note", "notes"),
        (result.plans, "plan", "plans"), (result.replies, "coach reply", "coach replies")))
    typer.echo(f"seeded {counts} for {who} in {result.seconds:.1f} s")


def register(app: typer.Typer) -> None:
    from fretcoach_cli.cli.db import db_app

    app.command("export", rich_help_panel="History")(export)
    app.command("import", rich_help_panel="History")(import_)
    db_app.command("seed")(seed)
