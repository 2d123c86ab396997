"""The coach as the practice room sees it: one object that streams live tips and writes the
end-of-session summary, built lazily (in a worker thread) from the settings.

``fretcoach_cli.coach.live.LiveCoach`` does the work (model chain with fallbacks, or the
offline coach); this adapter gives the room the ``(source, tokens)`` shape it renders, and
tells its listeners (the session's reply store, the speaker, the headless printer) about
every reply that was shown in full. A reply cut off because the session ended is not
published: what was never shown is neither stored nor spoken.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

log = logging.getLogger(__name__)

#: No live tip before this many notes: the window says too little before that.
MIN_NOTES_FOR_COACH = 8

ReplyListener = Callable[[Any], None]  # gets a coach.live.CoachReply


class CoachSchedule:
    """When a live tip is due: every ``every_s`` seconds of *audio* time (so ``--fast`` file
    sessions get the same number of chances as real-time ones), after a few notes."""

    def __init__(self, every_s: float, min_notes: int = MIN_NOTES_FOR_COACH) -> None:
        self.every_s = every_s
        self.min_notes = min_notes
        self._last_at: float | None = None

    def due(self, seq: int, position_s: float) -> bool:
        if seq < self.min_notes:
            return False
        if self._last_at is not None and position_s - self._last_at < self.every_s:
            return False
        self._last_at = position_s
        return True


class CoachLink:
    """Callable ``(metrics, context) -> (source, token iterator) | None`` (None = busy)."""

    def __init__(self, settings: Any = None, coach: Any = None) -> None:
        self._settings = settings
        self._coach = coach
        self._lock = threading.Lock()
        self._listeners: list[ReplyListener] = []
        self.latest: Any = None  # the last reply shown in full (what a rating key rates)

    @property
    def coach(self) -> Any:
        with self._lock:
            if self._coach is None:
                from fretcoach_cli.coach.live import LiveCoach

                if self._settings is None:
                    self._coach = LiveCoach()  # offline coach
                else:
                    self._coach = LiveCoach.from_settings(self._settings)
                    self._coach.memory_loader = self._recall
            return self._coach

    def _recall(self) -> list[Any]:
        """Coach memory for this session (limits and goals first); none on any failure."""
        from fretcoach_cli.coach.memory import LIVE_QUERY, recall_for_settings

        scale = getattr(self._settings, "scale", "") or ""
        return recall_for_settings(self._settings, f"{scale} {LIVE_QUERY}")

    # -- listeners -----------------------------------------------------------------------
    def on_reply(self, listener: ReplyListener) -> None:
        """``listener(reply)`` for every reply shown in full (live tips and the summary),
        called on the thread that produced it; it must not block."""
        self._listeners.append(listener)

    def _publish(self, reply: Any) -> None:
        if reply is None or not str(reply.text).strip():
            return
        self.latest = reply
        for listener in list(self._listeners):
            try:
                listener(reply)
            except Exception:  # a listener never breaks the coach (or the room)
                log.exception("coach reply listener failed")

    # -- live tips -----------------------------------------------------------------------
    def __call__(self, metrics: Any, context: dict[str, Any]) -> tuple[str, Iterator[str]] | None:
        live = self.coach.stream(_live_context(metrics, context))
        if live is None:
            return None
        tokens = iter(live)
        first = next(tokens, None)
        if first is None:
            return live.source or "offline", iter(())
        return live.source or "offline", self._published(live, first, tokens)

    def _published(self, live: Any, first: str, rest: Iterator[str]) -> Iterator[str]:
        yield first
        yield from rest
        if live.reply is not None and not live.dropped:
            self._publish(live.reply)

    def tick(self, metrics: Any, context: dict[str, Any]) -> bool:
        """Start one live tip in a background thread and return at once (safe on the audio
        analysis thread); False when one is still in flight. Listeners hear about it when it
        is complete."""
        live = self.coach.stream(_live_context(metrics, context))
        if live is None:
            return False

        def drain() -> None:
            try:
                for _ in live:
                    pass
            except Exception:
                log.exception("live coach failed")
            if live.reply is not None and not live.dropped:
                self._publish(live.reply)

        threading.Thread(target=drain, name="fretcoach-coach-tick", daemon=True).start()
        return True

    # -- end of session ------------------------------------------------------------------
    def summary(self, result: Any, events: list[Any], scale: Any) -> str | None:
        """The coach's end-of-session words (offline when no model answers)."""
        reply = self.coach.summary(result.metrics, events, scale, result.duration_s)
        if reply is None:
            return None
        extra = self._exercise_words(result)
        if extra:  # practice --exercise: its weakest note over its latest sessions
            from dataclasses import replace

            reply = replace(reply, text=f"{reply.text.rstrip()} {extra}")
        self._publish(reply)
        result.extra["tip_by"] = reply.source  # who wrote them: a model's name or "offline"
        return reply.text

    def _exercise_words(self, result: Any) -> str | None:
        """The coach's sentence on an exercise session's weakest note, averaged over this
        take and the latest stored sessions of the same exercise (this one is not stored yet:
        its verdicts count once, from the result)."""
        ex_result = result.extra.get("exercise")
        if ex_result is None:
            return None
        from fretcoach_cli.coach.exercise_tips import ExerciseFocus, summary_line
        from fretcoach_cli.scoring.exercise_report import weakest_notes

        verdicts = [v.to_dict() for v in ex_result.verdicts]
        sessions = 1
        if self._settings is not None:
            try:
                from fretcoach_cli.coach.exercise_tips import HISTORY_SESSIONS
                from fretcoach_cli.store import open_database
                from fretcoach_cli.store.exercise_verdicts import ExerciseVerdicts

                with open_database(self._settings) as db, \
                        db.connect(self._settings.user) as conn:
                    rows = ExerciseVerdicts(conn).of_exercise(
                        ex_result.exercise.name, limit_sessions=HISTORY_SESSIONS - 1)
                verdicts += [r.to_dict() for r in rows]
                sessions += len({r.session_id for r in rows})
            except Exception:  # the history is a nicety: this take alone still speaks
                log.exception("exercise history unavailable")
        weakest = weakest_notes(verdicts, 2)
        ex = ex_result.exercise
        return summary_line(ExerciseFocus(ex.name, ex.source, ex_result.bpm, None, sessions,
                                          weakest) if weakest else None)

    def close(self) -> None:
        """End of the live part: a tip still streaming is dropped (and not published)."""
        if self._coach is not None:
            self._coach.close()


