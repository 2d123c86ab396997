"""Persists a practice session while it happens, from its own writer thread.

Every operation (start, a batch of notes, a coach reply, the speed trainer's ramp so far,
finish) is appended to the session's
journal (fsync'd) and then applied to the database. Batches hold at most ~1 s of playing, so a crash
loses at most that much from the database and nothing from the journal. When the database is
unreachable the operations pile up in the journal and are retried every few seconds; at the
end of the session, or at the latest on the next run (:func:`replay_journals`), they reach
the database. The audio thread and the UI thread only ever put items on a queue.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from fretcoach_cli.practice.journal import Journal, orphaned, read_records

log = logging.getLogger(__name__)


class SessionSink(Protocol):
    """Where a session's rows go (the database); see ``practice.store_sink``."""

    def create_session(self, meta: dict[str, Any], session_uuid: str) -> Any: ...
    def add_notes(self, session_id: Any, notes: list[dict[str, Any]]) -> None: ...
    def add_reply(self, session_id: Any, reply: dict[str, Any]) -> None: ...
    def ramp_progress(self, session_id: Any, fields: dict[str, Any]) -> None: ...
    def finish(self, session_id: Any, summary: dict[str, Any]) -> dict[str, Any]: ...
    def discard(self, session_id: Any) -> None: ...
    def mark_interrupted(self, session_id: Any) -> None: ...
    def sweep(self) -> None: ...
    def close(self) -> None: ...


SinkFactory = Callable[[], SessionSink]


@dataclass(frozen=True)
class RecorderStatus:
    online: bool
    session_id: Any
    saved_notes: int
    spooled_batches: int
    message: str = ""


@dataclass(frozen=True)
class FinishOutcome:
    """``row`` is the stored session row when the database took the summary; ``discarded``
    when the session had no notes and was deleted instead (not saved, not an error)."""

    row: dict[str, Any] | None
    session_id: Any
    saved: bool
    journal: Path | None
    message: str
    discarded: bool = False


NO_NOTES_MESSAGE = "no notes heard — session not saved"


def no_notes(summary: dict[str, Any]) -> bool:
    """A session finished before any note was played is not practice: it is not kept."""
    return not int(summary.get("total_notes_played") or 0)


_STOP = object()


