"""The offline model's tool arguments: schema-valid values, taken from the prompt by meaning.

A parameter first looks for a value that means what it asks for:

- a path or file parameter (`path`, `file`, `folder`, ...) takes a file-like word of the
  prompt (`README.md`, `docs/notes.txt`, `./src`);
- a date (`format: date`; a name such as `date`, `start` or `end`; "YYYY-MM-DD" or "ISO 8601
  date" in its description) takes an ISO date (`2025-03-14`) or a written one ("March 14,
  2025", "14 March 2025"); a time (`format: time`, a name with "time", or "HH:MM" in its
  description) takes an `HH:MM` time; a `date-time` takes both (midnight when no time is
  given), in UTC;
- an `enum` takes the enum value the prompt names (whole word, any case), in prompt order;
- a number goes to the parameter whose name shares a word with the word right after it
  ("90 minutes" -> `duration_minutes`).

Optional parameters are filled only by such a match (else their default applies). Required
ones then fall back, in order, to: the schema's default, its first enum value or const; for
numbers, the prompt's numbers in order (else the minimum, else 1); for strings, quoted
text, arithmetic, capitalised words inside a sentence, then the whole prompt (`.` for a
path of a listing tool). A date with none in the prompt is 2024-01-01, a time 00:00.
Nothing else is invented, and every value stays valid for its schema.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from typing import Any

__all__ = ["Candidates", "name_words", "schema_instance", "stem", "words"]

_WORD = re.compile(r"[a-z0-9]+")
_QUOTED = re.compile(r"\"([^\"]+)\"|'([^']+)'|“([^”]+)”")
_NUMBER = re.compile(r"(?<![\w.])(-?\d+(?:\.\d+)?)(?![\w.])(?:\s*([A-Za-z]+))?")
_EXPRESSION = re.compile(r"[-+(]*\d[\d.\s]*(?:[-+*/^%]+[\s(]*[-+]?\d[\d.\s)]*)+")
# Capitalised words inside a sentence (names, places), not the first word of one.
_CAPITALISED = re.compile(r"(?<=[a-z0-9,;:] )[A-Z][a-zA-Z]+(?:[ ,]+[A-Z][a-zA-Z]+)*")
_FILE_LIKE = re.compile(r"^(?:\.{1,2}/\S*|~/\S*|/\S*[A-Za-z]\S*|\S*\w\.[A-Za-z]\w{0,7})$")
_NOT_FILES = frozenset({"e.g", "i.e"})
_ISO_DATE = re.compile(r"(?<![\d-])(\d{4})-(\d{2})-(\d{2})(?!\d)")
_MONTH_PREFIXES = "jan feb mar apr may jun jul aug sep oct nov dec".split()  # noqa: SIM905
# A month by name or abbreviation; `_month` maps it to its number.
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_MONTH_FIRST = re.compile(
    rf"\b(?P<month>{_MONTH})\.?\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<year>\d{{4}})\b",
    re.IGNORECASE,
)
_DAY_FIRST = re.compile(
    rf"\b(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<month>{_MONTH})\.?,?\s+"
    r"(?P<year>\d{4})\b",
    re.IGNORECASE,
)
_TIME = re.compile(r"(?<![\d:])([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?(?![\d:])")
_STOP = frozenset(
    (  # noqa: SIM905 - a word list reads best as words
        "a an and are as at be by can do does for from get give how i in is it me my of on or "
        "please show tell the this to use what when where which who with you your"
    ).split()
)
_PATH_WORDS = frozenset({"path", "file", "filename", "dir", "directory", "folder"})
_DATE_WORDS = frozenset({"date", "day", "start", "end", "since", "until"})
_LIST_WORDS = frozenset({"list", "ls"})
FALLBACK_DATE = date(2024, 1, 1)


def stem(word: str) -> str:
    """A crude singular: `files` -> `file`, `minutes` -> `minute` (not `class`, not `is`)."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def words(text: str) -> set[str]:
    """The meaningful words of a text: lower case, singular, no stop words or short ones."""
    return {stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 2}


