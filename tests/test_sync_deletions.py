"""Deletions of ratings, memories, latency calibrations, settings and chat threads travel by
sync (ddl/075), last writer wins on the row's own stamp: a forgotten memory does not come back
from the other machine, and a copy changed there after the deletion survives on both."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import uuid4

import pytest

from carry_fixtures import cli, fresh_db
from fretcoach_cli.chat.threads import Threads
from fretcoach_cli.reports.sync import sync
from fretcoach_cli.store import replies
from fretcoach_cli.store.latency import Latencies
from fretcoach_cli.store.memory import Memories, normalise
from fretcoach_cli.store.users import Users

__all__ = ["fresh_db"]  # a fixture

Conn = Any


def one(conn: Conn, sql: str, *args: Any) -> Any:
    row = conn.execute(sql, args).fetchone()
    conn.commit()
    return None if row is None else row[0]


@dataclass(frozen=True)
class Case:
    """One table: make its row (returns the key), delete it, change it, read what it says."""

    table: str
    make: Callable[[Conn], str]
    delete: Callable[[Conn, str], None]
    change: Callable[[Conn, str], None]
    read: Callable[[Conn, str], Any]


def _exec(conn: Conn, sql: str, *args: Any) -> None:
    conn.execute(sql, args)
    conn.commit()


def _rating() -> Case:
    uuid = replies.new_uuid()

    def make(conn: Conn) -> str:
        replies.rate(conn, uuid, 1, "spot on")
        return uuid

    def delete(conn: Conn, key: str) -> None:  # what removing a rating does
        _exec(conn, "DELETE FROM fretcoach.coach_ratings WHERE reply_uuid = %s", key)

    def change(conn: Conn, key: str) -> None:
        replies.rate(conn, key, -1, "changed my mind")

    def read(conn: Conn, key: str) -> Any:
        return one(conn, "SELECT comment FROM fretcoach.coach_ratings WHERE reply_uuid = %s",
                   key)

    return Case("coach_ratings", make, delete, change, read)


def _memory_id(conn: Conn, norm: str) -> int:
    return int(one(conn, "SELECT memory_id FROM fretcoach.coach_memories WHERE norm = %s", norm))


def _memory() -> Case:
    def make(conn: Conn) -> str:
        Memories(conn).add("Sore left wrist", kind="limit")
        return normalise("Sore left wrist")

    def delete(conn: Conn, key: str) -> None:  # fretcoach memory forget ID
        Memories(conn).forget(_memory_id(conn, key))

    def change(conn: Conn, key: str) -> None:
        _exec(conn, "UPDATE fretcoach.coach_memories SET text = 'Sore left wrist!', "
                    "updated_at = now() WHERE norm = %s", key)

    def read(conn: Conn, key: str) -> Any:
        return one(conn, "SELECT text FROM fretcoach.coach_memories WHERE norm = %s", key)

    return Case("coach_memories", make, delete, change, read)


def _latency() -> Case:
    def save(conn: Conn, ms: float) -> str:
        Latencies(conn).save(device_key="alsa/usb audio", device_name="USB Audio",
                             latency_ms=ms, spread_ms=1.0, hits=8, attempts=8,
                             method="loopback")
        return "alsa/usb audio"

    def delete(conn: Conn, key: str) -> None:  # fretcoach calibrate --clear
        Latencies(conn).clear(key)

    def change(conn: Conn, key: str) -> None:
        save(conn, 14.0)

    def read(conn: Conn, key: str) -> Any:
        return one(conn, "SELECT latency_ms FROM fretcoach.input_latency WHERE device_key = %s",
                   key)

    return Case("input_latency", lambda c: save(c, 12.5), delete, change, read)


def _configs() -> Case:
    def make(conn: Conn) -> str:
        Users(conn).set_settings({"a4_hz": 440})
        return str(one(conn, "SELECT current_setting('fretcoach.user_id')"))

    def delete(conn: Conn, key: str) -> None:
        _exec(conn, "DELETE FROM fretcoach.user_configs")

    def change(conn: Conn, key: str) -> None:
        Users(conn).set_settings({"a4_hz": 442})

    def read(conn: Conn, key: str) -> Any:
        return one(conn, "SELECT settings->>'a4_hz' FROM fretcoach.user_configs")

    return Case("user_configs", make, delete, change, read)


def _thread() -> Case:
    thread = f"thread-{uuid4().hex[:8]}"

    def make(conn: Conn) -> str:
        _exec(conn, "INSERT INTO fretcoach.chat_threads (thread_id, user_id, title) "
                    "VALUES (%s, current_setting('fretcoach.user_id'), 'my bends')", thread)
        return thread

    def delete(conn: Conn, key: str) -> None:
        _exec(conn, "DELETE FROM fretcoach.chat_threads WHERE thread_id = %s", key)

    def change(conn: Conn, key: str) -> None:  # one more turn answered
        Threads(conn).touch(key, model="smollm2")

    def read(conn: Conn, key: str) -> Any:
        return one(conn, "SELECT turns FROM fretcoach.chat_threads WHERE thread_id = %s", key)

    return Case("chat_threads", make, delete, change, read)


#: A new case (fresh keys) per test: ratings and threads are keyed across all users.
CASES: dict[str, Callable[[], Case]] = {
    "coach_ratings": _rating, "coach_memories": _memory, "input_latency": _latency,
    "user_configs": _configs, "chat_threads": _thread}


def tombstones(conn: Conn, table: str) -> list[tuple[Any, ...]]:
    rows = conn.execute("SELECT row_key, deleted_at FROM fretcoach.deleted_rows "
                        "WHERE table_name = %s", (table,)).fetchall()
    conn.commit()
    return rows


def later_than(conn: Conn, moment: datetime) -> None:
    """Wait until ``conn``'s server clock has passed ``moment`` (its next transaction then
    stamps strictly later): the other machine's change comes after the deletion."""
    while not one(conn, "SELECT clock_timestamp() > %s", moment):
        pass