class SessionRecorder:
    """Queue-fed writer of one session; never blocks its callers (except :meth:`finish`)."""

    def __init__(self, sink_factory: SinkFactory, data_dir: Path, *,
                 on_status: Callable[[RecorderStatus], None] | None = None,
                 batch_audio_s: float = 1.0, flush_wall_s: float = 0.25,
                 retry_s: float = 2.0, ramp_every_s: float = 1.0) -> None:
        self._sink_factory = sink_factory
        self._data_dir = Path(data_dir)
        self._on_status = on_status
        self._batch_audio_s = batch_audio_s
        self._flush_wall_s = flush_wall_s
        self._retry_s = retry_s
        self._ramp_every_s = ramp_every_s
        self._ramp: dict[str, Any] | None = None  # the latest ramp, not yet journaled
        self._ramp_at = -ramp_every_s
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._sink: SessionSink | None = None
        self._backlog: list[dict[str, Any]] = []
        self._pending: list[dict[str, Any]] = []
        self._recent: dict[int, dict[str, Any]] = {}  # last rows sent, by seq (their ends may move)
        self._online = True
        self._next_retry = 0.0
        self._saved_notes = 0
        self._saved_seqs: set[int] = set()  # (a lengthened note is sent twice, counted once)
        self._message = ""
        self._outcome: FinishOutcome | None = None
        self._done = threading.Event()
        self._closing = threading.Lock()
        self._finishing = False
        self._saved_replies = 0
        self._discarded = False
        self.session_uuid = ""
        self.session_id: Any = None
        self.journal: Journal | None = None

    # -- caller side ---------------------------------------------------------------------
    def start(self, meta: dict[str, Any], *, replay: bool = True) -> str:
        """Open the journal and start the writer; the session row is created by the writer.

        With ``replay``, journals left by earlier crashed runs are written first (in the
        writer thread, so the caller does not wait for the database).
        """
        from datetime import UTC, datetime

        self.session_uuid = str(uuidlib.uuid4())
        self.session_id = self.session_uuid  # the database row is created under this id
        self.journal = Journal.create(self._data_dir, self.session_uuid)
        # the row may reach the database seconds later (or on the next run): keep the real start
        meta = {"started_at": datetime.now(UTC), **meta}
        op = {"op": "start", "uuid": self.session_uuid, "meta": meta}
        self.journal.append(op)
        self._backlog.append(op)
        self._thread = threading.Thread(target=self._run, args=(replay,),
                                        name="fretcoach-recorder", daemon=True)
        self._thread.start()
        return self.session_uuid

    def add_note(self, row: dict[str, Any]) -> None:
        """Queue one note row (it must carry ``seq`` and ``onset_s``)."""
        self._queue.put(row)

    def end_note(self, seq: int, offset_s: float) -> None:
        """Queue a later end for note ``seq`` (it rang on after being judged): the row is sent
        again with the new ``offset_s`` (the store keeps the later end; replays stay idempotent)."""
        self._queue.put(("end", seq, offset_s))

    def add_reply(self, reply: dict[str, Any]) -> bool:
        """Queue one coach reply (``at``, ``source``, ``kind``, ``text``). False, and nothing
        stored, once :meth:`finish` or :meth:`abandon` was called: a reply arriving after the
        session ended is dropped."""
        with self._closing:
            if self._finishing or self._thread is None:
                return False
            self._queue.put(("reply", reply))
            return True

    def ramp_progress(self, fields: dict[str, Any]) -> bool:
        """Queue the speed trainer's outcome so far (``speed_trainer.ramp_fields``: ramp,
        max_clean_bpm, tempo_curve); each one replaces the last, and at most one a
        ``ramp_every_s`` is written (the latest, a little later: a file played --fast settles
        bars quickly). False, and nothing stored, once the session is ending (its summary
        carries the final one)."""
        with self._closing:
            if self._finishing or self._thread is None:
                return False
            self._queue.put(("ramp", fields))
            return True

    def finish(self, summary: dict[str, Any], timeout: float = 20.0) -> FinishOutcome:
        """Flush, write the summary, and wait (bounded) for the database to confirm."""
        with self._closing:
            self._finishing = True
        self._queue.put(("finish", summary))
        self._done.wait(timeout)
        if self._outcome is None:
            return FinishOutcome(None, self.session_id, False,
                                 self.journal.path if self.journal else None,
                                 "the database did not answer in time; the session is in the "
                                 "local journal and will be saved on the next run")
        return self._outcome

    def abandon(self) -> None:
        """Stop writing without a summary: the session stays interrupted (recoverable)."""
        with self._closing:
            self._finishing = True
        self._queue.put(_STOP)
        if self._thread is not None:
            self._thread.join(10)

    @property
    def status(self) -> RecorderStatus:
        return RecorderStatus(self._online, self.session_id, self._saved_notes,
                              sum(1 for op in self._backlog if op["op"] == "notes"),
                              self._message)

    # -- writer thread -------------------------------------------------------------------
    def _run(self, replay: bool) -> None:
        if replay:
            try:
                replay_journals(self._data_dir, self._sink_factory)
            except Exception as exc:  # the DB may be down: our own spooling copes
                log.info("journal replay postponed: %s", exc)
        self._try_db()
        if replay and self._sink is not None:
            with contextlib.suppress(Exception):
                self._sink.sweep()  # sessions of dead writers now read as interrupted
        while True:
            try:
                item = self._queue.get(timeout=self._flush_wall_s)
            except queue.Empty:
                item = None
            if item is _STOP:
                self._flush_notes()
                self._store_ramp(force=True)
                self._close(delete=False)
                self._done.set()
                return
            if isinstance(item, tuple) and item[0] == "finish":
                self._flush_notes()
                self._spool({"op": "finish", "summary": item[1]})
                self._try_db(force=True)
                self._finish_outcome()
                self._done.set()
                return
            if isinstance(item, tuple) and item[0] == "end":
                self._lengthen(item[1], item[2])
                continue
            if isinstance(item, tuple) and item[0] == "reply":
                self._spool({"op": "reply", "reply": item[1]})
                if self._online:
                    self._try_db()
                continue
            if isinstance(item, tuple) and item[0] == "ramp":
                self._ramp = item[1]
                self._store_ramp()
                continue
            if isinstance(item, dict):
                self._pending.append(item)
                self._remember(item)
                span = item["onset_s"] - self._pending[0]["onset_s"]
                if span < self._batch_audio_s:
                    continue
            self._flush_notes()
            self._store_ramp()
            if not self._online and self._backlog and time.monotonic() >= self._next_retry:
                self._try_db()

    def _remember(self, row: dict[str, Any]) -> None:
        self._recent[int(row["seq"])] = row
        if len(self._recent) > 16:
            del self._recent[min(self._recent)]

    def _lengthen(self, seq: int, offset_s: float) -> None:
        """Give a queued or recently sent note row its true end."""
        for row in self._pending:
            if int(row["seq"]) == seq:
                row["offset_s"] = max(float(row["offset_s"]), offset_s)
                return
        sent = self._recent.get(seq)
        if sent is not None and offset_s > float(sent["offset_s"]):
            row = {**sent, "offset_s": offset_s}
            self._recent[seq] = row
            self._pending.append(row)

    def _store_ramp(self, force: bool = False) -> None:
        """Journal and send the latest ramp, unless one went less than ``ramp_every_s`` ago."""
        if self._ramp is None or (
                not force and time.monotonic() - self._ramp_at < self._ramp_every_s):
            return
        fields, self._ramp = self._ramp, None
        self._ramp_at = time.monotonic()
        # it supersedes one the database has not taken yet (the journal keeps both; a replay
        # writes the last)
        self._backlog = [op for op in self._backlog if op["op"] != "ramp"]
        self._spool({"op": "ramp", "fields": fields})
        if self._online:
            self._try_db()

    def _spool(self, op: dict[str, Any]) -> None:
        assert self.journal is not None
        self.journal.append(op)
        self._backlog.append(op)

    def _flush_notes(self) -> None:
        if not self._pending:
            return
        self._spool({"op": "notes", "notes": self._pending})
        self._pending = []
        if self._online:
            self._try_db()

    def _try_db(self, force: bool = False) -> None:
        if not self._online and not force and time.monotonic() < self._next_retry:
            return
        was_online = self._online
        try:
            if self._sink is None:
                self._sink = self._sink_factory()
            while self._backlog:
                self._apply(self._backlog[0])
                self._backlog.pop(0)
            self._online = True
            self._message = ""
        except Exception as exc:
            self._online = False
            self._message = _one_line(exc)
            self._next_retry = time.monotonic() + self._retry_s
            self._drop_sink()
        if self._on_status is not None and (was_online != self._online or self._online):
            self._on_status(self.status)

    def _apply(self, op: dict[str, Any]) -> None:
        assert self._sink is not None
        kind = op["op"]
        if kind == "start":
            self.session_id = self._sink.create_session(op["meta"], op["uuid"])
            if self.journal is not None:
                self.journal.append({"op": "created", "id": self.session_id})
        elif kind == "notes":
            self._sink.add_notes(self.session_id, op["notes"])
            self._saved_seqs.update(int(n["seq"]) for n in op["notes"])
            self._saved_notes = len(self._saved_seqs)
        elif kind == "reply":
            self._sink.add_reply(self.session_id, op["reply"])
            self._saved_replies += 1
        elif kind == "ramp":
            self._sink.ramp_progress(self.session_id, op["fields"])
        elif kind == "finish":
            if no_notes(op["summary"]):
                self._sink.discard(self.session_id)
                self._discarded = True
            else:
                self._outcome_row = self._sink.finish(self.session_id, op["summary"])

    def _finish_outcome(self) -> None:
        journal = self.journal.path if self.journal else None
        if not self._backlog and self._discarded:
            self._outcome = FinishOutcome(None, self.session_id, False, None, NO_NOTES_MESSAGE,
                                          discarded=True)
            self._close(delete=True)
        elif not self._backlog:
            self._outcome = FinishOutcome(getattr(self, "_outcome_row", None), self.session_id,
                                          True, None, "saved")
            self._close(delete=True)
        else:
            self._outcome = FinishOutcome(
                None, self.session_id, False, journal,
                f"database unreachable ({self._message}); the session is safe in {journal} "
                "and will be saved on the next run")
            self._close(delete=False)

    def _close(self, *, delete: bool) -> None:
        if self.journal is not None:
            self.journal.close(delete=delete)
        self._drop_sink()

    def _drop_sink(self) -> None:
        if self._sink is not None:
            with contextlib.suppress(Exception):
                self._sink.close()
            self._sink = None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


