"""What the exports say, independent of the file format.

`full_version` lays out the whole compass as headings, paragraphs, bullet lists and tables;
the Word, Markdown and PDF renderers only translate these blocks (a `Chart` per measured indicator,
numbered sources under 'Bronnen', the round's changes). `compass_fields` and `compass_header` give
the content of the one-page A4 in full, with every URL replaced by its source number; the PDF
(`bot.document.pdf.layout`) shortens it at word boundaries only where a box is too full.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.document.model import (
    EMPTY,
    CompassDocument,
    Formulation,
    Indicator,
    Item,
    OutcomeIndicator,
    Reference,
    RoundSummary,
)
from bot.measure import format_value

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


@dataclass(frozen=True)
class Chart:
    """A chart of one indicator's measurements against its target (drawn by bot.document.chart)."""

    title: str
    indicator: Indicator | OutcomeIndicator


Block = Heading | Para | BulletList | Table | Chart


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
    """One line of text of about `limit` characters, ending in '…' when cut.

    Cut only at a sentence or word boundary: at the end of a sentence when that keeps most of the room,
    else after the last whole word that fits. A first word longer than `limit` is kept whole.
    """
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    room = flat[: max(limit - 1, 1) + 1]
    ends = [m.end() for m in re.finditer(r"[.!?](?= )", room)]
    if ends and ends[-1] >= 0.6 * limit:
        return flat[: ends[-1]] + " …"
    space = room.rfind(" ")
    if space <= 0:
        word = flat.split(" ", 1)[0]
        return word + ("…" if len(word) < len(flat) else "")
    return flat[:space].rstrip(" ,;:–-·(") + "…"


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


def _source(source: str | None, sources: dict[str, int] | None) -> str | None:
    if not source:
        return None
    return f"bron [{sources[source]}]" if sources and source in sources else f"bron: {source}"


def _item_line(item: Item, details: str | None = None, sources: dict[str, int] | None = None) -> Line:
    """'2.1 text (gekozen · details · bron [1])': the code in bold, everything extra muted in one bracket."""
    spans = [Span(f"{item.code} ", "strong")] if item.code else []
    spans.append(Span(unlink(item.text, sources) if sources else item.text))
    fields = (f"{f.label}: {f.value}" for f in item.extra_fields)
    extra = _details("gekozen" if item.chosen else None, details, *fields, _source(item.source, sources))
    if extra:
        spans.append(Span(f" ({extra})", "muted"))
    return tuple(spans)


def _muted(text: str) -> Line:
    return (Span(text, "muted"),)


def _empty() -> Para:
    return Para(_muted(EMPTY))


def _list(items: Sequence[Item], sources: dict[str, int] | None = None) -> Block:
    return BulletList(tuple(_item_line(item, None, sources) for item in items)) if items else _empty()


def _formulation(formulation: Formulation) -> list[Block]:
    if formulation.agreed:
        return [Para((Span(formulation.agreed),))]
    if formulation.proposals:
        lead = Para(_muted("Nog geen formulering gekozen. De voorstellen:"))
        return [lead, _list(formulation.proposals)]
    return [_empty()]


def _part(doc: CompassDocument, key: str, *blocks: Block) -> list[Block]:
    """A titled part of the full version; left out when no question of the flow fills this place."""
    return [Heading(doc.label(key), 3), *blocks] if key in doc.labels else []


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


def _adopted(item: Item, key: str, value: str | None, label: str, sources: dict[str, int] | None = None) -> str | None:
    """'label: value', with the source when the value was adopted from the knowledge base."""
    if not value:
        return None
    source = _source(item.field_sources.get(key), sources)
    return f"{label}: {value}" + (f" ({source})" if source else "")


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


