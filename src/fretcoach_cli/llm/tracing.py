"""Optional tracing of coach calls to Comet Opik (``tracing = "opik"``).

Rules this module keeps:

- Opik is imported only when tracing is enabled, and only here.
- Every failure (package missing, bad config, dead endpoint) is logged and swallowed: tracing
  must never change what the user sees.
- Flushing is bounded: ``OPIK_DEFAULT_FLUSH_TIMEOUT`` defaults to :data:`FLUSH_TIMEOUT_S`
  (Opik otherwise waits without limit at exit on a dead endpoint), and its console logging
  is switched off so nothing lands on the terminal or the TUI.
- Opik's own configuration (``OPIK_URL_OVERRIDE``, ``OPIK_API_KEY``, ``OPIK_WORKSPACE``,
  ``OPIK_PROJECT_NAME``, ``~/.opik.config``) applies; we only add defaults.

Each call gets a :class:`~opik.integrations.langchain.OpikTracer` carrying tags (feature such
as ``live-coach``/``recommendation``/``chat`` plus the model name), metadata (user_id,
session_id, practice_id, prompt version) and a thread id, so one practice session or chat
appears as one Opik thread. A call whose metadata carries ``reply_uuid`` (the coach reply it
produces) is remembered, so :meth:`Tracer.trace_id` can name the reply's trace afterwards and
a rating of the reply can be sent to Opik as feedback (:meth:`OpikTracing.send_feedback`:
the SDK's ``log_traces_feedback_scores``, i.e. ``PUT /v1/private/traces/feedback-scores``).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

log = logging.getLogger(__name__)

FLUSH_TIMEOUT_S = 3
DEFAULT_PROJECT = "fretcoach"

# Opik settings we default (never override what the user set): bounded flush, no console
# output, no third-party telemetry calls from a guitar app.
_OPIK_ENV_DEFAULTS = {
    "OPIK_DEFAULT_FLUSH_TIMEOUT": str(FLUSH_TIMEOUT_S),
    "OPIK_CONSOLE_LOGGING_LEVEL": "CRITICAL",
    "OPIK_SENTRY_ENABLE": "false",
    "OPIK_ANALYTICS_ENABLE": "false",
    "OPIK_PROJECT_NAME": DEFAULT_PROJECT,
}


class Tracer:
    """No tracing: the shape callers use; configs carry tags/metadata for LangChain anyway."""

    enabled = False

    def config(self, *, feature: str, model: str, metadata: dict[str, Any] | None = None,
               thread_id: str | None = None) -> dict[str, Any]:
        """A LangChain RunnableConfig for one call."""
        meta = {k: v for k, v in (metadata or {}).items() if v is not None}
        if thread_id:
            meta["thread_id"] = thread_id
        return {"tags": [feature, model], "metadata": meta, "run_name": feature}

    def flush(self) -> bool:
        return True

    def trace_id(self, reply_uuid: str | None) -> str | None:
        """The trace of the call that produced reply ``reply_uuid`` (None: not traced)."""
        return None

    def send_feedback(self, trace_id: str, rating: int, comment: str | None = None) -> bool:
        """Send a player's rating of a traced reply; False when it was not sent."""
        return False


#: Opik feedback score name for the player's rating (1.0 = thumbs up, 0.0 = thumbs down).
FEEDBACK_NAME = "user_rating"


