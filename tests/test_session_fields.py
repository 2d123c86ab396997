"""One builder for a session row's fields: `practice` and `analyze --save` store the same
scale_type form (chat missed analysed sessions when they differed), and ddl/031 fixes rows
stored in the other form."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from fretcoach_cli.cli.main import _register_commands, app
from fretcoach_cli.store import Sessions

_register_commands()
DDL = Path(__file__).resolve().parents[1] / "ddl" / "031_scale_type_names.sql"
CLIP = (Path(__file__).resolve().parent / "data" / "real_guitar"
        / "phrase_damped_letring_repick.flac")


def test_practice_and_analyze_store_the_same_scale_type(conn, user_id):
    runner = CliRunner()
    saved = runner.invoke(app, ["--user", user_id, "analyze", str(CLIP), "--scale",
                                "A minor pentatonic", "--save", "--json"])
    assert saved.exit_code == 0, saved.output
    played = runner.invoke(app, ["--user", user_id, "practice", "--input", str(CLIP), "--fast",
                                 "--json", "--no-coach", "--scale", "A minor pentatonic"])
    assert played.exit_code == 0, played.output
    sessions = Sessions(conn)
    a = sessions.require(json.loads(saved.stdout)["session_id"])
    p = sessions.require(json.loads(played.stdout)["session_id"])
    assert a.scale_type == p.scale_type == "minor pentatonic"
    assert (a.scale_chosen, a.scale_root) == (p.scale_chosen, p.scale_root)
    assert a.input_source.startswith("file:") and p.input_source.startswith("file:")
    assert a.input_source.endswith(CLIP.name) and p.input_source.endswith(CLIP.name)


def test_the_migration_turns_stored_keys_into_names(database, conn, user_id):
    sessions = Sessions(conn)
    old = sessions.create(scale_chosen="A minor pentatonic", scale_type="minor_pentatonic",
                          scale_root="A", hold_writer_lock=False)
    odd = sessions.create(scale_chosen="C half-whole diminished", scale_type="diminished_hw",
                          scale_root="C", hold_writer_lock=False)
    new = sessions.create(scale_chosen="E major", scale_type="major", scale_root="E",
                          hold_writer_lock=False)
    conn.commit()
    with database.admin() as admin:
        for _ in range(2):  # idempotent
            with admin.transaction():
                admin.execute(DDL.read_text())
    conn.rollback()
    assert sessions.require(old).scale_type == "minor pentatonic"
    assert sessions.require(odd).scale_type == "half-whole diminished"
    assert sessions.require(new).scale_type == "major"
