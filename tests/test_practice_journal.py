"""The session journal: durable lines, torn tails ignored, live journals never replayed."""

from __future__ import annotations

import pytest

from fretcoach_cli.practice.journal import Journal, orphaned, read_records


def test_records_round_trip_and_torn_tail_is_ignored(tmp_path):
    j = Journal.create(tmp_path, "abc")
    j.append({"op": "start", "n": 1})
    j.append({"op": "notes", "notes": [{"seq": 1, "midi": 57.02}]})
    j.close()
    with open(j.path, "a", encoding="utf-8") as fh:
        fh.write('{"op": "notes", "no')  # power loss mid-write
    assert read_records(j.path) == [
        {"op": "start", "n": 1},
        {"op": "notes", "notes": [{"seq": 1, "midi": 57.02}]},
    ]


def test_a_live_journal_is_not_orphaned_until_closed(tmp_path):
    live = Journal.create(tmp_path, "live")
    live.append({"op": "start"})
    dead = Journal.create(tmp_path, "dead")
    dead.append({"op": "start"})
    dead.close()
    assert [p.name for p in orphaned(tmp_path)] == ["dead.jsonl"]
    live.close()
    assert sorted(p.name for p in orphaned(tmp_path)) == ["dead.jsonl", "live.jsonl"]


def test_one_journal_cannot_be_opened_twice(tmp_path):
    first = Journal.create(tmp_path, "s")
    with pytest.raises(OSError):
        Journal.create(tmp_path, "s")
    first.close(delete=True)
    assert not first.path.exists()
