"""The compass document: what a session says, compiled into one structured, self-contained value.

`compile_document` reads a `Session` through the `Flow` (step titles and question labels come
from the content files) and produces a `CompassDocument`. Every export (PDF, Word, Markdown,
JSON, the picture) is rendered from this model alone, so it can also be rebuilt from its JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from bot.compass import Contribution, Role, Session
from bot.flows import EXTRA, ROLES, Flow
from bot.measure import (
    IndicatorRef,
    MeasureError,
    Measurement,
    StatusKind,
    indicator_status,
    ordered,
    parse_target,
    resolve_indicator,
)

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "compass-document.schema.json"
CORE_PERSPECTIVES: tuple[Role, ...] = ("gemeente", "aanbieder", "doelgroep")
EMPTY = "nog in te vullen"

LinkKind = Literal["ambition_result", "result_indicator", "activity_result", "outcome_activity"]
PointKind = Literal["leeg", "keten", "verwijzing", "perspectief", "concept"]


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Reference(_Doc):
    """A link from an item to items of an earlier question.

    `ids` are the contribution ids of the linked items that still exist. `text` holds what
    was typed when the target did not exist yet (or did not match any item by its text).
    """

    ids: list[int] = Field(default_factory=list)
    text: str | None = None

    @property
    def empty(self) -> bool:
        return not self.ids and not self.text


class FieldText(_Doc):
    """A field the flow marks as 'extra' for the document: shown as 'label: value' beside its item."""

    label: str
    value: str


class Item(_Doc):
    """One contribution as it appears in the document."""

    id: int = Field(description="The contribution id in the session; links point at it.")
    text: str
    code: str | None = Field(default=None, description="Step and position, e.g. '2.1', for cross-references.")
    chosen: bool = Field(default=False, description="Chosen by the group in a vote.")
    author: int | None = Field(default=None, description="Number of the participant (see `participants`).")
    role: Role | None = None
    source: str | None = Field(default=None, description="Where an adopted knowledge item comes from.")
    field_sources: dict[str, str] = Field(
        default_factory=dict, description="Per item field (flow key), where an adopted value comes from."
    )
    at: datetime
    question: str | None = Field(default=None, description="The flow key of the question it answers.")
    extra_fields: list[FieldText] = Field(default_factory=list)


ItemT = TypeVar("ItemT", bound=Item)


class Seat(Item):
    """An organisation, team or group at the table ('aan_tafel')."""

    perspective: str | None = None


class Result(Item):
    """A societal result ('resultaten')."""

    ambition: Reference = Field(default_factory=Reference)
    term: str | None = None
    size: str | None = None


class MeasuredValue(_Doc):
    """One measurement of an indicator, as the document shows it (without who entered it)."""

    period: str = Field(description="Canonical period, e.g. '2026-09'.")
    label: str = Field(description="The period in Dutch, e.g. 'september 2026'.")
    key: float = Field(description="The middle of the period as a fractional year, for ordering and charts.")
    value: float
    unit: str = ""
    source: str = ""
    note: str = ""
    baseline: bool = False


class Progress(_Doc):
    """Where an indicator stands against its target (bot.measure.indicator_status)."""

    status: StatusKind
    explanation: str
    target: str | None = Field(default=None, description="The target in words, e.g. '20% minder in 2028'.")
    target_year: int | None = None
    target_value: float | None = None
    expected: float | None = Field(default=None, description="The value on the straight line at the last measurement.")


class Measured(_Doc):
    measurements: list[MeasuredValue] = Field(default_factory=list)
    progress: Progress | None = None


class Indicator(Item, Measured):
    """How success on a result shows ('indicatoren')."""

    result: Reference = Field(default_factory=Reference)
    kind: str | None = Field(default=None, description="'feiten' or 'beleving'.")
    measured_by: str | None = Field(default=None, description="Source or measurement instrument ('bron').")


class Activity(Item):
    """An activity that contributes to results ('activiteiten')."""

    who: str | None = None
    form: str | None = Field(default=None, description="'formeel' or 'informeel'.")
    status: str | None = Field(default=None, description="'bestaand' or 'nieuw'.")
    results: Reference = Field(default_factory=Reference)
    expectation: str | None = Field(default=None, description="The theory of change: 'als ..., dan ...'.")


class WhatWorks(Item):
    """Knowledge about what works, with the activities it supports ('wat_werkt')."""

    activities: Reference = Field(default_factory=Reference)


class OutcomeIndicator(Item, Measured):
    """A result at the level of one activity ('outcome')."""

    activity: Reference = Field(default_factory=Reference)
    kind: str | None = None
    instrument: str | None = None


class Improvement(Item):
    """An improvement and where it intervenes ('verbeteren')."""

    back_to: str | None = Field(default=None, description="Steps 1-2, step 3 or step 4.")


class Formulation(_Doc):
    """A sentence the group settles on; `proposals` while it has not chosen yet."""

    agreed: str | None = None
    proposals: list[Item] = Field(default_factory=list)


class Preparation(_Doc):
    """Before the six steps: the common language and who is at the table."""

    definition: Formulation = Field(default_factory=Formulation)
    signs: list[Item] = Field(default_factory=list)
    at_table: list[Seat] = Field(default_factory=list)
    perspectives_present: list[str] = Field(default_factory=list)
    perspectives_missing: list[str] = Field(default_factory=list)


class Monitoring(_Doc):
    """Step 1: how residents are doing, and the ambitions."""

    figures: list[Item] = Field(default_factory=list)
    stories: list[Item] = Field(default_factory=list)
    policy: Formulation = Field(default_factory=Formulation)
    ambitions: list[Item] = Field(default_factory=list)


class SocietalResults(_Doc):
    """Step 2: results for all residents (or a group), and their indicators."""

    results: list[Result] = Field(default_factory=list)
    indicators: list[Indicator] = Field(default_factory=list)


class ActivityPlan(_Doc):
    """Step 3: the activities, how they cohere, and what may stop."""

    activities: list[Activity] = Field(default_factory=list)
    coherence: Formulation = Field(default_factory=Formulation)
    to_stop: list[Item] = Field(default_factory=list)


class InputQuality(_Doc):
    """Step 4: what works, the people, the conditions."""

    what_works: list[WhatWorks] = Field(default_factory=list)
    people: list[Item] = Field(default_factory=list)
    conditions: list[Item] = Field(default_factory=list)


class Outcomes(_Doc):
    """Step 5: outcome per activity."""

    outcomes: list[OutcomeIndicator] = Field(default_factory=list)


class ImprovementCycle(_Doc):
    """Step 6: recognise, explain, appraise, improve."""

    recognise: list[Item] = Field(default_factory=list)
    explain: list[Item] = Field(default_factory=list)
    appraise: list[Item] = Field(default_factory=list)
    improvements: list[Improvement] = Field(default_factory=list)


class ExtraPart(_Doc):
    """A question the flow places in a section without a fixed role ('extra'): shown as it is."""

    section: str
    step: int
    key: str
    label: str
    formulation: Formulation | None = None
    items: list[Item] = Field(default_factory=list)


class RoundSummary(_Doc):
    """Which round of the compass this is, and what changed since the previous one."""

    number: int
    added: list[str] = Field(default_factory=list, description="Activities new in this round.")
    changed: list[str] = Field(default_factory=list, description="Activities whose text or fields changed.")
    stopped: list[str] = Field(default_factory=list, description="Activities of the previous round that stopped.")
    new_indicators: list[str] = Field(default_factory=list)

    @property
    def changes(self) -> bool:
        return bool(self.added or self.changed or self.stopped or self.new_indicators)


class ChainLink(_Doc):
    """One link of the logic chain, between two item ids."""

    kind: LinkKind
    from_id: int
    to_id: int


class OpenPoint(_Doc):
    """Something still to do, in Dutch, for the reader of the document."""

    step: int | None = None
    kind: PointKind
    text: str


class DocumentParticipant(_Doc):
    number: int
    name: str | None = Field(default=None, description="Left out when unknown or when the export is pseudonymised.")
    role: Role | None = None

    @property
    def label(self) -> str:
        return self.name or f"Deelnemer {self.number}"


class StepInfo(_Doc):
    number: int
    title: str
    goal: str


class Dates(_Doc):
    created: datetime
    updated: datetime
    exported: datetime


class CompassDocument(_Doc):
    """One compass for one issue, ready to be rendered in any format."""

    format_version: Literal[1] = 1
    issue: str
    session_id: str
    flow_name: str
    flow_version: int
    steps: list[StepInfo]
    labels: dict[str, str] = Field(description="Short label per question key, from the flow.")
    preparation: Preparation
    monitoring: Monitoring
    societal_results: SocietalResults
    activity_plan: ActivityPlan
    input_quality: InputQuality
    outcome: Outcomes
    improvement_cycle: ImprovementCycle
    chain: list[ChainLink]
    open_points: list[OpenPoint]
    participants: list[DocumentParticipant]
    pseudonymised: bool = False
    dates: Dates
    extras: list[ExtraPart] = Field(default_factory=list, description="Questions with document role 'extra'.")
    round: RoundSummary | None = Field(default=None, description="Set from round 2 on, or when round info is given.")

    def step(self, number: int) -> StepInfo:
        return next(s for s in self.steps if s.number == number)

    def label(self, key: str) -> str:
        return self.labels.get(key, key)

    def linked(self, kind: LinkKind, from_id: int) -> list[int]:
        """The items an item points at, e.g. the results an activity serves."""
        return [link.to_id for link in self.chain if link.kind == kind and link.from_id == from_id]

    def linking(self, kind: LinkKind, to_id: int) -> list[int]:
        """The items pointing at an item, e.g. the activities that serve a result."""
        return [link.from_id for link in self.chain if link.kind == kind and link.to_id == to_id]

    def item(self, item_id: int) -> Item | None:
        return self._items().get(item_id)

    def _items(self) -> dict[int, Item]:
        groups: Iterable[list[Any]] = (
            self.monitoring.ambitions,
            self.societal_results.results,
            self.societal_results.indicators,
            self.activity_plan.activities,
            self.outcome.outcomes,
        )
        return {item.id: item for group in groups for item in group}

    def extras_in(self, *sections: str) -> list[ExtraPart]:
        return [part for part in self.extras if part.section in sections]

    def measured(self) -> list[Indicator | OutcomeIndicator]:
        """The indicators of step 2 and step 5 that hold measurements."""
        items: list[Indicator | OutcomeIndicator] = [*self.societal_results.indicators, *self.outcome.outcomes]
        return [item for item in items if item.measurements]

    def indicator_refs(self) -> list[IndicatorRef]:
        """The indicators of steps 2 ('I1', ...) and 5 ('5.1', ...) as `/meting` and the CSV import can name
        them, for `bot.measure.resolve_indicator`; a step-2 indicator also answers to the code of its result
        when it is that result's only indicator."""
        codes = {r.id: r.code for r in self.societal_results.results}
        refs = [
            IndicatorRef(i.id, i.code or "", i.text, codes.get(i.result.ids[0]) if len(i.result.ids) == 1 else None)
            for i in self.societal_results.indicators
        ]
        return refs + [IndicatorRef(o.id, o.code or "", o.text) for o in self.outcome.outcomes]

    def recognise_lines(self) -> list[str]:
        """Per indicator, where it stands: for step 6 'herkennen' ('I1 Aandeel ...: Op koers: nulmeting ...')."""
        lines = []
        items: list[Indicator | OutcomeIndicator] = [*self.societal_results.indicators, *self.outcome.outcomes]
        for item in items:
            status = item.progress.explanation if item.progress else "Nog geen metingen."
            lines.append(f"{item.code} {item.text}: {status}" if item.code else f"{item.text}: {status}")
        return lines

    def ambitions_in_scope(self) -> list[Item]:
        """The ambitions the group chose by vote, or all of them when there was no vote."""
        return _in_scope(self.monitoring.ambitions)

    def results_in_scope(self) -> list[Result]:
        return _in_scope(self.societal_results.results)


