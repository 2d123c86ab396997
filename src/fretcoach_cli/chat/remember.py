"""Coach memory in the chat: facts a turn states are stored, the relevant ones are recalled
into the model's context, and the user is told what was remembered.

The memory block reaches a model as a message marked as facts the player stated (never as
part of the system prompt, which holds no stored text), only for the call being made: it is
not written into the thread, so the conversation shows what was really said.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fretcoach_cli.coach.memory import context_block, extract, recall

if TYPE_CHECKING:
    import psycopg

    from fretcoach_cli.llm.embeddings import Embedder
    from fretcoach_cli.store.memory import MemoryRow


def capture(conn: psycopg.Connection[Any], question: str) -> list[tuple[MemoryRow, bool]]:
    """Store every fact ``question`` states (source "chat"); (row, newly stored) each."""
    from fretcoach_cli.store.memory import Memories

    facts = extract(question)
    if not facts:
        return []
    memories = Memories(conn)
    return [memories.add(f.text, kind=f.kind, source="chat") for f in facts]


def note(captured: list[tuple[MemoryRow, bool]]) -> str:
    """What the reply tells the user about this turn's memories ("" when none)."""
    if not captured:
        return ""
    new = [row.text for row, fresh in captured if fresh]
    known = [row.text for row, fresh in captured if not fresh]
    parts = []
    if new:
        parts.append("I'll remember: " + "; ".join(f"\"{t}\"" for t in new))
    if known:
        parts.append("I already knew: " + "; ".join(f"\"{t}\"" for t in known))
    return "\n\n_(" + ". ".join(parts) + " — see `fretcoach memory list`.)_"


def recalled_block(conn: psycopg.Connection[Any], question: str,
                   embedder: Embedder | None = None) -> str:
    """The memories relevant to ``question`` as a prompt block ("" when there are none)."""
    return context_block(recall(conn, question, embedder=embedder))


def context_message(block: str) -> Any:
    from langchain_core.messages import HumanMessage

    return HumanMessage(f"{block}\n(Use these facts when they matter for the answer; they "
                        "are not part of my question.)")


def memory_middleware(block: Callable[[], str]) -> Any:
    """An ``AgentMiddleware`` that puts the turn's memory block before the newest user
    message of each model call (the stored conversation is left as it is)."""
    from langchain.agents.middleware import AgentMiddleware

    class MemoryContext(AgentMiddleware):
        def wrap_model_call(self, request: Any, handler: Any) -> Any:
            text = block()
            if not text:
                return handler(request)
            messages = list(request.messages)
            last_human = max((i for i, m in enumerate(messages)
                              if getattr(m, "type", "") == "human"), default=None)
            at = len(messages) if last_human is None else last_human
            messages.insert(at, context_message(text))
            return handler(request.override(messages=messages))

    return MemoryContext()


# -- the offline answers --------------------------------------------------------------------

NOTED = "Noted — thanks for telling me."


def recall_answer(conn: psycopg.Connection[Any], kinds: tuple[str, ...]) -> tuple[str, int]:
    """The answer to "what do you know about me?" / "what are my goals?" from the stored
    memories (all of them, or those of ``kinds``): (text, memories cited)."""
    from fretcoach_cli.store.memory import Memories

    rows = [r for r in Memories(conn).list() if not kinds or r.kind in kinds]
    wanted = " or ".join(_KIND_WORDS.get(k, k) for k in kinds) or "anything about you"
    if not rows:
        return (f"I don't remember {wanted} yet. Tell me in a sentence (\"my goal is …\", "
                "\"I tune to drop D\") or add it with `fretcoach memory add`."), 0
    head = "Here is what I remember about you:" if not kinds else \
        f"Here is what I remember ({wanted}):"
    lines = [f"- **{r.kind}**: {r.text}" for r in rows]
    return "\n".join([head, "", *lines, "",
                      "_(change it with `fretcoach memory edit|forget`)_"]), len(rows)


_KIND_WORDS = {"goal": "your goals", "limit": "your limits", "struggle": "what you struggle "
               "with", "gear": "your guitar", "tuning": "your tuning", "plan": "agreed plans"}