def store_replies(link: CoachLink, session: Any) -> None:
    """Every reply the link publishes is stored with the session (journal first; dropped
    once the session has ended)."""
    link.on_reply(lambda reply: session.record_reply(reply.source, reply.kind, reply.text,
                                                     **reply_fields(reply)))


def reply_fields(reply: Any) -> dict[str, Any]:
    """What a stored reply records beside its text: identity, prompt version, trace."""
    return {"reply_uuid": reply.reply_uuid, "prompt_version": reply.prompt_version or None,
            "trace_id": reply.trace_id}


def rate_latest(link: CoachLink, session: Any, rating: int) -> Any:
    """Rate the latest reply shown (+1/-1): the reply goes through the session journal again
    carrying the rating (stored once, by its uuid). Returns the rated reply, or None when
    there is none yet or the session has ended."""
    reply = link.latest
    if reply is None:
        return None
    ok = session.record_reply(reply.source, reply.kind, reply.text, **reply_fields(reply),
                              rating=rating)
    return reply if ok else None


class HeadlessCoach:
    """Session subscriber for front ends without a UI loop: asks for a live tip when one is
    due. Runs on the analysis thread, so it only starts the tip (``CoachLink.tick``)."""

    def __init__(self, link: CoachLink, session: Any, every_s: float) -> None:
        self.link = link
        self.session = session
        self.schedule = CoachSchedule(every_s)
        self.started = 0

    def __call__(self, message: Any) -> None:
        from fretcoach_cli.practice.messages import NoteJudged

        if not isinstance(message, NoteJudged):
            return
        if not self.schedule.due(message.seq, message.note.onset_s):
            return
        first = max(0, message.seq - self.session.options.window_notes)
        context = {"scale": self.session.options.scale, "position_s": message.note.onset_s,
                   "notes": list(self.session.events[first:message.seq]),
                   "session": message.session, **exercise_context(self.session)}
        try:
            if self.link.tick(message.window, context):
                self.started += 1
        except Exception:  # the coach is optional; the session goes on
            log.exception("live coach tick failed")


def _live_context(metrics: Any, context: dict[str, Any]) -> Any:
    """The coach's view of one moment; an exercise session's verdicts so far go in extra."""
    from fretcoach_cli.coach.live import LiveContext

    extra = {k: context[k] for k in ("exercise_verdicts",) if k in context}
    return LiveContext(metrics, context["notes"], context["scale"], extra=extra)


def exercise_context(session: Any) -> dict[str, Any]:
    """``exercise_verdicts`` (decided so far) for the live coach of a `--exercise` session."""
    run = getattr(session, "exercise", None)
    return {} if run is None else {"exercise_verdicts": list(run.tracker.decided)}
