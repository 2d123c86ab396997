"""What an offline chat question asks: an intent, a period, a metric, a scale, a count.

The offline responder (``chat.offline``) answers without a model, so the question is read by
fixed rules: regular expressions for the phrasings guitarists use ("how did I do this
week?", "why is my timing low?", "show my last 5 sessions") and python-dateutil for the
date in "since 1 March" / "in March 2024". Everything here is pure (no database): the
question and today's local date in, a :class:`Query` out, so it is cheap to test on many
phrasings.

Periods are calendar days in the user's time zone, inclusive at both ends; weeks start on
Monday (ISO, as ``stats --by week``). "In the last N days" counts today, like ``--since Nd``.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

#: metric column → the short name used in intents ("why_timing") and its display label
METRICS: dict[str, tuple[str, str]] = {
    "timing_stability": ("timing", "timing stability"),
    "pitch_accuracy": ("pitch", "pitch accuracy"),
    "scale_conformity": ("conformity", "scale conformity"),
    "clean_playing": ("clean", "clean playing"),
    "scale_coverage": ("coverage", "scale coverage"),
    "overall_score": ("overall", "overall score"),
}

# (metric, pattern): the first that matches names the metric a question is about
_METRIC_WORDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("scale_conformity", re.compile(r"\b(scale )?conformity|in[- ]scale|out[- ]of[- ]scale|"
                                    r"wrong notes?|notes? outside|outside the scale|"
                                    r"off[- ]scale", re.I)),
    ("scale_coverage", re.compile(r"\bcoverage|degrees|(whole|all of the|entire) scale",
                                  re.I)),
    ("clean_playing", re.compile(r"\bclean(ly|ness)?\b|mut(e|ing)|buzz|string noise|"
                                 r"noisy|sloppy|ringing", re.I)),
    ("timing_stability", re.compile(r"\btim(ing|e keeping)|rhythm|tempo|in time\b|"
                                    r"out of time\b|keep(ing)? time\b|"
                                    r"on the beat|\bbeat\b|metronome|\bclick\b|\bgroove",
                                    re.I)),
    ("pitch_accuracy", re.compile(r"\bpitch|intonation|in tune|out of tune|tuning|"
                                  r"\bsharp\b|\bflat\b|\bcents\b|\baccura(cy|te)\b", re.I)),
    ("overall_score", re.compile(r"\boverall|\bscores?\b|\bgrade", re.I)),
)

_NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
                 "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11,
                 "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "couple of": 2,
                 "a couple of": 2, "few": 3, "a few": 3}
_NUM = r"(\d{1,4}|a couple of|couple of|a few|few|an?|one|two|three|four|five|six|seven|" \
       r"eight|nine|ten|eleven|twelve|fifteen|twenty|thirty)"
_MONTHS = r"(jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|june?|july?|aug(ust)?|" \
          r"sep(t(ember)?)?|oct(ober)?|nov(ember)?|dec(ember)?)"
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DATE = (rf"(\d{{4}}-\d{{1,2}}-\d{{1,2}}|\d{{1,2}}/\d{{1,2}}/\d{{2,4}}|"
         rf"(the )?\d{{1,2}}(st|nd|rd|th)?( of)? {_MONTHS}\.?( \d{{4}})?|"
         rf"{_MONTHS}\.? \d{{1,2}}(st|nd|rd|th)?(,? \d{{4}})?|"
         rf"{_MONTHS}\.?( \d{{4}})?|\d{{4}}|"
         rf"(last )?(monday|tuesday|wednesday|thursday|friday|saturday|sunday))(?![a-z0-9])")

MAX_SESSIONS_LISTED = 50
#: "which notes do I miss most in my last N sessions": N at most this (reports.missed_notes)
MAX_NOTE_SESSIONS = 200
DEFAULT_LISTED = 5
RECENT_DAYS = 14


@dataclass(frozen=True)
class Span:
    """A period of local calendar days, both ends inclusive (None: open)."""

    key: str      # today, yesterday, week, last_week, month, last_month, year, last_year,
    #               days, since, range, day, recent
    label: str    # how the answer names it ("this week", "since 2024-03-01")
    first: date | None
    last: date | None

    def args(self) -> dict[str, str]:
        """The ``practice_stats`` arguments selecting it (``--since``/``--until`` forms)."""
        out = {}
        if self.first is not None:
            out["since"] = self.first.isoformat()
        if self.last is not None:
            out["until"] = self.last.isoformat()
        return out


@dataclass(frozen=True)
class Query:
    """One question, read."""

    intent: str                 # see INTENTS in chat.offline
    family: str                 # progress, weakest, plan, last, totals, detail (one
    #                             session, notes or coach replies: no model lookup fits),
    #                             help, unknown
    span: Span | None = None
    metric: str | None = None   # a METRICS key
    scale: str | None = None    # a display name ("A minor pentatonic")
    count: int | None = None    # "last 5 sessions"
    unit: str | None = None     # count questions: sessions, time, notes, days


def _number(text: str) -> int | None:
    text = text.strip().lower()
    if text.isdigit():
        return int(text)
    return _NUMBER_WORDS.get(text)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _month_end(first: date) -> date:
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


def _months_back(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def parse_date(text: str, today: date) -> tuple[date, str] | None:
    """A date as typed ("2024-01-01", "1 March", "March 2024", "monday") and how precise it
    was: "day", "month" or "year". Year-less dates in the future mean last year's."""
    raw = " ".join(text.lower().replace(",", " ").split()).strip(" .?!")
    if not raw:
        return None
    words = raw.split()
    last_kw = words[0] == "last" and len(words) == 2
    if words[-1] in _WEEKDAYS and (len(words) == 1 or last_kw):
        back = (today.weekday() - _WEEKDAYS.index(words[-1])) % 7
        if back == 0 and last_kw:
            back = 7
        return today - timedelta(days=back), "day"
    from dateutil import parser

    cleaned = re.sub(r"\b(the|of)\b", " ", raw)
    try:
        moment = parser.parse(cleaned, default=datetime(today.year, 1, 1),
                              dayfirst=bool(re.fullmatch(r"\d{1,2}/\d{1,2}/\d{2,4}", cleaned)
                                            and int(cleaned.split("/")[0]) > 12))
    except (ValueError, OverflowError):
        return None
    if moment.year < 1900:
        return None
    has_year = bool(re.search(r"\d{4}", cleaned)) or "/" in cleaned
    has_month = bool(re.search(_MONTHS, cleaned)) or "-" in cleaned or "/" in cleaned
    has_day = "-" in cleaned or "/" in cleaned or bool(
        re.search(r"(^|\s)\d{1,2}(st|nd|rd|th)?(\s|$)", cleaned))
    kind = "day" if has_day else ("month" if has_month else "year")
    day = moment.date()
    if kind == "month":
        day = day.replace(day=1)
    elif kind == "year":
        day = date(day.year, 1, 1)
    if not has_year and day > today:
        try:
            day = day.replace(year=day.year - 1)
        except ValueError:  # 29 February
            day = day.replace(year=day.year - 1, day=28)
    return day, kind