def _linked_list(
    doc: CompassDocument, items: Sequence[Item], describe: dict[int, str], sources: dict[str, int] | None = None
) -> Block:
    if not items:
        return _empty()
    return BulletList(tuple(_item_line(item, describe.get(item.id), sources) for item in items))


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
    sources = source_numbers(doc)

    def extras(*sections: str) -> list[Block]:
        blocks: list[Block] = []
        for part in doc.extras_in(*sections):
            content = _formulation(part.formulation) if part.formulation else [_list(part.items, sources)]
            blocks += [Heading(part.label, 3), *content]
        return blocks

    blocks: list[Block] = [
        Heading(f"Kwaliteitskompas: {doc.issue}" + (f" · ronde {doc.round.number}" if doc.round else ""), 1),
        Para(_muted(meta(doc))),
        *_round_blocks(doc),
        Heading(step_heading(doc, 0), 2),
        *_part(doc, "betekenis", *_formulation(prep.definition)),
        *_part(doc, "signalen", _list(prep.signs, sources)),
        *_part(doc, "aan_tafel", seats, Para(_muted(f"Perspectieven: {present}{missing}."))),
        *extras("vooraf"),
        Heading(step_heading(doc, 1), 2),
        *_part(doc, "beeld_cijfers", _list(mon.figures, sources)),
        *_part(doc, "beeld_verhalen", _list(mon.stories, sources)),
        *_part(doc, "beleid", *_formulation(mon.policy)),
        *_part(doc, "ambities", _list(mon.ambitions, sources)),
        *extras("ambitie"),
        Heading(step_heading(doc, 2), 2),
        _chain_table(doc),
        *_measurement_blocks(doc.societal_results.indicators),
        *extras("resultaat", "indicator"),
        Heading(step_heading(doc, 3), 2),
        *_part(doc, "activiteiten", _activity_table(doc)),
        *_part(doc, "samenhang", *_formulation(plan.coherence)),
        *_part(doc, "stoppen", _list(plan.to_stop, sources)),
        *extras("activiteit"),
        Heading(step_heading(doc, 4), 2),
        *_part(doc, "wat_werkt", _linked_list(doc, quality.what_works, what_works, sources)),
        *_part(doc, "mensen", _list(quality.people, sources)),
        *_part(doc, "voorwaarden", _list(quality.conditions, sources)),
        *extras("input"),
        Heading(step_heading(doc, 5), 2),
        *_part(doc, "outcome", _linked_list(doc, doc.outcome.outcomes, outcomes, sources)),
        *_measurement_blocks(doc.outcome.outcomes),
        *extras("outcome"),
        Heading(step_heading(doc, 6), 2),
        *_part(doc, "herkennen", _list(cycle.recognise, sources)),
        *_part(doc, "verklaren", _list(cycle.explain, sources)),
        *_part(doc, "waarderen", _list(cycle.appraise, sources)),
        *_part(doc, "verbeteren", _linked_list(doc, cycle.improvements, improvements, sources)),
        *extras("verbetering"),
        Heading("Open punten", 2),
    ]
    if doc.open_points:
        blocks.append(BulletList(tuple((Span(p.text),) for p in doc.open_points)))
    else:
        blocks.append(Para((Span("Er staan geen open punten meer."),)))
    blocks.append(Heading("Deelnemers", 2))
    people = [f"{p.label} ({p.role})" if p.role else p.label for p in doc.participants]
    blocks.append(Para((Span(", ".join(people) or "Nog geen deelnemers."),)))
    if sources:
        blocks.append(Heading("Bronnen", 2))
        blocks.append(BulletList(tuple((Span(f"[{n}] ", "strong"), Span(text)) for text, n in sources.items())))
    return blocks


def _round_blocks(doc: CompassDocument) -> list[Block]:
    summary = doc.round
    if summary is None:
        return []
    if summary.number <= 1:
        return [Para(_muted("Ronde 1: de eerste ronde van dit kompas."))]
    blocks: list[Block] = [Heading(f"Ronde {summary.number}: wat is veranderd sinds ronde {summary.number - 1}", 2)]
    if not summary.changes:
        return [*blocks, Para(_muted("Geen veranderingen in de activiteiten en indicatoren."))]
    for title, texts in (
        ("Nieuwe activiteiten", summary.added),
        ("Gewijzigde activiteiten", summary.changed),
        ("Gestopte activiteiten", summary.stopped),
        ("Nieuwe indicatoren", summary.new_indicators),
    ):
        if texts:
            blocks += [Heading(title, 3), BulletList(tuple((Span(t),) for t in texts))]
    return blocks