@dataclass(frozen=True)
class ReplayReport:
    journals: int
    sessions_finished: int
    sessions_interrupted: int
    notes: int
    sessions_discarded: int = 0  # finished with no notes: deleted, not kept


def replay_journals(data_dir: Path, sink_factory: Callable[..., SessionSink]) -> ReplayReport:
    """Write journals left by dead processes to the database, then delete them.

    Notes (by ``seq``) and coach replies (by time, kind and text) are idempotent, so
    replaying what already reached the database is harmless; of the speed trainer's ramp
    records (each the whole outcome so far) only the last is written. A journal with a ``finish``
    record completes its session (or deletes it when it had no notes); one without leaves
    it ``interrupted`` for ``fretcoach sessions recover``. Each journal is written as the
    user who played it (``sink_factory(user)``), whoever runs the replay.
    """
    journals = finished = interrupted = notes = discarded = 0
    sinks: dict[str | None, SessionSink] = {}
    try:
        for path in orphaned(data_dir):
            records = read_records(path)
            start = next((r for r in records if r["op"] == "start"), None)
            if start is None:  # torn before the first record: nothing to save
                path.unlink(missing_ok=True)
                continue
            user = start["meta"].get("user")
            if user not in sinks:
                sinks[user] = sink_factory(user)
            sink = sinks[user]
            journals += 1
            session_id = sink.create_session(start["meta"], start["uuid"])  # idempotent
            done: bool | None = False  # None: finished with no notes, deleted
            ramps = [r for r in records if r["op"] == "ramp"]
            for rec in records:
                if rec["op"] == "ramp" and rec is ramps[-1]:
                    sink.ramp_progress(session_id, rec["fields"])
                elif rec["op"] == "notes":
                    sink.add_notes(session_id, rec["notes"])
                    notes += len(rec["notes"])
                elif rec["op"] == "reply":
                    sink.add_reply(session_id, rec["reply"])
                elif rec["op"] == "finish":
                    if no_notes(rec["summary"]):
                        sink.discard(session_id)
                        done = None
                    else:
                        sink.finish(session_id, rec["summary"])
                        done = True
            if done is None:
                discarded += 1
            elif done:
                finished += 1
            else:
                sink.mark_interrupted(session_id)
                interrupted += 1
            path.unlink(missing_ok=True)
    finally:
        for sink in sinks.values():
            with contextlib.suppress(Exception):
                sink.close()
    return ReplayReport(journals, finished, interrupted, notes, discarded)
