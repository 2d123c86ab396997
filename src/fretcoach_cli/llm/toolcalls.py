"""Tool calls that a model wrote as text, and keeping such text off the screen.

Many local models (and llama.cpp with a chat template it does not recognise) do not fill the
``tool_calls`` field: they write ``<tool_call>{"name": …, "arguments": …}</tool_call>``
(Hermes, Qwen), ``<tools>…</tools>``, ``<function=name>{…}</function>`` (Llama 3.1), a
``[TOOL_CALLS]`` list (Mistral) or a fenced JSON object. Such a call is found and run like a
native one; its text is never shown to the user as an answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from fretcoach_cli.llm.structured import balanced_objects

_TAGGED = re.compile(r"<(tool_call|tools|function_call)>\s*(.*?)\s*(?:</\1>|$)", re.S)
_FUNCTION = re.compile(r"<function=([\w.-]+)>\s*(.*?)\s*(?:</function>|$)", re.S)
_FENCE = re.compile(r"```[a-zA-Z_]*\s*(.*?)(?:```|$)", re.S)
_MISTRAL = re.compile(r"\[TOOL_CALLS\]\s*(.*)$", re.S)
#: Text that starts or contains one of these is (probably) a tool call in the making.
MARKERS = ("<tool_call", "<tools>", "<function", "[TOOL_CALLS]", "```", '{"name"',
           "{\"tool\"", "{\"function\"")


@dataclass
class TextCall:
    """A call found in text: the tool's name and its arguments (parsed JSON)."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)


def _as_args(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return None
    return raw if isinstance(raw, dict) else None


def _calls_in(value: Any) -> list[TextCall]:
    """Calls described by one decoded JSON value (object, list, or nested function)."""
    if isinstance(value, list):
        return [c for item in value for c in _calls_in(item)]
    if not isinstance(value, dict):
        return []
    if isinstance(value.get("function"), dict):
        return _calls_in(value["function"])
    if isinstance(value.get("tool_call"), dict):
        return _calls_in(value["tool_call"])
    name = value.get("name") or value.get("tool") or value.get("tool_name")
    if not isinstance(name, str) or not name:
        return []
    raw = next((value[k] for k in ("arguments", "parameters", "args", "tool_input", "input")
                if k in value), None)
    args = _as_args(raw)
    return [TextCall(name.strip(), args if args is not None else {"__invalid__": raw})]


def _decode_all(text: str) -> list[Any]:
    """Every JSON value in ``text``: the whole of it, or each balanced object."""
    try:
        return [json.loads(text)]
    except ValueError:
        pass
    out = []
    for span in balanced_objects(text):
        try:
            out.append(json.loads(span))
        except ValueError:
            continue
    return out


def parse_text_calls(text: str, known: Collection[str] | None = None) -> list[TextCall]:
    """Tool calls written in ``text``; with ``known``, only calls to those tools (a call to a
    tool that does not exist is not run, but see :func:`looks_like_tool_text`)."""
    found: list[TextCall] = []
    for match in _FUNCTION.finditer(text):
        args = _as_args(match.group(2))
        found.append(TextCall(match.group(1), args if args is not None else {}))
    chunks = [m.group(2) for m in _TAGGED.finditer(text)]
    chunks += [m.group(1) for m in _MISTRAL.finditer(text)]
    chunks += [m.group(1) for m in _FENCE.finditer(text)]
    if not chunks and not found:
        chunks = [text]
    for chunk in chunks:
        for value in _decode_all(chunk.strip()):
            found += _calls_in(value)
    unique: list[TextCall] = []
    for call in found:
        if known is not None and call.name not in known:
            continue
        if not any(c.name == call.name and c.args == call.args for c in unique):
            unique.append(call)
    return unique


def looks_like_tool_text(text: str) -> bool:
    """True when ``text`` holds a tool call or call-shaped JSON (to any tool, known or not):
    such text is never shown as an answer."""
    if any(m in text for m in ("<tool_call", "<tools>", "<function=", "<function_call>",
                               "[TOOL_CALLS]")):
        return True
    return bool(parse_text_calls(text))


def prose_of(text: str) -> str:
    """``text`` without tool-call markup, fenced blocks or call-shaped JSON objects."""
    out = _TAGGED.sub("", text)
    out = _FUNCTION.sub("", out)
    out = _MISTRAL.sub("", out)
    out = _FENCE.sub(lambda m: "" if looks_like_tool_text(m.group(1)) or
                     m.group(1).lstrip().startswith("{") else m.group(0), out)
    for span in balanced_objects(out):
        if parse_text_calls(span):
            out = out.replace(span, "")
    return out.strip()


class StreamGuard:
    """Passes streamed tokens through until they might be a tool call, then holds them.

    Text that starts like markup or JSON is held until the reply ends; once a marker
    appears mid-reply, the rest is held. :meth:`held` is what was not shown.
    """

    def __init__(self) -> None:
        self.shown = ""
        self._held = ""
        self.holding = False

    def feed(self, token: str) -> str:
        """The part of ``token`` that may be shown now."""
        if self.holding:
            self._held += token
            return ""
        candidate = self.shown + self._held + token
        stripped = candidate.lstrip()
        if not stripped:
            self.shown = candidate
            return token
        if stripped[0] in "<{[`" or any(m in candidate for m in MARKERS):
            cut = min([candidate.find(m) for m in MARKERS if m in candidate] or [len(self.shown)])
            if stripped[0] in "<{[`":
                cut = len(candidate) - len(stripped)
            cut = max(cut, len(self.shown))
            self.holding = True
            self._held = candidate[cut:]
            visible = candidate[len(self.shown):cut]
            self.shown = candidate[:cut]
            return visible
        # hold a trailing fragment that could grow into a marker ("<tool", "``")
        tail = _marker_prefix(candidate)
        visible_end = len(candidate) - tail
        visible = candidate[len(self.shown):visible_end]
        self.shown = candidate[:visible_end]
        self._held = candidate[visible_end:]
        return visible

    def held(self) -> str:
        return self._held


def _marker_prefix(text: str) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of a marker."""
    best = 0
    for marker in MARKERS:
        for n in range(min(len(marker) - 1, len(text)), 0, -1):
            if text.endswith(marker[:n]):
                best = max(best, n)
                break
    return best