def _end_of(start: date, kind: str) -> date:
    if kind == "month":
        return _month_end(start)
    if kind == "year":
        return date(start.year, 12, 31)
    return start


def parse_span(question: str, today: date) -> Span | None:
    """The period a question names, if any."""
    q = " ".join(question.lower().replace("’", "'").split())
    if m := re.search(rf"\b(?:between|from) {_DATE} (?:and|to|until|till|-) {_DATE}", q):
        a, b = _groups_after(q, m, 2)
        pa, pb = parse_date(a, today), parse_date(b, today)
        if pa and pb and pa[0] <= _end_of(*pb):
            end = _end_of(*pb)
            return Span("range", f"{pa[0].isoformat()} to {end.isoformat()}", pa[0], end)
    if m := re.search(rf"\bsince {_DATE}", q):
        (text,) = _groups_after(q, m, 1)
        if text.strip() in ("last week", "last month"):
            pass  # "since last week/month" is handled below as that period onwards
        else:
            parsed = parse_date(text, today)
            if parsed:
                return Span("since", f"since {parsed[0].isoformat()}", parsed[0], None)
    if m := re.search(rf"\b(?:in|over|during|for|within|from) (?:the )?(?:last|past) "
                      rf"{_NUM} (day|week|month|year)s?\b", q) or \
            re.search(rf"\b(?:last|past) {_NUM} (day|week|month|year)s\b", q) or \
            re.search(rf"\b{_NUM} (day|week|month|year)s? ago\b", q):
        n = _number(m.group(1)) or 1
        return _rolling(n, m.group(m.lastindex or 2), today)
    if m := re.search(r"\b(?:in|over|during|within|for) (?:the )?(?:last|past) "
                      r"(day|week|fortnight|month|year)\b|\bpast (day|week|fortnight|month|"
                      r"year)\b", q):
        unit = m.group(1) or m.group(2)
        return _rolling(2, "week", today) if unit == "fortnight" else _rolling(1, unit, today)
    if re.search(r"\btoday\b|\bthis (morning|afternoon|evening)\b|\btonight\b", q):
        return Span("today", "today", today, today)
    if re.search(r"\byesterday\b|\blast night\b", q):
        y = today - timedelta(days=1)
        return Span("yesterday", f"yesterday ({y.isoformat()})", y, y)
    if re.search(r"\bsince last week\b", q):
        first = _monday(today) - timedelta(days=7)
        return Span("since", f"since {first.isoformat()}", first, None)
    if re.search(r"\bsince last month\b", q):
        first = _months_back(today, 1)
        return Span("since", f"since {first.isoformat()}", first, None)
    if re.search(r"\b(last|previous|past) week'?s?\b|\bthe week before\b", q):
        first = _monday(today) - timedelta(days=7)
        return Span("last_week", f"last week ({first.isoformat()} to "
                                 f"{(first + timedelta(days=6)).isoformat()})",
                    first, first + timedelta(days=6))
    if re.search(r"\bthis week'?s?\b|\bthe week\b|\bweekly\b|\bso far this week\b", q):
        first = _monday(today)
        return Span("week", f"this week (since {first.isoformat()})", first, None)
    if re.search(r"\b(last|previous|past) month'?s?\b", q):
        first = _months_back(today, 1)
        return Span("last_month", f"last month ({first:%B %Y})", first, _month_end(first))
    if re.search(r"\bthis month'?s?\b|\bmonthly\b", q):
        first = today.replace(day=1)
        return Span("month", f"this month (since {first.isoformat()})", first, None)
    if re.search(r"\b(last|previous|past) year'?s?\b", q):
        first = date(today.year - 1, 1, 1)
        return Span("last_year", f"last year ({first.year})", first, date(first.year, 12, 31))
    if re.search(r"\bthis year'?s?\b", q):
        first = date(today.year, 1, 1)
        return Span("year", f"this year (since {first.isoformat()})", first, None)
    if m := re.search(rf"\b(?:in|during|on|for) {_DATE}", q):
        (text,) = _groups_after(q, m, 1)
        parsed = parse_date(text, today) if not text.strip().isdigit() or \
            len(text.strip()) == 4 else None
        if parsed:
            first, kind = parsed
            last = _end_of(first, kind)
            label = (first.isoformat() if kind == "day" else
                     f"{first:%B %Y}" if kind == "month" else str(first.year))
            return Span("day" if kind == "day" else "named_" + kind, f"in {label}" if
                        kind != "day" else f"on {label}", first, last)
    if re.search(r"\b(recent(ly)?|lately|these days|of late)\b", q):
        first = today - timedelta(days=RECENT_DAYS - 1)
        return Span("recent", f"in the last {RECENT_DAYS} days (since {first.isoformat()})",
                    first, None)
    return None