def name_words(name: str) -> set[str]:
    """The words of an identifier: `duration_minutes` -> {duration, minute}."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ").replace("-", " ")
    return {stem(w) for w in _WORD.findall(spaced.lower())}


@dataclass
class _Number:
    value: float
    after: str  # the word right after the number, lower case and singular ("" when none)
    owner: str | None = None  # the parameter whose name matches `after`, once reserved
    taken: bool = False


def _files(text: str) -> tuple[list[str], str]:
    """The file-like words of `text` (`README.md`, `./src`), and the text without them."""
    tokens: list[str] = []

    def take(match: re.Match[str]) -> str:
        token = match[0].strip("\"'“”‘’`()[]{}<>,;!?").rstrip(".:")
        odd = token in _NOT_FILES or "://" in token or "@" in token  # e.g., URLs, e-mail
        if not token or odd or not _FILE_LIKE.match(token):
            return match[0]
        tokens.append(token)
        return " " * len(match[0])

    return tokens, re.sub(r"\S+", take, text)


def _blank(match: re.Match[str]) -> str:
    """Spaces as long as the match: what follows keeps its position."""
    return " " * len(match[0])


def _month(name: str) -> int:
    return _MONTH_PREFIXES.index(name.lower()[:3]) + 1


def _date(year: str, month: int, day: str) -> date | None:
    try:
        return date(int(year), month, int(day))
    except ValueError:  # February 30th and the like: not a date
        return None


def _dates(text: str) -> tuple[list[date], str]:
    """The valid dates in `text` in the order they appear, and the text without them."""
    found: list[tuple[int, date | None]] = []
    for written in (_MONTH_FIRST, _DAY_FIRST):
        for m in written.finditer(text):
            found.append((m.start(), _date(m["year"], _month(m["month"]), m["day"])))
        text = written.sub(_blank, text)
    for m in _ISO_DATE.finditer(text):
        found.append((m.start(), _date(m[1], int(m[2]), m[3])))
    dates = [d for _, d in sorted(found, key=lambda pair: pair[0]) if d is not None]
    return dates, _ISO_DATE.sub(_blank, text)


class Candidates:
    """Values found in the prompt, handed out to the parameters that want them.

    Args:
        prompt: The user's prompt.
        tool: The name of the tool being called (a listing tool's path defaults to ".").
    """

    def __init__(self, prompt: str, tool: str = "") -> None:
        self.prompt = prompt.strip()
        self.listing = bool(name_words(tool) & _LIST_WORDS)
        quoted = [next(g for g in m.groups() if g) for m in _QUOTED.finditer(prompt)]
        files, rest = _files(_QUOTED.sub(" ", prompt))
        self.files = [q for q in quoted if _files(q)[0] == [q]] + files
        # Dates and times count inside quotes too ('"Kickoff on 2025-03-14"').
        self.dates = _dates(prompt)[0]
        self.times = [
            f"{int(m[1]):02d}:{m[2]}" + (f":{m[3]}" if m[3] else "") for m in _TIME.finditer(prompt)
        ]
        rest = _TIME.sub(" ", _dates(rest)[1])
        expressions = [e.strip() for e in _EXPRESSION.findall(rest)]
        rest = _EXPRESSION.sub(" ", rest)
        self.numbers = [_Number(float(v), stem(w.lower())) for v, w in _NUMBER.findall(rest)]
        self.strings = quoted + expressions + _CAPITALISED.findall(rest)
        self._enum_spans: set[int] = set()

    def string(self) -> str | None:
        return self.strings.pop(0) if self.strings else None

    def take_file(self) -> str | None:
        if not self.files:
            return None
        token = self.files.pop(0)
        self.strings = [s for s in self.strings if s != token]
        return token

    def take_date(self) -> date | None:
        return self.dates.pop(0) if self.dates else None

    def take_time(self) -> str | None:
        return self.times.pop(0) if self.times else None

    def reserve(self, names: Iterable[str]) -> None:
        """Set aside each number for the parameter named by the word after it."""
        for name in names:
            wanted = name_words(name)
            for number in self.numbers:
                if number.owner is None and not number.taken and number.after in wanted:
                    number.owner = name
                    break

    def number_for(self, name: str) -> float | None:
        """A number the prompt gives for this parameter by name ("90 minutes"), if any."""
        wanted = name_words(name)
        for number in self.numbers:
            if not number.taken and (
                number.owner == name or (number.owner is None and number.after in wanted)
            ):
                number.taken = True
                return number.value
        return None

    def number(self, name: str = "") -> float | None:
        """The number for this parameter by name, else the next one no other name claims."""
        by_name = self.number_for(name)
        if by_name is not None:
            return by_name
        for number in self.numbers:
            if not number.taken and number.owner is None:
                number.taken = True
                return number.value
        return None

    def enum_value(self, values: Iterable[Any]) -> Any:
        """The first enum value the prompt names (whole word, any case); None when none."""
        spans = []
        for value in values:
            if isinstance(value, str) and len(value.strip()) >= 2:
                pattern = rf"(?<!\w){re.escape(value)}(?!\w)"
                spans += [(m.start(), value) for m in re.finditer(pattern, self.prompt, re.I)]
        for start, value in sorted(spans, key=lambda span: span[0]):
            if start not in self._enum_spans:
                self._enum_spans.add(start)
                self.strings = [s for s in self.strings if s.lower() != value.lower()]
                return value
        return None


_NONE: Any = object()  # no value by meaning


def _wants(schema: Mapping[str, Any], name: str) -> str | None:
    """What a string parameter asks for: "date-time", "date", "time", "path" or None."""
    fmt = schema.get("format")
    if fmt in ("date", "date-time", "time"):
        return str(fmt)
    named = name_words(name)
    description = str(schema.get("description", ""))
    if "time" in named or "HH:MM" in description:
        return "time"
    if named & _DATE_WORDS or "YYYY-MM-DD" in description or "ISO 8601 date" in description:
        return "date"
    if named & _PATH_WORDS:
        return "path"
    return None


def _string_by_meaning(schema: Mapping[str, Any], found: Candidates, name: str) -> Any:
    wanted = _wants(schema, name)
    value: Any = None
    if wanted == "date":
        day = found.take_date()
        value = day.isoformat() if day else None
    elif wanted == "time":
        value = found.take_time()
    elif wanted == "date-time":
        day = found.take_date()
        if day is not None:
            clock = time.fromisoformat(found.take_time() or "00:00")
            value = datetime.combine(day, clock, timezone.utc).isoformat()
    elif wanted == "path":
        value = found.take_file()
    return value if value is not None and _fits(schema, value) else _NONE


def _fits(schema: Mapping[str, Any], text: str) -> bool:
    """Whether a string meets the schema's length and pattern (else it is not used)."""
    if len(text) < schema.get("minLength", 0) or len(text) > schema.get("maxLength", len(text)):
        return False
    pattern = schema.get("pattern")
    try:
        return pattern is None or re.search(pattern, text) is not None
    except re.error:  # a pattern Python does not read: do not guess
        return False


def _by_meaning(schema: Mapping[str, Any], found: Candidates, name: str) -> Any:
    """A value the prompt gives for this parameter by what it means; `_NONE` when none."""
    if "enum" in schema:
        value = found.enum_value(schema["enum"])
        return _NONE if value is None else value
    if "const" in schema:
        return _NONE
    for key in ("anyOf", "oneOf"):
        for option in schema.get(key, ()):
            if option.get("type") != "null":
                # The description sits beside anyOf, not inside its options.
                described = {"description": schema.get("description", ""), **option}
                value = _by_meaning(described, found, name)
                if value is not _NONE:
                    return value
    kind = _kind(schema)
    if kind == "string":
        return _string_by_meaning(schema, found, name)
    if kind in ("integer", "number"):
        number = found.number_for(name)
        return _NONE if number is None else _number_in_range(schema, number, kind == "integer")
    return _NONE


def _numeric(schema: Mapping[str, Any]) -> bool:
    options = [schema, *schema.get("anyOf", ()), *schema.get("oneOf", ())]
    return any(_kind(option) in ("integer", "number") for option in options)


def _kind(schema: Mapping[str, Any]) -> Any:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    return kind


def _number_in_range(schema: Mapping[str, Any], value: float | None, integer: bool) -> float:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    if value is None:
        value = low if low is not None else 1
    if low is not None and value < low:
        value = low + (1 if "exclusiveMinimum" in schema else 0)
    if high is not None and value > high:
        value = high - (1 if "exclusiveMaximum" in schema else 0)
    return int(value) if integer else float(value)


def _string(schema: Mapping[str, Any], found: Candidates, name: str) -> str:
    fmt = schema.get("format")
    if fmt == "date-time":
        return datetime(2024, 1, 1, tzinfo=timezone.utc).isoformat()
    if fmt == "date":
        return FALLBACK_DATE.isoformat()
    if fmt == "uuid":
        return "00000000-0000-4000-8000-000000000000"
    wanted = _wants(schema, name)
    if wanted == "date":
        return FALLBACK_DATE.isoformat()
    if wanted == "time":
        return "00:00"
    listing_path = found.listing and wanted == "path"
    text = "." if listing_path else found.string() or found.prompt or name
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    if len(text) < low:
        text = text.ljust(low, "x")
    return text[:high] if high is not None else text


def _object(schema: Mapping[str, Any], found: Candidates) -> dict[str, Any]:
    """The required properties, and the optional ones the prompt gives by meaning."""
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    found.reserve(k for k, option in properties.items() if _numeric(option))
    value: dict[str, Any] = {}
    for key, option in properties.items():
        if key in required:
            value[key] = schema_instance(option, found, key)
            continue
        meant = _by_meaning(option, found, key)
        if meant is not _NONE:
            value[key] = meant
    return value


def schema_instance(schema: Mapping[str, Any], found: Candidates, name: str = "value") -> Any:
    """A value valid for a (ref-free) JSON schema, filled from the prompt where it fits."""
    meant = _by_meaning(schema, found, name)
    if meant is not _NONE:
        return meant
    if "default" in schema:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf"):
        options = [o for o in schema.get(key, ()) if o.get("type") != "null"]
        if options:
            return schema_instance(options[0], found, name)
    kind = _kind(schema)
    if kind == "object" or "properties" in schema:
        return _object(schema, found)
    if kind == "array":
        count = schema.get("minItems", 0)
        items = schema.get("prefixItems") or [schema.get("items", {})] * count
        return [schema_instance(item, found, name) for item in items]
    if kind in ("integer", "number"):
        return _number_in_range(schema, found.number(name), kind == "integer")
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return _string(schema, found, name)
