"""Stored input latency per device (table ``input_latency``, migration 070).

In the database rather than the TOML file: practice and doctor open it anyway, the rows are
per user under row-level security like every other row, and a calibration's figures (spread,
hits, method) stay next to the sessions it corrected.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fretcoach_cli.store.rows import translate_errors

if TYPE_CHECKING:
    import psycopg

_COLUMNS = ("device_key, device_name, latency_ms, spread_ms, hits, attempts, method, "
            "output_device, sample_rate, measured_at")


@dataclass(frozen=True)
class LatencyRow:
    device_key: str
    device_name: str
    latency_ms: float
    spread_ms: float
    hits: int
    attempts: int
    method: str
    output_device: str | None
    sample_rate: int | None
    measured_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"device_key": self.device_key, "device_name": self.device_name,
                "latency_ms": round(self.latency_ms, 2), "spread_ms": round(self.spread_ms, 2),
                "hits": self.hits, "attempts": self.attempts, "method": self.method,
                "output_device": self.output_device, "sample_rate": self.sample_rate,
                "measured_at": self.measured_at.isoformat()}


@translate_errors("input latency")
class Latencies:
    """The connection's user's calibrations, one per device key."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def _done(self) -> None:
        if not self.conn.autocommit:
            self.conn.commit()

    def save(self, *, device_key: str, device_name: str, latency_ms: float, spread_ms: float,
             hits: int, attempts: int, method: str, output_device: str | None = None,
             sample_rate: int | None = None) -> LatencyRow:
        """Store (or replace) the device's calibration."""
        row = self.conn.execute(
            f"""
            INSERT INTO fretcoach.input_latency
                   (user_id, device_key, device_name, latency_ms, spread_ms, hits, attempts,
                    method, output_device, sample_rate)
            VALUES (current_setting('fretcoach.user_id'), %s, %s, %s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (user_id, device_key) DO UPDATE
               SET device_name = EXCLUDED.device_name, latency_ms = EXCLUDED.latency_ms,
                   spread_ms = EXCLUDED.spread_ms, hits = EXCLUDED.hits,
                   attempts = EXCLUDED.attempts, method = EXCLUDED.method,
                   output_device = EXCLUDED.output_device,
                   sample_rate = EXCLUDED.sample_rate, measured_at = now()
            RETURNING {_COLUMNS}
            """,
            (device_key, device_name, float(latency_ms), float(spread_ms), int(hits),
             int(attempts), method, output_device, sample_rate),
        ).fetchone()
        self._done()
        assert row is not None
        return LatencyRow(*row)

    def get(self, device_key: str) -> LatencyRow | None:
        row = self.conn.execute(
            f"SELECT {_COLUMNS} FROM fretcoach.input_latency WHERE device_key = %s",
            (device_key,)).fetchone()
        self._done()
        return None if row is None else LatencyRow(*row)

    def list(self) -> list[LatencyRow]:
        rows = self.conn.execute(
            f"SELECT {_COLUMNS} FROM fretcoach.input_latency ORDER BY device_key").fetchall()
        self._done()
        return [LatencyRow(*r) for r in rows]

    def clear(self, device_key: str | None = None) -> int:
        """Forget one device's calibration (or all with None); how many rows went."""
        if device_key is None:
            cur = self.conn.execute("DELETE FROM fretcoach.input_latency")
        else:
            cur = self.conn.execute(
                "DELETE FROM fretcoach.input_latency WHERE device_key = %s", (device_key,))
        self._done()
        return cur.rowcount