def _in_scope(items: list[ItemT]) -> list[ItemT]:
    chosen = [item for item in items if item.chosen]
    return chosen or items


# --------------------------------------------------------------------------- compiling


@dataclass(frozen=True)
class RoundInfo:
    """The round a session is in, and what the previous round held (its contributions)."""

    number: int = 1
    previous: Sequence[Contribution] = ()


class _Compiler:
    """Reads one session through the flow, by the document role each question has (flows/kompas.yaml
    `document:`), and keeps the participant numbering consistent."""

    def __init__(self, session: Session, flow: Flow, pseudonymise: bool) -> None:
        self.session = session
        self.flow = flow
        self.pseudonymise = pseudonymise
        self.numbers: dict[str, int] = {}
        self.participants: list[DocumentParticipant] = []
        for participant in session.participants.values():
            self._participant(participant.id, participant.name, participant.role)

    def _participant(self, author_id: str, name: str, role: Role | None) -> int:
        if author_id not in self.numbers:
            number = len(self.participants) + 1
            self.numbers[author_id] = number
            shown = None if self.pseudonymise else (name.strip() or None)
            self.participants.append(DocumentParticipant(number=number, name=shown, role=role))
        return self.numbers[author_id]

    def person(self, author_id: str, name: str) -> str:
        """How the document names a participant: by name, or 'Deelnemer N' when pseudonymised."""
        known = self.session.participants.get(author_id)
        number = self._participant(author_id, name, known.role if known else None)
        return f"Deelnemer {number}" if self.pseudonymise else (name.strip() or f"Deelnemer {number}")

    def keys(self, role: str) -> list[str]:
        return [q.sleutel for q in self.flow.questions_with_role(role)]

    def live(self, role: str) -> list[Contribution]:
        """The contributions to every question with this document role, in flow order."""
        return [c for key in self.keys(role) for c in self.session.live(key)]

    def item_values(self, contribution: Contribution, position: int, code_step: int | None) -> dict[str, Any]:
        key = contribution.question
        known = self.session.participants.get(contribution.author_id)
        role = contribution.role or (known.role if known else None)
        return {
            "id": contribution.id,
            "text": contribution.text,
            "code": f"{code_step}.{position}" if code_step is not None else None,
            "chosen": contribution.id in self.session.answer(key).chosen,
            "author": self._participant(contribution.author_id, contribution.author_name, role),
            "role": role,
            "source": contribution.source,
            "field_sources": dict(contribution.field_sources),
            "at": contribution.at,
            "question": key,
            "extra_fields": self.extra_fields(contribution),
        }

    def items(self, role: str, code_step: int | None = None) -> list[Item]:
        return [Item(**self.item_values(c, n, code_step)) for n, c in enumerate(self.live(role), start=1)]

    def question_items(self, key: str) -> list[Item]:
        return [Item(**self.item_values(c, n, None)) for n, c in enumerate(self.session.live(key), start=1)]

    def formulation(self, role: str) -> Formulation:
        keys = self.keys(role)
        if not keys:
            return Formulation()
        return self.key_formulation(keys[0])

    def key_formulation(self, key: str) -> Formulation:
        agreed = self.session.answer(key).agreed
        return Formulation(agreed=agreed, proposals=[] if agreed else self.question_items(key))

    def field_key(self, contribution: Contribution, role: str) -> str | None:
        try:
            return self.flow.question(contribution.question).field_key(role)
        except KeyError:
            return None

    def text(self, contribution: Contribution, role: str) -> str | None:
        key = self.field_key(contribution, role)
        return _text(contribution, key) if key else None

    def reference(self, contribution: Contribution, role: str, target_role: str) -> Reference:
        key = self.field_key(contribution, role)
        value = contribution.fields.get(key) if key else None
        targets = self.live(target_role)
        if isinstance(value, list):
            ids = {c.id for c in targets}
            return Reference(ids=[i for i in value if i in ids])
        text = (value or "").strip()
        if not text:
            return Reference()
        match = [c.id for c in targets if _normal(c.text) == _normal(text)]
        return Reference(ids=match[:1]) if match else Reference(text=text)

    def extra_fields(self, contribution: Contribution) -> list[FieldText]:
        try:
            question = self.flow.question(contribution.question)
        except KeyError:
            return []
        shown = []
        for item_field in question.velden:
            if item_field.document.rol != EXTRA:
                continue
            value = contribution.fields.get(item_field.sleutel)
            if isinstance(value, list):
                texts = [c.text for c in (self.session.contribution(i) for i in value) if c is not None]
                value = "; ".join(texts)
            if value and value.strip():
                shown.append(FieldText(label=item_field.heading, value=value.strip()))
        return shown

    def extras(self) -> list[ExtraPart]:
        parts = []
        for step in self.flow.stappen:
            for question in step.vragen:
                if question.document.rol != EXTRA:
                    continue
                key = question.sleutel
                formulation = self.key_formulation(key) if question.soort == "formulering" else None
                parts.append(
                    ExtraPart(
                        section=self.flow.section_of(key),
                        step=step.nummer,
                        key=key,
                        label=question.kort,
                        formulation=formulation,
                        items=[] if formulation else self.question_items(key),
                    )
                )
        return parts


