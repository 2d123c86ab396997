"""Writing an answer from fetched data, and holding the model to that data.

Used by both chat modes: after a native tool-calling agent answered (to check it), and in
the planned mode (to write it). A reply is streamed through a :class:`StreamGuard` (tool-call
text never reaches the screen), checked with :func:`~fretcoach_cli.llm.grounding.ungrounded`,
repaired once with the offending figures named, and otherwise given up: the caller replaces
it with the deterministic answer and says so.
"""

from __future__ import annotations

import re
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from fretcoach_cli.chat.planned import repair_message, write_messages
from fretcoach_cli.chat.stream_events import Reset, Token
from fretcoach_cli.llm.failures import AllLinksFailed, Attempt
from fretcoach_cli.llm.grounding import ungrounded
from fretcoach_cli.llm.toolcalls import StreamGuard, looks_like_tool_text, prose_of


@dataclass
class Written:
    """How writing went: the answer (empty = give up), grounded or not, and why."""

    answer: str = ""
    grounded: bool = False
    ungrounded: list[str] = field(default_factory=list)
    source: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    problem: str = ""


def check(answer: str, *evidence: Any, need_figure: bool = False) -> list[str]:
    """Why ``answer`` cannot be shown as the model's (empty: it can).

    Ungrounded figures are listed by themselves; tool-call text, a reply that is not an
    answer in prose (a data dump, a list of ``key: value`` lines, a line or sentence said
    three times, the prompt written back, no words) and, with ``need_figure`` (a writer
    asked to quote the data it was given), an answer that quotes none of it count as a
    whole."""
    from fretcoach_cli.llm.grounding import figures

    if looks_like_tool_text(answer):
        return ["tool-call text"]
    if degenerate(answer):
        return ["a repetitive answer"]
    bad = ungrounded(answer, *evidence)
    if bad:
        return bad
    if need_figure:
        if not _sentences_as_asked(answer):
            return ["a repetitive answer"]
        if len(evidence) > 1 and not figures(answer):
            return ["no figure from the data"]
    return []


def _sentences_as_asked(answer: str) -> bool:
    """What the planned-mode writer was asked for: a few sentences (one of five words or
    more), not a long list (a small model's way of reciting the digest)."""
    lines = [line for line in answer.splitlines() if line.strip()]
    longest = max((len(p.split()) for p in _SENTENCE.split(answer)), default=0)
    return len(lines) <= 6 and longest >= 5


_KEY_VALUE = re.compile(r"^\s*(?:\d+[.)]\s*)?[\w.\[\]]+\s*:\s*\S")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def degenerate(answer: str) -> bool:
    """Not an answer in prose: a data dump, ``key: value`` lines, something said three
    times, the prompt's own scaffolding written back, or no words at all ("1.")."""
    text = answer.strip()
    if not re.search(r"[^\W\d_]{2,}", text) or text[:1] in "{[":
        return True
    lines = [" ".join(line.split()).lower() for line in text.splitlines() if line.strip()]
    if sum(1 for line in lines if _KEY_VALUE.match(line)) >= 3:
        return True
    seen: dict[str, int] = {}
    for part in lines + [" ".join(p.split()).lower() for p in _SENTENCE.split(text)]:
        if len(part) >= 12:
            seen[part] = seen.get(part, 0) + 1
            if seen[part] >= 3:
                return True
    lowered = text.lower()
    return any(echo in lowered for echo in ("the guitarist's question", "data (", "question:"))


#: Tokens a chat answer may take (three short sentences, or a small table).
ANSWER_TOKENS = 220


def stream_guarded(chain: Any, messages: list[Any], config: Any = None,
                   deadline: float | None = None
                   ) -> Generator[Token | Reset, None, tuple[str, Any]]:
    """Stream one reply; yields what may be shown; returns (full prose, the stream)."""
    stream = chain.stream_text(messages, config=config, max_tokens=ANSWER_TOKENS,
                               deadline=deadline)
    guard = StreamGuard()
    shown = ""
    for token in stream:
        visible = guard.feed(token)
        if visible:
            shown += visible
            yield Token(visible)
    held = guard.held()
    if held and not looks_like_tool_text(held):
        rest = prose_of(held) if held.lstrip().startswith(("{", "```")) else held
        if rest:
            shown += rest
            yield Token(rest)
    return shown.strip(), stream


def write(chain: Any, question: str, lookup: str, digest_text: str, evidence: list[Any],
          config: Any = None, *, previous: str = "", previous_bad: list[str] | None = None,
          deadline: float | None = None, need_figure: bool = False, memories: str = "",
          ) -> Generator[Token | Reset, None, Written]:
    """Write the answer from ``digest_text``; check it against ``evidence``; repair once.

    With ``previous`` (an answer already written and found ungrounded, with its
    ``previous_bad`` figures) only the repair is left to try."""
    from langchain_core.messages import AIMessage

    messages = write_messages(question, lookup, digest_text, memories)
    out = Written()
    rounds = 2
    if previous:
        messages = [*messages, AIMessage(previous), repair_message(previous_bad or [])]
        out.ungrounded, rounds = list(previous_bad or []), 1
    for round_ in range(rounds):
        try:
            answer, stream = yield from stream_guarded(chain, messages, config, deadline)
        except AllLinksFailed as exc:
            out.attempts += exc.attempts
            out.problem = exc.one_line() if hasattr(exc, "one_line") else str(exc)
            return out
        out.attempts += stream.attempts
        out.source = stream.source
        if stream.cut:  # stopped at the token bound: keep the whole sentences
            answer = _whole_sentences(answer)
        if stream.truncated:
            yield Reset()
            failed = next((a for a in reversed(stream.attempts) if not a.ok), None)
            out.problem = "the model's answer broke off" + (
                f" ({failed.detail or failed.kind})" if failed is not None else "")
            return out
        if not answer:
            out.problem = "the model wrote no answer"
            return out
        bad = check(answer, *evidence, need_figure=need_figure)
        if not bad:
            out.answer, out.grounded, out.ungrounded = answer, True, []
            return out
        out.ungrounded = bad
        yield Reset()
        if round_ + 1 < rounds:
            messages = [*messages, AIMessage(answer), repair_message(bad)]
    out.problem = why_refused(out.ungrounded)
    return out


def why_refused(bad: list[str]) -> str:
    """What was wrong with a refused answer, in words."""
    if bad == ["a repetitive answer"]:
        return "the model's answer was not a readable answer (repeated itself, listed raw " \
               "data or echoed its instructions)"
    if bad == ["no figure from the data"]:
        return "the model's answer quoted none of your data"
    if bad == ["tool-call text"]:
        return "the model wrote a tool call instead of an answer"
    figures = ", ".join(dict.fromkeys(bad[:5]))
    return f"the model's answer cited figures not in your data ({figures})"


def _whole_sentences(text: str) -> str:
    """``text`` up to its last full stop (a reply cut at the token bound ends mid-word)."""
    end = max(text.rfind(". "), text.rfind(".\n"), text.rfind("!"), text.rfind("?"))
    if text.endswith("."):
        return text
    return text[:end + 1].strip() if end > 0 else text.strip() + "…"
