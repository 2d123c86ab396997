"""Scales: the type table, the ``Scale`` value and free-text parsing ("a min pent", "Bb dorian").

A scale type is a list of semitone intervals plus degree labels ("1 b3 4 5 b7"). The labels
do double duty: they are what a guitarist reads, and they decide the spelling of each note
(degree 3 of Bb major is a D-letter note, so it is "D", and b3 of F# blues is an A-letter
note, so it is "A", never "G##"), which keeps Bb major as Bb C D Eb F G A.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace

from fretcoach_cli.errors import UsageError
from fretcoach_cli.music import notes


@dataclass(frozen=True, slots=True)
class ScaleType:
    """One entry of the scale table."""

    key: str
    name: str
    intervals: tuple[int, ...]
    degree_labels: tuple[str, ...]
    aliases: tuple[str, ...]
    example_root: str = "C"
    description: str = ""

    @property
    def size(self) -> int:
        return len(self.intervals)


def _t(key: str, name: str, intervals: str, labels: str, aliases: str, root: str = "C",
       description: str = "") -> ScaleType:
    ivs = tuple(int(x) for x in intervals.split())
    labs = tuple(labels.split())
    assert len(ivs) == len(labs), key
    return ScaleType(key, name, ivs, labs, tuple(a.strip() for a in aliases.split(",")),
                     root, description)


#: The supported scale types, in the order `fretcoach scales` lists them.
SCALE_TYPES: tuple[ScaleType, ...] = (
    _t("major", "major", "0 2 4 5 7 9 11", "1 2 3 4 5 6 7",
       "major, ionian, maj, major scale, diatonic major", "C", "the do-re-mi scale"),
    _t("natural_minor", "natural minor", "0 2 3 5 7 8 10", "1 2 b3 4 5 b6 b7",
       "minor, natural minor, aeolian, min, m, nat min", "A", "relative minor of major"),
    _t("minor_pentatonic", "minor pentatonic", "0 3 5 7 10", "1 b3 4 5 b7",
       "minor pentatonic, min pent, m pent, minor pent, pentatonic minor, pentatonic, pent, "
       "m pentatonic, min pentatonic", "A", "the rock/blues box shape"),
    _t("major_pentatonic", "major pentatonic", "0 2 4 7 9", "1 2 3 5 6",
       "major pentatonic, maj pent, major pent, pentatonic major, maj pentatonic",
       "E", "country and pop"),
    _t("blues", "blues", "0 3 5 6 7 10", "1 b3 4 b5 5 b7",
       "blues, minor blues, blues scale, min blues, hexatonic blues",
       "A", "minor pentatonic plus the b5 'blue note'"),
    _t("major_blues", "major blues", "0 2 3 4 7 9", "1 2 b3 3 5 6",
       "major blues, maj blues", "G", "major pentatonic plus the b3"),
    _t("dorian", "dorian", "0 2 3 5 7 9 10", "1 2 b3 4 5 6 b7",
       "dorian, dorian mode", "D", "minor with a major 6th"),
    _t("phrygian", "phrygian", "0 1 3 5 7 8 10", "1 b2 b3 4 5 b6 b7",
       "phrygian, phrygian mode", "E", "minor with a b2"),
    _t("lydian", "lydian", "0 2 4 6 7 9 11", "1 2 3 #4 5 6 7",
       "lydian, lydian mode", "F", "major with a #4"),
    _t("mixolydian", "mixolydian", "0 2 4 5 7 9 10", "1 2 3 4 5 6 b7",
       "mixolydian, mixo, dominant, mixolydian mode", "G", "major with a b7"),
    _t("locrian", "locrian", "0 1 3 5 6 8 10", "1 b2 b3 4 b5 b6 b7",
       "locrian, locrian mode", "B", "the half-diminished mode"),
    _t("harmonic_minor", "harmonic minor", "0 2 3 5 7 8 11", "1 2 b3 4 5 b6 7",
       "harmonic minor, harm min, harmonic min, harm minor, harmonic", "A",
       "natural minor with a raised 7th"),
    _t("melodic_minor", "melodic minor", "0 2 3 5 7 9 11", "1 2 b3 4 5 6 7",
       "melodic minor, mel min, melodic min, jazz minor, mel minor, melodic", "A",
       "ascending form: minor with raised 6th and 7th"),
    _t("phrygian_dominant", "phrygian dominant", "0 1 4 5 7 8 10", "1 b2 3 4 5 b6 b7",
       "phrygian dominant, spanish phrygian, phrygian major, freygish, spanish", "E",
       "5th mode of harmonic minor; flamenco and metal"),
    _t("lydian_dominant", "lydian dominant", "0 2 4 6 7 9 10", "1 2 3 #4 5 6 b7",
       "lydian dominant, lydian b7, acoustic, overtone", "C", "4th mode of melodic minor"),
    _t("hungarian_minor", "hungarian minor", "0 2 3 6 7 8 11", "1 2 b3 #4 5 b6 7",
       "hungarian minor, gypsy minor, double harmonic minor", "A",
       "harmonic minor with a #4"),
    _t("whole_tone", "whole tone", "0 2 4 6 8 10", "1 2 3 #4 #5 b7",
       "whole tone, wholetone, whole step, augmented", "C", "six whole steps"),
    _t("diminished_hw", "half-whole diminished", "0 1 3 4 6 7 9 10", "1 b2 #2 3 #4 5 6 b7",
       "half whole diminished, half whole, dominant diminished, hw diminished, octatonic",
       "G", "over dominant 7b9 chords"),
    _t("diminished_wh", "whole-half diminished", "0 2 3 5 6 8 9 11", "1 2 b3 4 b5 b6 6 7",
       "whole half diminished, whole half, diminished, dim, wh diminished", "C",
       "over diminished 7th chords"),
    _t("chromatic", "chromatic", "0 1 2 3 4 5 6 7 8 9 10 11",
       "1 b2 2 b3 3 4 #4 5 b6 6 b7 7", "chromatic, chromatic scale, all", "C",
       "all twelve notes"),
)

# Symmetric scales belong to no key, so E#/B#/Cb/Fb there are pedantry: name them F/C/B/E.
_SYMMETRIC = frozenset({"whole_tone", "diminished_hw", "diminished_wh"})
_WHITE_KEY_ODDITIES = frozenset({"E#", "B#", "Cb", "Fb"})

SCALE_TYPES_BY_KEY: dict[str, ScaleType] = {t.key: t for t in SCALE_TYPES}


# --------------------------------------------------------------------------------------------
# Custom scales: an interval spelling after a root, "D 1 b3 4 #4 5 b7"

CUSTOM_KEY = "custom"
#: semitones of the degrees 1–7 of the major scale; 8–13 repeat them an octave up
_MAJOR_SEMITONES = (0, 2, 4, 5, 7, 9, 11)
_DEGREE_RE = re.compile(r"([#b]{0,2})([0-9]{1,2})")
_SPELLING_HINT = "write degrees 1–13 with an optional b or #, e.g. 'D 1 b3 4 #4 5 b7'"


def custom_type_name(intervals: tuple[int, ...]) -> str:
    """The stored scale type of a custom scale: "custom" plus its semitone set spelled with one
    fixed label per semitone (1 b2 2 b3 3 4 #4 5 b6 6 b7 7). So "1 b3 4 #4 5 b7" and
    "1 b3 4 b5 5 b7" (the same notes) are one type in stats and history."""
    chromatic = SCALE_TYPES_BY_KEY["chromatic"].degree_labels
    return CUSTOM_KEY + " " + " ".join(chromatic[i] for i in intervals)


def parse_spelling(text: str) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """"1 b3 4 #4 5 b7" → (semitones, labels), sorted by semitone, the root added if missing.

    Raises UsageError naming the first bad token: not a degree, a degree beyond 13, an
    accidental on the root, or two degrees on one semitone (#4 and b5)."""
    original = " ".join(str(text).split())
    tokens = notes.fold_accidentals(original).replace(",", " ").split()
    by_semitone: dict[int, str] = {0: "1"}
    written: dict[int, str] = {}
    for token in tokens:
        m = _DEGREE_RE.fullmatch(token)
        degree = int(m.group(2)) if m else 0
        if m is None or not 1 <= degree <= 13:
            raise UsageError(f"bad scale degree {token!r} in {original!r}", hint=_SPELLING_HINT)
        acc = m.group(1)
        semis = (_MAJOR_SEMITONES[(degree - 1) % 7] + notes.accidental_offset(acc)) % 12
        if degree in (1, 8) and acc:
            raise UsageError(f"bad scale degree {token!r} in {original!r}: the root takes no "
                             "accidental", hint=_SPELLING_HINT)
        if semis in written:
            raise UsageError(f"scale degrees {written[semis]!r} and {token!r} are the same note "
                             f"in {original!r}", hint="keep one of them")
        written[semis] = token
        by_semitone[semis] = f"{acc}{degree}" if semis else "1"
    if len(by_semitone) < 2:
        raise UsageError(f"scale {original!r} needs at least two degrees", hint=_SPELLING_HINT)
    order = sorted(by_semitone)
    return tuple(order), tuple(by_semitone[i] for i in order)


def _looks_like_spelling(text: str) -> bool:
    """Whether a type phrase is meant as an interval spelling: it starts with a degree such
    as '1' or 'b3', or most of its words are degrees ("minor 7" is a misspelt name)."""
    tokens = text.replace(",", " ").split()
    degrees = sum(bool(_DEGREE_RE.fullmatch(t)) for t in tokens)
    return bool(tokens) and (bool(_DEGREE_RE.fullmatch(tokens[0])) or degrees > len(tokens) / 2)


def _user_scale(type_norm: str) -> tuple[str, str] | None:
    """(name, spelling) of the config's user scale whose name reads as ``type_norm``."""
    from fretcoach_cli import config

    for name, spelling in config.user_scales().items():
        if _normalize_type(name) == type_norm and type_norm:
            return name, spelling
    return None


def _label_parts(label: str) -> tuple[int, int]:
    """("b3") → (degree number 3, accidental −1)."""
    m = re.fullmatch(r"([#b]*)(\d+)", label)
    assert m, label
    return int(m.group(2)), notes.accidental_offset(m.group(1))


def _spell(root_name: str, semitones: int, label: str) -> str | None:
    """Letter-correct spelling of the note ``label`` above ``root_name`` (None if it needs a
    double accidental, which guitarists do not read: the caller falls back to plain names)."""
    degree, _ = _label_parts(label)
    root_letter = root_name[0]
    root_pc = (notes.LETTER_PC[root_letter] + notes.accidental_offset(root_name[1:])) % 12
    letter = notes.LETTERS[(notes.LETTERS.index(root_letter) + degree - 1) % 7]
    target = (root_pc + semitones) % 12
    diff = (target - notes.LETTER_PC[letter]) % 12
    if diff > 6:
        diff -= 12
    if diff == 0:
        return letter
    if diff == 1:
        return letter + "#"
    if diff == -1:
        return letter + "b"
    return None


@dataclass(frozen=True, slots=True)
class Scale:
    """A concrete scale: a root plus a scale type, with names spelled for that key."""

    root_pc: int
    root_name: str
    type_key: str
    type_name: str
    intervals: tuple[int, ...]
    degree_labels: tuple[str, ...]
    #: the config name of a user scale ("my blues"); display only, never stored
    alias: str = ""

    @classmethod
    def from_parts(cls, root: str, type_key: str) -> Scale:
        """Build from a root spelling ("Bb", "f♯") and a canonical type key ("dorian")."""
        try:
            stype = SCALE_TYPES_BY_KEY[type_key]
        except KeyError:
            raise UsageError(f"unknown scale type {type_key!r}") from None
        name = notes.normalize_note_name(root)
        return cls(notes.parse_pitch_class(name), name, stype.key, stype.name,
                   stype.intervals, stype.degree_labels)

    @classmethod
    def custom(cls, root: str, spelling: str, *, alias: str = "") -> Scale:
        """A scale from an interval spelling ("1 b3 4 #4 5 b7") after ``root``.

        An interval set equal to a built-in type *is* that type ("1 b3 4 5 b7" → minor
        pentatonic), so one scale never gets two names. Otherwise the type is "custom" and
        its stored name is :func:`custom_type_name` of the set (see there)."""
        intervals, labels = parse_spelling(spelling)
        for stype in SCALE_TYPES:
            if stype.intervals == intervals:
                return replace(cls.from_parts(root, stype.key), alias=alias)
        name = notes.normalize_note_name(root)
        return cls(notes.parse_pitch_class(name), name, CUSTOM_KEY, custom_type_name(intervals),
                   intervals, labels, alias)

    @property
    def is_custom(self) -> bool:
        return self.type_key == CUSTOM_KEY

    @property
    def spelling(self) -> str:
        """The degree labels as one string: "1 b3 4 #4 5 b7"."""
        return " ".join(self.degree_labels)

    @property
    def display_name(self) -> str:
        """"A minor pentatonic"; a custom scale is its root and spelling ("D 1 b3 4 #4 5 b7"),
        which parse_scale reads back without the config (sessions store this name)."""
        if self.is_custom:
            return f"{self.root_name} {self.spelling}"
        return f"{self.root_name} {self.type_name}"

    @property
    def size(self) -> int:
        return len(self.intervals)

    @property
    def pitch_classes(self) -> tuple[int, ...]:
        return tuple((self.root_pc + i) % 12 for i in self.intervals)

    @property
    def prefer_flats(self) -> bool:
        """Whether notes outside the scale (and the chromatic scale) are named with flats.

        Follows the key signature of the root's major key (F, Bb, Eb… use flats), and a
        flat root always prefers flats, a sharp root sharps.
        """
        return _prefers_flats(self.root_name)

    def degree_of(self, pc: int | None) -> int | None:
        """1-based scale degree of a pitch class, or None when it is not in the scale."""
        if pc is None:
            return None
        rel = (int(pc) - self.root_pc) % 12
        try:
            return self.intervals.index(rel) + 1
        except ValueError:
            return None

    def contains(self, pc: int | None) -> bool:
        return self.degree_of(pc) is not None

    def degree_label(self, pc: int | None) -> str | None:
        """Degree label of a pitch class ("b3", "5"); None when outside the scale."""
        d = self.degree_of(pc)
        return None if d is None else self.degree_labels[d - 1]

    def interval_label(self, pc: int) -> str:
        """Label of any pitch class relative to the root (out-of-scale ones too): "b6"."""
        chromatic = SCALE_TYPES_BY_KEY["chromatic"].degree_labels
        inside = self.degree_label(pc)
        return inside if inside is not None else chromatic[(int(pc) - self.root_pc) % 12]

    def note_names(self) -> tuple[str, ...]:
        """The scale's notes spelled for this key: Bb major → Bb C D Eb F G A."""
        return _spelled_names(self.root_name, self.type_key, self.intervals,
                              self.degree_labels)

    def name_of(self, pc: int) -> str:
        """Name of any pitch class in this key's spelling (in-scale notes as the scale spells
        them, others with the key's sharps or flats)."""
        d = self.degree_of(pc)
        if d is not None:
            return self.note_names()[d - 1]
        return notes.pc_name(pc, self.prefer_flats)

    def note_name(self, midi: float) -> str:
        """Name with octave in this key's spelling; the octave follows the letter (B#3 = C4)."""
        n = int(round(midi))  # noqa: RUF046 (numpy floats round to floats)
        name = self.name_of(n % 12)
        offset = notes.accidental_offset(name[1:])
        return f"{name}{notes.octave_of(n - offset)}"

    def example(self) -> str:
        """"A minor pentatonic: A C D E G"."""
        return f"{self.display_name}: {' '.join(self.note_names())}"


@functools.lru_cache(maxsize=64)
def _prefers_flats(root_name: str) -> bool:
    if "b" in root_name[1:]:
        return True
    if "#" in root_name[1:]:
        return False
    major = SCALE_TYPES_BY_KEY["major"]
    spelled = [_spell(root_name, s, lab)
               for s, lab in zip(major.intervals, major.degree_labels, strict=True)]
    return any(n is not None and n.endswith("b") for n in spelled)


@functools.lru_cache(maxsize=512)
def _spelled_names(root_name: str, type_key: str, intervals: tuple[int, ...],
                   labels: tuple[str, ...]) -> tuple[str, ...]:
    flats = _prefers_flats(root_name)
    root_pc = notes.parse_pitch_class(root_name)
    pcs = [(root_pc + i) % 12 for i in intervals]
    if type_key == "chromatic":
        return tuple(notes.pc_name(pc, flats) for pc in pcs)
    out = []
    for semis, label, pc in zip(intervals, labels, pcs, strict=True):
        name = _spell(root_name, semis, label) or notes.pc_name(pc, flats)
        if type_key in _SYMMETRIC and name in _WHITE_KEY_ODDITIES:
            name = notes.pc_name(pc)  # E# → F in a scale that has no key signature
        out.append(name)
    return tuple(out)


# --------------------------------------------------------------------------------------------
# Parsing free text

# Word-level synonyms applied before looking a type phrase up.
_TOKEN_SYNONYMS = {
    "min": "minor", "mi": "minor", "m": "minor", "moll": "minor",
    "maj": "major", "ma": "major", "dur": "major",
    "pent": "pentatonic", "penta": "pentatonic", "pentatonics": "pentatonic",
    "nat": "natural", "harm": "harmonic", "mel": "melodic", "dom": "dominant",
    "dim": "diminished", "mixo": "mixolydian", "ion": "ionian", "aeol": "aeolian",
    "dor": "dorian", "phryg": "phrygian", "lyd": "lydian", "loc": "locrian",
    "chrom": "chromatic", "hw": "half whole", "wh": "whole half",
}
_NOISE_WORDS = {"scale", "mode", "the", "in", "key", "of"}

_ROOT_RE = re.compile(r"^\s*([A-Za-z])([#bx]*)(.*)$", re.S)

# QWERTY neighbours of non-note letters, for root typo suggestions (and German H = B).
_KEY_NEIGHBOURS = {
    "h": "bg", "q": "a", "w": "ae", "s": "ad", "z": "a", "x": "cd", "v": "cbf", "n": "b",
    "r": "edf", "t": "gf", "y": "g", "u": "", "i": "", "o": "", "p": "", "j": "", "k": "",
    "l": "", "m": "",
}


def _alias_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for stype in SCALE_TYPES:
        for alias in (stype.name, *stype.aliases):
            table[_normalize_type(alias)] = stype.key
    table[""] = "major"
    return table


def _normalize_type(text: str) -> str:
    text = text.lower().replace("-", " ").replace("_", " ").replace("/", " ")
    text = re.sub(r"[^a-z0-9# ]", " ", text)
    words = []
    for word in text.split():
        if word in _NOISE_WORDS:
            continue
        words.extend(_TOKEN_SYNONYMS.get(word, word).split())
    return " ".join(words)


_ALIASES: dict[str, str] | None = None


def _aliases() -> dict[str, str]:
    global _ALIASES
    if _ALIASES is None:
        _ALIASES = _alias_table()
    return _ALIASES


def _vocabulary() -> list[str]:
    return sorted({w for phrase in _aliases() for w in phrase.split()})


def _close_types(type_text: str, limit: int = 3) -> list[str]:
    """Canonical type keys close to a misspelt type phrase, best first.

    Each word is first repaired against the vocabulary of all aliases ("pentatnic" →
    "pentatonic"), then whole phrases are compared; only candidates scoring near the best
    one are kept, so a clear typo gets one suggestion rather than a list of look-alikes.
    """
    import difflib

    norm = _normalize_type(type_text)
    aliases = _aliases()
    scores: dict[str, float] = {}

    def offer(key: str, score: float) -> None:
        scores[key] = max(scores.get(key, 0.0), score)

    vocab = _vocabulary()
    fixed = []
    for word in norm.split():
        match = difflib.get_close_matches(word, vocab, n=1, cutoff=0.6)
        fixed.append(match[0] if match else word)
    phrase = " ".join(fixed)
    if phrase in aliases:
        offer(aliases[phrase], 1.0)
    for alias, key in aliases.items():
        if alias:
            best = max(difflib.SequenceMatcher(None, norm, alias).ratio(),
                       difflib.SequenceMatcher(None, phrase, alias).ratio())
            if best >= 0.6:
                offer(key, best)
    if not scores and phrase:
        # Every word known but in an unknown combination: scales sharing the most words.
        words = set(phrase.split())
        for alias, key in aliases.items():
            overlap = len(words & set(alias.split()))
            if overlap:
                offer(key, 0.5 + 0.1 * overlap - 0.001 * len(alias))
    if not scores:
        return []
    top = max(scores.values())
    ranked = sorted(scores, key=lambda k: -scores[k])
    return [k for k in ranked if scores[k] >= top - 0.08][:limit]


def _close_roots(letter: str) -> list[str]:
    return [c.upper() for c in _KEY_NEIGHBOURS.get(letter.lower(), "")]


def _split_root(text: str) -> tuple[str, str] | None:
    """("Bb", " dorian") from "Bb dorian"; None if the text does not start with a letter.

    A "b" right after the letter is ambiguous ("Bbm" is B-flat minor, "Ablues" is A blues),
    so the longest accidental reading whose remainder is a known scale type wins; when none
    is known the longest reading is returned for the error message.
    """
    m = _ROOT_RE.match(text)
    if not m:
        return None
    letter, acc, rest = m.group(1), m.group(2), m.group(3)
    aliases = _aliases()
    for k in range(len(acc), -1, -1):
        candidate_rest = acc[k:] + rest
        if _normalize_type(candidate_rest) in aliases:
            return letter + acc[:k], candidate_rest
    return letter + acc, rest


def parse_scale(text: str) -> Scale:
    """Parse free text such as "A minor pentatonic", "a min pent", "Am", "Bb major",
    "F♯ blues", "E flat dorian", an interval spelling "D 1 b3 4 #4 5 b7", or a root plus the
    name of a user scale from the config's ``[scales]`` table ("D my blues") into a Scale.

    A bare root is major ("C"); a root with "m" is natural minor ("Am"); "pentatonic" alone
    means minor pentatonic, the one guitarists mean by "the pentatonic". Unknown input raises
    UsageError whose one line lists close matches for typos in the root or the type.
    """
    original = " ".join(str(text).split())
    if not original:
        raise UsageError("empty scale name", hint="e.g. 'A minor pentatonic' or 'Bb major'")
    folded = notes.fold_accidentals(original)
    split = _split_root(folded)
    if split is None:
        raise UsageError(f"unknown scale {original!r}",
                         hint="start with a root note A–G, e.g. 'A minor pentatonic'")
    root_text, rest = split
    type_norm = _normalize_type(rest)
    aliases = _aliases()
    type_key = aliases.get(type_norm)

    root_ok = root_text[0].upper() in notes.LETTERS
    if not root_ok:
        # Maybe there is no root at all: "minor pentatonic".
        whole = _normalize_type(folded)
        if whole in aliases and whole:
            stype = SCALE_TYPES_BY_KEY[aliases[whole]]
            raise UsageError(f"scale {original!r} has no root note",
                             hint=f"did you mean: {stype.example_root} {stype.name}?")
        roots = _close_roots(root_text[0])
        types = [type_key] if type_key else _close_types(rest)
        suggestions = [f"{r}{root_text[1:]} {SCALE_TYPES_BY_KEY[k].name}"
                       for r in roots for k in (types or ["major"])][:3]
        raise UsageError(f"unknown root note {root_text!r} in {original!r}",
                         hint=_hint(suggestions, "roots are A–G with optional # or b"))
    try:
        root_name = notes.normalize_note_name(root_text)
    except UsageError:
        raise UsageError(f"unknown root note {root_text!r} in {original!r}",
                         hint="roots are A–G with at most two sharps or flats") from None
    if type_key is None and _looks_like_spelling(rest):
        return Scale.custom(root_name, rest)
    if type_key is None:
        user = _user_scale(type_norm)
        if user is not None:
            try:
                return Scale.custom(root_name, user[1], alias=user[0])
            except UsageError as err:
                raise UsageError(f"user scale {user[0]!r} (config [scales]): {err.message}",
                                 hint=err.hint) from None
    if type_key is None:
        types = _close_types(rest)
        suggestions = [f"{root_name} {SCALE_TYPES_BY_KEY[k].name}" for k in types]
        raise UsageError(f"unknown scale {original!r}",
                         hint=_hint(suggestions, "run 'fretcoach scales' for the list"))
    return Scale.from_parts(root_name, type_key)


def _hint(suggestions: list[str], fallback: str) -> str:
    if suggestions:
        return "did you mean: " + ", ".join(suggestions) + "?"
    return fallback


def scale_types() -> tuple[ScaleType, ...]:
    return SCALE_TYPES


def example_scale(stype: ScaleType) -> Scale:
    return Scale.from_parts(stype.example_root, stype.key)
