"""Reading an item's fields from what people type, so the bot asks only what is still missing.

The words come from the flow (`herken` per choice, next to the choices) and, for terms and
amounts, from the coaching rules (`flows/coaching.yaml`), so an adviser edits them in one place.
Everything here is pure string matching.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.coach import Coach
from bot.compass import Contribution, FieldValue
from bot.flows import Flow, ItemField, Question
from bot.phrases import compile_phrase, normalize

# "als we vroeg signaleren, dan komen minder gezinnen in de problemen"
_IF_THEN = re.compile(r"\bals\b.+?\bdan\b.+", re.IGNORECASE | re.DOTALL)
# A whole item in one message: its parts on their own lines or separated by ";".
_PARTS = re.compile(r"\s*(?:;|\n)\s*")
# A part that leaves its field open.
LEFT_OPEN = frozenset({"-", "?", "weet niet", "nvt", "n.v.t."})


@dataclass
class Reading:
    """What was read from a message: the item's own text, and the fields understood from it."""

    text: str
    values: dict[str, FieldValue] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # fields left open on purpose ('-')


class FieldReader:
    """Compiled field phrasings for every item question of a flow."""

    def __init__(self, flow: Flow, coach: Coach | None) -> None:
        self._coach = coach
        self._choices: dict[tuple[str, str], list[tuple[str, re.Pattern[str]]]] = {}
        for step in flow.stappen:
            for question in step.vragen:
                for item_field in question.velden:
                    self._choices[(question.sleutel, item_field.sleutel)] = [
                        (choice, compile_phrase(phrase))
                        for choice, phrases in item_field.herken.items()
                        for phrase in phrases
                    ]

    # ------------------------------------------------------------------ one field

    @staticmethod
    def parts(text: str) -> list[str]:
        """The parts of a message that gives a whole item: its lines, or what ';' separates."""
        return [p for p in _PARTS.split(text.strip()) if p]

    def read_field(
        self, question: Question, item_field: ItemField, text: str, options: Sequence[Contribution] = ()
    ) -> FieldValue | None:
        """The value of one field from an answer to its own question; None if it does not fit."""
        if item_field.keuzes:
            # An answer to the choice should mostly be the choice ("bestaat al", "allebei"), not a
            # name that happens to hold a telling word (the next organisation, typed at the prompt).
            return self.choice(question, item_field, text, exact=True, by_number=True, coverage=0.5)
        if item_field.verwijst_naar:
            if not options:
                return text  # nothing to point at yet: a short description will do
            picked = _numbers(text)
            if not picked or not re.fullmatch(r"[\d\s,;en]+", text.strip()):
                return None
            if any(not 1 <= n <= len(options) for n in picked):
                return None
            ids = [options[n - 1].id for n in picked]
            return ids if item_field.meerdere else ids[:1]
        return text

    def choice(
        self,
        question: Question,
        item_field: ItemField,
        text: str,
        *,
        exact: bool,
        by_number: bool = False,
        coverage: float = 0.0,
    ) -> str | None:
        """The choice a text names: by its number (`by_number`, only for an answer to the field's own
        prompt), by the choice word (`exact`), or by the field's phrasings, the longest found winning.
        `coverage`: how much of the text the phrasing must cover (a part of a whole item should be
        the choice itself, not a name that happens to contain 'vrijwilligers')."""
        cleaned = text.strip().lower().rstrip(".!")
        if by_number and cleaned.isdigit():
            number = int(cleaned)
            return item_field.keuzes[number - 1] if 1 <= number <= len(item_field.keuzes) else None
        if exact:
            if cleaned.isdigit():
                return None
            for choice in item_field.keuzes:
                if choice.lower() == cleaned or (len(cleaned) >= 3 and choice.lower().startswith(cleaned)):
                    return choice
        normalized = normalize(text)
        best: tuple[int, str] | None = None
        for choice, pattern in self._choices.get((question.sleutel, item_field.sleutel), []):
            for match in pattern.finditer(normalized):
                length = match.end() - match.start()
                if best is None or length > best[0]:
                    best = (length, choice)
        if best is None or best[0] < coverage * len(normalized):
            return None
        return best[1]

    # ------------------------------------------------------------------ a whole item

    def read_item(self, question: Question, text: str, filled: dict[str, FieldValue] | None = None) -> Reading:
        """Split a whole item given in one message, and recognise what its words make clear.

        Parts after the first (on their own lines or after ';') fill the fields in order, each where
        it fits; the words of the first part fill choice fields, the term, amount and expectation."""
        parts = self.parts(text) if question.velden else [text]
        reading = Reading(text=parts[0] if parts else text)
        taken = dict(filled or {})
        if len(parts) - 1 == len(question.velden):  # one part per field, in the order of the fields
            for item_field, part in zip(question.velden, parts[1:], strict=True):
                self._put(question, item_field, part, taken, reading)
        else:
            for part in parts[1:]:
                self._place(question, part, taken, reading)
        for item_field in question.velden:
            if item_field.sleutel in taken:
                continue
            value = self.recognise(question, item_field, reading.text)
            if value is not None:
                reading.values[item_field.sleutel] = value
                taken[item_field.sleutel] = value
        return reading

    def recognise(self, question: Question, item_field: ItemField, text: str) -> FieldValue | None:
        """A field's value from words in a longer text (never from a bare number)."""
        if item_field.keuzes:
            return self.choice(question, item_field, text, exact=False)
        if item_field.herken_als == "termijn" and self._coach is not None:
            return self._coach.term_in(text)
        if item_field.herken_als == "omvang" and self._coach is not None:
            return self._coach.amount_in(text)
        if item_field.herken_als == "verwachting":
            match = _IF_THEN.search(text)
            return match.group(0).strip() if match else None
        return None

    def _put(
        self, question: Question, item_field: ItemField, part: str, taken: dict[str, FieldValue], reading: Reading
    ) -> None:
        """A part given in its field's own position: '-' leaves the field open; a part that does not fit
        a choice is kept as a note."""
        if part.strip() in LEFT_OPEN:
            reading.skipped.append(item_field.sleutel)
            return
        value: FieldValue | None = part
        if item_field.keuzes:
            value = self.choice(question, item_field, part, exact=True, by_number=True, coverage=0.5)
        if value is None:
            reading.notes.append(part)
            return
        reading.values[item_field.sleutel] = taken[item_field.sleutel] = value

    def _place(self, question: Question, part: str, taken: dict[str, FieldValue], reading: Reading) -> None:
        """Put one part of a whole item where it fits: a choice it names, a reference it numbers, else
        the next free-text field; what fits nowhere is kept as a note on the item."""
        if part.strip() in LEFT_OPEN:
            return
        open_fields = [f for f in question.velden if f.sleutel not in taken]
        only_numbers = bool(re.fullmatch(r"[\d\s,;en]+", part))
        choice_hit = next(
            (
                (f, choice)
                for f in open_fields
                if f.keuzes and (choice := self.choice(question, f, part, exact=True, coverage=0.5)) is not None
            ),
            None,
        )
        references = [f for f in open_fields if f.verwijst_naar]
        free = [f for f in open_fields if not f.keuzes and not f.verwijst_naar]
        if choice_hit is None and only_numbers and not references:
            choice_hit = next(
                (
                    (f, choice)
                    for f in open_fields
                    if f.keuzes and (choice := self.choice(question, f, part, exact=False, by_number=True)) is not None
                ),
                None,
            )
        if choice_hit is not None:
            target, value = choice_hit[0], choice_hit[1]
        elif only_numbers and references:
            target, value = references[0], part
        elif free or references:
            target, value = (free or references)[0], part
        else:
            reading.notes.append(part)
            return
        reading.values[target.sleutel] = taken[target.sleutel] = value


def _numbers(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", text)]


def resolve_numbers(value: FieldValue, item_field: ItemField, options: Sequence[Contribution]) -> FieldValue | None:
    """A reference field given as text ("1 en 3") becomes the ids of those options; None if out of range."""
    if not isinstance(value, str) or not options or not re.fullmatch(r"[\d\s,;en]+", value.strip()):
        return value
    picked = _numbers(value)
    if not picked or any(not 1 <= n <= len(options) for n in picked):
        return None
    ids = [options[n - 1].id for n in picked]
    return ids if item_field.meerdere else ids[:1]