def _normal(text: str) -> str:
    return " ".join(text.casefold().split())


def _text(contribution: Contribution, field: str) -> str | None:
    value = contribution.fields.get(field)
    return value.strip() or None if isinstance(value, str) else None


def compile_document(
    session: Session,
    flow: Flow,
    *,
    pseudonymise: bool = False,
    exported_at: datetime | None = None,
    measurements: Sequence[Measurement] | None = None,
    round_info: RoundInfo | None = None,
) -> CompassDocument:
    """The document for one session. `pseudonymise` replaces names by 'Deelnemer 1', 'Deelnemer 2', ...

    `measurements` (bot.measure.Measurement) are attached to the indicators of steps 2 and 5 (by
    `indicator_id`, else by code or text), each with its status against the target of its result.
    `round_info` says which round this is and what the previous round held; the document then lists
    what changed. Both default to what the session itself holds (`session.measurements`,
    `session.round`, `session.previous[-1].contributions`) once the session has those attributes.
    """
    c = _Compiler(session, flow, pseudonymise)
    if measurements is None:
        measurements = list(getattr(session, "measurements", None) or [])
    if round_info is None:
        round_info = _session_round(session)

    def rich(model: type[ItemT], role: str, code_step: int | None, extra: Any) -> list[ItemT]:
        return [
            model(**c.item_values(contribution, n, code_step), **extra(contribution))
            for n, contribution in enumerate(c.live(role), start=1)
        ]

    seats = rich(Seat, "aan_tafel", None, lambda x: {"perspective": c.text(x, "perspectief")})
    present = {seat.perspective for seat in seats} | {p.role for p in session.participants.values()}
    preparation = Preparation(
        definition=c.formulation("betekenis"),
        signs=c.items("signalen"),
        at_table=seats,
        perspectives_present=[role for role in ROLES if role in present],
        perspectives_missing=[role for role in CORE_PERSPECTIVES if role not in present],
    )
    monitoring = Monitoring(
        figures=c.items("beeld_cijfers"),
        stories=c.items("beeld_verhalen"),
        policy=c.formulation("beleid"),
        ambitions=c.items("ambities", 1),
    )
    results = rich(
        Result,
        "resultaten",
        2,
        lambda x: {
            "ambition": c.reference(x, "ambitie", "ambities"),
            "term": c.text(x, "termijn"),
            "size": c.text(x, "omvang"),
        },
    )
    indicators = [
        indicator.model_copy(update={"code": f"I{n}"})
        for n, indicator in enumerate(
            rich(
                Indicator,
                "indicatoren",
                None,
                lambda x: {
                    "result": c.reference(x, "resultaat", "resultaten"),
                    "kind": c.text(x, "type"),
                    "measured_by": c.text(x, "bron"),
                },
            ),
            start=1,
        )
    ]
    plan = ActivityPlan(
        activities=rich(
            Activity,
            "activiteiten",
            3,
            lambda x: {
                "who": c.text(x, "wie"),
                "form": c.text(x, "vorm"),
                "status": c.text(x, "bestaand"),
                "results": c.reference(x, "resultaat", "resultaten"),
                "expectation": c.text(x, "verwachting"),
            },
        ),
        coherence=c.formulation("samenhang"),
        to_stop=c.items("stoppen"),
    )
    input_quality = InputQuality(
        what_works=rich(
            WhatWorks, "wat_werkt", None, lambda x: {"activities": c.reference(x, "activiteit", "activiteiten")}
        ),
        people=c.items("mensen"),
        conditions=c.items("voorwaarden"),
    )
    outcomes = rich(
        OutcomeIndicator,
        "outcome",
        5,
        lambda x: {
            "activity": c.reference(x, "activiteit", "activiteiten"),
            "kind": c.text(x, "type"),
            "instrument": c.text(x, "instrument"),
        },
    )
    indicators, outcomes = _measure(indicators, outcomes, results, list(measurements), session.created_at.year)
    societal = SocietalResults(results=results, indicators=indicators)
    outcome = Outcomes(outcomes=outcomes)
    cycle = ImprovementCycle(
        recognise=c.items("herkennen"),
        explain=c.items("verklaren"),
        appraise=c.items("waarderen"),
        improvements=rich(Improvement, "verbeteren", None, lambda x: {"back_to": c.text(x, "terug_naar")}),
    )
    chain = _chain(societal, plan, outcome)
    labels = {q.sleutel: q.kort for s in flow.stappen for q in s.vragen}
    for step in flow.stappen:  # a role is labelled by its first question, so renderers can ask by role
        for question in step.vragen:
            if question.document.rol != EXTRA:
                labels.setdefault(question.document.rol, question.kort)
    document = CompassDocument(
        issue=session.vraagstuk,
        session_id=session.id,
        flow_name=flow.naam,
        flow_version=flow.versie,
        steps=[StepInfo(number=s.nummer, title=s.titel, goal=s.doel) for s in flow.stappen],
        labels=labels,
        preparation=preparation,
        monitoring=monitoring,
        societal_results=societal,
        activity_plan=plan,
        input_quality=input_quality,
        outcome=outcome,
        improvement_cycle=cycle,
        chain=chain,
        open_points=[],
        participants=c.participants,
        pseudonymised=pseudonymise,
        dates=Dates(created=session.created_at, updated=session.updated_at, exported=exported_at or datetime.now(UTC)),
        extras=c.extras(),
        round=_round_summary(round_info, plan.activities, indicators, flow) if round_info else None,
    )
    empty = _empty_points(document, session, flow)
    drafts = _draft_points(session, flow, c)
    return document.model_copy(update={"open_points": empty + drafts + _chain_points(document)})