def _measurement_blocks(indicators: Sequence[Indicator | OutcomeIndicator]) -> list[Block]:
    """Per measured indicator: its status against the target, the measurements, and a chart."""
    measured = [i for i in indicators if i.measurements]
    if not measured:
        return []
    blocks: list[Block] = [Heading("Metingen", 3)]
    for indicator in measured:
        status = indicator.progress.status if indicator.progress else ""
        title = f"{indicator.code} {indicator.text}" if indicator.code else indicator.text
        blocks.append(Para((Span(title, "strong"), Span(f" · {status}" if status else "", "muted"))))
        if indicator.progress:
            blocks.append(Para((Span(indicator.progress.explanation),)))
        rows = tuple(
            (
                ((Span(m.label + (" (nulmeting)" if m.baseline else "")),),),
                ((Span(format_value(m.value, m.unit)),),),
                ((Span(m.source),) if m.source else _muted("—"),),
                ((Span(m.note),) if m.note else _muted("—"),),
            )
            for m in indicator.measurements
        )
        blocks.append(Table(("PERIODE", "WAARDE", "BRON", "NOTITIE"), rows, (1, 0.7, 1.3, 1.3)))
        blocks.append(Chart(title, indicator))
    return blocks


def meta(doc: CompassDocument) -> str:
    dates = doc.dates
    text = f"Gestart {day(dates.created)} · bijgewerkt {day(dates.updated)} · geëxporteerd {day(dates.exported)}"
    return text + (" · namen vervangen door nummers" if doc.pseudonymised else "")


# --------------------------------------------------------------------------- the one-page A4


@dataclass(frozen=True)
class FieldLine:
    """One line of a box on page 1. Plain and muted spans may be shortened (at a word or sentence
    boundary) to fit; strong spans (codes, labels) never. A `protected` line is never shortened or left
    out (open points, missing perspectives). `trend` holds the measured values for a small trend line."""

    line: Line
    bullet: bool = False
    indent: int = 0
    protected: bool = False
    trend: tuple[float, ...] = ()
    status: str | None = None


@dataclass
class CompassField:
    """The content of one box on the one-page A4, in full: the PDF shortens it only when it must."""

    number: int
    title: str
    lines: list[FieldLine] = field(default_factory=list)
    sources: dict[str, int] = field(default_factory=dict)
    shortened: bool = False

    def text(self, text: str) -> str:
        """User text for page 1: one line, every URL replaced by its numbered reference."""
        return unlink(" ".join(text.split()), self.sources)

    def head(self, text: str) -> None:
        self.lines.append(FieldLine((Span(text, "strong"),)))

    def item(
        self, item: Item, details: str = "", indent: int = 0, *, measured: Indicator | OutcomeIndicator | None = None
    ) -> None:
        spans = [Span(f"{item.code} ", "strong")] if item.code else []
        spans.append(Span(self.text(item.text)))
        extra = _details(details, *(f"{f.label}: {f.value}" for f in item.extra_fields))
        if extra:
            spans.append(Span(f" ({self.text(extra)})", "muted"))
        trend: tuple[float, ...] = ()
        status = None
        if measured is not None and measured.measurements:
            trend = tuple(m.value for m in measured.measurements)
            status = measured.progress.status if measured.progress else None
            spans.append(Span(" " + trend_text(measured), "strong"))
        self.lines.append(FieldLine(tuple(spans), bullet=True, indent=indent, trend=trend, status=status))

    def inline(self, label: str, texts: list[str], *, protected: bool = False) -> None:
        """'Label: first; second' on one line, for the secondary parts of a box."""
        if texts:
            lead = Span(f"{label.rstrip('?:')}: ", "strong")
            self.lines.append(FieldLine((lead, Span(self.text(_join(texts)))), protected=protected))

    def empty(self, label: str | None = None) -> None:
        spans = ((Span(f"{label.rstrip('?:')}: ", "strong"),) if label else ()) + (Span(EMPTY, "muted"),)
        self.lines.append(FieldLine(spans))


ARROWS = {1: "↗", -1: "↘", 0: "→"}


def trend_text(indicator: Indicator | OutcomeIndicator) -> str:
    """'↘ 12% → 11% · op koers': the first and the last measurement with an arrow, and the status."""
    values = indicator.measurements
    first, last = values[0], values[-1]
    direction = (last.value > first.value) - (last.value < first.value)
    numbers = format_value(first.value, first.unit)
    if len(values) > 1:
        numbers += f" → {format_value(last.value, last.unit)}"
    status = indicator.progress.status if indicator.progress else ""
    return _details(f"{ARROWS[direction]} {numbers}", status)


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


def _extras(box: CompassField, doc: CompassDocument, *sections: str) -> None:
    """The questions an adviser added without a fixed place: one line each, under their section."""
    for part in doc.extras_in(*sections):
        texts = _formulated(part.formulation) if part.formulation else [i.text for i in part.items]
        if texts:
            box.inline(part.label, texts)


