"""What the exports say, independent of the file format.

`full_version` lays out the whole compass as headings, paragraphs, bullet lists and tables;
the Word, Markdown and PDF renderers only translate these blocks. `compass_fields` and
`compass_header` give the concise text for the one-page A4, already shortened per item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.document.model import EMPTY, CompassDocument, Formulation, Indicator, Item, Reference

Style = Literal["plain", "strong", "muted"]
MARKER = "zie volledige versie"


@dataclass(frozen=True)
class Span:
    text: str
    style: Style = "plain"


Line = tuple[Span, ...]
Cell = tuple[Line, ...]


@dataclass(frozen=True)
class Heading:
    text: str
    level: int  # 1 document, 2 step, 3 question


@dataclass(frozen=True)
class Para:
    line: Line


@dataclass(frozen=True)
class BulletList:
    items: tuple[Line, ...]


@dataclass(frozen=True)
class Table:
    """A table; a `None` cell continues the cell above it (merged in Word, blank elsewhere)."""

    header: tuple[str, ...]
    rows: tuple[tuple[Cell | None, ...], ...]
    widths: tuple[float, ...]  # relative


Block = Heading | Para | BulletList | Table


def _amsterdam() -> ZoneInfo | None:
    try:
        return ZoneInfo("Europe/Amsterdam")
    except ZoneInfoNotFoundError:
        return None


_ZONE = _amsterdam()


def local(moment: datetime) -> datetime:
    """A moment in Dutch time (or the machine's own zone when no time zone data is installed)."""
    return moment.astimezone(_ZONE)


def day(moment: datetime) -> str:
    return local(moment).strftime("%d-%m-%Y")


def clip(text: str, limit: int) -> str:
    """One line of text, at most `limit` characters, ending in '…' when cut."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _codes(doc: CompassDocument, reference: Reference) -> str:
    codes = [item.code or f"#{item.id}" for item in (doc.item(i) for i in reference.ids) if item is not None]
    parts = codes + ([f"'{reference.text}'"] if reference.text else [])
    return ", ".join(parts)


def _details(*parts: str | None) -> str:
    return " · ".join(p for p in parts if p)


def step_heading(doc: CompassDocument, number: int) -> str:
    title = doc.step(number).title
    return title if number == 0 else f"Stap {number} · {title}"


# --------------------------------------------------------------------------- the full version


def _item_line(item: Item, details: str | None = None) -> Line:
    """'2.1 text (gekozen · details · bron: ...)': the code in bold, everything extra muted in one bracket."""
    spans = [Span(f"{item.code} ", "strong")] if item.code else []
    spans.append(Span(item.text))
    extra = _details("gekozen" if item.chosen else None, details, f"bron: {item.source}" if item.source else None)
    if extra:
        spans.append(Span(f" ({extra})", "muted"))
    return tuple(spans)


def _muted(text: str) -> Line:
    return (Span(text, "muted"),)


def _empty() -> Para:
    return Para(_muted(EMPTY))


def _list(items: Sequence[Item]) -> Block:
    return BulletList(tuple(_item_line(item) for item in items)) if items else _empty()


def _formulation(formulation: Formulation) -> list[Block]:
    if formulation.agreed:
        return [Para((Span(formulation.agreed),))]
    if formulation.proposals:
        lead = Para(_muted("Nog geen formulering gekozen. De voorstellen:"))
        return [lead, _list(formulation.proposals)]
    return [_empty()]


def _part(doc: CompassDocument, key: str, *blocks: Block) -> list[Block]:
    return [Heading(doc.label(key), 3), *blocks]


def _chain_table(doc: CompassDocument) -> Table:
    """AMBITIE | MAATSCHAPPELIJK RESULTAAT | INDICATOR, one row per result."""
    results = doc.societal_results.results
    indicators = doc.societal_results.indicators

    def result_cell(result_id: int | None) -> tuple[Cell, Cell]:
        result = next((r for r in results if r.id == result_id), None)
        if result is None:
            return (_muted(EMPTY),), (_muted(EMPTY),)
        details = _details(result.term, result.size)
        own = _item_line(result, details)
        linked = [i for i in indicators if i.id in doc.linked("result_indicator", result.id)]
        cells = tuple(_indicator_line(i) for i in linked) or (_muted(EMPTY),)
        return (own,), cells

    rows: list[tuple[Cell | None, ...]] = []
    for ambition in doc.monitoring.ambitions:
        served: list[int | None] = [r.id for r in results if r.id in doc.linked("ambition_result", ambition.id)]
        for n, result_id in enumerate(served or [None]):
            rows.append(((_item_line(ambition),) if n == 0 else None, *result_cell(result_id)))
    loose = [r for r in results if not r.ambition.ids]
    for result in loose:
        label = f"'{result.ambition.text}'" if result.ambition.text else "nog geen ambitie gekoppeld"
        rows.append(((_muted(label),), *result_cell(result.id)))
    loose_indicators = [i for i in indicators if not i.result.ids]
    if loose_indicators:
        rows.append(
            (
                (_muted("—"),),
                (_muted("nog geen resultaat gekoppeld"),),
                tuple(_indicator_line(i) for i in loose_indicators),
            )
        )
    if not rows:
        rows.append(((_muted(EMPTY),), (_muted(EMPTY),), (_muted(EMPTY),)))
    return Table(("AMBITIE", "MAATSCHAPPELIJK RESULTAAT", "INDICATOR"), tuple(rows), (1, 1.2, 1.2))


def _adopted(item: Item, key: str, value: str | None, label: str) -> str | None:
    """'label: value', with the source when the value was adopted from the knowledge base."""
    if not value:
        return None
    source = item.field_sources.get(key)
    return f"{label}: {value}" + (f" (bron: {source})" if source else "")


def _indicator_line(indicator: Indicator) -> Line:
    details = _details(indicator.kind, _adopted(indicator, "bron", indicator.measured_by, "gemeten met"))
    return _item_line(indicator, details)


def _activity_table(doc: CompassDocument) -> Table | Para:
    activities = doc.activity_plan.activities
    if not activities:
        return _empty()
    rows = []
    for activity in activities:
        who = (Span(activity.who),) if activity.who else _muted("wie: " + EMPTY)
        form = _muted(_details(activity.form, activity.status)) if activity.form or activity.status else ()
        serves = _codes(doc, activity.results)
        expectation = (Span(activity.expectation),) if activity.expectation else _muted(EMPTY)
        rows.append(
            (
                (_item_line(activity),),
                tuple(line for line in (who, form) if line),
                ((Span(serves),) if serves else _muted(EMPTY),),
                (expectation,),
            )
        )
    header = ("ACTIVITEIT", "WIE EN VORM", "DRAAGT BIJ AAN", "VERWACHTING (ALS ... DAN ...)")
    return Table(header, tuple(rows), (1.3, 0.9, 0.6, 1.4))


def _linked_list(doc: CompassDocument, items: Sequence[Item], describe: dict[int, str]) -> Block:
    if not items:
        return _empty()
    return BulletList(tuple(_item_line(item, describe.get(item.id)) for item in items))


def full_version(doc: CompassDocument) -> list[Block]:
    """The whole compass, step by step, with the open points and the participants."""
    prep, mon = doc.preparation, doc.monitoring
    plan, quality, cycle = doc.activity_plan, doc.input_quality, doc.improvement_cycle
    present = ", ".join(prep.perspectives_present) or "nog niemand met een bekend perspectief"
    missing = f"; ontbreekt nog: {', '.join(prep.perspectives_missing)}" if prep.perspectives_missing else ""
    seats = (
        BulletList(tuple(_item_line(seat, seat.perspective) for seat in prep.at_table)) if prep.at_table else _empty()
    )
    what_works = {w.id: f"bij {_codes(doc, w.activities)}" for w in quality.what_works if not w.activities.empty}
    outcomes = {
        o.id: _details(
            f"bij {_codes(doc, o.activity)}" if not o.activity.empty else None,
            o.kind,
            _adopted(o, "instrument", o.instrument, "meetinstrument"),
        )
        for o in doc.outcome.outcomes
    }
    improvements = {i.id: f"grijpt in op {i.back_to}" for i in cycle.improvements if i.back_to}
    blocks: list[Block] = [
        Heading(f"Kwaliteitskompas: {doc.issue}", 1),
        Para(_muted(meta(doc))),
        Heading(step_heading(doc, 0), 2),
        *_part(doc, "betekenis", *_formulation(prep.definition)),
        *_part(doc, "signalen", _list(prep.signs)),
        *_part(doc, "aan_tafel", seats, Para(_muted(f"Perspectieven: {present}{missing}."))),
        Heading(step_heading(doc, 1), 2),
        *_part(doc, "beeld_cijfers", _list(mon.figures)),
        *_part(doc, "beeld_verhalen", _list(mon.stories)),
        *_part(doc, "beleid", *_formulation(mon.policy)),
        *_part(doc, "ambities", _list(mon.ambitions)),
        Heading(step_heading(doc, 2), 2),
        _chain_table(doc),
        Heading(step_heading(doc, 3), 2),
        *_part(doc, "activiteiten", _activity_table(doc)),
        *_part(doc, "samenhang", *_formulation(plan.coherence)),
        *_part(doc, "stoppen", _list(plan.to_stop)),
        Heading(step_heading(doc, 4), 2),
        *_part(doc, "wat_werkt", _linked_list(doc, quality.what_works, what_works)),
        *_part(doc, "mensen", _list(quality.people)),
        *_part(doc, "voorwaarden", _list(quality.conditions)),
        Heading(step_heading(doc, 5), 2),
        *_part(doc, "outcome", _linked_list(doc, doc.outcome.outcomes, outcomes)),
        Heading(step_heading(doc, 6), 2),
        *_part(doc, "herkennen", _list(cycle.recognise)),
        *_part(doc, "verklaren", _list(cycle.explain)),
        *_part(doc, "waarderen", _list(cycle.appraise)),
        *_part(doc, "verbeteren", _linked_list(doc, cycle.improvements, improvements)),
        Heading("Open punten", 2),
    ]
    if doc.open_points:
        blocks.append(BulletList(tuple((Span(p.text),) for p in doc.open_points)))
    else:
        blocks.append(Para((Span("Er staan geen open punten meer."),)))
    blocks.append(Heading("Deelnemers", 2))
    people = [f"{p.label} ({p.role})" if p.role else p.label for p in doc.participants]
    blocks.append(Para((Span(", ".join(people) or "Nog geen deelnemers."),)))
    return blocks


def meta(doc: CompassDocument) -> str:
    dates = doc.dates
    text = f"Gestart {day(dates.created)} · bijgewerkt {day(dates.updated)} · geëxporteerd {day(dates.exported)}"
    return text + (" · namen vervangen door nummers" if doc.pseudonymised else "")


# --------------------------------------------------------------------------- the one-page A4


@dataclass(frozen=True)
class FieldLine:
    line: Line
    bullet: bool = False
    indent: int = 0


@dataclass
class CompassField:
    """The concise content of one box on the one-page A4."""

    number: int
    title: str
    lines: list[FieldLine] = field(default_factory=list)
    shortened: bool = False

    def clip(self, text: str, limit: int) -> str:
        short = clip(text, limit)
        if short != " ".join(text.split()):
            self.shortened = True
        return short

    def head(self, text: str) -> None:
        self.lines.append(FieldLine((Span(text, "strong"),)))

    def item(self, item: Item, limit: int, details: str = "", indent: int = 0) -> None:
        spans = [Span(f"{item.code} ", "strong")] if item.code else []
        spans.append(Span(self.clip(item.text, limit)))
        if details:
            spans.append(Span(f" ({self.clip(details, 70)})", "muted"))
        self.lines.append(FieldLine(tuple(spans), bullet=True, indent=indent))

    def inline(self, label: str, texts: list[str], limit: int = 200) -> None:
        """'Label: first; second' on one line, for the secondary parts of a box."""
        if texts:
            lead = Span(f"{label.rstrip('?:')}: ", "strong")
            self.lines.append(FieldLine((lead, Span(self.clip(_join(texts), limit)))))

    def empty(self, label: str | None = None) -> None:
        spans = ((Span(f"{label.rstrip('?:')}: ", "strong"),) if label else ()) + (Span(EMPTY, "muted"),)
        self.lines.append(FieldLine(spans))


def _join(texts: list[str]) -> str:
    """Answers run together as one sentence: '; ' between them unless one already ends a sentence."""
    joined = ""
    for text in (" ".join(t.split()) for t in texts):
        separator = "" if not joined else " " if joined[-1] in ".!?" else "; "
        joined += separator + text
    return joined


def _formulated(formulation: Formulation) -> list[str]:
    if formulation.agreed:
        return [formulation.agreed]
    return [p.text for p in formulation.proposals]


def _not_chosen(box: CompassField, shown: int, total: int) -> None:
    if shown < total:
        box.lines.append(FieldLine((Span(f"+ {total - shown} niet gekozen", "muted"),), indent=1))


def compass_fields(doc: CompassDocument, *, compact: bool = False) -> list[CompassField]:
    """The six boxes of the compass, with concise content, in step order.

    `compact` is the fallback for a box that is too full: shorter items, and no theory-of-change
    line under each activity, so that more items stay visible on the one page.
    """
    scale = 0.5 if compact else 1.0

    def limit(characters: int) -> int:
        return int(characters * scale)

    boxes = {n: CompassField(n, doc.step(n).title) for n in range(1, 7)}
    mon, societal, plan = doc.monitoring, doc.societal_results, doc.activity_plan
    quality, cycle = doc.input_quality, doc.improvement_cycle

    box = boxes[1]
    ambitions = doc.ambitions_in_scope()
    box.head(doc.label("ambities"))
    for ambition in ambitions:
        box.item(ambition, limit(150))
    if not ambitions:
        box.empty()
    _not_chosen(box, len(ambitions), len(mon.ambitions))
    box.inline(doc.label("beeld_cijfers"), [i.text for i in mon.figures], limit(200))
    box.inline(doc.label("beeld_verhalen"), [i.text for i in mon.stories], limit(200))
    box.inline(doc.label("beleid"), _formulated(mon.policy), limit(200))

    box = boxes[2]
    results = doc.results_in_scope()
    for result in results:
        codes = _codes(doc, result.ambition)
        box.item(result, limit(150), _details(result.term, result.size, f"bij {codes}" if codes else None))
        for indicator in societal.indicators:
            if indicator.id in doc.linked("result_indicator", result.id):
                box.item(indicator, limit(110), _details(indicator.kind, indicator.measured_by), indent=1)
    if not results:
        box.empty(doc.label("resultaten"))
    _not_chosen(box, len(results), len(societal.results))
    linked = {i for r in results for i in doc.linked("result_indicator", r.id)}
    loose = [i.text for i in societal.indicators if i.id not in linked]
    if not societal.indicators:
        box.empty(doc.label("indicatoren"))
    box.inline("Nog niet gekoppelde indicatoren", loose, limit(200))

    box = boxes[3]
    for activity in plan.activities:
        serves = _codes(doc, activity.results)
        details = _details(activity.who, activity.form, activity.status, f"→ {serves}" if serves else None)
        box.item(activity, limit(110), details)
        if activity.expectation and not compact:
            box.lines.append(FieldLine((Span(box.clip(activity.expectation, limit(110)), "muted"),), indent=1))
    if not plan.activities:
        box.empty(doc.label("activiteiten"))
    box.inline(doc.label("samenhang"), _formulated(plan.coherence), limit(200))
    box.inline(doc.label("stoppen"), [i.text for i in plan.to_stop], limit(200))

    box = boxes[4]
    for knowledge in quality.what_works:
        codes = _codes(doc, knowledge.activities)
        box.item(knowledge, limit(110), _details(f"→ {codes}" if codes else None, knowledge.source))
    if not quality.what_works:
        box.empty(doc.label("wat_werkt"))
    box.inline(doc.label("mensen"), [i.text for i in quality.people], limit(200))
    box.inline(doc.label("voorwaarden"), [i.text for i in quality.conditions], limit(200))

    box = boxes[5]
    for outcome in doc.outcome.outcomes:
        codes = _codes(doc, outcome.activity)
        box.item(outcome, limit(120), _details(f"bij {codes}" if codes else None, outcome.kind, outcome.instrument))
    if not doc.outcome.outcomes:
        box.empty(doc.label("outcome"))

    box = boxes[6]
    box.inline(doc.label("herkennen"), [i.text for i in cycle.recognise], limit(150))
    box.inline(doc.label("verklaren"), [i.text for i in cycle.explain], limit(150))
    box.inline(doc.label("waarderen"), [i.text for i in cycle.appraise], limit(150))
    if cycle.improvements:
        box.head(doc.label("verbeteren"))
    for improvement in cycle.improvements:
        box.item(improvement, limit(120), f"→ {improvement.back_to}" if improvement.back_to else "")
    if not box.lines:
        box.empty()
    for number, box in boxes.items():
        if not any(span.style == "plain" for line in box.lines for span in line.line):
            box.lines.append(FieldLine((Span(doc.step(number).goal, "muted"),)))  # what this step asks
    return list(boxes.values())


def compass_header(doc: CompassDocument) -> CompassField:
    """The band above the six boxes: the common language and who is at the table."""
    prep = doc.preparation
    header = CompassField(0, doc.step(0).title)
    definition = _formulated(prep.definition)
    if definition:
        header.inline(doc.label("betekenis"), definition, 300)
    else:
        header.empty(doc.label("betekenis"))
    header.inline(doc.label("signalen"), [i.text for i in prep.signs], 220)
    seats = [f"{s.text} ({s.perspective})" if s.perspective else s.text for s in prep.at_table]
    present = ", ".join(prep.perspectives_present)
    missing = f"ontbreekt: {', '.join(prep.perspectives_missing)}" if prep.perspectives_missing else ""
    summary = _details(f"perspectieven: {present}" if present else None, missing)
    header.inline(doc.label("aan_tafel"), seats + ([summary] if summary else []), 220)
    return header