def _groups_after(q: str, m: re.Match[str], n: int) -> list[str]:
    """The ``n`` date phrases of a match (the text after its keyword(s))."""
    body = q[m.start():m.end()]
    parts = re.split(r"\b(?:between|from|since|in|during|on|for|and|to|until|till|-)\b ",
                     body)
    parts = [p for p in parts if p.strip()]
    return parts[-n:] if len(parts) >= n else [body] * n


def _rolling(n: int, unit: str, today: date) -> Span:
    n = max(1, min(n, 3650))
    try:
        first = _rolling_start(n, unit, today)
    except (ValueError, OverflowError):  # before year 1: everything
        first = date(1900, 1, 1)
    word = unit if n == 1 else f"{n} {unit}s"
    return Span("days", f"in the last {word} (since {first.isoformat()})", first, None)


def _rolling_start(n: int, unit: str, today: date) -> date:
    if unit == "day":
        first = today - timedelta(days=n - 1)
    elif unit == "week":
        first = today - timedelta(days=7 * n - 1)
    elif unit == "month":
        first = _shift_months(today, n) + timedelta(days=1)
    else:
        first = _shift_months(today, 12 * n) + timedelta(days=1)
    return max(first, date(1900, 1, 1))


def _shift_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    year, month = index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def find_metric(question: str) -> str | None:
    for metric, pattern in _METRIC_WORDS:
        if pattern.search(question):
            return metric
    return None


