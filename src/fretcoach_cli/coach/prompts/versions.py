"""Versioned prompt files: ``coach/prompts/<name>/v<N>.md``, one module that reads them.

Why files: a prompt change is then a new file beside the old one, so both can run side by
side (`fretcoach coach compare`), every reply records which version wrote it, and ratings
can be grouped by version. A file is an optional front matter block (``---`` lines holding
``key: value`` pairs: ``about`` says what the version changed, ``offline`` is the offline
coach's template for that version) followed by the prompt text, verbatim.

The active version of each prompt is the setting ``prompt_<name>`` (empty = the newest).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from fretcoach_cli.errors import UsageError

#: The prompts with versions, and the setting that picks each one.
PROMPT_NAMES = ("live", "summary", "plan", "chat")
_VERSION = re.compile(r"^v(\d+)$")


@dataclass(frozen=True)
class Prompt:
    """One version of one prompt."""

    name: str
    version: str
    text: str
    about: str = ""
    offline: str | None = None  # the offline coach's template (live prompt only)


def _dir(name: str) -> Any:
    if name not in PROMPT_NAMES:
        raise UsageError(f"unknown prompt {name!r}", hint=f"one of {', '.join(PROMPT_NAMES)}")
    return resources.files("fretcoach_cli.coach.prompts").joinpath(name)


@cache
def versions(name: str) -> tuple[str, ...]:
    """The versions of ``name`` shipped in the package, oldest first (v1, v2, …, v10)."""
    found = []
    for entry in _dir(name).iterdir():
        stem = entry.name.removesuffix(".md")
        m = _VERSION.match(stem)
        if entry.name.endswith(".md") and m:
            found.append((int(m.group(1)), stem))
    return tuple(v for _, v in sorted(found))


def newest(name: str) -> str:
    return versions(name)[-1]


def check_version(name: str, version: str) -> str:
    """``version`` normalised ("2" → "v2"); a one-line UsageError when it does not exist."""
    v = version.strip().lower()
    if v.isdigit():
        v = f"v{v}"
    known = versions(name)
    if v not in known:
        raise UsageError(f"unknown {name} prompt version {version!r}",
                         hint=f"known: {', '.join(known)}")
    return v


def _parse(text: str) -> tuple[dict[str, str], str]:
    meta: dict[str, str] = {}
    if text.startswith("---\n"):
        head, sep, body = text[4:].partition("\n---\n")
        if sep:
            for line in head.splitlines():
                key, _, value = line.partition(":")
                if key.strip():
                    meta[key.strip()] = value.strip()
            text = body
    return meta, text.rstrip("\n")


@cache
def load(name: str, version: str | None = None) -> Prompt:
    """One prompt version (default: the newest)."""
    v = check_version(name, version) if version else newest(name)
    meta, body = _parse(_dir(name).joinpath(f"{v}.md").read_text(encoding="utf-8"))
    return Prompt(name, v, body, meta.get("about", ""), meta.get("offline") or None)


def active(name: str, settings: Any = None) -> Prompt:
    """The version the settings pick for ``name`` (``prompt_<name>``; empty = newest)."""
    chosen = str(getattr(settings, f"prompt_{name}", "") or "") if settings is not None else ""
    return load(name, chosen or None)