class OpikTracing(Tracer):
    """Send LangChain runs to Opik through ``OpikTracer`` callbacks."""

    enabled = True

    def __init__(self, *, project: str | None = None,
                 flush_timeout_s: int | None = None) -> None:
        for key, value in _OPIK_ENV_DEFAULTS.items():
            if value:
                os.environ.setdefault(key, value)
        if flush_timeout_s is not None:
            os.environ["OPIK_DEFAULT_FLUSH_TIMEOUT"] = str(int(flush_timeout_s))
        self.flush_timeout_s = int(os.environ.get("OPIK_DEFAULT_FLUSH_TIMEOUT",
                                                  FLUSH_TIMEOUT_S))
        self.project = project
        self._lock = threading.Lock()
        self._client: Any = None
        self._broken = ""
        self._by_reply: dict[str, list[Any]] = {}  # reply_uuid -> OpikTracers of its calls

    def _ensure_client(self) -> Any:
        with self._lock:
            if self._client is None and not self._broken:
                try:
                    import opik

                    _quiet_opik_logging()
                    self._client = opik.Opik(project_name=self.project,
                                             _show_misconfiguration_message=False)
                    opik.set_global_client(self._client)
                except Exception as exc:  # tracing must never break coaching
                    self._broken = f"{type(exc).__name__}: {exc}"
                    log.warning("opik tracing disabled: %s", self._broken)
            return self._client

    def config(self, *, feature: str, model: str, metadata: dict[str, Any] | None = None,
               thread_id: str | None = None) -> dict[str, Any]:
        cfg = super().config(feature=feature, model=model, metadata=metadata,
                             thread_id=thread_id)
        if self._ensure_client() is None:
            return cfg
        try:
            from opik.integrations.langchain import OpikTracer

            tracer = OpikTracer(tags=list(cfg["tags"]), metadata=dict(cfg["metadata"]),
                                thread_id=thread_id, project_name=self.project)
        except Exception as exc:
            log.warning("opik tracer not created: %s: %s", type(exc).__name__, exc)
            return cfg
        cfg["callbacks"] = [tracer]
        reply_uuid = cfg["metadata"].get("reply_uuid")
        if reply_uuid:
            with self._lock:
                self._by_reply.setdefault(str(reply_uuid), []).append(tracer)
        return cfg

    def trace_id(self, reply_uuid: str | None) -> str | None:
        """The newest trace created for ``reply_uuid`` (the link that answered is the last one
        tried); forgets the reply's tracers."""
        with self._lock:
            tracers = self._by_reply.pop(str(reply_uuid), []) if reply_uuid else []
        for tracer in reversed(tracers):
            try:
                traces = tracer.created_traces()
            except Exception:
                continue
            if traces:
                return str(traces[-1].id)
        return None

    def send_feedback(self, trace_id: str, rating: int, comment: str | None = None) -> bool:
        """Log the rating as the trace's ``user_rating`` feedback score and flush (bounded)."""
        client = self._ensure_client()
        if client is None or not trace_id:
            return False
        try:
            score: dict[str, Any] = {"id": trace_id, "name": FEEDBACK_NAME,
                                     "value": 1.0 if rating > 0 else 0.0}
            if comment:
                score["reason"] = comment
            client.log_traces_feedback_scores(scores=[score], project_name=self.project)
        except Exception as exc:
            log.warning("opik feedback not sent: %s: %s", type(exc).__name__, exc)
            return False
        return self.flush()

    def flush(self) -> bool:
        """Send what is queued, waiting at most the flush timeout; never raises."""
        client = self._client
        if client is None:
            return True
        try:
            return bool(client.flush(timeout=self.flush_timeout_s))
        except Exception as exc:
            log.warning("opik flush failed: %s: %s", type(exc).__name__, exc)
            return False


def _quiet_opik_logging() -> None:
    """Drop Opik's console handlers: its messages must not reach the terminal or the TUI."""
    logger = logging.getLogger("opik")
    logger.propagate = False
    for handler in list(logger.handlers):
        if isinstance(handler, logging.StreamHandler) and not isinstance(
                handler, logging.FileHandler):
            logger.removeHandler(handler)
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())


def make_tracer(mode: str | None, *, project: str | None = None) -> Tracer:
    """The tracer for a ``tracing`` setting value ("opik" or empty/"none")."""
    if (mode or "").strip().lower() == "opik":
        try:
            return OpikTracing(project=project)
        except Exception as exc:
            log.warning("opik tracing unavailable: %s", exc)
    return Tracer()


def tracer_from_settings(settings: Any) -> Tracer:
    return make_tracer(getattr(settings, "tracing", ""))