_ROOT = re.compile(r"^([a-g])([#b♯♭]|sharp|flat)?(m|min)?$", re.I)


def find_scale(question: str) -> str | None:
    """The longest "<root> <type>" phrase of the question that names a scale."""
    from fretcoach_cli.errors import UsageError
    from fretcoach_cli.music.scales import parse_scale

    words = re.findall(r"[A-Za-z#♯♭]+", question.replace("-", " "))
    best: tuple[int, str] | None = None
    for i, word in enumerate(words):
        if not _ROOT.match(word):
            continue
        if word.lower() == "a" and i + 1 < len(words) and words[i + 1].lower() in (
                "scale", "session", "sessions", "lot", "few", "couple", "day", "week",
                "month", "bit", "good", "bad", "plan", "row"):
            continue
        for j in range(min(len(words), i + 5), i + 1, -1):
            text = " ".join(words[i:j])
            if j - i == 1 and not (word[0].isupper() and len(word) > 1):
                continue
            try:
                name = parse_scale(text).display_name
            except (UsageError, ValueError, KeyError):
                continue
            if best is None or j - i > best[0]:
                best = (j - i, name)
            break
    return best[1] if best else None


# --------------------------------------------------------------------------------------------
# Intent rules

_HELP = re.compile(r"^\s*(help|\?+|what can (you|i) (do|answer|ask)|what do you know|"
                   r"what can you tell me|commands|usage|hi|hello|hey|thanks|thank you)\b",
                   re.I)
_PLAN = re.compile(r"\b(what should i (practi[cs]e|play|work on|do)|practi[cs]e next|"
                   r"\bplan\b|recommend|suggest|next session|exercises?|drill|routine)",
                   re.I)
#: a question asking for a new plan, not what the coach said before
_PLAN_ASK = re.compile(r"\bwhat should i\b|\bpracti[cs]e next\b|\bnext session\b|"
                       r"\b(make|give|write|suggest)( me)? an? (new )?plan\b", re.I)
_STREAK = re.compile(r"\bstreaks?\b|in a row|consecutive|every ?day|daily habit", re.I)
_COUNT = re.compile(r"\bhow (many|much|long|often)\b|\btotal|\bnumber of\b|\bcount\b|"
                    r"\bhours?\b|\bminutes\b", re.I)
_LAST = re.compile(rf"\b(last|latest|previous|recent|most recent|newest|past) (?:{_NUM} )?"
                   r"(sessions?|practi[cs]es?|practi[cs]e sessions?|times?|runs?)\b|"
                   r"\b(show|list|display|give)( me)?( all)?( my)? (\w+ ){0,3}sessions\b|"
                   r"\byesterday'?s session\b|\bmy sessions\b", re.I)
_SCALE_RANK = re.compile(r"\b(which|what) (scales?|key)\b|\bscales? (have i|do i|did i|i)\b|"
                         r"\b(best|worst|strongest|weakest|top|favou?rite|most|least|"
                         r"lowest|highest)[- ](scoring |played |practi[cs]ed )?scales?\b",
                         re.I)
_WHY = re.compile(r"\bwhy\b|\bhow (can|do|could|should|would) i (improve|get better|fix|"
                  r"work on|raise|boost|stop)|\bimprove\b|\bweak(est|ness|er)?\b|\bworst\b|"
                  r"\bstruggl|\bproblem|\bbad\b|\bpoor|\blow(er|est)?\b|\bdrop|\bworse\b|"
                  r"\bslipp|\bdeclin|\bfall(ing)?\b|\bsuck|\bterrible|\bwrong with\b|"
                  r"\bneed to (improve|work)|\bfix\b|\bhelp me with\b|\bnot good\b", re.I)
_TREND = re.compile(r"\b(trend|improv|getting better|progress|better|over time|how (is|was|"
                    r"has|are|am)|how'?s|average|mean|doing|level|score|how good|what is my|"
                    r"what's my|tell me about)", re.I)
