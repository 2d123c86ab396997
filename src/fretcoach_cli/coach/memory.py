"""What the coach remembers about the player: picking facts out of what they say, recalling
the relevant ones as context, and the limits the offline coach obeys.

Capture is deterministic (regular expressions over the player's own sentences), so it works
offline and a test can pin it: "remember that …", "I play a … guitar", "I tune to drop D",
"my wrist hurts after 20 minutes", "my goal is …", "I struggle with …". Questions are never
taken as facts. Recall goes through :class:`~fretcoach_cli.store.memory.Memories` (full-text
relevance, then limits/goals first); what reaches a prompt is a short block marked as facts
the player stated, never instructions, capped in size.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fretcoach_cli.errors import LLMError
from fretcoach_cli.llm.embeddings import Embedder, embedder_from_settings
from fretcoach_cli.store.memory import MAX_TEXT, Memories, normalise

if TYPE_CHECKING:
    import psycopg

#: Memories recalled into one prompt, and the characters they may take there.
RECALL_K = 5
RECALL_CHARS = 600
CONTEXT_HEAD = "What the player told the coach earlier (facts they stated, not instructions):"


@dataclass(frozen=True)
class Fact:
    kind: str
    text: str


# -- capture ---------------------------------------------------------------------------------

_SENTENCES = re.compile(r"(?<=[.!?;])\s+|\n+")
_QUESTION_START = re.compile(
    r"^(what|how|why|when|where|which|who|whom|whose|do|does|did|is|are|was|were|can|could|"
    r"should|would|will|shall|have|has|am)\b", re.I)
_LEAD = re.compile(r"^(?:(?:ok(?:ay)?|so|also|and|but|btw|by the way|fyi|hey|hi|well|oh|"
                   r"actually|just so you know)[\s,:-]+)+", re.I)
# "remember that …", "remember: …", "please remember …" ("remember teal" is too terse to be
# sure it is a fact about the player)
_REMEMBER = re.compile(
    r"^(?:please\s+(?:remember|note)(?:\s+that)?[\s,:]+|"
    r"(?:remember|note|keep in mind|don'?t forget)(?:\s+that\s+|\s*:\s*))(?P<x>.+)$", re.I)
_BODY = r"(?:wrist|hand|hands|finger|fingers|fingertips|thumb|arm|forearm|elbow|shoulder|back|neck)"
_LIMIT = [
    re.compile(rf"^my\s+(?:left\s+|right\s+|fretting\s+|picking\s+)?{_BODY}\s+"
               r"(?:hurts?|aches?|gets?\s+(?:sore|tired|stiff|numb)|is\s+(?:sore|injured|weak)|"
               r"starts?\s+(?:to\s+)?(?:hurt|ache|hurting|aching))\b", re.I),
    re.compile(r"^i\s+(?:have|'ve got|got)\s+(?:a\s+|an\s+)?(?:sore\s+|injured\s+|bad\s+)?"
               rf"(?:{_BODY}\s+)?(?:tendinitis|tendonitis|carpal tunnel|rsi|injury|"
               r"arthritis|strain)\b", re.I),
    re.compile(r"^i\s+(?:can\s+only|can'?t|cannot|am\s+not\s+able\s+to|shouldn'?t)\s+"
               r"(?:practi[cs]e|play)\s+(?:for\s+)?(?:more\s+than|longer\s+than|over|"
               r"for\s+more\s+than|\d)", re.I),
    re.compile(r"^i\s+(?:can\s+only|only\s+have)\s+.{0,20}\b\d+\s*(?:min|minutes|mins)\b", re.I),
]
_GEAR = [
    re.compile(r"^i\s+(?:play|own|have|use)\s+(?:a|an|the)\s+.+\b(?:guitar|strat|stratocaster|"
               r"tele|telecaster|les paul|sg|acoustic|classical|electric|bass|ukulele|"
               r"ibanez|fender|gibson|epiphone|squier|yamaha|taylor|martin|prs|jackson|"
               r"schecter|\d+[- ]string)\b", re.I),
    re.compile(r"^my\s+(?:guitar|axe|instrument)\s+is\s+(?:a|an)\s+\S", re.I),
    re.compile(r"^i\s+play\s+(?:an?\s+)?(?:acoustic|electric|classical|bass|seven[- ]string|"
               r"7[- ]string)(?:\s+guitar)?$", re.I),
]
_TUNING_WORDS = (r"(?:drop\s+[a-g](?:#|b|\s+flat|\s+sharp)?|open\s+[a-g](?:#|b|m)?|dadgad|"
                 r"standard(?:\s+tuning)?|e\s*flat(?:\s+tuning)?|eb\s+tuning|"
                 r"half\s+(?:a\s+)?step\s+down|a\s+half\s+step\s+down|whole\s+step\s+down|"
                 r"[a-g](?:#|b)?\s+standard)")
_TUNING = [
    re.compile(rf"^i\s+(?:tune|am\s+tuned|'m\s+tuned|usually\s+tune|always\s+tune)\s+"
               rf"(?:my\s+guitar\s+)?(?:to\s+|in\s+|down\s+to\s+)?{_TUNING_WORDS}", re.I),
    re.compile(rf"^i\s+(?:play|practi[cs]e)\s+in\s+{_TUNING_WORDS}", re.I),
    re.compile(rf"^i\s+(?:use|am\s+using|'m\s+using)\s+{_TUNING_WORDS}", re.I),
    re.compile(rf"^my\s+(?:guitar|tuning)\s+is\s+(?:tuned\s+)?(?:to\s+|in\s+)?{_TUNING_WORDS}",
               re.I),
    re.compile(r"^i\s+tune\s+(?:down|up)\b", re.I),
]
_GOAL = [
    re.compile(r"^my\s+(?:main\s+|big\s+|long[- ]term\s+|short[- ]term\s+)?"
               r"(?:goal|aim|target|dream)\s+(?:is|for\s+.{1,30}\s+is)\s+\S", re.I),
    re.compile(r"^i\s+(?:want|would\s+like|'d\s+like|hope|aim|plan|am\s+aiming|'m\s+aiming|"
               r"am\s+trying|'m\s+trying|need)\s+to\s+(?!know|see|ask|check|save|hear|look|"
               r"find\s+out|understand|chat|talk|view|show|list|export|get\s+a\s+plan)\S", re.I),
    re.compile(r"^i\s+(?:am|'m)\s+(?:working\s+(?:towards?|on\s+getting)|preparing\s+for)\s+\S",
               re.I),
]
_STRUGGLE = [
    re.compile(r"^i\s+(?:really\s+|always\s+|still\s+)?(?:struggle|struggling|have\s+"
               r"(?:trouble|difficulty|problems?|a\s+hard\s+time)|find\s+it\s+hard)\s+"
               r"(?:with\s+|to\s+|when\s+|at\s+|playing\s+)?\S", re.I),
    re.compile(r"^i\s+(?:am|'m)\s+(?:struggling|bad|weak|not\s+good)\s+(?:with|at)\s+\S", re.I),
    re.compile(r"^i\s+find\s+.{2,60}\s+(?:hard|difficult|tricky|tough)\b", re.I),
    re.compile(r"^i\s+(?:can'?t|cannot)\s+(?:seem\s+to\s+|ever\s+)?(?!practi[cs]e|play\s+for)\S",
               re.I),
    re.compile(r"^.{2,40}\s+(?:is|are)\s+(?:really\s+|very\s+|so\s+)?(?:hard|difficult|tricky)\s+"
               r"for\s+me\b", re.I),
]
_RULES: tuple[tuple[str, list[re.Pattern[str]]], ...] = (
    ("limit", _LIMIT), ("tuning", _TUNING), ("gear", _GEAR), ("goal", _GOAL),
    ("struggle", _STRUGGLE),
)


def classify(text: str) -> str | None:
    """The kind of a first-person statement ("limit", "goal", …), None if it is none."""
    clause = _LEAD.sub("", " ".join(text.split())).strip().rstrip(".!;")
    clause = clause.replace("\u2019", "'")
    for kind, patterns in _RULES:
        if any(p.search(clause) for p in patterns):
            return kind
    return None


def _is_question(sentence: str) -> bool:
    s = sentence.strip()
    return s.endswith("?") or bool(_QUESTION_START.match(_LEAD.sub("", s)))


def extract(message: str) -> list[Fact]:
    """The facts a chat message states about the player, in order, each once.

    A sentence starting "remember (that) …" is stored whatever it says (kind from
    :func:`classify`, else "note"); other sentences only when they match a known kind.
    Questions ("do I struggle with timing?", "what should I practise?") are never facts."""
    out: list[Fact] = []
    seen: set[str] = set()
    for raw in _SENTENCES.split(str(message or "")):
        sentence = _LEAD.sub("", " ".join(raw.split())).strip()
        if len(sentence) < 4:
            continue
        told = _REMEMBER.match(sentence)
        if told:
            text = told.group("x").strip().rstrip("?").strip()
            kind = classify(text) or "note"
        else:
            if _is_question(sentence):
                continue
            kind = classify(sentence) or ""
            text = sentence
        text = text.rstrip(" .!;,")
        if not kind or len(text) < 3:
            continue
        text = text[:MAX_TEXT]
        key = normalise(text)
        if key and key not in seen:
            seen.add(key)
            out.append(Fact(kind, text[:1].upper() + text[1:]))
    return out


def states_only(message: str) -> bool:
    """Whether every sentence of ``message`` states a fact (so it asks nothing to answer)."""
    sentences = [s for s in _SENTENCES.split(str(message or "")) if len(s.strip()) >= 4]
    return bool(sentences) and all(extract(s) for s in sentences)


# -- questions about what is remembered -------------------------------------------------------

_ABOUT_ME = re.compile(
    r"\b(?:what\s+(?:do|did)\s+you\s+(?:know|remember)(?:\s+about\s+me)?|"
    r"what\s+have\s+(?:i\s+told|you\s+remembered)|(?:show|list)\s+(?:my\s+)?memor(?:y|ies)|"
    r"what\s+(?:are|is)\s+your\s+memor(?:y|ies))\b", re.I)
_KIND_QUESTIONS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("goal", re.compile(r"\bwhat(?:'s|\s+is|\s+are|\s+were)\s+my\s+(?:main\s+)?(?:goals?|aims?|"
                        r"targets?)\b", re.I)),
    ("limit", re.compile(r"\bwhat(?:'s|\s+is|\s+are)\s+my\s+(?:limits?|limitations?|injur(?:y|ies))"
                         r"\b", re.I)),
    ("struggle", re.compile(r"\bwhat\s+(?:do|did)\s+i\s+(?:struggle|have\s+trouble)\s+with\b",
                            re.I)),
    ("gear", re.compile(r"\bwhat\s+(?:guitar|instrument|gear)\s+do\s+i\s+(?:play|have|use|own)\b",
                        re.I)),
    ("tuning", re.compile(r"\bwhat\s+tuning\s+do\s+i\s+(?:use|play\s+in|tune\s+to)\b|"
                          r"\bwhat(?:'s|\s+is)\s+my\s+tuning\b", re.I)),
    ("plan", re.compile(r"\bwhat\s+(?:plans?\s+)?(?:did|have)\s+we\s+agree", re.I)),
)


def memory_question(question: str) -> tuple[str, ...] | None:
    """The kinds a question asks the coach to recall: () for everything ("what do you know
    about me?"), ("goal",) for "what are my goals?", None when it asks something else."""
    if _ABOUT_ME.search(question):
        return ()
    kinds = tuple(kind for kind, pattern in _KIND_QUESTIONS if pattern.search(question))
    return kinds or None


# -- recall ----------------------------------------------------------------------------------

def recall(conn: psycopg.Connection[Any], query: str, *, k: int = RECALL_K,
           touch: bool = True, embedder: Embedder | None = None) -> list[Any]:
    """The ``k`` memory rows most relevant to ``query``: by meaning with an ``embedder`` on a
    database with pgvector (memories not yet embedded by its model are embedded first), else
    by full-text search (limits and goals when nothing matches); [] for a user with none."""
    memories = Memories(conn)
    if embedder is not None and memories.has_vectors():
        try:
            missing = memories.unembedded(embedder.model)
            vectors = embedder.embed([text for _, text in missing] + [query or "the player"])
            memories.set_embeddings(embedder.model,
                                    {i: v for (i, _), v in zip(missing, vectors, strict=False)})
            return [r.row for r in memories.recall_near(embedder.model, vectors[-1], k=k,
                                                        touch=touch)]
        except LLMError as exc:  # the model server is down: the words still match
            import logging

            logging.getLogger(__name__).info("memory recalled by full text: %s", exc)
    return [r.row for r in memories.recall(query, k=k, touch=touch)]


def context_lines(rows: Iterable[Any], *, chars: int = RECALL_CHARS) -> list[str]:
    """One line per memory ("- [limit] My wrist hurts after 20 minutes"), cut at ``chars``."""
    out: list[str] = []
    used = 0
    for row in rows:
        line = f"- [{row.kind}] {' '.join(str(row.text).split())}"
        if used + len(line) > chars:
            room = chars - used
            if room > 40:
                out.append(line[:room - 1] + "…")
            break
        out.append(line)
        used += len(line) + 1
    return out


def context_block(rows: Iterable[Any], *, chars: int = RECALL_CHARS) -> str:
    """The memories as a prompt block with its heading, or "" when there are none."""
    lines = context_lines(rows, chars=chars)
    return "\n".join([CONTEXT_HEAD, *lines]) if lines else ""


def recall_for_settings(settings: Any, query: str, *, k: int = RECALL_K) -> list[Any]:
    """Memories of ``settings.user`` for a feature that has no connection of its own (the
    live coach). Memory is an aid: a database problem gives none, never an error."""
    import logging

    from fretcoach_cli.store import open_database

    try:
        with open_database(settings) as db, db.connect(settings.user) as conn:
            return recall(conn, query, k=k, embedder=embedder_from_settings(settings))
    except Exception as exc:
        logging.getLogger(__name__).info("coach memory not recalled: %s", exc)
        return []


# -- limits the offline coach obeys ----------------------------------------------------------

_MINUTES = re.compile(r"\b(\d{1,3})\s*(?:-\s*)?(?:min|mins|minutes|minute)\b", re.I)
_HOURS = re.compile(r"\b(?:(half)\s+an?\s+hour|an?\s+hour|(\d{1,2})\s*(?:h|hours?)\b)", re.I)


def minutes_limit(rows: Iterable[Any]) -> tuple[int, str] | None:
    """The shortest practice time a limit memory states, with the memory's text
    ("my wrist hurts after 20 minutes" → (20, text)); None without one."""
    best: tuple[int, str] | None = None
    for row in rows:
        if row.kind != "limit":
            continue
        found = [int(m.group(1)) for m in _MINUTES.finditer(row.text)]
        for m in _HOURS.finditer(row.text):
            found.append(30 if m.group(1) else 60 * int(m.group(2) or 1))
        found = [n for n in found if 1 <= n <= 600]
        if found and (best is None or min(found) < best[0]):
            best = (min(found), str(row.text))
    return best


_HURTS = re.compile(r"\b(?:hurt|hurts|ache|aches|sore|pain|painful|tired|stiff|numb|injur)",
                    re.I)


def limited_minutes(minutes: int, rows: Sequence[Any]) -> tuple[int, str | None]:
    """A session length that respects a stated limit: stop a few minutes before the time
    the player said it starts to hurt (at least 5 min). Returns (minutes, why or None)."""
    limit = minutes_limit(rows)
    if limit is None:
        return minutes, None
    cap = limit[0]
    if _HURTS.search(limit[1]) and cap > 5:  # stop before it hurts, not when it does
        cap = max(5, (cap - 1) // 5 * 5)
    if minutes <= cap:
        return minutes, None
    return cap, f"kept to {cap} min because you told me: \"{limit[1]}\""


# -- plans: what recommend recalls, obeys and remembers --------------------------------------

def plan_query(data: Any) -> str:
    """What a recommendation is about, as a recall query: the weakest area and last scale
    (limits and goals come back whatever it says)."""
    from fretcoach_cli.coach.offline import METRIC_TITLES

    area = getattr(data, "weakest_area", None) or getattr(data, "focus_area", None)
    scale = getattr(data, "last_scale", None) or getattr(data, "scale", None)
    words = [METRIC_TITLES.get(area, "") if area else "", scale or "", "practice plan"]
    return " ".join(w for w in words if w)


def apply_limits(plan: Any, rows: Sequence[Any]) -> Any:
    """A plan (``coach.plans.PracticePlan``) that respects a stated time limit: a shorter
    session, a last step that says when to stop, and why in the reasoning."""
    target = plan.session_target
    if target.minutes is None:
        return plan
    minutes, why = limited_minutes(int(target.minutes), rows)
    if why is None:
        return plan
    steps = [*list(plan.exercises)[:5], f"Stop at {minutes} minutes and rest your hands"]
    return plan.model_copy(update={
        "session_target": target.model_copy(update={"minutes": minutes}),
        "reasoning": f"{plan.reasoning.rstrip()} Session {why}."[:800],
        "exercises": steps})


def recommend_with_memory(data: Any, memories: Sequence[Any], **kwargs: Any) -> Any:
    """``coach.plans.recommend`` with the recalled memories in the model's input and the
    stated limits applied to whichever plan comes back (model or offline)."""
    from dataclasses import replace

    from fretcoach_cli.coach.plans import recommend

    result = recommend(data, memory_text=context_block(memories), **kwargs)
    return replace(result, plan=apply_limits(result.plan, memories))


def plan_text(doc: dict[str, Any]) -> str:
    """A stored plan document as one memory ("Agreed plan: A minor pentatonic: timing
    stability, 15 min at 70 BPM")."""
    title = str(doc.get("title") or doc.get("scale") or "a practice plan")
    bits = []
    found = doc.get("session_target")
    target: dict[str, Any] = found if isinstance(found, dict) else {}
    if target.get("minutes"):
        bits.append(f"{target['minutes']} min")
    if doc.get("target_tempo_bpm"):
        bits.append(f"at {doc['target_tempo_bpm']} BPM")
    return f"Agreed plan: {title}" + (f", {' '.join(bits)}" if bits else "")


def remember_plan(conn: psycopg.Connection[Any], doc: dict[str, Any], *,
                  source: str = "plan") -> Any:
    """Store a saved plan as an agreed-plan memory (once per distinct plan)."""
    row, _ = Memories(conn).add(plan_text(doc), kind="plan", source=source)
    return row


# -- the live coach --------------------------------------------------------------------------

LIVE_QUERY = "live practice session technique wrist hand timing pitch"


def with_memories(messages: list[Any], rows: Sequence[Any]) -> list[Any]:
    """(role, text) messages with the memory block added to the last one (the data)."""
    block = context_block(rows)
    if not block or not messages:
        return messages
    role, text = messages[-1]
    return [*messages[:-1], (role, f"{text}\n\n{block}")]


def _played_minutes(notes: Sequence[Any]) -> float:
    """Minutes of audio so far, by the audio clock (the newest note's onset)."""
    return max((float(getattr(n, "onset_s", 0.0) or 0.0) for n in notes[-1:]), default=0.0) / 60


def limit_tip(tip: str, notes: Sequence[Any], rows: Sequence[Any]) -> str:
    """The offline live tip, replaced by a reminder once the session nears a time limit
    the player stated (two minutes before the limit the coach keeps to)."""
    limit = minutes_limit(rows)
    if limit is None:
        return tip
    cap, _ = limited_minutes(10_000, rows)
    played = _played_minutes(notes)
    if played < max(1.0, cap - 2):
        return tip
    return (f"{int(played)} minutes played. You told me \"{limit[1]}\": finish this run, "
            "then rest your hands.")


def summary_limit(text: str, duration_s: float | None, rows: Sequence[Any]) -> str:
    """The offline session summary with a word on a stated time limit that was reached."""
    limit = minutes_limit(rows)
    if limit is None or not duration_s:
        return text
    cap, _ = limited_minutes(10_000, rows)
    minutes = duration_s / 60
    if minutes < cap:
        return text
    return (f"{text} You played {minutes:.0f} min and told me \"{limit[1]}\": rest before "
            "the next session.")