def _session_round(session: Session) -> RoundInfo | None:
    """Round info from the session itself, once it carries `round` and `previous` (a list of snapshots)."""
    number = getattr(session, "round", 1) or 1
    if number <= 1:
        return None
    snapshots = getattr(session, "previous", None) or []
    last = snapshots[-1] if snapshots else None
    contributions = getattr(last, "contributions", None) or []
    return RoundInfo(number=number, previous=list(contributions))


def _measure(
    indicators: list[Indicator],
    outcomes: list[OutcomeIndicator],
    results: list[Result],
    measurements: list[Measurement],
    start_year: int,
) -> tuple[list[Indicator], list[OutcomeIndicator]]:
    """Attach each measurement to its indicator, with the status against the target of its result."""
    if not measurements:
        return indicators, outcomes
    result_code = {r.id: r.code for r in results}
    refs = [
        IndicatorRef(i.id, i.code or "", i.text, result_code.get(i.result.ids[0]) if len(i.result.ids) == 1 else None)
        for i in indicators
    ] + [IndicatorRef(o.id, o.code or "", o.text) for o in outcomes]
    by_item: dict[int, list[Measurement]] = {}
    known = {ref.id for ref in refs}
    for measurement in measurements:
        item_id = measurement.indicator_id if measurement.indicator_id in known else None
        if item_id is None:
            try:
                item_id = resolve_indicator(measurement.indicator, refs).id
            except MeasureError:
                continue
        by_item.setdefault(item_id, []).append(measurement)

    def attach(item: ItemT, target_from: Result | None) -> ItemT:
        found = by_item.get(item.id)
        if not found:
            return item
        target = parse_target(target_from.text, target_from.term, target_from.size, start_year) if target_from else None
        status = indicator_status(found, target)
        values = [
            MeasuredValue(
                period=m.period,
                label=m.when.label,
                key=m.when.key,
                value=m.value,
                unit=m.unit,
                source=m.source,
                note=m.note,
                baseline=m is status.baseline,
            )
            for m in ordered(found)
        ]
        progress = Progress(
            status=status.status,
            explanation=status.explanation,
            target=target.describe() if target and target.complete else None,
            target_year=target.year if target else None,
            target_value=status.target_value,
            expected=status.expected,
        )
        return item.model_copy(update={"measurements": values, "progress": progress})

    by_id = {r.id: r for r in results}
    measured = [attach(i, by_id.get(i.result.ids[0]) if i.result.ids else None) for i in indicators]
    return measured, [attach(o, None) for o in outcomes]