_SUMMARY = re.compile(r"\bhow (did|do|am|have|was|were|has|is|'?s) (i|my|it|things|the)\b|"
                      r"\bhow'?s (it|my|things|practi[cs]e)|\bprogress|\bsummar|\boverview|"
                      r"\breport\b|\bstat(s|istics)\b|\bimprov|\bgetting better|\btrend|"
                      r"\bbetter\b|\bworse\b|\bover time\b|\brecap\b|\bresults?\b|"
                      r"\bhow .* go(ing)?\b|\bdoing\b|\bperformance\b|\bupdate\b", re.I)
_IMPROVE = re.compile(r"\bhow (can|do|could|should) i (improve|get better)\b", re.I)
_WEAKEST = re.compile(r"\b(weakest|worst|biggest) (area|skill|metric|thing|part|point|"
                      r"weakness|problem)|\bwhat (am i|do i|i'm) (bad|worst|weak)|"
                      r"\bwhere (am i|do i) .*(weak|struggl)|\bwhat should i (improve|fix)\b|"
                      r"\bwhat (to|do i need to) (improve|work on)\b|\bweaknesses\b", re.I)
_SESSION_WORD = r"(?:practi[cs]e )?(?:sessions?|practi[cs]es?|runs?)"
_RANK_WORD = (r"(best|top|strongest|highest[- ]scoring|greatest|worst|weakest|"
              r"lowest[- ]scoring|longest|shortest|biggest|briefest|quickest)")
_SESSION_RANK = re.compile(
    rf"\b{_RANK_WORD}(?: ever| recent| scoring| scored)? {_SESSION_WORD}\b|"
    rf"\b{_SESSION_WORD} (?:was|is|were|has been) (?:my |the )?{_RANK_WORD}\b|"
    rf"\bwhich {_SESSION_WORD} (?:\w+ ){{0,3}}(?:score[sd]? )?(?:the )?"
    rf"(best|worst|highest|lowest|longest|shortest)\b", re.I)
_RANK_INTENT = {"best": "best", "top": "best", "strongest": "best", "highest": "best",
                "greatest": "best", "worst": "worst", "weakest": "worst", "lowest": "worst",
                "longest": "longest", "biggest": "longest", "shortest": "shortest",
                "briefest": "shortest", "quickest": "shortest"}
_MISSED_NOTES = re.compile(
    r"\b(which|what) notes?\b.*\b(miss|missed|missing|wrong|mistakes?|trouble|struggle|"
    r"bad|worst|weakest|sour|problems?|mess(ed)? up|fluff|flub|botch|work on|fail|"
    r"out of tune|off)\b|"
    r"\b(missed|problem|trouble|weak|weakest|worst|sour|bad) notes\b|"
    r"\bnotes? (?:that )?i (?:always |often |usually |keep |most )?(?:miss|get wrong|"
    r"mess up|fluff|flub)|\bmost (?:often )?missed notes?\b|\bnotes to work on\b", re.I)
_COACH_SAID = re.compile(
    r"\b(?:what|which \w+) (?:did|has|have) (?:the |my )?(?:coach|you) "
    r"(?:say|said|tell|told|write|wrote|suggest|suggested|advise|advised|recommend|"
    r"recommended|mention|mentioned|comment|think)\b|"
    r"\b(?:the |my )?coach'?s? (?:last |latest |recent )?(?:replies|reply|tips?|advice|"
    r"feedback|comments?|words|messages?|notes|said|say|told)\b|"
    r"\b(?:your|the) (?:last|latest|recent) (?:replies|tips|advice|feedback|comments)\b"
    r"|\b(?:last|latest|recent) (?:coach )?(?:tips?|advice|feedback)\b", re.I)
_MOST = re.compile(r"\b(most|often|frequent|favou?rite|practi[cs]ed|played)\b", re.I)
_LEAST_PLAYED = re.compile(r"\b(least|rarely|neglect)", re.I)
_BEST = re.compile(r"\b(best|strongest|top|highest|good at)\b", re.I)
_WORST = re.compile(r"\b(worst|weakest|lowest|bad at|struggle)\b", re.I)


def _count_unit(q: str) -> str:
    if re.search(r"\bhours?\b|\bminutes?\b|\bhow (long|much)\b|\btime\b", q):
        return "time"
    if re.search(r"\bnotes?\b", q):
        return "notes"
    if re.search(r"\bdays?\b|\bhow often\b", q):
        return "days"
    return "sessions"


