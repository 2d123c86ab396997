"""Coach memories (table ``coach_memories``) on a user-scoped connection.

Facts the player told the coach, kept across chats and sessions. A fact is stored once: its
normalised text (:func:`normalise`) is unique per user, so saying it again only refreshes it.
:meth:`Memories.recall` ranks by full-text relevance (PostgreSQL's English stemming, any word
of the query may match) and falls back on the kinds that matter most (limits, goals,
struggles) and recency, so a short or unrelated query still brings back the essentials.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from fretcoach_cli.errors import NotFoundError, UsageError
from fretcoach_cli.store.rows import Repository, columns, translate_errors

if TYPE_CHECKING:
    import psycopg

MemoryKind = Literal["goal", "gear", "tuning", "limit", "struggle", "plan", "note"]
MemorySource = Literal["user", "chat", "plan", "session"]
KINDS: tuple[str, ...] = ("goal", "gear", "tuning", "limit", "struggle", "plan", "note")
SOURCES: tuple[str, ...] = ("user", "chat", "plan", "session")
#: Recall order among equally relevant memories: what must never be forgotten first.
KIND_PRIORITY: tuple[str, ...] = ("limit", "goal", "struggle", "plan", "tuning", "gear", "note")
MAX_TEXT = 500

_PUNCT_END = re.compile(r"[\s.!?;:,\"'`]+$")
_QUOTE_START = re.compile(r"^[\s\"'`]+")


def normalise(text: str) -> str:
    """The form two statements of one fact share: lower case, single spaces, no quotes or
    closing punctuation ("I tune to drop D." == "i tune to  Drop D")."""
    text = " ".join(str(text).replace("\u2019", "'").split()).lower()
    return _PUNCT_END.sub("", _QUOTE_START.sub("", text))


def clean_text(text: str) -> str:
    """The text as stored: single spaces, checked for length (a usage error otherwise)."""
    out = " ".join(str(text).split())
    if not out or not normalise(out):
        raise UsageError("a memory needs some text")
    if len(out) > MAX_TEXT:
        raise UsageError(f"a memory is at most {MAX_TEXT} characters (got {len(out)})")
    return out


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise UsageError(f"unknown memory kind {kind!r}", hint=f"one of {', '.join(KINDS)}")
    return kind


@dataclass(frozen=True)
class MemoryRow:
    memory_id: int
    user_id: str
    kind: MemoryKind
    text: str
    source: MemorySource
    created_at: datetime
    updated_at: datetime
    last_recalled_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.memory_id, "kind": self.kind, "text": self.text,
                "source": self.source, "created_at": self.created_at.isoformat(),
                "updated_at": self.updated_at.isoformat(),
                "last_recalled_at": None if self.last_recalled_at is None
                else self.last_recalled_at.isoformat()}


@dataclass(frozen=True)
class Recalled:
    """A recalled memory and how well it matched the query (0 = not at all: a fallback)."""

    row: MemoryRow
    rank: float


_PRIORITY_SQL = "array_position(%(prio)s::text[], kind)"
# The indexed expression (ddl/050_coach_memories.sql), written the same way so it is used.
_DOC_SQL = "to_tsvector('english'::regconfig, kind || ' ' || text)"
# OR of the query's stemmed lexemes: "how long with my wrist?" finds "my wrist hurts after
# 20 minutes" (websearch_to_tsquery would AND every word and find nothing).
_QUERY_SQL = ("(SELECT string_agg(quote_literal(l), ' | ') "
              "FROM unnest(tsvector_to_array(to_tsvector('english', %(q)s))) AS l)")


def _vector_literal(vector: Sequence[float]) -> str:
    """pgvector's text form ('[0.1,0.2]'): no adapter package needed, bound as a parameter."""
    return "[" + ",".join(repr(float(x)) for x in vector) + "]"


