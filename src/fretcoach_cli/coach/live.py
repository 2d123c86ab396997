"""Live coaching: a short corrective instruction, streamed token by token, during practice.

Concurrency contract (the TUI calls this from worker threads):

- calls never overlap: while one reply is in flight, :meth:`LiveCoach.tick` returns False
  and :meth:`LiveCoach.stream` returns None — that tick is simply skipped;
- :meth:`LiveCoach.tick` never blocks: it starts a daemon thread and returns at once;
- :meth:`LiveCoach.close` bumps a generation counter, so tokens of a reply still streaming
  when the session ends are dropped (no callback fires for them) and no new reply starts;
- nothing raises to the caller: model failures walk the fallback chain, then the offline
  coach answers, labelled "offline".
"""

from __future__ import annotations

import logging
import threading
import time
import uuid as uuidlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fretcoach_cli.coach import memory, offline, prompts
from fretcoach_cli.coach.exercise_tips import exercise_tip
from fretcoach_cli.coach.prompts.versions import Prompt
from fretcoach_cli.coach.prompts.versions import active as active_prompt
from fretcoach_cli.events import NoteEvent
from fretcoach_cli.llm.chain import ProviderChain
from fretcoach_cli.llm.failures import AllLinksFailed, Attempt
from fretcoach_cli.llm.links import OFFLINE
from fretcoach_cli.llm.tracing import Tracer
from fretcoach_cli.music.scales import Scale

if TYPE_CHECKING:
    from fretcoach_cli.config import Settings

log = logging.getLogger(__name__)

FEATURE_LIVE = "live-coach"
FEATURE_SUMMARY = "session-summary"


@dataclass(frozen=True)
class CoachReply:
    """A finished reply: its text, who wrote it (model name or "offline") and why."""

    text: str
    source: str
    kind: str  # "live" | "summary"
    metric: str | None = None
    prompt_version: str = ""  # the prompt file's version (v1, v2…) that shaped the reply
    truncated: bool = False
    attempts: tuple[Attempt, ...] = ()
    seconds: float = 0.0
    #: identity made before storing (ratings refer to it) and the Opik trace, if traced
    reply_uuid: str = field(default_factory=lambda: str(uuidlib.uuid4()))
    trace_id: str | None = None

    @property
    def prompt_name(self) -> str:
        return self.kind

    @property
    def offline(self) -> bool:
        return self.source == OFFLINE


@dataclass
class LiveContext:
    """What the coach looks at: sliding-window metrics, the recent notes, the scale."""

    metrics: Any
    notes: Sequence[NoteEvent]
    scale: Scale
    extra: dict[str, Any] = field(default_factory=dict)


def _offline_tokens(text: str) -> Iterator[str]:
    """Offline text in word tokens, so the TUI renders it through the same streaming path."""
    word = ""
    for ch in text:
        word += ch
        if ch == " ":
            yield word
            word = ""
    if word:
        yield word


