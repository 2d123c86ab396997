"""Per-user settings stored in the database (table ``user_configs``), e.g. enabled metrics.

These are the settings that travel with the user's data (dashboards read them); machine-local
settings stay in the TOML config file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fretcoach_cli.store.rows import json_safe, jsonb, translate_errors

if TYPE_CHECKING:
    import psycopg


@translate_errors("user settings")
class Users:
    """Get and set the connection's user's stored settings."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def get_settings(self) -> dict[str, Any]:
        """The stored settings; an empty dict for a user who never saved any."""
        row = self.conn.execute(
            "SELECT settings FROM fretcoach.user_configs "
            "WHERE user_id = current_setting('fretcoach.user_id')"
        ).fetchone()
        if not self.conn.autocommit:
            self.conn.commit()
        return dict(row[0]) if row else {}

    def set_settings(self, settings: Mapping[str, Any], *, merge: bool = True) -> dict[str, Any]:
        """Store settings (merged into the existing ones unless ``merge=False``); returns all."""
        value = jsonb(json_safe(dict(settings)))
        row = self.conn.execute(
            """
            INSERT INTO fretcoach.user_configs (user_id, settings)
            VALUES (current_setting('fretcoach.user_id'), %s)
            ON CONFLICT (user_id) DO UPDATE
               SET settings = CASE WHEN %s THEN user_configs.settings || EXCLUDED.settings
                                   ELSE EXCLUDED.settings END,
                   updated_at = now()
            RETURNING settings
            """,
            (value, merge),
        ).fetchone()
        if not self.conn.autocommit:
            self.conn.commit()
        assert row is not None
        return dict(row[0])
