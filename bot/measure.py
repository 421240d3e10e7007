"""Measurements of indicators over time: Dutch parsing, targets, and a deterministic status.

Pure functions and values only (no I/O, no clock, no language model), so the engine, the CLI and
the document compiler can share them:

- `parse_number` / `format_number`: "14,5", "14,5%", "1.200", "1.200,5", "20 procent" and back.
- `parse_period`: "2026", "2026-09", "sep 2026", "najaar 2026", "Q3 2026", "15-09-2026", ... into a
  `Period` with a comparable `key` (a fractional year at the middle of the period) and a Dutch label.
- `parse_target`: the target of a result from its text, term and amount ("In 2028 ... 20% minder ...",
  "over vier jaar", "binnen 3 jaar", "200 gezinnen").
- `indicator_status`: "op koers", "achter", "nog geen gegevens" or "geen doel", with a short Dutch
  explanation that shows the figures and their sources. The first measurement is the baseline
  (nulmeting) unless one is marked `baseline`; the expected value moves in a straight line from the
  baseline to the target.
- `parse_meting`: the one-message form `/meting 2.1 14,5% 2026-09 GGD-gezondheidsmonitor`.
- `import_csv`: columns `indicator,datum,waarde,eenheid,bron`; all rows, or a Dutch error per bad
  line and nothing imported.

Every error is a `MeasureError` whose message is meant for the user, in Dutch.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

StatusKind = Literal["op koers", "achter", "nog geen gegevens", "geen doel"]
TargetKind = Literal["relatief", "verschil", "niveau"]


class MeasureError(ValueError):
    """Input that cannot be understood; the message says what is wrong, in Dutch."""


class Measurement(BaseModel):
    """One measured value of one indicator (step 2 or step 5), as stored with the session."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    indicator: str = Field(description="The indicator as referred to: its code (e.g. '2.1') or its text.")
    indicator_id: int | None = Field(default=None, description="Contribution id of the indicator, once resolved.")
    period: str = Field(description="Canonical period, e.g. '2026', '2026-09', '2026-Q3', '2026-najaar'.")
    value: float
    unit: str = ""
    source: str = ""
    note: str = ""
    entered_by: str = ""
    entered_at: datetime | None = None
    baseline: bool = Field(default=False, description="Marked as the baseline (nulmeting).")

    @property
    def when(self) -> Period:
        return parse_period(self.period)


# --------------------------------------------------------------------------- numbers

