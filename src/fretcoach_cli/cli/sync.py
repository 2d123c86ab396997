"""`fretcoach sync --to URL / --from URL`: share history with another PostgreSQL database.

Delta, idempotent and resumable (high-water marks in the local database); conflicting edits:
the later ``updated_at`` wins; deletions travel too. Details: docs/reports.md.
"""

from __future__ import annotations

import typer

from fretcoach_cli.cli import context
from fretcoach_cli.cli.history import dump_json
from fretcoach_cli.errors import UsageError


def sync(
    to: str | None = typer.Option(None, "--to", help="Push local changes to this database URL."),
    from_: str | None = typer.Option(
        None, "--from", help="Pull changes from this database URL into the local one."),
    batch: int = typer.Option(500, "--batch", min=1, help="Rows per transaction."),
    as_json: bool = typer.Option(False, "--json", help="Print what moved as JSON."),
) -> None:
    """Sync your whole history with a shared PostgreSQL (delta, resumable)."""
    from fretcoach_cli.reports.sync import open_peer
    from fretcoach_cli.reports.sync import sync as run_sync
    from fretcoach_cli.store import db_errors, mask_url, open_database

    if not to and not from_:
        raise UsageError("nothing to do", hint="give --to URL (push) and/or --from URL (pull)")
    _check_urls(to=to, from_=from_)
    settings = context.settings()
    err = typer.get_text_stream("stderr")
    reports = []
    with open_database(settings) as db, db.connect(settings.user) as local:
        for direction, url in (("pull", from_), ("push", to)):
            if not url:
                continue
            with open_peer(url, settings) as peer_db, \
                    peer_db.connect(settings.user) as peer, \
                    db_errors(f"sync with {mask_url(url)} failed"):
                def progress(table: str, rep: object, url: str = url,
                             direction: str = direction) -> None:
                    if err.isatty():  # a live line on a terminal, nothing in logs
                        err.write(f"\r\033[K{direction} {mask_url(url)}: {table}, "
                                  f"{getattr(rep, 'batches', 0)} batches …")
                        err.flush()

                report = run_sync(local, peer, direction,  # type: ignore[arg-type]
                                  batch_size=batch, on_batch=progress)
                if err.isatty():
                    err.write("\r\033[K")
            reports.append((url, report))
    if as_json:
        dump_json([{"url": mask_url(u), **r.as_dict()} for u, r in reports])
        return
    for url, r in reports:
        arrow = "←" if r.direction == "pull" else "→"
        typer.echo(f"{r.direction} {arrow} {mask_url(url)}: "
                   f"sessions {r.sessions.inserted} new, {r.sessions.updated} updated, "
                   f"{r.sessions.notes} notes, {r.sessions.exercise_verdicts} exercise "
                   f"verdicts; plans {r.plans.inserted} new, "
                   f"{r.plans.updated} updated; {r.deletions.deleted} deleted"
                   + (f"; {r.sessions.kept_newer + r.plans.kept_newer} conflicts kept the "
                      "newer copy there" if r.sessions.kept_newer + r.plans.kept_newer else "")
                   + "".join(f"; {t.replace('_', ' ')} {o.inserted} written"
                             for t, o in r.other.items() if o.inserted))


def _check_urls(*, to: str | None, from_: str | None) -> None:
    """A --to/--from that is not a PostgreSQL URL is a usage error (2) before anything
    connects, not a database error (4) as if a server had refused."""
    from fretcoach_cli.errors import DatabaseError
    from fretcoach_cli.store.db import mask_url, normalise_url

    for option, url in (("--to", to), ("--from", from_)):
        if not url:
            continue
        context.utf8_text(url, option)
        try:
            normalise_url(url)
        except DatabaseError as err:
            raise UsageError(f"{option} {mask_url(url)!r} is not a PostgreSQL URL",
                             hint=err.hint) from None


def register(app: typer.Typer) -> None:
    app.command("sync", rich_help_panel="History")(sync)