def compass_fields(doc: CompassDocument, *, compact: bool = False) -> list[CompassField]:
    """The six boxes of the compass, with their whole content, in step order.

    `compact` is the first fallback for a box that is too full: no theory-of-change line under each
    activity. Texts are not shortened here; the PDF shortens them at word boundaries only when needed.
    """
    sources = source_numbers(doc)
    boxes = {n: CompassField(n, doc.step(n).title, sources=sources) for n in range(1, 7)}
    mon, societal, plan = doc.monitoring, doc.societal_results, doc.activity_plan
    quality, cycle = doc.input_quality, doc.improvement_cycle

    box = boxes[1]
    ambitions = doc.ambitions_in_scope()
    box.head(doc.label("ambities"))
    for ambition in ambitions:
        box.item(ambition)
    if not ambitions:
        box.empty()
    _not_chosen(box, len(ambitions), len(mon.ambitions))
    box.inline(doc.label("beeld_cijfers"), [i.text for i in mon.figures])
    box.inline(doc.label("beeld_verhalen"), [i.text for i in mon.stories])
    box.inline(doc.label("beleid"), _formulated(mon.policy))
    _extras(box, doc, "ambitie")

    box = boxes[2]
    results = doc.results_in_scope()
    for result in results:
        codes = _codes(doc, result.ambition)
        box.item(result, _details(result.term, result.size, f"bij {codes}" if codes else None))
        for indicator in societal.indicators:
            if indicator.id in doc.linked("result_indicator", result.id):
                box.item(indicator, _details(indicator.kind, indicator.measured_by), indent=1, measured=indicator)
    if not results:
        box.empty(doc.label("resultaten"))
    _not_chosen(box, len(results), len(societal.results))
    linked = {i for r in results for i in doc.linked("result_indicator", r.id)}
    loose = [i for i in societal.indicators if i.id not in linked]
    if not societal.indicators:
        box.empty(doc.label("indicatoren"))
    if loose:
        box.head("Nog niet gekoppelde indicatoren")
        for indicator in loose:
            box.item(indicator, _details(indicator.kind, indicator.measured_by), indent=1, measured=indicator)
    _extras(box, doc, "resultaat", "indicator")

    box = boxes[3]
    for activity in plan.activities:
        serves = _codes(doc, activity.results)
        details = _details(activity.who, activity.form, activity.status, f"→ {serves}" if serves else None)
        box.item(activity, details)
        if activity.expectation and not compact:
            box.lines.append(FieldLine((Span(box.text(activity.expectation), "muted"),), indent=1))
    if not plan.activities:
        box.empty(doc.label("activiteiten"))
    box.inline(doc.label("samenhang"), _formulated(plan.coherence))
    box.inline(doc.label("stoppen"), [i.text for i in plan.to_stop])
    _extras(box, doc, "activiteit")

    box = boxes[4]
    for knowledge in quality.what_works:
        codes = _codes(doc, knowledge.activities)
        reference = f"[{sources[knowledge.source]}]" if knowledge.source in sources else None
        box.item(knowledge, _details(f"→ {codes}" if codes else None, reference))
    if not quality.what_works:
        box.empty(doc.label("wat_werkt"))
    box.inline(doc.label("mensen"), [i.text for i in quality.people])
    box.inline(doc.label("voorwaarden"), [i.text for i in quality.conditions])
    _extras(box, doc, "input")

    box = boxes[5]
    for outcome in doc.outcome.outcomes:
        codes = _codes(doc, outcome.activity)
        details = _details(f"bij {codes}" if codes else None, outcome.kind, outcome.instrument)
        box.item(outcome, details, measured=outcome)
    if not doc.outcome.outcomes:
        box.empty(doc.label("outcome"))
    _extras(box, doc, "outcome")

    box = boxes[6]
    box.inline(doc.label("herkennen"), [i.text for i in cycle.recognise])
    box.inline(doc.label("verklaren"), [i.text for i in cycle.explain])
    box.inline(doc.label("waarderen"), [i.text for i in cycle.appraise])
    if cycle.improvements:
        box.head(doc.label("verbeteren"))
    for improvement in cycle.improvements:
        box.item(improvement, f"→ {improvement.back_to}" if improvement.back_to else "")
    _extras(box, doc, "verbetering")
    if not box.lines:
        box.empty()
    for number, box in boxes.items():
        if not any(span.style == "plain" for line in box.lines for span in line.line):
            box.lines.append(FieldLine((Span(doc.step(number).goal, "muted"),)))  # what this step asks
    return list(boxes.values())