def _describe(item: Item) -> str:
    return f"{item.code} {item.text}" if item.code else item.text


def _round_summary(
    info: RoundInfo, activities: list[Activity], indicators: list[Indicator], flow: Flow
) -> RoundSummary:
    """Added, changed and stopped activities and new indicators, against the previous round's contributions."""
    activity_keys = {q.sleutel for q in flow.questions_with_role("activiteiten")}
    indicator_keys = {q.sleutel for q in flow.questions_with_role("indicatoren")}
    before = [c for c in info.previous if not c.removed]
    old_activities = {c.id: c for c in before if c.question in activity_keys}
    old_indicators = {c.id: c for c in before if c.question in indicator_keys}
    old_texts = {_normal(c.text) for c in old_activities.values()}
    added, changed = [], []
    current: set[int] = set()
    for activity in activities:
        old = old_activities.get(activity.id)
        if old is None and _normal(activity.text) in old_texts:
            old = next(c for c in old_activities.values() if _normal(c.text) == _normal(activity.text))
        if old is None:
            added.append(_describe(activity))
            continue
        current.add(old.id)
        now = {
            "text": activity.text,
            "who": activity.who,
            "form": activity.form,
            "status": activity.status,
            "results": activity.results.ids,
            "expectation": activity.expectation,
        }
        question = flow.question(old.question) if old.question in activity_keys else None

        def field(role: str, contribution: Contribution = old, question: Any = question) -> Any:
            key = question.field_key(role) if question else None
            value = contribution.fields.get(key) if key else None
            return value.strip() or None if isinstance(value, str) else value

        then = {
            "text": old.text,
            "who": field("wie"),
            "form": field("vorm"),
            "status": field("bestaand"),
            "results": field("resultaat") if isinstance(field("resultaat"), list) else now["results"],
            "expectation": field("verwachting"),
        }
        if now != then:
            changed.append(_describe(activity))
    stopped = [c.text for c in old_activities.values() if c.id not in current]
    old_indicator_texts = {_normal(c.text) for c in old_indicators.values()}
    new_indicators = [
        _describe(i) for i in indicators if i.id not in old_indicators and _normal(i.text) not in old_indicator_texts
    ]
    return RoundSummary(
        number=info.number, added=added, changed=changed, stopped=stopped, new_indicators=new_indicators
    )


