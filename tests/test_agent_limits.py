"""ddl/032: the chat agent's role carries a temp_file_limit (value bombs fail fast)."""

from __future__ import annotations


def test_the_agent_role_has_a_temp_file_limit(database):
    with database.admin() as admin:
        rows = admin.execute(
            "SELECT unnest(setconfig) FROM pg_db_role_setting s "
            "JOIN pg_roles r ON r.oid = s.setrole WHERE r.rolname = 'fretcoach_agent'"
        ).fetchall()
    assert ("temp_file_limit=64MB",) in rows
