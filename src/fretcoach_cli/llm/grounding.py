"""Is every figure in an answer one that the data fetched in that turn contains?

A small model happily writes "count(*): 20" (the real count was 202) or five sessions with
made-up ids. Before an answer about the user's own practice is shown as the model's, each
figure in it — numbers, percentages, dates, session ids — is looked for in the data the turn
fetched (and the question itself), allowing rounding, 0–1 ratios written as percentages,
and the difference of two fetched values (a "rose by 6 points" trend). What is left is
*ungrounded*; callers repair or replace such an answer.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_HEX_ID = re.compile(r"\b(?=[0-9a-f-]*\d)(?=[0-9a-f-]*[a-f])[0-9a-f]{8}(?:-[0-9a-f]{4}){0,4}"
                     r"(?:-[0-9a-f]{1,12})?\b")
_NUMBER = re.compile(r"(?<![\w.])[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\w])|"
                     r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?![\w])")
#: Words after which a small number is advice or structure, not the user's data.
_ADVICE_UNITS = re.compile(r"^\s*(?:-\s*)?(?:bpm|beats?|minutes?|mins?|min\b|seconds?|secs?|"
                           r"times|reps?|repetitions|bars?|days?|notes?\s+per|strings?|"
                           r"frets?|fingers?|x\b)", re.I)
_LIST_MARK = re.compile(r"^\s*\d+[.)]\s")


#: A count's unit right after it ("120 sessions"): the count must be a fetched value of a
#: field about that unit, not any fetched number (a 135M model wrote "120 practice sessions"
#: where 120 was notes per session).
_UNIT_AFTER = re.compile(r"^\s*(?:practi[cs]e\s+|total\s+)?(sessions?|notes?|days?)\b", re.I)
UNIT_STEMS = {"session": ("session",), "note": ("note",), "day": ("day", "streak")}


@dataclass(frozen=True)
class Figure:
    """One figure found in an answer."""

    text: str
    kind: str  # "number", "date", "id"
    value: float | str
    unit: str = ""  # "session", "note" or "day" when the text names what it counts


def figures(text: str) -> list[Figure]:
    """The figures an answer states (list markers and advice like "10 minutes" excluded)."""
    out: list[Figure] = []
    taken: list[tuple[int, int]] = []
    for m in _DATE.finditer(text):
        out.append(Figure(m.group(0), "date", m.group(0)))
        taken.append(m.span())
    for m in _HEX_ID.finditer(text):
        if not _inside(m.span(), taken):
            out.append(Figure(m.group(0), "id", m.group(0).lower()))
            taken.append(m.span())
    for line in text.splitlines():
        offset = text.find(line)
        marker = _LIST_MARK.match(line)
        for m in _NUMBER.finditer(line):
            span = (offset + m.start(), offset + m.end())
            if _inside(span, taken) or (marker and m.start() < marker.end()):
                continue
            raw = m.group(0)
            after = line[m.end():]
            value = float(raw.replace(",", ""))
            if _ADVICE_UNITS.match(after) and abs(value) <= 300 and "%" not in after[:2]:
                continue
            unit = _UNIT_AFTER.match(after)
            out.append(Figure(raw, "number", value,
                              unit.group(1).lower().rstrip("s") if unit else ""))
    return out


def _inside(span: tuple[int, int], taken: list[tuple[int, int]]) -> bool:
    return any(a <= span[0] and span[1] <= b for a, b in taken)


@dataclass
class Evidence:
    """What a turn fetched, flattened: numbers, date strings and identifiers."""

    numbers: list[float]
    texts: set[str]
    keyed: list[tuple[str, float]]  # (lower-case key path, value) of structured data
    plain: list[float]              # numbers written in plain-text sources (the question)

    @classmethod
    def of(cls, *sources: Any) -> Evidence:
        numbers: list[float] = []
        texts: set[str] = set()
        keyed: list[tuple[str, float]] = []
        plain: list[float] = []
        for source in sources:
            _collect(source, numbers, texts, keyed=keyed, plain=plain)
        return cls(numbers, texts, keyed, plain)

    def supports(self, figure: Figure) -> bool:
        if figure.kind == "date":
            return any(str(figure.value) in t for t in self.texts) or \
                _date_in_numbers(str(figure.value), self.texts)
        if figure.kind == "id":
            return any(t.startswith(str(figure.value)) or str(figure.value) in t
                       for t in self.texts)
        value = float(figure.value)
        if figure.unit and self.keyed and not _number_supported(value, figure.text, self.plain):
            stems = UNIT_STEMS[figure.unit]
            counted = [v for key, v in self.keyed if any(st in key for st in stems)]
            if counted:  # the data names what it counts: the figure must be one of those
                return _number_supported(value, figure.text, counted)
        return _number_supported(value, figure.text, self.numbers)


def _collect(value: Any, numbers: list[float], texts: set[str], *, key: str = "",
             keyed: list[tuple[str, float]], plain: list[float]) -> None:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int | float | Decimal):
        if math.isfinite(float(value)):
            numbers.append(float(value))
            if key:
                keyed.append((key, float(value)))
        return
    if isinstance(value, date):
        texts.add(value.isoformat())
        return
    if isinstance(value, dict):
        for k, v in value.items():
            _collect(v, numbers, texts, key=f"{key}.{k}".lower(), keyed=keyed,
                     plain=plain)
        return
    if isinstance(value, list | tuple | set):
        for v in value:
            _collect(v, numbers, texts, key=key, keyed=keyed, plain=plain)
        return
    text = str(value)
    stripped = text.strip()
    if stripped[:1] in "{[":
        try:
            _collect(json.loads(stripped), numbers, texts, key=key, keyed=keyed, plain=plain)
            return
        except ValueError:
            pass
    texts.add(text.lower())
    for m in _NUMBER.finditer(text):
        numbers.append(float(m.group(0).replace(",", "")))
        if not key:
            plain.append(float(m.group(0).replace(",", "")))
    for m in _DATE.finditer(text):
        texts.add(m.group(0))


def _date_in_numbers(value: str, texts: Iterable[str]) -> bool:
    return any(value in t for t in texts)


def _close(a: float, b: float, places: int) -> bool:
    return abs(round(b, places) - a) < 10 ** -places / 2 + 1e-9 or abs(a - b) < 1e-9


def _number_supported(value: float, raw: str, numbers: list[float]) -> bool:
    decimals = len(raw.split(".")[1]) if "." in raw else 0
    candidates = set(numbers)
    for n in numbers:
        if 0 <= abs(n) <= 1:
            candidates.add(n * 100)  # a 0-1 ratio written as a percentage
        candidates.add(n / 60)  # seconds written as minutes
        candidates.add(n / 3600)  # …or hours
    for n in candidates:
        for places in range(decimals, max(decimals, 2) + 1):
            if _close(value, n, places):
                return True
        if decimals == 0 and abs(value - round(n)) < 1e-9:
            return True
    small = numbers[:400]
    for i, a in enumerate(small):  # a change between two fetched values
        for b in small[i + 1:]:
            if any(_close(abs(value), abs(a - b), p) for p in range(decimals, 2)):
                return True
    return False


def ungrounded(answer: str, *sources: Any) -> list[str]:
    """The figures of ``answer`` that none of ``sources`` supports (empty = grounded)."""
    evidence = Evidence.of(*sources)
    return [f.text for f in figures(answer) if not evidence.supports(f)]