def compass_header(doc: CompassDocument) -> CompassField:
    """The band above the six boxes: the common language, who is at the table, the round.

    The missing perspectives and what changed since the previous round are protected: never cut.
    """
    prep = doc.preparation
    header = CompassField(0, doc.step(0).title, sources=source_numbers(doc))
    definition = _formulated(prep.definition)
    if definition:
        header.inline(doc.label("betekenis"), definition)
    else:
        header.empty(doc.label("betekenis"))
    header.inline(doc.label("signalen"), [i.text for i in prep.signs])
    seats = [f"{s.text} ({s.perspective})" if s.perspective else s.text for s in prep.at_table]
    header.inline(doc.label("aan_tafel"), seats)
    present = ", ".join(prep.perspectives_present) or "nog niemand met een bekend perspectief"
    missing = f"; ontbreekt nog: {', '.join(prep.perspectives_missing)}" if prep.perspectives_missing else ""
    header.inline("Perspectieven", [f"{present}{missing}"], protected=True)
    _extras(header, doc, "vooraf")
    if doc.round is not None:
        since = f", sinds ronde {doc.round.number - 1}" if doc.round.number > 1 else ""
        header.inline(f"Ronde {doc.round.number}{since}", [round_line(doc.round)], protected=True)
    return header


def round_line(summary: RoundSummary) -> str:
    """'2 activiteiten nieuw, 1 gewijzigd, 1 gestopt; 1 nieuwe indicator' (what changed since the round before)."""
    if summary.number <= 1:
        return "de eerste ronde van dit kompas"
    parts = []
    if summary.added:
        parts.append(f"{len(summary.added)} {'activiteit' if len(summary.added) == 1 else 'activiteiten'} nieuw")
    if summary.changed:
        parts.append(f"{len(summary.changed)} gewijzigd")
    if summary.stopped:
        parts.append(f"{len(summary.stopped)} gestopt")
    activities = ", ".join(parts)
    indicators = len(summary.new_indicators)
    new = f"{indicators} nieuwe indicator{'en' if indicators != 1 else ''}" if indicators else ""
    changes = "; ".join(p for p in (activities, new) if p) or "geen veranderingen in activiteiten en indicatoren"
    return changes


def open_point_lines(doc: CompassDocument) -> list[str]:
    """The open points for page 1, complete: the gaps one by one, the empty questions counted per step."""
    lines = [p.text for p in doc.open_points if p.kind != "leeg"]
    empty: dict[int | None, int] = {}
    for point in doc.open_points:
        if point.kind == "leeg":
            empty[point.step] = empty.get(point.step, 0) + 1
    if empty:
        counted = ", ".join(
            f"{'vooraf' if step == 0 else f'stap {step}'}: {count}" for step, count in sorted(empty.items(), key=str)
        )
        lines.append(f"Nog in te vullen ({sum(empty.values())} vragen) · {counted}")
    return lines


# --------------------------------------------------------------------------- sources and URLs

URL = re.compile(r"(?:https?://|www\.)[^\s<>\"']+[^\s<>\"'.,;:!?)\]]", re.IGNORECASE)


def source_numbers(doc: CompassDocument) -> dict[str, int]:
    """Every source (of an adopted knowledge item or field) and every URL in the compass, numbered in
    document order: page 1 shows '[n]', the full version lists them under 'Bronnen'."""
    numbers: dict[str, int] = {}

    def add(text: str) -> None:
        numbers.setdefault(text, len(numbers) + 1)

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "author" in node and "at" in node:  # an item
                if isinstance(node.get("source"), str):
                    add(node["source"])
                for value in (node.get("field_sources") or {}).values():
                    add(value)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str):
            for url in URL.findall(node):
                add(url)

    walk(doc.model_dump(mode="json", exclude={"dates", "labels", "steps", "participants", "chain"}))
    return numbers


def unlink(text: str, sources: dict[str, int]) -> str:
    """`text` with every URL replaced by its number, e.g. '[2]'."""
    return URL.sub(lambda m: f"[{sources[m.group(0)]}]" if m.group(0) in sources else "[bron]", text)
