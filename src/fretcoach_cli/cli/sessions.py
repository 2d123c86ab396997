"""`fretcoach sessions recover` — finish or discard sessions a crash left interrupted."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

from fretcoach_cli.cli import context
from fretcoach_cli.errors import UsageError

sessions_app = typer.Typer(help="Manage stored practice sessions.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(sessions_app, name="sessions", rich_help_panel="Practice")


def _describe(row: Any, notes: int | None = None) -> str:
    when = row.start_time.astimezone().strftime("%Y-%m-%d %H:%M")
    secs = row.duration_seconds or 0.0
    count = f", {notes} notes" if notes is not None else ""
    return (f"{str(row.session_id)[:8]}  {when}  {row.scale_chosen or '?'}  "
            f"{int(secs // 60)}:{int(secs % 60):02d}{count}")


@sessions_app.command("recover")
def recover(
    finish: bool = typer.Option(False, "--finish", help="Finish them: recompute the metrics "
                                "from their stored notes and mark them completed."),
    discard: bool = typer.Option(False, "--discard", help="Delete them and their notes."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable report."),
) -> None:
    """Sessions cut short by a crash, kill or power loss: finish or discard them.

    Local journals of dead sessions are written to the database first, so nothing played
    before the crash is lost. Sessions that hold no notes are discarded (nothing to
    finish). Without --finish/--discard you are asked for each other session.
    """
    from fretcoach_cli.practice.recovery import (
        discard_interrupted,
        drop_empty,
        find_interrupted,
        finish_interrupted,
    )
    from fretcoach_cli.store import Sessions, open_database
    from fretcoach_cli.store.rows import json_safe

    if finish and discard:
        raise UsageError("choose one of --finish and --discard")
    interactive = sys.stdin.isatty() and not as_json
    if not (finish or discard) and not interactive:
        raise UsageError("say what to do with interrupted sessions",
                         hint="pass --finish or --discard (with --yes to skip the question)")
    settings = context.settings()
    report: dict[str, Any] = {"finished": [], "discarded": [], "skipped": []}
    with open_database(settings) as db, db.connect(settings.user) as conn:
        pending = find_interrupted(settings, conn)
        if pending.replay_error:
            typer.echo(f"warning: some journals could not be replayed: {pending.replay_error}",
                       err=True)
        if pending.replay and pending.replay.journals and not as_json:
            typer.echo(f"Wrote {pending.replay.notes} journaled notes of "
                       f"{pending.replay.journals} session(s) to the database.", err=True)
        report["replayed_journals"] = pending.replay.journals if pending.replay else 0
        # sessions with no notes at all are not practice: nothing to finish, so they go
        rows, empty = drop_empty(conn, pending.sessions)
        report["discarded"] += [str(r.session_id) for r in empty]
        if empty and not as_json:
            typer.echo(f"Discarded {len(empty)} interrupted session(s) with no notes.")
        if not rows:
            if as_json:
                typer.echo(json.dumps(report, indent=2))
            else:
                typer.echo("No interrupted sessions.")
            return
        store = Sessions(conn)
        counts = {r.session_id: len(store.notes(r.session_id)) for r in rows}
        if not as_json:
            typer.echo(f"{len(rows)} interrupted session(s):")
            for r in rows:
                typer.echo("  " + _describe(r, counts[r.session_id]))
        if finish or discard:
            verb = "Finish" if finish else "Discard"
            if not yes and not typer.confirm(f"{verb} {len(rows)} session(s)?", default=False):
                raise typer.Exit(1)
            choices = {r.session_id: "f" if finish else "d" for r in rows}
        else:
            import click  # only the interactive prompt needs it

            choices = {}
            for r in rows:
                choices[r.session_id] = typer.prompt(
                    f"{_describe(r, counts[r.session_id])} — [f]inish, [d]iscard or [s]kip?",
                    type=click.Choice(["f", "d", "s"]), default="s", show_choices=False)
        for r in rows:
            choice = choices[r.session_id]
            if choice == "f":
                done = finish_interrupted(conn, r)
                report["finished"].append(json_safe(done))
                if not as_json:
                    overall = done.overall_score
                    typer.echo(f"finished {str(r.session_id)[:8]}: {counts[r.session_id]} "
                               f"notes, overall {'—' if overall is None else f'{overall:.0f}'}")
            elif choice == "d":
                discard_interrupted(conn, r)
                report["discarded"].append(str(r.session_id))
                if not as_json:
                    typer.echo(f"discarded {str(r.session_id)[:8]}")
            else:
                report["skipped"].append(str(r.session_id))
    if as_json:
        typer.echo(json.dumps(report, indent=2))