def _counted(q: str) -> int | None:
    """The N of "in my last N sessions", when the question names it."""
    m = re.search(rf"\b(?:last|latest|previous|recent|most recent|past) {_NUM} "
                  r"(?:\w+ )?(?:sessions?|practi[cs]es?|times|runs)\b", q)
    n = _number(m.group(1)) if m else None
    return max(1, min(n, MAX_NOTE_SESSIONS)) if n else None


def _listed(q: str) -> int:
    m = re.search(rf"\b{_NUM} (?:last |latest |previous |recent |most recent )?"
                  r"(?:sessions|practi[cs]es|times|runs)\b", q) or \
        re.search(rf"\b(?:last|latest|previous|recent|most recent|newest|past) {_NUM} "
                  r"(?:\w+ )?(?:sessions?|practi[cs]es?|times|runs)\b", q)
    if m:
        n = _number(m.group(1))
        if n:
            return max(1, min(n, MAX_SESSIONS_LISTED))
    if re.search(r"\b(last|latest|previous|most recent|newest|yesterday'?s) "
                 r"(practi[cs]e )?(session|practi[cs]e|time|run)\b", q):
        return 1
    return DEFAULT_LISTED


def parse(question: str, today: date) -> Query:
    """Read a question (``today``: the user's local date)."""
    q = " ".join(question.lower().replace("’", "'").split())
    if _HELP.search(q):
        return Query("help", "help")
    span = parse_span(q, today)
    metric = find_metric(q)
    scale = find_scale(question)
    if _COACH_SAID.search(q) and not _PLAN_ASK.search(q):  # "the coach's last tips"
        return Query("coach_said", "detail", span=span)
    if _PLAN.search(q) and not re.search(r"\bhow (can|do|could|should) i improve\b", q):
        return Query("plan", "plan", metric=None if metric == "overall_score" else metric,
                     scale=scale)
    if (m := _SESSION_RANK.search(q)) and not re.search(r"\bscales?\b", q):
        word = next(g for g in m.groups() if g).split()[0].split("-")[0]
        return Query(f"{_RANK_INTENT[word]}_session", "detail", span=span, scale=scale,
                     metric=metric)
    if _MISSED_NOTES.search(q) and not re.search(r"\bhow (many|much)\b|\bwhy\b", q):
        return Query("missed_notes", "detail", span=span, count=_counted(q))
    if _STREAK.search(q):
        return Query("streak", "totals", span=span)
    if _COUNT.search(q) and not re.search(r"\bhow (much|long) (better|worse)\b", q):
        return Query("count", "totals", span=span, scale=scale, unit=_count_unit(q))
    if _LAST.search(q):
        n = _listed(q)
        return Query("last_session" if n == 1 else "last_sessions", "last", span=span,
                     count=n, metric=metric)
    if (_SCALE_RANK.search(q) and metric is None) or \
            (re.search(r"\bscales?\b", q) and (_BEST.search(q) or _WORST.search(q) or
                                              _MOST.search(q)) and scale is None):
        if _WORST.search(q):
            return Query("worst_scale", "totals", span=span)
        if _BEST.search(q):
            return Query("best_scale", "totals", span=span)
        if _LEAST_PLAYED.search(q):
            return Query("least_practised_scale", "totals", span=span)
        return Query("most_practised_scale", "totals", span=span)
    if (metric is None and _IMPROVE.search(q)) or _WEAKEST.search(q) or \
            (metric is None and _WHY.search(q) and not _SUMMARY.search(q)):
        return Query("weakest", "weakest", span=span, scale=scale)
    if metric is not None and _WHY.search(q):
        return Query(f"why_{METRICS[metric][0]}", "weakest", span=span, metric=metric,
                     scale=scale)
    if metric is not None and (_TREND.search(q) or span is not None):
        return Query(f"trend_{METRICS[metric][0]}", "progress", span=span, metric=metric,
                     scale=scale)
    if scale is not None and (_TREND.search(q) or _SUMMARY.search(q) or span is not None
                              or re.search(r"\b(on|with|in|at|about)\b", q)):
        return Query("scale_detail", "progress", span=span, scale=scale)
    if _SUMMARY.search(q) or span is not None:
        key = span.key if span is not None else "all"
        return Query(f"summary_{key}", "progress", span=span, scale=scale)
    return Query("help", "unknown")