@translate_errors("memory")
class Memories(Repository):
    """Add, list, edit, forget and recall the connection's user's memories."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        super().__init__(conn)
        self._vectors: bool | None = None

    def add(self, text: str, *, kind: str = "note",
            source: str = "user") -> tuple[MemoryRow, bool]:
        """Store a fact; (row, True) when new, (the existing row, False) when the same fact
        (normalised text) was already known — then only its time and kind are refreshed."""
        text = clean_text(text)
        check_kind(kind)
        if source not in SOURCES:
            raise UsageError(f"unknown memory source {source!r}")
        row = self.conn.execute(
            "INSERT INTO fretcoach.coach_memories (user_id, kind, text, norm, source) "
            "VALUES (current_setting('fretcoach.user_id'), %s, %s, %s, %s) "
            "ON CONFLICT (user_id, norm) DO UPDATE SET updated_at = now(), "
            "kind = CASE WHEN EXCLUDED.kind <> 'note' THEN EXCLUDED.kind "
            "            ELSE coach_memories.kind END "
            "RETURNING memory_id, (xmax = 0)",
            (kind, text, normalise(text), source)).fetchone()
        assert row is not None
        self._commit()
        return self.require(int(row[0])), bool(row[1])

    def get(self, memory_id: int) -> MemoryRow | None:
        rows = self._select("WHERE memory_id = %s", (int(memory_id),))
        return rows[0] if rows else None

    def require(self, memory_id: int) -> MemoryRow:
        row = self.get(memory_id)
        if row is None:
            raise NotFoundError(f"no memory {memory_id}", hint="see 'fretcoach memory list'")
        return row

    def list(self, *, kind: str | None = None) -> builtins.list[MemoryRow]:
        """All memories, oldest first (ids read in order), optionally of one kind."""
        if kind is None:
            return self._select("ORDER BY memory_id", ())
        return self._select("WHERE kind = %s ORDER BY memory_id", (check_kind(kind),))

    def edit(self, memory_id: int, text: str, *, kind: str | None = None) -> MemoryRow:
        """Replace a memory's text (and kind); refused when another memory already says it."""
        text = clean_text(text)
        if kind is not None:
            check_kind(kind)
        self.require(memory_id)
        clash = self.conn.execute(
            "SELECT memory_id FROM fretcoach.coach_memories WHERE norm = %s AND memory_id <> %s",
            (normalise(text), int(memory_id))).fetchone()
        if clash is not None:
            self._rollback()
            raise UsageError(f"memory {clash[0]} already says that",
                             hint=f"forget {memory_id} instead")
        self.conn.execute(
            "UPDATE fretcoach.coach_memories SET text = %s, norm = %s, "
            "kind = coalesce(%s, kind), updated_at = now() WHERE memory_id = %s",
            (text, normalise(text), kind, int(memory_id)))
        if self.has_vectors():  # the old text's embedding no longer says what the row says
            self.conn.execute("UPDATE fretcoach.coach_memories SET embedding = NULL, "
                              "embedding_model = NULL WHERE memory_id = %s", (int(memory_id),))
        self._commit()
        return self.require(memory_id)

    def forget(self, memory_id: int) -> MemoryRow:
        row = self.require(memory_id)
        self.conn.execute("DELETE FROM fretcoach.coach_memories WHERE memory_id = %s",
                          (int(memory_id),))
        self._commit()
        return row

    def clear(self) -> int:
        """Forget every memory of the user; returns how many there were."""
        cur = self.conn.execute("DELETE FROM fretcoach.coach_memories")
        self._commit()
        return cur.rowcount

    # -- recall by meaning (ddl/051: pgvector, when the server has it) ----------------------
    def has_vectors(self) -> bool:
        """Whether this database has the embedding column (pgvector could be created)."""
        if self._vectors is None:
            found = self.conn.execute(
                "SELECT 1 FROM pg_attribute WHERE attrelid = 'fretcoach.coach_memories'::regclass"
                " AND attname = 'embedding' AND NOT attisdropped").fetchone()
            self._vectors = found is not None
            self._commit()
        return self._vectors

    def unembedded(self, model: str) -> builtins.list[tuple[int, str]]:
        """(id, text) of the memories with no embedding by ``model`` yet."""
        rows = self.conn.execute(
            "SELECT memory_id, kind || ': ' || text FROM fretcoach.coach_memories "
            "WHERE embedding_model IS DISTINCT FROM %s ORDER BY memory_id", (model,)).fetchall()
        self._commit()
        return [(int(i), str(t)) for i, t in rows]

    def set_embeddings(self, model: str, vectors: dict[int, Sequence[float]]) -> None:
        for memory_id, vector in vectors.items():
            self.conn.execute(
                "UPDATE fretcoach.coach_memories SET embedding = %s::vector, "
                "embedding_model = %s WHERE memory_id = %s",
                (_vector_literal(vector), model, int(memory_id)))
        self._commit()

    def recall_near(self, model: str, vector: Sequence[float], *, k: int = 5,
                    touch: bool = True) -> builtins.list[Recalled]:
        """The ``k`` memories whose ``model`` embeddings are nearest ``vector`` (cosine);
        rank = 1 − cosine distance. Memories not embedded by ``model`` are not candidates
        (the caller embeds them first: coach.memory.recall)."""
        from psycopg.rows import dict_row

        with self.conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                f"SELECT {columns(MemoryRow)}, "
                "1 - (embedding <=> %(v)s::vector) AS rank FROM fretcoach.coach_memories "
                "WHERE embedding_model = %(m)s "
                f"ORDER BY embedding <=> %(v)s::vector, {_PRIORITY_SQL}, memory_id DESC "
                "LIMIT %(k)s",
                {"v": _vector_literal(vector), "m": model, "k": max(0, int(k)),
                 "prio": list(KIND_PRIORITY)})
            found = cur.fetchall()
        out = [Recalled(MemoryRow(**{f: r[f] for f in r if f != "rank"}), float(r["rank"]))
               for r in found]
        return self._touched(out, touch)

    def recall(self, query: str, *, k: int = 5, touch: bool = True) -> builtins.list[Recalled]:
        """The ``k`` memories most relevant to ``query``: full-text matches by rank, then the
        rest by kind priority (limits, goals, struggles…) and recency. Marks them recalled."""
        from psycopg.rows import dict_row

        params = {"q": str(query or ""), "prio": list(KIND_PRIORITY), "k": max(0, int(k))}
        with self.conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                # matches (by the GIN index) by rank, then the rest by kind and recency
                f"WITH q AS (SELECT {_QUERY_SQL}::tsquery AS tsq), "
                "hit AS (SELECT m.*, true AS matched, "
                f"        ts_rank_cd({_DOC_SQL}, q.tsq)::float8 AS rank "
                f"        FROM fretcoach.coach_memories m, q WHERE {_DOC_SQL} @@ q.tsq "
                "        ORDER BY rank DESC, memory_id DESC LIMIT %(k)s), "
                "rest AS (SELECT m.*, false, 0::float8 FROM fretcoach.coach_memories m "
                "         WHERE m.memory_id NOT IN (SELECT memory_id FROM hit) "
                f"        ORDER BY {_PRIORITY_SQL}, updated_at DESC, memory_id DESC "
                "         LIMIT %(k)s) "
                f"SELECT {columns(MemoryRow)}, rank FROM (SELECT * FROM hit UNION ALL "
                "SELECT * FROM rest) AS both_ "
                f"ORDER BY matched DESC, rank DESC, {_PRIORITY_SQL}, updated_at DESC, "
                "memory_id DESC LIMIT %(k)s", params)
            found = cur.fetchall()
        out = [Recalled(MemoryRow(**{f: r[f] for f in r if f != "rank"}), float(r["rank"]))
               for r in found]
        return self._touched(out, touch)

    def _touched(self, out: builtins.list[Recalled], touch: bool) -> builtins.list[Recalled]:
        if touch and out:
            self.conn.execute(
                "UPDATE fretcoach.coach_memories SET last_recalled_at = now() "
                "WHERE memory_id = ANY(%s)", ([r.row.memory_id for r in out],))
        self._commit()
        return out

    # builtins.list: inside the class body `list` is the method above.
    def _select(self, tail: str, params: Any) -> builtins.list[MemoryRow]:
        from psycopg.rows import class_row

        with self.conn.cursor(row_factory=class_row(MemoryRow)) as cur:
            cur.execute(f"SELECT {columns(MemoryRow)} FROM fretcoach.coach_memories {tail}",
                        params)
            rows = cur.fetchall()
        self._commit()
        return rows
