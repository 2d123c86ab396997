"""`fretcoach rate ID +|-|up|down [--comment TEXT]` and `fretcoach rate --last +`.

Stores the player's rating beside the coach reply (re-rating replaces it). When Opik tracing
is on and the reply came from a traced model call, the rating is also sent to Opik as the
trace's ``user_rating`` feedback score (1 = up, 0 = down; the comment is its reason).
"""

from __future__ import annotations

import json
from typing import Any

import typer

from fretcoach_cli.cli import context
from fretcoach_cli.errors import UsageError


def rate_reply(conn: Any, ref: str | None, rating: int, comment: str | None, *,
               settings: Any = None, tracer: Any = None) -> dict[str, Any]:
    """Rate reply ``ref`` (None: the latest); returns what was rated and whether Opik got it
    (through ``tracer``, else one made from ``settings`` when the reply was traced). Shared
    by `fretcoach rate` and the chat REPL's /+ and /-."""
    from fretcoach_cli.store import replies

    if ref is None:
        row = replies.latest(conn)
        if row is None:
            from fretcoach_cli.errors import NotFoundError

            raise NotFoundError("no coach reply to rate yet")
    else:
        row = replies.get(conn, ref)
    replies.rate(conn, row.reply_uuid, rating, comment)
    sent = False
    if row.trace_id and (tracer is not None or settings is not None):
        if tracer is None:
            from fretcoach_cli.llm.tracing import tracer_from_settings

            tracer = tracer_from_settings(settings)
        if tracer.enabled and tracer.send_feedback(row.trace_id, rating, comment):
            replies.mark_sent(conn, row.reply_uuid)
            sent = True
    return {"reply_id": row.reply_id, "reply_uuid": str(row.reply_uuid), "kind": row.kind,
            "rating": rating, "comment": comment or None, "model": row.source,
            "prompt": row.prompt_name, "prompt_version": row.prompt_version,
            "session_id": str(row.session_id) if row.session_id else None,
            "thread_id": row.thread_id, "trace_id": row.trace_id, "sent_to_opik": sent}


def rate(
    reply: str | None = typer.Argument(None, help="Reply id (from --json outputs' reply_id), "
                                       "or the rating itself with --last."),
    rating: str | None = typer.Argument(None, help="+ or - (also up / down)."),
    last: bool = typer.Option(False, "--last", help="Rate the latest coach reply."),
    comment: str | None = typer.Option(None, "--comment", "-c", help="Why (optional)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Rate a coach reply (live tip, closing words, plan or chat answer): + or -."""
    from fretcoach_cli.store import open_database
    from fretcoach_cli.store.replies import parse_rating

    context.utf8_text(comment, "--comment")
    if last:
        if rating is not None:
            raise UsageError("with --last give only the rating", hint="fretcoach rate --last +")
        ref, raw = None, reply
    else:
        ref, raw = reply, rating
        if ref is None:
            raise UsageError("which reply?", hint="fretcoach rate ID + (or --last +)")
    if raw is None:
        raise UsageError("missing the rating", hint="+ or - (up / down)")
    value = parse_rating(raw)
    settings = context.settings()
    with open_database(settings) as db, db.connect(settings.user) as conn:
        done = rate_reply(conn, ref, value, comment, settings=settings)
    if as_json:
        typer.echo(json.dumps(done, indent=2))
        return
    where = f" ({done['prompt']} {done['prompt_version']})" if done["prompt_version"] else ""
    opik = " · sent to Opik" if done["sent_to_opik"] else ""
    typer.echo(f"rated reply #{done['reply_id']} {'+' if value > 0 else '-'}: "
               f"{done['kind']} by {done['model']}{where}{opik}")


def register(app: typer.Typer) -> None:
    app.command("rate", rich_help_panel="Coach")(rate)