@contextmanager
def pushed(table: str, conn: Conn, user_id: str, fresh_db: Callable[[], Any]
           ) -> Iterator[tuple[Case, Any, Conn]]:
    """A row of ``table`` made here and pushed to a fresh peer: (its case, key, the peer)."""
    case = CASES[table]()
    key = case.make(conn)
    with fresh_db().connect(user_id) as peer:
        sync(conn, peer, "push")
        yield case, key, peer


def both_ways(a: Conn, b: Conn) -> None:
    """As ``fretcoach sync --from B --to B`` on A does it: pull, then push."""
    assert sync(a, b, "pull").complete
    assert sync(a, b, "push").complete


@pytest.mark.parametrize("table", sorted(CASES))
def test_a_deletion_travels_and_stays(table: str, conn: Conn, user_id: str,
                                      fresh_db: Callable[[], Any]) -> None:
    with pushed(table, conn, user_id, fresh_db) as (case, key, peer):
        assert case.read(peer, key) is not None
        case.delete(conn, key)
        both_ways(conn, peer)
        assert case.read(conn, key) is None and case.read(peer, key) is None
        assert [k for k, _at in tombstones(conn, table)] == [key]
        assert tombstones(peer, table) == tombstones(conn, table)  # the same deletion time
        both_ways(conn, peer)  # and again, from the other side first
        assert sync(peer, conn, "pull").complete and sync(peer, conn, "push").complete
        assert case.read(conn, key) is None and case.read(peer, key) is None


@pytest.mark.parametrize("table", sorted(CASES))
def test_a_change_after_the_deletion_survives(table: str, conn: Conn, user_id: str,
                                              fresh_db: Callable[[], Any]) -> None:
    with pushed(table, conn, user_id, fresh_db) as (case, key, peer):
        case.delete(conn, key)
        ((_k, deleted_at),) = tombstones(conn, table)
        later_than(peer, deleted_at)
        case.change(peer, key)
        changed = case.read(peer, key)
        both_ways(conn, peer)
        assert case.read(conn, key) == changed and case.read(peer, key) == changed
        assert tombstones(conn, table) == [] and tombstones(peer, table) == []


@pytest.mark.parametrize("table", sorted(CASES))
def test_adding_again_clears_the_tombstone(table: str, conn: Conn, user_id: str,
                                           fresh_db: Callable[[], Any]) -> None:
    with pushed(table, conn, user_id, fresh_db) as (case, key, peer):
        case.delete(conn, key)
        both_ways(conn, peer)
        assert case.read(conn, key) is None and tombstones(peer, table) != []
        assert case.make(conn) == key  # added again here, after the deletion
        assert tombstones(conn, table) == []
        both_ways(conn, peer)
        assert case.read(conn, key) is not None and case.read(peer, key) is not None
        assert tombstones(peer, table) == []


def test_a_recall_elsewhere_does_not_bring_a_forgotten_memory_back(
        conn: Conn, user_id: str, fresh_db: Callable[[], Any]) -> None:
    """Being recalled is not a change of the fact: the user asked the coach to forget it."""
    with pushed("coach_memories", conn, user_id, fresh_db) as (case, key, peer):
        case.delete(conn, key)
        ((_k, deleted_at),) = tombstones(conn, "coach_memories")
        later_than(peer, deleted_at)
        _exec(peer, "UPDATE fretcoach.coach_memories SET last_recalled_at = now()")
        both_ways(conn, peer)
        assert case.read(conn, key) is None and case.read(peer, key) is None


def test_an_edited_memory_does_not_bring_its_old_wording_back(
        conn: Conn, user_id: str, fresh_db: Callable[[], Any]) -> None:
    key = CASES["coach_memories"]().make(conn)
    with fresh_db().connect(user_id) as peer:
        sync(conn, peer, "push")
        Memories(conn).edit(_memory_id(conn, key), "Sore right wrist")
        both_ways(conn, peer)
        for side in (conn, peer):
            texts = [r[0] for r in side.execute(
                "SELECT text FROM fretcoach.coach_memories ORDER BY text")]
            side.commit()
            assert texts == ["Sore right wrist"]


def test_tombstones_of_two_users_with_the_same_key_do_not_collide(
        database: Any, conn: Conn, user_id: str) -> None:
    Memories(conn).add("Sore left wrist")
    with database.connect(f"{user_id}-other") as theirs:
        Memories(theirs).add("Sore left wrist")
        Memories(theirs).clear()
        Memories(conn).clear()
        assert [k for k, _at in tombstones(theirs, "coach_memories")] == ["sore left wrist"]
    assert [k for k, _at in tombstones(conn, "coach_memories")] == ["sore left wrist"]


def test_import_is_a_snapshot_and_revives(conn: Conn, user_id: str, tmp_path: Any) -> None:
    """An export file restores what it holds, deleted since or not (as for sessions): the
    revived memory's tombstone goes, so a later sync does not delete it elsewhere."""
    key = CASES["coach_memories"]().make(conn)
    out = cli("--user", user_id, "export")
    assert out.returncode == 0, out.stderr
    path = tmp_path / "history.json"
    path.write_text(out.stdout)
    Memories(conn).forget(_memory_id(conn, key))
    assert len(tombstones(conn, "coach_memories")) == 1
    out = cli("--user", user_id, "import", str(path))
    assert out.returncode == 0, out.stderr
    assert one(conn, "SELECT text FROM fretcoach.coach_memories WHERE norm = %s",
               key) == "Sore left wrist"
    assert tombstones(conn, "coach_memories") == []
