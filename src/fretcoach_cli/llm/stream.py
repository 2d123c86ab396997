"""One streamed free-text reply across the chain of links."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from fretcoach_cli.llm.failures import AllLinksFailed, Attempt, BadOutput

if TYPE_CHECKING:
    from fretcoach_cli.llm.chain import ConfigFactory, ProviderChain

class TextStream:
    """Tokens of one streamed reply across the chain; ``source`` is set by the first token.

    Iterating raises :class:`AllLinksFailed` if no link produced a token. A failure after the
    first token ends the stream early with ``truncated`` set (tokens already shown cannot be
    taken back, and restarting on another model would garble the reply).
    """

    def __init__(self, chain: ProviderChain, messages: list[Any],
                 config: ConfigFactory | None, max_tokens: int | None = None,
                 deadline: float | None = None) -> None:
        self._chain = chain
        self._messages = messages
        self._config = config
        self._max_tokens = max_tokens
        self._deadline = deadline  # monotonic: the caller's whole budget (a chat turn)
        #: the model stopped at its token bound (the text is complete up to there)
        self.cut = False
        self.source: str | None = None
        self.truncated = False
        self.attempts: list[Attempt] = []
        self.text = ""

    def __iter__(self) -> Iterator[str]:
        chain = self._chain

        def opened(link: Any) -> tuple[Iterator[Any], Any, str, float]:
            """The link's stream up to its first non-empty chunk (a failure before it moves
            on to the next link; nothing has been shown yet)."""
            cfg = self._config(link.spec) if self._config else {}
            model = link.model  # built (imports) before the clock starts
            if self._max_tokens and link.spec.provider == "openai":
                model = model.bind(max_tokens=min(self._max_tokens, link.limits.max_tokens))
            asked = time.monotonic()
            iterator = iter(model.stream(self._messages, config=cfg))
            for chunk in iterator:
                text = _chunk_text(chunk)
                if text:
                    return iterator, chunk, text, asked
            raise BadOutput("empty reply")

        from fretcoach_cli.llm.limits import call_within

        try:
            (iterator, chunk, first, started), link, attempts = chain.first_answer(
                lambda link: call_within(lambda: opened(link), self._deadline,
                                         link.spec.label))
        except AllLinksFailed as exc:
            self.attempts = exc.attempts
            raise
        attempts.pop()  # "opened": replaced below by how the whole stream went
        self.attempts = attempts
        deadline = started + link.limits.answer_s
        if self._deadline is not None:
            deadline = min(deadline, self._deadline)
        self.source = link.spec.source
        self.text = first
        finished = _finished(chunk)
        yield first
        try:
            for chunk in iterator:
                finished = finished or _finished(chunk)
                self.cut = self.cut or _reason(chunk) == "length"
                token = _chunk_text(chunk)
                if token:
                    self.text += token
                    yield token
                if time.monotonic() > deadline:
                    raise TimeoutError("answer not finished in time")
        except Exception as exc:
            self.truncated = True
            self.attempts.append(chain._failure(link, exc, started))
            return
        if not finished:  # the connection ended before the model said it was done
            self.truncated = True
            self.attempts.append(Attempt(link.spec.label, False, "truncated",
                                         "stream ended without a finish reason",
                                         time.monotonic() - started))
            return
        self.attempts.append(Attempt(link.spec.label, True,
                                     seconds=time.monotonic() - started))


def _reason(chunk: Any) -> str:
    meta = getattr(chunk, "response_metadata", None) or {}
    return str(meta.get("finish_reason") or "")


def _finished(chunk: Any) -> bool:
    return bool(_reason(chunk))


def _chunk_text(chunk: Any) -> str:
    content = getattr(chunk, "content", chunk)
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content blocks (Gemini, reasoning models)
        return "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content
                       if not isinstance(b, dict) or b.get("type", "text") == "text")
    return ""
