"""Coach memory recalled by meaning (issue 20): pgvector on the embedded server (ddl/051) and
embeddings from a real llama.cpp server (SmolLM2-135M, mean-pooled, bench/llm_server.py).
A model server that is down leaves recall on full-text search."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from fretcoach_cli import config
from fretcoach_cli.coach.memory import recall
from fretcoach_cli.llm.embeddings import Embedder, embedder_from_settings
from fretcoach_cli.store.memory import Memories

FACTS = [("limit", "My wrist hurts after 20 minutes"),
         ("gear", "I play a Yamaha acoustic guitar with light strings"),
         ("goal", "My goal is the Hotel California solo at full speed"),
         ("struggle", "I struggle with string skipping on the G and B strings"),
         ("tuning", "I tune to drop D for metal riffs")]
QUERY = "which instrument and strings do I use?"


@pytest.fixture(scope="module")
def embed_server() -> Iterator[Any]:
    from audio_fixtures import bench_module

    llm_server = bench_module("llm_server")
    try:
        server = llm_server.start_server(threads=2, ctx_size=2048, embeddings=True)
    except llm_server.LlmServerError as exc:
        pytest.fail(f"the embedding llama.cpp server could not start: {exc}", pytrace=False)
    with server:
        yield server


def _embedded(conn: Any) -> dict[int, str | None]:
    rows = conn.execute("SELECT memory_id, embedding_model FROM fretcoach.coach_memories"
                        ).fetchall()
    conn.commit()
    return {int(i): m for i, m in rows}


def test_memories_are_embedded_and_recalled_nearest_first(database, conn, user_id,
                                                          embed_server) -> None:
    memories = Memories(conn)
    assert memories.has_vectors()  # the embedded server ships pgvector: 051 created it
    ids = [memories.add(text, kind=kind)[0].memory_id for kind, text in FACTS]
    embedder = Embedder(embed_server.model, embed_server.base_url)

    got = [r.memory_id for r in recall(conn, QUERY, k=5, embedder=embedder)]
    assert set(_embedded(conn).values()) == {embed_server.model}  # every memory embedded
    # the order is the cosine distance of the server's own vectors, as numpy computes it
    vectors = np.array(embedder.embed([f"{k}: {t}" for k, t in FACTS] + [QUERY]))
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    want = [ids[i] for i in np.argsort(-(unit[:-1] @ unit[-1]), kind="stable")]
    assert got == want
    assert [r.memory_id for r in recall(conn, QUERY, k=2, embedder=embedder)] == want[:2]

    # an edited memory loses its stale embedding and gets a new one at the next recall
    memories.edit(ids[1], "I play a Fender Stratocaster electric guitar")
    assert _embedded(conn)[ids[1]] is None
    recall(conn, QUERY, embedder=embedder)
    assert _embedded(conn)[ids[1]] == embed_server.model


def test_another_user_recalls_none_of_them(database, conn, user_id, embed_server) -> None:
    Memories(conn).add("My goal is 140 bpm sixteenths", kind="goal")
    embedder = Embedder(embed_server.model, embed_server.base_url)
    assert [r.text for r in recall(conn, "goal", embedder=embedder)] == [
        "My goal is 140 bpm sixteenths"]
    with database.connect("someone-else-vectors") as other:
        assert recall(other, "goal", embedder=embedder) == []


def test_a_model_server_that_is_down_leaves_full_text_recall(database, conn, user_id) -> None:
    memories = Memories(conn)
    for kind, text in FACTS:
        memories.add(text, kind=kind)
    down = Embedder("any-model", "http://127.0.0.1:9/v1", timeout_s=2.0)
    by_text = [r.row.memory_id for r in memories.recall("wrist minutes", touch=False)]
    assert [r.memory_id for r in recall(conn, "wrist minutes", embedder=down)] == by_text
    assert set(_embedded(conn).values()) == {None}  # nothing half-written


def test_the_embedder_comes_from_settings() -> None:
    base = config.load().with_overrides(llm_provider="openai",
                                        llm_base_url="http://127.0.0.1:8080/v1",
                                        llm_api_key="sk-local")
    assert embedder_from_settings(base) is None  # no embedding model: full-text search
    embedder = embedder_from_settings(base.with_overrides(embedding_model="nomic-embed"))
    assert embedder == Embedder("nomic-embed", "http://127.0.0.1:8080/v1", "sk-local")
    offline = config.load().with_overrides(llm_provider="", embedding_model="nomic-embed")
    assert embedder_from_settings(offline) is None  # no OpenAI-compatible server to ask
