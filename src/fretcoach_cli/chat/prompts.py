"""The chat agent's system prompt, read from the versioned prompt files
(``coach/prompts/chat/v<N>.md``; the setting ``prompt_chat`` picks one, default the newest).

The version is stored with every chat answer (coach_replies), with saved plans and sent to
tracing, so a change of behaviour can be traced to a change of prompt. Only the schema's
*shape* goes in (tables, columns, meanings): never rows or stored text.
"""

from __future__ import annotations

from datetime import date

from fretcoach_cli.chat.schema import TABLES
from fretcoach_cli.coach.prompts.versions import Prompt, load

#: The chat prompt's release name before versioned files (v1 is its text, unchanged).
CHAT_PROMPT_VERSION = "chat-2026-11.1"


def system_prompt(today: date, timezone: str, prompt: Prompt | None = None) -> str:
    tables = "; ".join(f"{t.name}({', '.join(c.name for c in t.columns)})" for t in TABLES)
    template = (prompt or load("chat")).text
    # the template file ends at its last line; the prompt always ended with a newline
    return template.format(today=today.isoformat(), tz=timezone, tables=tables) + "\n"
