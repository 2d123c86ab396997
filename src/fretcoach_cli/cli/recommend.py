"""`fretcoach recommend [--new] [--json]`: what to practise next, as a stored plan."""

from __future__ import annotations

import json
from typing import Any

import typer

from fretcoach_cli.cli import context

AVOID_LAST = 3


def render(row: Any, *, existing: bool, attempts: tuple = ()) -> None:
    """Show one plan as a panel (rich imported here, not at CLI start-up)."""
    from rich.console import Console, Group
    from rich.panel import Panel
    from rich.text import Text

    doc = row.practice_plan
    by = doc.get("generated_by") or row.source
    body = Text()
    body.append(f"{doc.get('scale', '?')}", style="bold")
    focus = str(doc.get("focus_area", doc.get("focus", ""))).replace("_", " ")
    body.append(f"  ·  focus: {focus}\n")
    target = doc.get("session_target") or {}
    bits = []
    if doc.get("target_tempo_bpm"):
        bits.append(f"click {doc['target_tempo_bpm']} BPM")
    if target.get("minutes"):
        bits.append(f"{target['minutes']} minutes")
    if target.get("notes"):
        bits.append(f"{target['notes']} notes")
    if doc.get("target_accuracy") is not None:
        bits.append(f"until {focus} reaches {doc['target_accuracy']}")
    if doc.get("strictness") is not None:
        bits.append(f"strictness {doc['strictness']:g}")
    if doc.get("sensitivity") is not None:
        bits.append(f"sensitivity {doc['sensitivity']:g}")
    body.append(" · ".join(bits) + "\n\n")
    for i, step in enumerate(doc.get("exercises") or doc.get("steps") or [], 1):
        body.append(f"{i}. {step}\n")
    if doc.get("reasoning"):
        body.append(f"\nWhy: {doc['reasoning']}\n", style="italic")
    short = str(row.practice_id)[:8]
    footer = Text(f"plan {short} · by {by} · {row.status}"
                  + (" · offered again (use --new for another)" if existing else ""),
                  style="dim")
    hint = Text(f"Start it: fretcoach practice --plan {short}   ·   "
                f"dismiss: fretcoach plans dismiss {short}", style="dim")
    console = Console()
    console.print(Panel(Group(body, footer, hint), title="Practice plan", title_align="left"))
    failed = [a for a in attempts if not a.ok and a.kind != "skipped"]
    if failed:
        reasons = "; ".join(f"{a.link}: {a.detail or a.kind}" for a in failed)
        Console(stderr=True).print(f"[dim]note: {reasons}[/]")


def recommend_cmd(
    new: bool = typer.Option(False, "--new", help="Make a new plan even if one is pending; "
                             "avoids the scales suggested most recently."),
    as_json: bool = typer.Option(False, "--json", help="Print the stored plan as JSON."),
) -> None:
    """Recommend what to practise next from your recent sessions (stored as a plan)."""
    from fretcoach_cli.cli.plans import plan_json
    from fretcoach_cli.coach.prompts.versions import active as active_prompt
    from fretcoach_cli.store import Plans, Sessions, open_database

    settings = context.settings()
    with open_database(settings) as db:
        with db.connect(settings.user) as conn:
            plans = Plans(conn)
            pending = None if new else plans.latest_pending()
            if pending is None:
                rows = Sessions(conn).list(status="completed", limit=20)
                focus = _exercise_focus(conn)
                recent = [r.practice_plan for r in plans.list(limit=10)] if new else []
        if pending is not None:
            if as_json:
                doc = plan_json(pending)
                typer.echo(json.dumps({**doc, **_authorship(pending.source, None, ()),
                                       "offered_again": True}, indent=2))
            else:
                render(pending, existing=True)
            return
        from fretcoach_cli.store import replies

        reply_uuid = replies.new_uuid()
        result, trace_id = _recommend(settings, rows, recent, reply_uuid, focus)
        with db.connect(settings.user) as conn:
            plans = Plans(conn)
            pid = plans.create(result.plan.stored(result.source), source=result.store_source,
                               prompt_version=result.prompt_version)
            row = plans.require(pid)
            _remember_plan(conn, row.practice_plan)
            # the plan is also a coach reply, so it can be rated (`fretcoach rate ID +`)
            reply_id = replies.record(
                conn, kind="plan", text=_plan_text(row.practice_plan),
                source=result.source or "offline", prompt_name="plan",
                prompt_version=active_prompt("plan", settings).version, reply_uuid=reply_uuid,
                trace_id=trace_id)
    if as_json:
        typer.echo(json.dumps({**plan_json(row), **_authorship(
            result.store_source, result.source, result.attempts, configured=result.configured),
            "reply_id": reply_id}, indent=2))
    else:
        render(row, existing=False, attempts=result.attempts)
        typer.secho(f"reply #{reply_id} · rate it: fretcoach rate {reply_id} + (or -)",
                    dim=True)


