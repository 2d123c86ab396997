"""Text embeddings from the primary OpenAI-compatible server, for coach-memory recall.

Only the OpenAI wire format (``POST {base_url}/embeddings``) is spoken: it is what OpenAI,
llama.cpp's server (``--embeddings``), Ollama and vLLM answer. A plain httpx call rather than
langchain's ``OpenAIEmbeddings``, which tokenises with tiktoken (a download) before sending.
Memory is an aid: any failure here makes recall fall back on full-text search, never an error.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fretcoach_cli.errors import LLMError

TIMEOUT_S = 15.0


@dataclass(frozen=True)
class Embedder:
    """One embedding model on one server."""

    model: str
    base_url: str
    api_key: str = field(default="", repr=False)
    timeout_s: float = TIMEOUT_S

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order; :class:`LLMError` when the server cannot."""
        import httpx

        if not texts:
            return []
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            response = httpx.post(f"{self.base_url.rstrip('/')}/embeddings",
                                  json={"model": self.model, "input": list(texts)},
                                  headers=headers, timeout=self.timeout_s)
            response.raise_for_status()
            data = response.json()["data"]
            vectors = [[float(x) for x in item["embedding"]]
                       for item in sorted(data, key=lambda d: d.get("index", 0))]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise LLMError(f"embeddings from {self.base_url} failed: {exc}") from None
        if len(vectors) != len(texts) or any(
                not v or len(v) != len(vectors[0]) or not all(map(math.isfinite, v))
                for v in vectors):
            raise LLMError(f"embeddings from {self.base_url}: malformed answer")
        return vectors


def embedder_from_settings(settings: Any) -> Embedder | None:
    """The configured embedder (setting ``embedding_model`` on the primary link's
    OpenAI-compatible server), or None: then recall uses full-text search."""
    model = str(getattr(settings, "embedding_model", "") or "").strip()
    if not model:
        return None
    from fretcoach_cli.llm.links import chain_specs

    specs = [s for s in chain_specs(settings) if s.provider == "openai" and not s.problem]
    if not specs:
        return None
    spec = specs[0]
    return Embedder(model, spec.base_url or "https://api.openai.com/v1", spec.api_key)