def _chain(societal: SocietalResults, plan: ActivityPlan, outcome: Outcomes) -> list[ChainLink]:
    links = [ChainLink(kind="ambition_result", from_id=a, to_id=r.id) for r in societal.results for a in r.ambition.ids]
    for result in societal.results:
        for indicator in societal.indicators:
            if result.id in indicator.result.ids:
                links.append(ChainLink(kind="result_indicator", from_id=result.id, to_id=indicator.id))
    links += [ChainLink(kind="activity_result", from_id=a.id, to_id=r) for a in plan.activities for r in a.results.ids]
    links += [
        ChainLink(kind="outcome_activity", from_id=o.id, to_id=a) for o in outcome.outcomes for a in o.activity.ids
    ]
    return links


def _empty_points(document: CompassDocument, session: Session, flow: Flow) -> list[OpenPoint]:
    points = []
    for step in flow.stappen:
        where = "Wat vooraf gaat" if step.nummer == 0 else f"Stap {step.nummer}"
        for question in step.vragen:
            answer = session.answer(question.sleutel)
            live = session.live(question.sleutel)
            if question.soort == "formulering" and live and not answer.agreed:
                text = f"{where} · {question.kort}: er is nog geen formulering gekozen."
            elif not live and not answer.agreed:
                text = f"{where} · {question.kort}: {EMPTY}."
            else:
                continue
            points.append(OpenPoint(step=step.nummer, kind="leeg", text=text))
    if "doelgroep" in document.preparation.perspectives_missing:
        points.append(
            OpenPoint(step=0, kind="perspectief", text="Het perspectief van de doelgroep ontbreekt nog aan tafel.")
        )
    return points


