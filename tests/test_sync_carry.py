"""Sync after the first copy: later changes to ratings, memories, latency, settings, chat
replies and exercise verdicts travel on the next sync, the later copy wins, and a session
that changed gets the source's verdict set (no stale verdict left behind)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from carry_fixtures import assert_same, carried, fresh_db, seed_everything, snapshot
from fretcoach_cli.reports.sync import sync
from fretcoach_cli.store import replies
from fretcoach_cli.store.exercise_verdicts import ExerciseVerdicts
from fretcoach_cli.store.latency import Latencies
from fretcoach_cli.store.users import Users

__all__ = ["fresh_db"]  # a fixture


def one(conn: Any, sql: str, *args: Any) -> Any:
    row = conn.execute(sql, args).fetchone()
    conn.commit()
    return row[0] if row and len(row) == 1 else row


def test_later_changes_travel_and_the_later_copy_wins(conn: Any, user_id: str,
                                                      fresh_db: Callable[[], Any]) -> None:
    made = seed_everything(conn, user_id)
    peer_db = fresh_db()
    with peer_db.connect(user_id) as peer:
        first = sync(conn, peer, "push", batch_size=4)
        assert first.complete
        tables = carried(conn, sync=True)
        assert_same(snapshot(conn, tables), snapshot(peer, tables), conn)

        # changed here after the first sync: none of these touches a session row
        replies.rate(conn, made["tip"], -1, "changed my mind")
        conn.execute("UPDATE fretcoach.coach_memories SET last_recalled_at = now() "
                     "WHERE norm = 'sore left wrist'")
        conn.commit()
        Latencies(conn).save(device_key="alsa/usb audio", device_name="USB Audio",
                             latency_ms=14.0, spread_ms=0.5, hits=9, attempts=9,
                             method="play-along")
        Users(conn).set_settings({"a4_hz": 442})
        replies.record(conn, kind="chat", text="Try the bend a fret lower.", source="smollm2",
                       thread_id=made["thread"])
        # an exercise session judged again (a replayed journal): a shorter verdict set
        ex = made["sessions"][0]
        ExerciseVerdicts(conn).replace(ex, [{"index": 0, "verdict": "early", "beat": 0.0,
                                             "string": 0, "fret": 5, "expected_midi": 45,
                                             "expected_s": 0.5, "played_midi": 45.0,
                                             "onset_s": 0.4, "offset_ms": -100.0}])
        conn.execute("UPDATE fretcoach.sessions SET overall_score = 61 WHERE session_id = %s",
                     (ex,))
        conn.commit()
        pushed = sync(conn, peer, "push", batch_size=4)
        written = {t: r.inserted for t, r in pushed.other.items()}
        assert written["coach_ratings"] == 1 and written["coach_memories"] == 1
        assert written["input_latency"] == 1 and written["user_configs"] == 1
        assert written["coach_replies"] == 1
        assert pushed.sessions.updated == 1 and pushed.sessions.exercise_verdicts == 1
        assert_same(snapshot(conn, tables), snapshot(peer, tables), conn)
        assert one(peer, "SELECT count(*) FROM fretcoach.exercise_verdicts "
                         "WHERE session_id = %s", ex) == 1

        # the new rating reached Opik here: the peer learns it (and will not send it again)
        replies.mark_sent(conn, made["tip"])
        assert sync(conn, peer, "push").other["coach_ratings"].inserted == 1
        assert one(peer, "SELECT opik_sent_at IS NOT NULL FROM fretcoach.coach_ratings "
                         "WHERE reply_uuid = %s", made["tip"]) is True

        # edited on both sides: the later edit (the peer's) wins on both after a round
        conn.execute("UPDATE fretcoach.coach_memories SET text = 'Sore wrist: 20 min max', "
                     "updated_at = now() WHERE norm = 'sore left wrist'")
        conn.commit()
        time.sleep(0.01)  # the peer's edit gets a strictly later transaction time
        peer.execute("UPDATE fretcoach.coach_memories SET text = 'Sore wrist: 15 min max', "
                     "updated_at = now() WHERE norm = 'sore left wrist'")
        peer.commit()
        pushed = sync(conn, peer, "push")
        assert pushed.other["coach_memories"].inserted == 0  # the peer's copy is newer
        sync(conn, peer, "pull")
        mine = one(conn, "SELECT text FROM fretcoach.coach_memories "
                         "WHERE norm = 'sore left wrist'")
        assert mine == "Sore wrist: 15 min max"
        assert_same(snapshot(conn, tables), snapshot(peer, tables), conn)
        again = sync(conn, peer, "push")
        assert {r.inserted for r in again.other.values()} == {0} and again.moved == 0


def test_replies_copied_without_their_uuid_converge(conn: Any, user_id: str,
                                                    fresh_db: Callable[[], Any]) -> None:
    """A peer that got the replies from a sync before replies carried their uuid (a random
    one each side, no prompt columns) and rated one there, and the sessions without their
    verdicts: the next sync gives its copies the source's uuids and columns (its rating
    follows) and the verdicts."""
    made = seed_everything(conn, user_id)
    peer_db = fresh_db()
    with peer_db.connect(user_id) as peer:
        sync(conn, peer, "push")
        old = one(peer, """UPDATE fretcoach.coach_replies SET reply_uuid = gen_random_uuid(),
                               prompt_name = NULL, prompt_version = NULL, trace_id = NULL
                            WHERE reply_uuid = %s RETURNING reply_uuid""", made["tip"])
        peer.execute("UPDATE fretcoach.coach_ratings SET reply_uuid = %s "
                     "WHERE reply_uuid = %s", (old, made["tip"]))
        peer.commit()
        # this side never synced the reply and rating streams (as before they existed)
        conn.execute("DELETE FROM fretcoach.sync_marks WHERE table_name IN "
                     "('coach_replies', 'coach_ratings')")
        conn.commit()
        # ... nor the verdicts (the sessions came over without them)
        peer.execute("DELETE FROM fretcoach.exercise_verdicts")
        peer.commit()
        pushed = sync(conn, peer, "push")
        assert pushed.sessions.inserted == pushed.sessions.updated == 0
        assert pushed.sessions.exercise_verdicts == 5
        tables = carried(conn, sync=True)
        assert_same(snapshot(conn, tables), snapshot(peer, tables), conn)
        assert one(peer, "SELECT count(*) FROM fretcoach.coach_ratings WHERE reply_uuid = %s",
                   old) == 0
        assert sync(conn, peer, "push").sessions.exercise_verdicts == 0