class LiveStream:
    """Iterator over one live reply's tokens; ``source`` is known once the first token is out,
    ``reply`` once iteration ends. Stops early (silently) when the coach was closed."""

    def __init__(self, coach: LiveCoach, ctx: LiveContext, generation: int) -> None:
        self._coach = coach
        self._ctx = ctx
        self._gen = generation
        self.source: str | None = None
        self.reply: CoachReply | None = None
        self.dropped = False
        self._started = False

    def close(self) -> None:
        """Give up a stream that was never iterated (frees the coach for the next tick)."""
        if not self._started:
            self._started = True
            self._coach._release()

    def __iter__(self) -> Iterator[str]:
        if self._started:
            return
        self._started = True
        coach, ctx = self._coach, self._ctx
        started = time.monotonic()
        text, attempts, truncated = "", [], False
        last = coach.last_reply.text if coach.last_reply is not None else None
        prompt = coach.prompts["live"]
        reply_uuid = str(uuidlib.uuid4())
        tip, metric = offline.live_tip(ctx.metrics, ctx.notes, ctx.scale, turn=coach.tips_given,
                                       avoid=last, template=prompt.offline)
        focus = exercise_tip(ctx.extra.get("exercise_verdicts") or ())
        if focus:  # practice --exercise: the weakest note by place on the neck says more
            tip, metric = focus, None
        remembered = coach.memories()
        tip = memory.limit_tip(tip, ctx.notes, remembered)
        try:
            tokens: Iterator[str]
            stream = None
            if coach.chain is not None and coach.chain.configured and metric is not None:
                found = offline.finding(ctx.metrics, ctx.notes, ctx.scale, metric)
                messages = prompts.live_messages(ctx.metrics, ctx.notes, ctx.scale, found,
                                                 prompt)
                messages = memory.with_memories(messages, remembered)
                stream = coach.chain.stream_text(messages,
                                                 config=coach._config(FEATURE_LIVE, reply_uuid))
                tokens = iter(stream)
                try:
                    first = next(tokens)
                except (AllLinksFailed, StopIteration):
                    attempts = list(stream.attempts)
                    stream = None
                else:
                    self.source = stream.source
                    tokens = _prepend(first, tokens)
            if stream is None:
                self.source = OFFLINE
                tokens = _offline_tokens(tip)
            for tok in tokens:
                if not coach._current(self._gen):
                    self.dropped = True
                    return
                text += tok
                yield tok
            if stream is not None:
                attempts = list(stream.attempts)
                truncated = stream.truncated
        except Exception:  # never let the coach break the practice room
            log.exception("live coach failed")
            if not text:
                self.source = OFFLINE
                text = tip
                if coach._current(self._gen):
                    yield tip
        finally:
            coach._release()
        if truncated:
            text = text.rstrip() + " …"
        self.reply = CoachReply(text.strip(), self.source or OFFLINE, "live", metric,
                                prompt.version, truncated=truncated, attempts=tuple(attempts),
                                seconds=time.monotonic() - started, reply_uuid=reply_uuid,
                                trace_id=coach._trace_id(reply_uuid, self.source))
        if not self.dropped and self.reply.text:
            coach.last_reply = self.reply  # (the next tip will not repeat it word for word)
            coach.tips_given += 1