_NUMBER_WORDS = {
    "een": 1,
    "één": 1,
    "twee": 2,
    "drie": 3,
    "vier": 4,
    "vijf": 5,
    "zes": 6,
    "zeven": 7,
    "acht": 8,
    "negen": 9,
    "tien": 10,
    "elf": 11,
    "twaalf": 12,
    "vijftien": 15,
    "twintig": 20,
}
_PERCENT_WORDS = ("%", "procent", "pct", "pct.")
_NUMBER = re.compile(
    r"""^(?P<sign>[-−+]?)\s*
    (?P<body>\d{1,3}(?:\.\d{3})+(?:,\d+)?   # 1.200 or 1.200,5
      |\d+(?:,\d+)?                          # 14 or 14,5
      |\d+\.\d+                              # 14.5 (not a thousands group)
      |,\d+)$""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Quantity:
    value: float
    unit: str = ""


def _plain_number(text: str) -> float | None:
    match = _NUMBER.match(text.strip())
    if not match:
        return None
    body = match["body"]
    if "," in body:
        body = body.replace(".", "").replace(",", ".")
    elif re.fullmatch(r"\d{1,3}(?:\.\d{3})+", body):
        body = body.replace(".", "")
    value = float(body)
    return -value if match["sign"] in ("-", "−") else value


def parse_number(text: str) -> Quantity:
    """A Dutch number with an optional unit: '14,5%' -> 14.5 '%', '1.200' -> 1200, '€ 1.200,50' -> 1200.5 '€'.

    A dot followed by exactly three digits groups thousands ('1.200' is twelve hundred); a comma is the
    decimal sign. '20 procent' is 20 '%'. Any other words after the number become the unit ('200 gezinnen').
    """
    flat = " ".join(text.replace("\u00a0", " ").split())
    if not flat:
        raise MeasureError("Er staat geen getal.")
    unit = ""
    if flat[0] == "€" or flat.lower().startswith("euro "):
        unit, flat = "€", flat.removeprefix("€").removeprefix("euro ").removeprefix("Euro ").strip()
    match = re.match(r"^([-−+]?\s*[\d.,]+)\s*(.*)$", flat)
    if not match:
        raise MeasureError(f"'{text.strip()}' is geen getal. Schrijf bijvoorbeeld 14,5 of 1.200.")
    value = _plain_number(match[1].replace(" ", ""))
    if value is None:
        raise MeasureError(f"'{match[1]}' is geen getal. Schrijf bijvoorbeeld 14,5 of 1.200.")
    rest = match[2].strip()
    if rest.lower() in _PERCENT_WORDS:
        rest = "%"
    elif rest.lower() in ("procentpunt", "procentpunten", "%-punt", "%-punten"):
        rest = "procentpunt"
    elif rest.lower() in ("euro", "€"):
        rest = "€"
    if unit and rest:
        raise MeasureError(f"'{text.strip()}' heeft twee eenheden.")
    return Quantity(value, unit or rest)


def format_number(value: float, decimals: int | None = None) -> str:
    """A number the Dutch way: 1200.5 -> '1.200,5'; whole numbers without decimals."""
    if decimals is None:
        decimals = 0 if float(value).is_integer() else min(_decimals(value), 6)
    text = f"{abs(value):,.{decimals}f}".replace(",", "_").replace(".", ",").replace("_", ".")
    if decimals and "," in text:
        text = text.rstrip("0").rstrip(",")
    return ("-" if value < 0 and float(text.replace(".", "").replace(",", ".")) != 0 else "") + text


def _decimals(value: float) -> int:
    text = repr(float(value))
    if "e" in text:
        return 6
    return len(text.split(".")[1]) if "." in text else 0


def format_value(value: float, unit: str = "") -> str:
    """'14,5%', '1.200 gezinnen', '€ 25'."""
    number = format_number(round(value, 2))
    if unit == "%":
        return f"{number}%"
    if unit == "€":
        return f"€ {number}"
    return f"{number} {unit}".strip()


# --------------------------------------------------------------------------- periods

_MONTHS = {
    "jan": 1,
    "januari": 1,
    "feb": 2,
    "febr": 2,
    "februari": 2,
    "mrt": 3,
    "maart": 3,
    "apr": 4,
    "april": 4,
    "mei": 5,
    "jun": 6,
    "juni": 6,
    "jul": 7,
    "juli": 7,
    "aug": 8,
    "augustus": 8,
    "sep": 9,
    "sept": 9,
    "september": 9,
    "okt": 10,
    "oktober": 10,
    "nov": 11,
    "november": 11,
    "dec": 12,
    "december": 12,
}
_MONTH_NAMES = (
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
)
# Seasons by their months (winter: december of the year before up to february).
_SEASONS = {
    "voorjaar": (3, 5),
    "lente": (3, 5),
    "zomer": (6, 8),
    "najaar": (9, 11),
    "herfst": (9, 11),
    "winter": (0, 2),
}
_YEAR = r"(19\d\d|20\d\d|21\d\d)"


@dataclass(frozen=True, order=True)
class Period:
    """A period with a sort key: the middle of the period as a fractional year (2026-09 -> 2026.71)."""

    key: float
    canonical: str = field(compare=False)
    label: str = field(compare=False)
    start: date = field(compare=False)
    end: date = field(compare=False)


def _fraction(moment: date) -> float:
    first = date(moment.year, 1, 1)
    length = (date(moment.year + 1, 1, 1) - first).days
    return moment.year + (moment - first).days / length


def _period(canonical: str, label: str, start: date, end: date) -> Period:
    middle = _fraction(start) + (_fraction(end) - _fraction(start)) / 2
    return Period(round(middle, 4), canonical, label, start, end)


def _month_end(year: int, month: int) -> date:
    return date(year + month // 12, month % 12 + 1, 1)


def _months(year: int, first: int, last: int) -> tuple[date, date]:
    start = date(year, first, 1) if first >= 1 else date(year - 1, 12, 1)
    return start, _month_end(year, last)


def parse_period(text: str) -> Period:
    """'2026', '2026-09', '09-2026', 'sep 2026', 'najaar 2026', 'Q3 2026', '2e helft 2026', '15-09-2026', ..."""
    flat = " ".join(text.lower().replace("–", "-").split()).strip(" .,")
    if not flat:
        raise MeasureError("Er staat geen periode of datum.")
    m = re.fullmatch(_YEAR, flat)
    if m:
        year = int(m[1])
        return _period(str(year), str(year), date(year, 1, 1), date(year + 1, 1, 1))
    m = re.fullmatch(_YEAR + r"-(\d{1,2})-(\d{1,2})", flat) or None
    day_month_year = re.fullmatch(r"(\d{1,2})[-/](\d{1,2})[-/]" + _YEAR, flat)
    named_day = re.fullmatch(r"(\d{1,2}) ([a-z]+)\.? " + _YEAR, flat)
    if m or day_month_year or named_day:
        try:
            if m:
                year, month, day = int(m[1]), int(m[2]), int(m[3])
            elif day_month_year:
                day, month, year = int(day_month_year[1]), int(day_month_year[2]), int(day_month_year[3])
            else:
                assert named_day is not None
                if named_day[2] not in _MONTHS:
                    raise MeasureError(f"'{text.strip()}': onbekende maand '{named_day[2]}'.")
                day, month, year = int(named_day[1]), _MONTHS[named_day[2]], int(named_day[3])
            moment = date(year, month, day)
        except ValueError:
            raise MeasureError(f"'{text.strip()}' is geen bestaande datum.") from None
        label = f"{moment.day} {_MONTH_NAMES[moment.month - 1]} {moment.year}"
        return _period(moment.isoformat(), label, moment, date.fromordinal(moment.toordinal() + 1))
    m = re.fullmatch(_YEAR + r"-(\d{1,2})", flat) or re.fullmatch(r"(\d{1,2})[-/]" + _YEAR, flat)
    named = re.fullmatch(r"([a-z]+)\.? " + _YEAR, flat)
    if m or (named and named[1] in _MONTHS):
        if m:
            first, second = m[1], m[2]
            year, month = (int(first), int(second)) if len(first) == 4 else (int(second), int(first))
        else:
            assert named is not None
            year, month = int(named[2]), _MONTHS[named[1]]
        if not 1 <= month <= 12:
            raise MeasureError(f"'{text.strip()}': maand {month} bestaat niet.")
        return _period(
            f"{year}-{month:02d}", f"{_MONTH_NAMES[month - 1]} {year}", date(year, month, 1), _month_end(year, month)
        )
    m = re.fullmatch(r"(voorjaar|lente|zomer|najaar|herfst|winter) " + _YEAR, flat) or re.fullmatch(
        _YEAR + r"-(voorjaar|lente|zomer|najaar|herfst|winter)", flat
    )
    if m:
        season, year_text = (m[1], m[2]) if not m[1].isdigit() else (m[2], m[1])
        year = int(year_text)
        season = {"lente": "voorjaar", "herfst": "najaar"}.get(season, season)
        start, end = _months(year, *_SEASONS[season])
        return _period(f"{year}-{season}", f"{season} {year}", start, end)
    m = (
        re.fullmatch(r"q([1-4]) " + _YEAR, flat)
        or re.fullmatch(_YEAR + r"[- ]?q([1-4])", flat)
        or re.fullmatch(r"(?:kwartaal ([1-4])|([1-4])e kwartaal) " + _YEAR, flat)
    )
    if m:
        groups = [g for g in m.groups() if g]
        quarter, year = (int(groups[0]), int(groups[1])) if len(groups[0]) == 1 else (int(groups[1]), int(groups[0]))
        start, end = _months(year, 3 * quarter - 2, 3 * quarter)
        return _period(f"{year}-Q{quarter}", f"{quarter}e kwartaal {year}", start, end)
    m = re.fullmatch(r"(?:([12])e|(eerste|tweede)) helft " + _YEAR, flat) or re.fullmatch(_YEAR + r"-h([12])", flat)
    if m:
        groups = [g for g in m.groups() if g]
        if groups[0].isdigit() and len(groups[0]) == 4:
            year, half = int(groups[0]), int(groups[1])
        else:
            half = {"eerste": 1, "tweede": 2}.get(groups[0]) or int(groups[0])
            year = int(groups[1])
        start, end = _months(year, 6 * half - 5, 6 * half)
        return _period(f"{year}-H{half}", f"{half}e helft {year}", start, end)
    raise MeasureError(
        f"'{text.strip()}' is geen periode die ik ken. Schrijf bijvoorbeeld 2026, 2026-09, sep 2026, "
        "najaar 2026 of Q3 2026."
    )


def try_period(text: str) -> Period | None:
    try:
        return parse_period(text)
    except MeasureError:
        return None


# --------------------------------------------------------------------------- targets


class Target(BaseModel):
    """What a result aims for: by `year`, a relative change, an absolute change or a level."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    year: int | None = None
    kind: TargetKind | None = None
    amount: float | None = None
    direction: int = Field(default=0, description="-1 less, +1 more, 0 a level to reach.")
    unit: str = ""

    @property
    def complete(self) -> bool:
        return self.year is not None and self.kind is not None and self.amount is not None

    def value(self, baseline: float) -> float:
        """The value to reach, from the baseline."""
        assert self.amount is not None
        if self.kind == "relatief":
            return baseline * (1 + self.direction * self.amount / 100)
        if self.kind == "verschil":
            return baseline + self.direction * self.amount
        return self.amount

    def describe(self, with_year: bool = True) -> str:
        """'20% minder in 2028', '200 meer in 2030', '90% in 2028'."""
        if self.amount is None or self.kind is None:
            return f"in {self.year}" if self.year else "geen doel"
        words = {-1: " minder", 1: " meer", 0: ""}[self.direction]
        if self.kind == "relatief":
            amount = f"{format_number(self.amount)}%{words}"
        elif self.kind == "verschil":
            amount = f"{format_value(self.amount, self.unit)}{words}"
        else:
            amount = format_value(self.amount, self.unit)
        return f"{amount} in {self.year}" if self.year and with_year else amount


_LESS = ("minder", "lager", "daling", "dalen", "afname", "omlaag", "terug", "verminder")
_MORE = ("meer", "hoger", "stijging", "stijgen", "toename", "omhoog", "groei", "extra", "verhoog")


def _year_of(text: str, start_year: int | None) -> int | None:
    low = text.lower()
    m = re.search(r"\b(?:in|voor|uiterlijk|eind|vóór|per|tot)?\s*" + _YEAR + r"\b", low)
    if m:
        return int(m[1])
    words = "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True))
    m = re.search(r"\b(?:over|binnen|na|in)\s+(\d+|" + words + r")\s+jaar\b", low)
    if m and start_year is not None:
        count = int(m[1]) if m[1].isdigit() else _NUMBER_WORDS[m[1]]
        return start_year + count
    return None


def _amount_of(text: str) -> tuple[TargetKind, float, int, str] | None:
    low = " ".join(text.lower().replace("\u00a0", " ").split())
    pattern = r"([-−+]?\d[\d.,]*)\s*(%|procentpunten|procentpunt|procent|pct\.?)?"
    m = next((m for m in re.finditer(pattern, low) if m[2] or not re.fullmatch(_YEAR, m[1].rstrip(".,"))), None)
    if not m:
        return None
    number = _plain_number(m[1].rstrip(".,"))
    if number is None:
        return None
    after = low[m.end() :]
    tail = after.split()[:4]
    before = low[: m.start()].split()[-2:]
    nearby = " ".join([*before, *tail])
    direction = -1 if any(w in nearby for w in _LESS) else 1 if any(w in nearby for w in _MORE) else 0
    if number < 0:
        direction, number = -1, -number
    percent = m[2] or ""
    if percent.startswith("procentpunt"):
        return "verschil", number, direction or 1, "procentpunt"
    if percent:
        return ("relatief" if direction else "niveau"), number, direction, "%"
    unit = ""
    if tail:
        first = tail[0] if tail[0] not in (*_LESS, *_MORE) else (tail[1] if len(tail) > 1 else "")
        unit = first.strip(".,;:")
    return ("verschil" if direction else "niveau"), number, direction, unit


def parse_target(
    text: str, term: str | None = None, amount: str | None = None, start_year: int | None = None
) -> Target:
    """The target of a result, from its term and amount fields, else from its text.

    'In 2028 heeft 20% minder huishoudens een betalingsachterstand' -> 2028, relatief, 20, -1.
    'over vier jaar' / 'binnen 3 jaar' count from `start_year`. '80%' is a level to reach; '20% minder' a
    relative change from the baseline; '200 meer inwoners' an absolute change; '200 gezinnen' a level;
    '5 procentpunt minder' a change in points.
    """
    year = _year_of(term or "", start_year) or _year_of(text, start_year)
    found = _amount_of(amount or "") if amount and amount.strip() else None
    if found and not found[2]:  # '20%' in the amount field, 'minder' in the sentence
        sentence = _amount_of(text)
        if sentence and sentence[1] == found[1] and sentence[2]:
            found = sentence
    found = found or _amount_of(text)
    if found is None:
        return Target(year=year)
    kind, number, direction, unit = found
    return Target(year=year, kind=kind, amount=number, direction=direction, unit=unit)


# --------------------------------------------------------------------------- status


@dataclass(frozen=True)
class IndicatorStatus:
    status: StatusKind
    explanation: str
    baseline: Measurement | None = None
    latest: Measurement | None = None
    target_value: float | None = None
    expected: float | None = None


def _cite(measurement: Measurement) -> str:
    source = f", {measurement.source}" if measurement.source else ""
    return f"{format_value(measurement.value, measurement.unit)} ({measurement.when.label}{source})"


def ordered(measurements: Sequence[Measurement]) -> list[Measurement]:
    """By period; measurements of the same period keep the order in which they were entered."""
    return sorted(measurements, key=lambda m: m.when.key)


def baseline_of(measurements: Sequence[Measurement]) -> Measurement | None:
    marked = [m for m in measurements if m.baseline]
    line = ordered(marked or measurements)
    return line[0] if line else None


def indicator_status(measurements: Sequence[Measurement], target: Target | None) -> IndicatorStatus:
    """Where an indicator stands against its target, with the figures and their sources, in Dutch.

    The baseline is the marked measurement, else the first one; the expected value at the latest
    measurement lies on the straight line from the baseline to the target (the middle of the target
    year). On track means at least as far as that line in the direction of the target.
    """
    line = ordered(measurements)
    baseline = baseline_of(line)
    if baseline is None:
        return IndicatorStatus("nog geen gegevens", "Nog geen metingen.")
    later = [m for m in line if m.when.key > baseline.when.key]
    latest = later[-1] if later else None
    if target is None or not target.complete:
        parts = [f"Nulmeting {_cite(baseline)}"] + ([f"laatste meting {_cite(latest)}"] if latest else [])
        why = (
            "het resultaat heeft nog geen termijn"
            if target and target.amount is not None
            else ("het resultaat noemt nog geen omvang en termijn")
        )
        return IndicatorStatus("geen doel", f"{'; '.join(parts)}. Geen doel: {why}.", baseline, latest)
    goal = target.value(baseline.value)
    goal_key = target.year + 0.5 if target.year is not None else math.inf
    unit = baseline.unit or target.unit
    goal_text = f"doel {format_value(goal, unit)} in {target.year}"
    if target.kind != "niveau":
        goal_text += f" ({target.describe(with_year=False)})"
    if latest is None:
        return IndicatorStatus(
            "nog geen gegevens",
            f"Alleen een nulmeting: {_cite(baseline)}; {goal_text}. Een tweede meting laat zien of het op koers is.",
            baseline,
            None,
            goal,
        )
    span = goal_key - baseline.when.key
    progress = 1.0 if span <= 0 else min(1.0, (latest.when.key - baseline.when.key) / span)
    expected = baseline.value + (goal - baseline.value) * progress
    direction = (goal > baseline.value) - (goal < baseline.value) or target.direction
    difference = (latest.value - expected) * direction
    on_track = difference >= -1e-9 if direction else abs(latest.value - goal) <= 1e-9
    status: StatusKind = "op koers" if on_track else "achter"
    moment = "bij de laatste meting" if progress < 1 else "nu de termijn voorbij is"
    text = (
        f"{status.capitalize()}: nulmeting {_cite(baseline)}, laatste meting {_cite(latest)}; {goal_text}. "
        f"Op de rechte lijn naar het doel hoorde {moment} {format_value(expected, unit)}."
    )
    return IndicatorStatus(status, text, baseline, latest, goal, expected)


# --------------------------------------------------------------------------- one message


@dataclass(frozen=True)
class MeasurementInput:
    """What one `/meting` message or one CSV line says, before the indicator is resolved."""

    indicator: str
    value: float
    unit: str
    period: Period
    source: str = ""
    note: str = ""

    def measurement(self, indicator_id: int | None = None, **extra: object) -> Measurement:
        return Measurement(
            indicator=self.indicator,
            indicator_id=indicator_id,
            period=self.period.canonical,
            value=self.value,
            unit=self.unit,
            source=self.source,
            note=self.note,
            **extra,  # type: ignore[arg-type]
        )

    def echo(self) -> str:
        """What was understood, for the bot to repeat: 'indicator 2.1: 14,5% in september 2026 (bron: GGD)'."""
        source = f" (bron: {self.source})" if self.source else " (nog geen bron)"
        return f"indicator {self.indicator}: {format_value(self.value, self.unit)} in {self.period.label}{source}"


_CODE = re.compile(r"^(?:[Ii]\d+|\d+(?:\.\d+)*)$")
_UNIT_TOKENS = {
    "%": "%",
    "procent": "%",
    "pct": "%",
    "pct.": "%",
    "procentpunt": "procentpunt",
    "procentpunten": "procentpunt",
    "euro": "€",
}


def _period_at(tokens: list[str], index: int) -> tuple[Period, int] | None:
    """The longest period starting at token `index`, with the number of tokens it takes."""
    for size in (3, 2, 1):
        if index + size <= len(tokens):
            period = try_period(" ".join(tokens[index : index + size]))
            if period is not None:
                return period, size
    return None


def parse_meting(text: str) -> MeasurementInput:
    """'2.1 14,5% 2026-09 GGD-gezondheidsmonitor' -> indicator, value, unit, period, source.

    The indicator comes first (its number); value, period and source may follow in any order; all
    words that are not the value or the period form the source. A `MeasureError` says what is missing.
    """
    tokens = text.split()
    if not tokens:
        raise MeasureError(
            "Ik mis de indicator, de waarde en de periode. "
            "Bijvoorbeeld: /meting 2.1 14,5% 2026-09 GGD-gezondheidsmonitor"
        )
    indicator = tokens[0] if _CODE.match(tokens[0]) else None
    rest = tokens[1:] if indicator else tokens
    used: set[int] = set()
    value: Quantity | None = None
    period: Period | None = None
    # The value: a number that is not a bare year (or one with a unit), with a unit token after it.
    for index, token in enumerate(rest):
        if re.fullmatch(_YEAR, token):
            continue
        candidate = token
        take = [index]
        if index + 1 < len(rest) and rest[index + 1].lower() in _UNIT_TOKENS:
            candidate += " " + rest[index + 1]
            take.append(index + 1)
        if token == "€" and index + 1 < len(rest):
            candidate = "€ " + rest[index + 1]
            take = [index, index + 1]
        try:
            quantity = parse_number(candidate)
        except MeasureError:
            continue
        if quantity.unit not in ("", "%", "€", "procentpunt"):
            continue
        if re.fullmatch(r"\d{1,2}", token) and _period_at(rest, index) and _period_at(rest, index)[1] > 1:  # type: ignore[index]
            continue  # '15 september 2026' is a date
        value, used = quantity, set(take)
        break
    if value is None:  # '2.1 2000 2026': the first of two years is the value
        years = [i for i, t in enumerate(rest) if re.fullmatch(_YEAR, t)]
        if len(years) >= 2:
            value, used = Quantity(float(rest[years[0]])), {years[0]}
    index = 0
    while index < len(rest) and period is None:
        found = _period_at(rest, index) if index not in used else None
        if found and not used & set(range(index, index + found[1])):
            period = found[0]
            used |= set(range(index, index + found[1]))
        index += 1
    missing = [
        name
        for name, present in (
            ("de indicator (het nummer, bijv. 2.1)", indicator),
            ("de waarde", value),
            ("de periode (bijv. 2026-09 of najaar 2026)", period),
        )
        if present is None
    ]
    if missing:
        raise MeasureError(
            f"Ik mis nog {_and(missing)}. Bijvoorbeeld: /meting 2.1 14,5% 2026-09 GGD-gezondheidsmonitor"
        )
    assert indicator is not None and value is not None and period is not None
    source = " ".join(t for i, t in enumerate(rest) if i not in used).strip(" -–,;")
    return MeasurementInput(indicator, value.value, value.unit, period, source)


def _and(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " en " + parts[-1]


# --------------------------------------------------------------------------- indicators by reference


@dataclass(frozen=True)
class IndicatorRef:
    """An indicator as the user can name it: its contribution id, its code and its text."""

    id: int
    code: str
    text: str
    result_code: str | None = None


def resolve_indicator(reference: str, indicators: Sequence[IndicatorRef]) -> IndicatorRef:
    """The indicator a user means by its code ('I1'), its exact text, or a result's code ('2.1') when that
    result has exactly one indicator. Raises `MeasureError` in Dutch otherwise."""
    wanted = " ".join(reference.split()).casefold()
    for indicator in indicators:
        if indicator.code.casefold() == wanted or " ".join(indicator.text.split()).casefold() == wanted:
            return indicator
    by_result = [i for i in indicators if i.result_code and i.result_code.casefold() == wanted]
    if len(by_result) == 1:
        return by_result[0]
    if by_result:
        options = ", ".join(f"{i.code} ({i.text})" for i in by_result)
        raise MeasureError(f"Bij resultaat {reference} horen meer indicatoren; kies er één: {options}.")
    known = ", ".join(i.code for i in indicators) or "er zijn nog geen indicatoren"
    raise MeasureError(f"Indicator '{reference}' ken ik niet. Gebruik het nummer uit /overzicht ({known}).")


def indicator_checker(indicators: Sequence[IndicatorRef]) -> Callable[[str], str | None]:
    """A `check_indicator` for `import_csv`: None for an indicator `resolve_indicator` finds, else its error."""

    def check(reference: str) -> str | None:
        try:
            resolve_indicator(reference, indicators)
        except MeasureError as exc:
            return str(exc)
        return None

    return check


# --------------------------------------------------------------------------- CSV import

CSV_COLUMNS = ("indicator", "datum", "waarde", "eenheid", "bron")
_OPTIONAL_COLUMNS = ("notitie",)


@dataclass(frozen=True)
class CsvImport:
    """Either every row (`errors` empty) or every error (`rows` empty): nothing partial."""

    rows: tuple[MeasurementInput, ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors


def import_csv(text: str, check_indicator: Callable[[str], str | None] | None = None) -> CsvImport:
    """Read `indicator,datum,waarde,eenheid,bron` (comma or semicolon separated; a header line first).

    `check_indicator` returns a Dutch error for an unknown indicator, or None. Returns all rows, or a
    Dutch message per bad line ('regel 3: ...') and no rows at all.
    """
    text = text.removeprefix("\ufeff")
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        return CsvImport(errors=("Het bestand is leeg.",))
    header_line = next(line for line in lines if line.strip())
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    errors: list[str] = []
    rows: list[MeasurementInput] = []
    header: list[str] | None = None
    for line in reader:
        number = reader.line_num
        if not any(cell.strip() for cell in line):
            continue
        if header is None:
            header = [cell.strip().lower() for cell in line]
            missing = [c for c in CSV_COLUMNS if c not in header]
            unknown = [c for c in header if c not in CSV_COLUMNS + _OPTIONAL_COLUMNS]
            if missing or unknown:
                parts = ([f"kolom {', '.join(missing)} ontbreekt"] if missing else []) + (
                    [f"onbekende kolom {', '.join(unknown)}"] if unknown else []
                )
                return CsvImport(
                    errors=(
                        f"regel {number}: {'; '.join(parts)}. De eerste regel moet de kolommen noemen: "
                        f"{','.join(CSV_COLUMNS)}.",
                    )
                )
            continue
        if len(line) != len(header):
            errors.append(
                f"regel {number}: {len(line)} kolommen in plaats van {len(header)}"
                + (
                    " (staat er een komma in een getal? Zet de waarde tussen aanhalingstekens of gebruik ;)"
                    if len(line) > len(header) and delimiter == ","
                    else ""
                )
            )
            continue
        cells = {name: cell.strip() for name, cell in zip(header, line, strict=True)}
        problems: list[str] = []
        if not cells["indicator"]:
            problems.append("de indicator ontbreekt")
        elif check_indicator is not None:
            problem = check_indicator(cells["indicator"])
            if problem:
                problems.append(problem.rstrip("."))
        period = None
        if not cells["datum"]:
            problems.append("de datum ontbreekt")
        else:
            try:
                period = parse_period(cells["datum"])
            except MeasureError as exc:
                problems.append(str(exc).rstrip("."))
        quantity = None
        if not cells["waarde"]:
            problems.append("de waarde ontbreekt")
        else:
            try:
                quantity = parse_number(cells["waarde"])
            except MeasureError as exc:
                problems.append(str(exc).rstrip("."))
        unit = cells["eenheid"]
        if quantity is not None:
            given = parse_number(f"0 {unit}").unit if unit else ""
            if quantity.unit and given and quantity.unit != given:
                problems.append(f"de waarde heeft eenheid '{quantity.unit}', maar de kolom eenheid zegt '{unit}'")
            unit = given or quantity.unit
        if problems:
            errors.append(f"regel {number}: {'; '.join(problems)}.")
            continue
        assert quantity is not None and period is not None
        rows.append(
            MeasurementInput(cells["indicator"], quantity.value, unit, period, cells["bron"], cells.get("notitie", ""))
        )
    if header is None:
        return CsvImport(errors=("Het bestand is leeg.",))
    if errors:
        return CsvImport(errors=tuple(errors))
    if not rows:
        return CsvImport(errors=("Het bestand heeft alleen een kopregel en geen metingen.",))
    return CsvImport(rows=tuple(rows))