def _plan_text(doc: dict[str, Any]) -> str:
    """The plan as the coach's words: title, focus and reasoning (what a rating judges)."""
    from fretcoach_cli.cli.plans import describe

    title, detail = describe(doc)
    reasoning = str(doc.get("reasoning") or "").strip()
    return " — ".join(x for x in (title, detail, reasoning) if x)


def _authorship(store_source: str, model: str | None, attempts: Any, *,
                configured: bool = False) -> dict[str, Any]:
    """Who wrote the plan, and why the offline planner did when a model is configured."""
    failed = [a for a in attempts if not a.ok and a.kind != "skipped"]
    fallback = None
    if store_source != "model" and configured:
        fallback = "; ".join(f"{a.link}: {a.detail or a.kind}" for a in failed) or \
            "no configured model could be used"
    return {"written_by": "model" if store_source == "model" else "offline",
            "model": model if store_source == "model" else None, "fallback": fallback,
            "attempts": [{"link": a.link, "ok": a.ok, "kind": a.kind, "detail": a.detail,
                          "seconds": round(a.seconds, 2)} for a in attempts]}


def _exercise_focus(conn: Any) -> dict[str, Any] | None:
    """The latest exercise's weakest notes (ddl/065), for the plan to aim at."""
    from fretcoach_cli.coach.exercise_tips import exercise_focus

    focus = exercise_focus(conn)
    return None if focus is None else focus.to_dict()


def _recommend(settings: Any, rows: list[Any], recent_docs: list[dict[str, Any]],
               reply_uuid: str, exercise: dict[str, Any] | None = None
               ) -> tuple[Any, str | None]:
    """(the plan result, its Opik trace id when traced by a model)."""
    from fretcoach_cli.coach.memory import plan_query, recall_for_settings, recommend_with_memory
    from fretcoach_cli.coach.plans import recommendation_input, suggested_scales
    from fretcoach_cli.coach.prompts.versions import active as active_prompt
    from fretcoach_cli.llm.chain import ProviderChain
    from fretcoach_cli.llm.tracing import tracer_from_settings

    chain = ProviderChain.from_settings(settings)
    tracer = tracer_from_settings(settings)
    try:
        data = recommendation_input(rows)
        data.exercise_focus = exercise
        memories = recall_for_settings(settings, plan_query(data))  # coach memory
        return recommend_with_memory(data, memories, chain=chain,
                         avoid=suggested_scales(recent_docs, AVOID_LAST), tracer=tracer,
                         metadata={"user_id": settings.user, "reply_uuid": reply_uuid},
                         thread_id=f"recommend-{settings.user}",
                         prompt=active_prompt("plan", settings)), tracer.trace_id(reply_uuid)
    finally:
        tracer.flush()


def _remember_plan(conn: Any, doc: dict[str, Any]) -> None:
    """Coach memory: the plan just stored is the plan agreed."""
    from fretcoach_cli.coach.memory import remember_plan

    remember_plan(conn, doc)


def register(app: typer.Typer) -> None:
    app.command("recommend", rich_help_panel="Coach")(recommend_cmd)