def _prepend(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


class LiveCoach:
    """Per-session live coach; see the module docstring for the concurrency contract."""

    def __init__(self, chain: ProviderChain | None = None, *, tracer: Tracer | None = None,
                 user_id: str | None = None, session_id: Any = None,
                 practice_id: Any = None, thread_id: str | None = None,
                 prompt_versions: dict[str, Prompt] | None = None) -> None:
        self.chain = chain
        self.tracer = tracer or Tracer()
        #: the prompt versions in use ("live", "summary"; default: the newest of each)
        self.prompts = {"live": active_prompt("live"), "summary": active_prompt("summary"),
                        **(prompt_versions or {})}
        self.metadata = {"user_id": user_id, "session_id": session_id,
                         "practice_id": practice_id, "prompt_version": prompts.PROMPT_VERSION}
        self.thread_id = thread_id or (f"session-{session_id}" if session_id else None)
        self._lock = threading.Lock()
        self._busy = False
        self._generation = 0
        self._closed = False
        self.last_reply: CoachReply | None = None
        self.tips_given = 0  # live tips shown so far (the offline coach varies its wording)
        #: coach memory (coach.memory): loaded once, off the audio thread, on first use
        self.memory_loader: Callable[[], list[Any]] | None = None
        self._memories: list[Any] | None = None

    def memories(self) -> list[Any]:
        """What the player told the coach (coach memory), loaded on first use."""
        if self._memories is None:
            self._memories = list(self.memory_loader()) if self.memory_loader else []
        return self._memories

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> LiveCoach:
        """Chain and tracer from settings; never raises on a bad LLM config (offline then)."""
        from fretcoach_cli.llm.tracing import tracer_from_settings

        try:
            chain: ProviderChain | None = ProviderChain.from_settings(settings)
        except Exception as exc:
            log.warning("live coach offline: %s", exc)
            chain = None
        kwargs.setdefault("user_id", settings.user)
        kwargs.setdefault("prompt_versions", {name: active_prompt(name, settings)
                                      for name in ("live", "summary")})
        return cls(chain, tracer=tracer_from_settings(settings), **kwargs)

    def warm_up(self) -> threading.Thread | None:
        """Build the models (importing LangChain: ~3 s cold) in the background so the first
        live tip is not late. Returns the thread, or None when there is nothing to build."""
        if self.chain is None or not self.chain.configured:
            return None

        def build() -> None:
            for link in self.chain.links if self.chain else ():
                if not link.disabled:
                    try:
                        _ = link.model
                    except Exception as exc:
                        log.info("warm-up of %s failed: %s", link.spec.label, exc)

        thread = threading.Thread(target=build, name="fretcoach-coach-warmup", daemon=True)
        thread.start()
        return thread

    # -- state ---------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._busy

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def source_hint(self) -> str:
        """Who will probably answer (the primary model, or "offline")."""
        return self.chain.primary_source if self.chain is not None else OFFLINE

    def _acquire(self) -> int | None:
        with self._lock:
            if self._busy or self._closed:
                return None
            self._busy = True
            return self._generation

    def _release(self) -> None:
        with self._lock:
            self._busy = False

    def _current(self, generation: int) -> bool:
        return generation == self._generation and not self._closed

    def _trace_id(self, reply_uuid: str, source: str | None) -> str | None:
        if source in (None, OFFLINE):
            self.tracer.trace_id(reply_uuid)  # (forget the failed calls' tracers)
            return None
        try:
            return self.tracer.trace_id(reply_uuid)
        except Exception:
            log.exception("trace id lookup failed")
            return None

    def _config(self, feature: str, reply_uuid: str | None = None):
        prompt = self.prompts["live" if feature == FEATURE_LIVE else "summary"]
        metadata = {**self.metadata, "prompt": f"{prompt.name}/{prompt.version}",
                    "reply_uuid": reply_uuid}

        def make(spec) -> dict[str, Any]:
            try:
                return self.tracer.config(feature=feature, model=spec.model,
                                          metadata=metadata, thread_id=self.thread_id)
            except Exception:
                log.exception("tracing config failed")
                return {}
        return make

    # -- live replies --------------------------------------------------------------------

    def stream(self, ctx: LiveContext) -> LiveStream | None:
        """A token iterator for one reply (blocking as it is consumed), or None when a reply
        is already in flight or the coach is closed. Consume it fully (or close it)."""
        gen = self._acquire()
        if gen is None:
            return None
        return LiveStream(self, ctx, gen)

    def tick(self, ctx: LiveContext, *, on_token: Callable[[str], None] | None = None,
             on_begin: Callable[[str], None] | None = None,
             on_done: Callable[[CoachReply], None] | None = None) -> bool:
        """Start a reply in the background; False (skipped) if one is in flight or closed.

        ``on_begin(source)`` fires before the first token, ``on_token`` per token and
        ``on_done(reply)`` at the end — all from the background thread, and none of them
        after :meth:`close`.
        """
        live = self.stream(ctx)
        if live is None:
            return False

        def run() -> None:
            began = False
            try:
                for tok in live:
                    if not began and on_begin is not None:
                        on_begin(live.source or OFFLINE)
                    began = True
                    if on_token is not None:
                        on_token(tok)
            except Exception:
                log.exception("live coach callback failed")
            reply = live.reply
            if reply is not None and not live.dropped and self._current(live._gen):
                self.last_reply = reply
                if on_done is not None:
                    try:
                        on_done(reply)
                    except Exception:
                        log.exception("live coach on_done failed")

        threading.Thread(target=run, name="fretcoach-live-coach", daemon=True).start()
        return True

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no reply is in flight (for tests and orderly shutdown)."""
        deadline = time.monotonic() + timeout
        while self._busy and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._busy

    # -- end of session ------------------------------------------------------------------

    def summary(self, metrics: Any, notes: Sequence[NoteEvent], scale: Scale,
                duration_s: float | None = None,
                on_token: Callable[[str], None] | None = None) -> CoachReply:
        """End-of-session summary (2–3 sentences + one thing to work on); blocks; streams
        to ``on_token`` when given. Works after :meth:`close` (the session has ended)."""
        started = time.monotonic()
        text, metric = offline.session_summary(metrics, notes, scale, duration_s)
        text = memory.summary_limit(text, duration_s, self.memories())
        attempts: list[Attempt] = []
        prompt, reply_uuid = self.prompts["summary"], str(uuidlib.uuid4())
        if self.chain is not None and self.chain.configured and metric is not None:
            found = offline.finding(metrics, notes, scale, metric)
            messages = prompts.summary_messages(metrics, notes, scale, found, duration_s,
                                                prompt)
            messages = memory.with_memories(messages, self.memories())
            stream = self.chain.stream_text(messages,
                                            config=self._config(FEATURE_SUMMARY, reply_uuid))
            out = ""
            try:
                for tok in stream:
                    out += tok
                    if on_token is not None:
                        on_token(tok)
            except AllLinksFailed:
                pass
            except Exception:
                log.exception("summary failed")
            attempts = list(stream.attempts)
            if out.strip() and stream.source:
                return CoachReply(out.strip() + (" …" if stream.truncated else ""),
                                  stream.source, "summary", metric, prompt.version,
                                  truncated=stream.truncated, attempts=tuple(attempts),
                                  seconds=time.monotonic() - started, reply_uuid=reply_uuid,
                                  trace_id=self._trace_id(reply_uuid, stream.source))
        if on_token is not None:
            for tok in _offline_tokens(text):
                on_token(tok)
        return CoachReply(text, OFFLINE, "summary", metric, prompt.version,
                          attempts=tuple(attempts), seconds=time.monotonic() - started,
                          reply_uuid=reply_uuid, trace_id=self._trace_id(reply_uuid, OFFLINE))

    def close(self) -> None:
        """End of session: drop any reply still streaming, start no new one, flush traces
        (bounded by the tracer's flush timeout)."""
        with self._lock:
            self._generation += 1
            self._closed = True
        try:
            self.tracer.flush()
        except Exception:
            log.exception("trace flush failed")


# --------------------------------------------------------------------------------------------
# The swap point the practice room uses (tui/coach_link.py)

_DEFAULT: dict[str, LiveCoach] = {}


def stream_live_tip(metrics: Any, context: dict[str, Any]) -> tuple[str, Iterator[str]]:
    """(source label, token iterator) for one live reply. Blocks until the first token so the
    label is the model that really answers (or "offline"); call it from a worker thread.

    ``context``: ``notes`` (recent NoteEvents), ``scale`` (Scale or its name), and either
    ``coach`` (a LiveCoach, preferred: it holds the no-overlap and close() state) or
    ``settings``. Returns ("busy", empty iterator) while a reply is in flight.
    """
    from fretcoach_cli.music.scales import parse_scale

    coach = context.get("coach")
    if coach is None:
        settings = context.get("settings")
        if settings is None:
            from fretcoach_cli import config

            settings = config.load()
        key = str(id(settings))
        coach = _DEFAULT.get(key)
        if coach is None:
            _DEFAULT.clear()
            coach = _DEFAULT[key] = LiveCoach.from_settings(settings)
    scale = context.get("scale")
    if isinstance(scale, str):
        scale = parse_scale(scale)
    if not isinstance(scale, Scale):  # a caller's mistake, not the player's
        raise TypeError(f"context['scale'] must be a Scale or its name, not {scale!r}")
    ctx = LiveContext(metrics, list(context.get("notes") or ()), scale)
    live = coach.stream(ctx)
    if live is None:
        return "busy", iter(())
    tokens = iter(live)
    try:
        first = next(tokens)
    except StopIteration:
        return live.source or OFFLINE, iter(())
    return live.source or OFFLINE, _prepend(first, tokens)