def _draft_points(session: Session, flow: Flow, compiler: _Compiler) -> list[OpenPoint]:
    """Items whose author is still answering their follow-up questions: whose they are, and what is open."""
    points = []
    for draft in session.drafts:
        item = session.contribution(draft.item_id)
        if item is None or item.removed:
            continue
        question = flow.question(draft.question)
        step = flow.step_of(draft.question)
        where = "Wat vooraf gaat" if step == 0 else f"Stap {step}"
        missing = [f.label for f in question.velden if f.sleutel not in item.fields and f.sleutel not in draft.skipped]
        author = compiler.person(item.author_id, item.author_name)
        whose = f" van {author}" if author else ""
        text = f"{where} · {question.kort}: nr. {item.id} '{_short_text(item.text)}'{whose} is nog niet af"
        points.append(
            OpenPoint(step=step, kind="concept", text=text + (f" ({', '.join(missing)})." if missing else "."))
        )
    return points


def _short_text(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    space = text.rfind(" ", 0, limit)
    return (text[:space] if space > 0 else text.split(" ", 1)[0]).rstrip(" ,;:") + "…"


def _quote(item: Item, limit: int = 60) -> str:
    text = " ".join(item.text.split())
    short = text
    if len(text) > limit:  # at a word boundary, never inside a word
        space = text.rfind(" ", 0, limit)
        short = (text[:space] if space > 0 else text.split(" ", 1)[0]).rstrip(" ,;:") + "…"
    return f"{item.code} '{short}'" if item.code else f"'{short}'"


def _chain_points(doc: CompassDocument) -> list[OpenPoint]:
    """The gaps in the logic chain, in Dutch, in the order of the steps."""
    points: list[OpenPoint] = []
    results = doc.societal_results.results
    indicators = doc.societal_results.indicators
    activities = doc.activity_plan.activities

    def add(step: int, text: str, kind: PointKind = "keten") -> None:
        points.append(OpenPoint(step=step, kind=kind, text=text))

    if results:
        for ambition in doc.ambitions_in_scope():
            if not doc.linked("ambition_result", ambition.id):
                add(1, f"Ambitie {_quote(ambition)} is nog niet uitgewerkt in een maatschappelijk resultaat.")
    for result in results:
        if result.ambition.text:
            add(
                2,
                f"Resultaat {_quote(result)} verwijst naar '{result.ambition.text}'; koppel het aan een ambitie.",
                "verwijzing",
            )
    for result in doc.results_in_scope():
        if indicators and not doc.linked("result_indicator", result.id):
            add(2, f"Bij resultaat {_quote(result)} is nog geen indicator gekozen.")
        if activities and not doc.linking("activity_result", result.id):
            add(3, f"Aan resultaat {_quote(result)} draagt nog geen activiteit bij.")
    for indicator in indicators:
        if indicator.result.text:
            add(
                2,
                f"Indicator {_quote(indicator)} verwijst naar '{indicator.result.text}'; koppel die aan een resultaat.",
                "verwijzing",
            )
    for activity in activities:
        if activity.results.text:
            add(
                3,
                f"Activiteit {_quote(activity)} verwijst naar '{activity.results.text}'; koppel die aan een resultaat.",
                "verwijzing",
            )
        elif results and not activity.results.ids:
            add(3, f"Activiteit {_quote(activity)} is nog niet gekoppeld aan een resultaat.")
        if not activity.expectation:
            add(3, f"Bij activiteit {_quote(activity)} ontbreekt de verwachting (als we dit doen, dan ...).")
    for outcome in doc.outcome.outcomes:
        if outcome.activity.text:
            add(
                5,
                f"Outcome {_quote(outcome)} verwijst naar '{outcome.activity.text}'; koppel die aan een activiteit.",
                "verwijzing",
            )
        elif activities and not outcome.activity.ids:
            add(5, f"Outcome {_quote(outcome)} is nog niet gekoppeld aan een activiteit.")
    return points


# --------------------------------------------------------------------------- schema


def document_schema() -> dict[str, Any]:
    """The JSON schema of `CompassDocument`, as published in docs/compass-document.schema.json."""
    schema = CompassDocument.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def schema_text() -> str:
    return json.dumps(document_schema(), indent=2, ensure_ascii=False) + "\n"
