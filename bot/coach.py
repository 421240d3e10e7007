"""Gentle coaching on what the group writes, by rules kept as data in `flows/coaching.yaml`.

The coach reads an answer (or a step, or the issue of a new compass) and may ask a question
back: "is this about residents?", "by when?", "who from the target group joined in?". It
never blocks; the group may keep its own wording. Everything here is pure and fast: the YAML
is compiled to regular expressions once, at load; reviewing is string matching only.

Patterns are written in a small phrase language so that an adviser can edit them:
words separated by spaces; `*` at the start or end of a word matches any ending or start
(`samenwerk*`); `a/b` matches either word; `...` skips up to five words; `<getal>` is a
number in digits or words, `<jaartal>` a year such as 2030. Matching ignores case and
accents, and "%" counts as the word "procent".
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.compass import Contribution, Role, Session
from bot.content import content_dir
from bot.flows import Flow, FlowError, _read_yaml, _validation_message, load_flow
from bot.phrases import COORDINATOR, normalize, phrase_regex
from bot.phrases import NUMBER as _NUMBER
from bot.phrases import YEAR as _YEAR
from bot.phrases import blank as _blank
from bot.phrases import compile_all as _compile_all
from bot.phrases import find as _find

Key = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
Perspective = Literal["gemeente", "aanbieder", "doelgroep"]


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _join(words: list[str]) -> str:
    """'a', 'a en b', 'a, b en c'."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " en " + words[-1]


# ----------------------------------------------------------------------------- the YAML schema


def _check_phrases(phrases: tuple[str, ...]) -> tuple[str, ...]:
    for phrase in phrases:
        try:
            phrase_regex(phrase)
        except ValueError as exc:
            raise ValueError(f"patroon '{phrase}' klopt niet: {exc}") from None
    return phrases


Phrases = Annotated[tuple[str, ...], AfterValidator(_check_phrases)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Rule(_Strict):
    actief: bool = True


def _check_template(text: str, allowed: set[str]) -> str:
    try:
        unknown = _placeholders(text) - allowed
    except ValueError as exc:
        raise ValueError(f"ongeldige accolades ({exc})") from None
    if unknown:
        names = ", ".join("{" + name + "}" for name in sorted(allowed)) or "geen"
        raise ValueError(f"onbekende invulplek {{{', '.join(sorted(unknown))}}}; toegestaan: {names}")
    return text


class SystemChange(_Strict):
    """A system goal written as an action on a part of the system ("de toegang verbeteren")."""

    handelingen: Phrases = Field(min_length=1)
    onderdelen: Phrases = Field(min_length=1)


class AmbitionRule(_Rule):
    id: Literal["ambitie_systeemdoel"]
    vragen: tuple[Key, ...] = Field(min_length=1)
    tekst: str
    tekst_zonder_inwoners: str
    systeemdoelen: dict[str, Phrases] = Field(min_length=1)
    organisatiewerk: dict[str, SystemChange] = Field(default_factory=dict)
    inwoners: Phrases = Field(min_length=1)
    maatschappelijk: Phrases = ()
    middel_of_gevolg: Phrases = ()
    gevolg: Phrases = ()
    uitzonderingen: Phrases = ()

    @field_validator("tekst")
    @classmethod
    def _template(cls, value: str) -> str:
        return _check_template(value, {"gevonden"})

    @field_validator("tekst_zonder_inwoners")
    @classmethod
    def _template_no_residents(cls, value: str) -> str:
        return _check_template(value, set())


class TermRule(_Rule):
    id: Literal["resultaat_termijn"]
    vragen: tuple[Key, ...] = Field(min_length=1)
    tekst: str
    veld: Key
    termijnen: Phrases = Field(min_length=1)

    @field_validator("tekst")
    @classmethod
    def _template(cls, value: str) -> str:
        return _check_template(value, set())


class AmountRule(_Rule):
    id: Literal["resultaat_omvang"]
    vragen: tuple[Key, ...] = Field(min_length=1)
    tekst: str
    veld: Key
    omvang: Phrases = Field(min_length=1)
    geen_omvang: Phrases = ()

    @field_validator("tekst")
    @classmethod
    def _template(cls, value: str) -> str:
        return _check_template(value, set())


class OutcomeRule(_Rule):
    id: Literal["resultaat_outcome"]
    vragen: tuple[Key, ...] = Field(min_length=1)
    tekst: str
    deelnemers: Phrases = Field(min_length=1)
    uitzonderingen: Phrases = ()
    onderdrukt: tuple[Key, ...] = ()

    @field_validator("tekst")
    @classmethod
    def _template(cls, value: str) -> str:
        return _check_template(value, set())


class IndicatorMixRule(_Rule):
    id: Literal["indicatoren_mix"]
    vragen: tuple[Key, ...] = Field(min_length=1)
    veld: Key
    minimaal: int = Field(default=2, ge=2)
    vraag_beleving: str
    vraag_feiten: str
    feiten: Phrases = ()
    beleving: Phrases = ()

    @field_validator("vraag_beleving", "vraag_feiten")
    @classmethod
    def _template(cls, value: str) -> str:
        return _check_template(value, set())


class ActivityLinkRule(_Rule):
    id: Literal["activiteit_koppeling"]
    vragen: tuple[Key, ...] = Field(min_length=1)
    veld_resultaat: Key
    veld_verwachting: Key
    vraag_resultaat: str
    vraag_verwachting: str
    onbekend: Phrases = ()
    sjabloon: Phrases = ()
    alleen_inzet: Phrases = ()
    gevolg: Phrases = ()
    effect: Phrases = Field(min_length=1)
    minimaal_woorden: int = Field(default=3, ge=1)

    @field_validator("vraag_resultaat", "vraag_verwachting")
    @classmethod
    def _template(cls, value: str) -> str:
        return _check_template(value, set())


class PerspectiveRule(_Rule):
    id: Literal["perspectief_ontbreekt"]
    stappen: tuple[int, ...] = Field(min_length=1)
    minimaal_deelnemers: int = Field(default=2, ge=1)
    perspectieven: dict[Perspective, str] = Field(min_length=1)

    @field_validator("stappen")
    @classmethod
    def _steps_exist(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        wrong = [n for n in value if not 0 <= n <= 6]
        if wrong:
            raise ValueError(f"stappen lopen van 0 tot en met 6; fout: {wrong}")
        return value

    @field_validator("perspectieven")
    @classmethod
    def _templates(cls, value: dict[Perspective, str]) -> dict[Perspective, str]:
        for text in value.values():
            _check_template(text, {"stap"})
        return value


class CycleOrderRule(_Rule):
    id: Literal["verbetercyclus_volgorde"]
    beschrijven: tuple[Key, ...] = Field(min_length=1)
    oordelen_vraag: Key
    namen: dict[Key, str]
    tekst_oordeel: str
    tekst_volgorde: str
    oordelen: Phrases = Field(min_length=1)
    eigen_oordeel: Phrases = ()
    weergave: Phrases = ()

    @field_validator("tekst_oordeel")
    @classmethod
    def _template_judgement(cls, value: str) -> str:
        return _check_template(value, set())

    @field_validator("tekst_volgorde")
    @classmethod
    def _template_order(cls, value: str) -> str:
        return _check_template(value, {"ontbreekt"})

    @model_validator(mode="after")
    def _names_for_every_step(self) -> CycleOrderRule:
        missing = [key for key in self.beschrijven if key not in self.namen]
        if missing:
            raise ValueError(f"'namen' mist een naam voor: {', '.join(missing)}")
        return self


class OneIssueRule(_Rule):
    id: Literal["een_vraagstuk"]
    tekst: str
    themas: dict[str, Phrases] = Field(min_length=2)
    een_thema: Phrases = ()

    @field_validator("tekst")
    @classmethod
    def _template(cls, value: str) -> str:
        return _check_template(value, {"themas"})


AnyRule = Annotated[
    AmbitionRule
    | TermRule
    | AmountRule
    | OutcomeRule
    | IndicatorMixRule
    | ActivityLinkRule
    | PerspectiveRule
    | CycleOrderRule
    | OneIssueRule,
    Field(discriminator="id"),
]
RULE_IDS = (
    "ambitie_systeemdoel",
    "resultaat_termijn",
    "resultaat_omvang",
    "resultaat_outcome",
    "indicatoren_mix",
    "activiteit_koppeling",
    "perspectief_ontbreekt",
    "verbetercyclus_volgorde",
    "een_vraagstuk",
)


RuleT = TypeVar("RuleT", bound=_Rule)


class CoachingFile(_Strict):
    naam: str
    versie: int = Field(ge=1)
    regels: tuple[AnyRule, ...]

    @model_validator(mode="after")
    def _every_rule_once(self) -> CoachingFile:
        ids = [rule.id for rule in self.regels]
        doubles = sorted({i for i in ids if ids.count(i) > 1})
        if doubles:
            raise ValueError(f"deze regels staan er dubbel in: {', '.join(doubles)}")
        missing = [i for i in RULE_IDS if i not in ids]
        if missing:
            raise ValueError(f"deze regels ontbreken (zet ze uit met 'actief: false'): {', '.join(missing)}")
        return self

    def rule(self, kind: type[RuleT]) -> RuleT:
        return next(rule for rule in self.regels if isinstance(rule, kind))


# ----------------------------------------------------------------------------- the coach


@dataclass(frozen=True)
class Advice:
    """A gentle question back. `text` is plain text (escape it before showing it as HTML).

    `once_key` is set when the advice may be given only once per compass: the engine stores
    it in `Session.nudged`, and the coach then stays silent about it.
    """

    rule_id: str
    text: str
    once_key: str | None = None


def _field_text(contribution: Contribution, name: str) -> str:
    value = contribution.fields.get(name)
    return value.strip() if isinstance(value, str) else ""


def _has_link(value: object) -> bool:
    if isinstance(value, list):
        return bool(value)
    return isinstance(value, str) and bool(re.search(r"\w", value))


class Coach:
    """Compiled coaching rules. Build it with `load_coach`; all methods are pure."""

    def __init__(self, rules: CoachingFile, flow: Flow) -> None:
        self._flow = flow
        self._ambition = rules.rule(AmbitionRule)
        self._term = rules.rule(TermRule)
        self._amount = rules.rule(AmountRule)
        self._outcome = rules.rule(OutcomeRule)
        self._mix = rules.rule(IndicatorMixRule)
        self._link = rules.rule(ActivityLinkRule)
        self._perspective = rules.rule(PerspectiveRule)
        self._cycle = rules.rule(CycleOrderRule)
        self._issue = rules.rule(OneIssueRule)

        self._system = {label: _compile_all(p) for label, p in self._ambition.systeemdoelen.items()}
        self._system_changes = {
            label: (_compile_all(change.handelingen), _compile_all(change.onderdelen))
            for label, change in self._ambition.organisatiewerk.items()
        }
        self._residents = _compile_all(self._ambition.inwoners)
        self._societal = _compile_all(self._ambition.maatschappelijk)
        self._clause_split = _compile_all(self._ambition.middel_of_gevolg)
        self._consequence = _compile_all(self._ambition.gevolg)
        self._ambition_exceptions = _compile_all(self._ambition.uitzonderingen)
        self._terms = _compile_all(self._term.termijnen)
        self._amounts = _compile_all(self._amount.omvang)
        self._not_amounts = _compile_all(self._amount.geen_omvang)
        self._participants = _compile_all(self._outcome.deelnemers)
        self._outcome_exceptions = _compile_all(self._outcome.uitzonderingen)
        self._facts = _compile_all(self._mix.feiten)
        self._experience = _compile_all(self._mix.beleving)
        self._unknown = _compile_all(self._link.onbekend)
        self._template = _compile_all(self._link.sjabloon)
        self._effort = _compile_all(self._link.alleen_inzet)
        self._effort_consequence = _compile_all(self._link.gevolg)
        self._effects = _compile_all(self._link.effect)
        self._judgements = _compile_all(self._cycle.oordelen)
        self._own_judgements = _compile_all(self._cycle.eigen_oordeel)
        self._reported = _compile_all(self._cycle.weergave)
        self._themes = {name: _compile_all(p) for name, p in self._issue.themas.items()}
        self._single_themes = _compile_all(self._issue.een_thema, coordinator_en=True)
        self._number = re.compile(rf"(?<![\w-])(?:{_NUMBER}|{_YEAR})(?![\w-])")

    # ------------------------------------------------------------------ public API

    def review_answer(self, session: Session, question_key: str, contribution: Contribution) -> list[Advice]:
        """Advice on one answer. For an item question, call it once the item's fields are filled."""
        advice: list[Advice] = []
        if self._active(self._ambition, question_key):
            advice += self._review_ambition(contribution.text)
        advice += self._review_result(question_key, contribution)
        if self._active(self._link, question_key):
            advice += self._review_activity(contribution)
        if self._cycle.actief and question_key in self._cycle.beschrijven:
            advice += self._review_description(question_key, contribution.text)
        return self._fresh(session, advice)

    def term_in(self, raw: str) -> str | None:
        """The term a text names ("in 2028", "over vier jaar"), in normalized words; None if it names none."""
        found = _find(self._terms, normalize(raw))
        return found[0].group(0) if found else None

    def amount_in(self, raw: str) -> str | None:
        """The amount a text names ("20 procent minder", "200 gezinnen", "de helft"), in normalized words.

        Terms, ages and years do not count as amounts, just as for the coaching rule."""
        text = _blank(_blank(normalize(raw), self._terms), self._not_amounts)
        found = _find(self._amounts, text)
        if found:
            return found[0].group(0)
        number = self._number.search(text)
        if number is None:
            return None
        tail = re.match(
            r"(?:\s+procent)?(?:\s+(?!(?:in|over|binnen|van|de|het|een|dat|die|tot|en|of)\b)[a-z]+)?",
            text[number.end() :],
        )
        return number.group(0) + (tail.group(0) if tail else "")

    def review_question(self, session: Session, question_key: str) -> list[Advice]:
        """Advice when a question is about to be asked (the order of the improvement cycle)."""
        cycle = self._cycle
        if not cycle.actief or question_key != cycle.oordelen_vraag:
            return []
        empty = [
            cycle.namen[key] for key in cycle.beschrijven if not session.live(key) and not session.answer(key).agreed
        ]
        if not empty:
            return []
        text = cycle.tekst_volgorde.format(ontbreekt=_join(empty))
        return self._fresh(session, [Advice(cycle.id, text, f"{cycle.id}:{question_key}")])

    def review_step(self, session: Session, step: int, roles: Mapping[str, Role] | None = None) -> list[Advice]:
        """Advice when the group leaves a step: missing perspectives and the indicator mix.

        `roles` (the chat's current roles by participant id) overrides the role a
        contribution was stored with, so a role set later still counts.
        """
        keys = [q.sleutel for q in self._flow.step(step).vragen]
        advice = [a for key in keys if self._active(self._mix, key) for a in self._review_mix(session, key)]
        advice += self._review_perspectives(session, step, keys, roles or {})
        return self._fresh(session, advice)

    def review_issue(self, text: str) -> list[Advice]:
        """Advice on the issue of a new compass: one issue (or one aspect) per compass."""
        rule = self._issue
        if not rule.actief:
            return []
        themes = self._issue_themes(text)
        if len(themes) < 2:
            return []
        return [Advice(rule.id, rule.tekst.format(themas=_join(themes)))]

    # ------------------------------------------------------------------ rules

    @staticmethod
    def _active(rule: AmbitionRule | IndicatorMixRule | ActivityLinkRule, key: str) -> bool:
        return rule.actief and key in rule.vragen

    @staticmethod
    def _fresh(session: Session, advice: list[Advice]) -> list[Advice]:
        return [a for a in advice if a.once_key is None or a.once_key not in session.nudged]

    def _review_ambition(self, raw: str) -> list[Advice]:
        text = _blank(normalize(raw), self._ambition_exceptions)
        sentence_end = re.search(r"[.;:!?](?:\s|$)", text)
        splits = [m.start() for m in _find(self._clause_split, text)]
        main_end = min([*splits, sentence_end.start() if sentence_end else len(text)])
        main = text[:main_end]
        found = {label: _find(patterns, text) for label, patterns in self._system.items()}
        for label, (actions, parts) in self._system_changes.items():
            if _find(parts, main):
                found[label] = found.get(label, []) + _find(actions, main)
        found = {label: matches for label, matches in found.items() if matches}
        if not found:
            if _find(self._residents, main) or _find(self._societal, main):
                return []
            return [Advice(self._ambition.id, self._ambition.tekst_zonder_inwoners)]
        in_main = [label for label, matches in found.items() if any(m.start() < main_end for m in matches)]
        resident_effect = any(
            _find(self._residents, text[m.end() : m.end() + 200]) for m in _find(self._consequence, text)
        )
        if in_main and resident_effect:
            return []
        if not in_main and _find(self._residents, main):
            return []
        labels = in_main or list(found)
        return [Advice(self._ambition.id, self._ambition.tekst.format(gevonden=_join(labels)))]

    def _review_result(self, key: str, contribution: Contribution) -> list[Advice]:
        text = normalize(contribution.text)
        advice: list[Advice] = []
        suppressed: set[str] = set()
        outcome = self._outcome
        if (
            outcome.actief
            and key in outcome.vragen
            and _find(self._participants, _blank(text, self._outcome_exceptions))
        ):
            advice.append(Advice(outcome.id, outcome.tekst))
            suppressed.update(outcome.onderdrukt)
        term = self._term
        if term.actief and key in term.vragen and term.id not in suppressed:
            field = normalize(_field_text(contribution, term.veld))
            if not _find(self._terms, text) and not (_find(self._terms, field) or self._number.search(field)):
                advice.append(Advice(term.id, term.tekst))
        amount = self._amount
        if amount.actief and key in amount.vragen and amount.id not in suppressed:
            field = normalize(_field_text(contribution, amount.veld))
            rest = _blank(_blank(text, self._terms), self._not_amounts)
            if not self._has_amount(rest) and not self._has_amount(field):
                advice.append(Advice(amount.id, amount.tekst))
        return advice

    def _has_amount(self, text: str) -> bool:
        return bool(_find(self._amounts, text) or self._number.search(_blank(text, self._not_amounts)))

    def _review_activity(self, contribution: Contribution) -> list[Advice]:
        rule = self._link
        questions: list[str] = []
        link = contribution.fields.get(rule.veld_resultaat)
        if not _has_link(link) or (isinstance(link, str) and _find(self._unknown, normalize(link))):
            questions.append(rule.vraag_resultaat)
        if not self._expresses_effect(_field_text(contribution, rule.veld_verwachting)):
            questions.append(rule.vraag_verwachting)
        return [Advice(rule.id, "\n".join(questions))] if questions else []

    def _expresses_effect(self, raw: str) -> bool:
        """Does the expectation name an expected change, not just 'unknown' or what we will do?"""
        text = normalize(raw)
        while True:
            opening = next((m for m in _find(self._template, text) if m.start() == 0), None)
            if opening is None:
                break
            text = text[opening.end() :].lstrip(" ,:")
        if len(re.findall(r"\w+", text)) < self._link.minimaal_woorden or _find(self._unknown, text):
            return False
        if any(m.start() == 0 for m in _find(self._effort, text)) and not _find(self._effort_consequence, text):
            return False
        return bool(_find(self._effects, text))

    def _review_description(self, key: str, raw: str) -> list[Advice]:
        rule = self._cycle
        text = normalize(raw)
        judged = bool(_find(self._own_judgements, text))
        if not judged:
            for sentence in re.split(r"(?<=[.!?;])\s+", text):
                reported = _find(self._reported, sentence)
                cut = reported[0].start() if reported else len(sentence)
                if any(m.start() < cut for m in _find(self._judgements, sentence)):
                    judged = True
                    break
        return [Advice(rule.id, rule.tekst_oordeel, f"{rule.id}:{key}")] if judged else []

    def _indicator_kind(self, item: Contribution) -> str | None:
        typed = item.fields.get(self._mix.veld)
        if typed in ("feiten", "beleving"):
            return str(typed)
        text = normalize(item.text)
        facts, experience = bool(_find(self._facts, text)), bool(_find(self._experience, text))
        if facts == experience:
            return None
        return "feiten" if facts else "beleving"

    def _review_mix(self, session: Session, key: str) -> list[Advice]:
        rule = self._mix
        items = session.live(key)
        if len(items) < rule.minimaal:
            return []
        kinds = {self._indicator_kind(item) for item in items}
        if kinds == {"feiten"}:
            return [Advice(rule.id, rule.vraag_beleving, f"{rule.id}:{key}")]
        if kinds == {"beleving"}:
            return [Advice(rule.id, rule.vraag_feiten, f"{rule.id}:{key}")]
        return []

    def _review_perspectives(
        self, session: Session, step: int, keys: list[str], roles: Mapping[str, Role]
    ) -> list[Advice]:
        rule = self._perspective
        if not rule.actief or step not in rule.stappen:
            return []
        contributions = [c for c in session.contributions if c.question in keys and not c.removed]
        authors = {c.author_id for c in contributions}
        present = {roles.get(c.author_id) or c.role for c in contributions}
        if len(authors) < rule.minimaal_deelnemers or None in present:
            return []
        return [
            Advice(rule.id, text.format(stap=step), f"perspectief:{step}:{perspective}")
            for perspective, text in rule.perspectieven.items()
            if perspective not in present
        ]

    def _issue_themes(self, raw: str) -> list[str]:
        text = normalize(raw)
        singles: dict[str, str] = {}
        for index, match in enumerate(_find(self._single_themes, text)):
            token = f"thema{index}x"
            singles[token] = match.group(0)
            text = text.replace(match.group(0), f" {token} ", 1)
        themes: list[str] = []
        for segment in re.split(COORDINATOR, text):
            hits = [(m.start(), name) for name, patterns in self._themes.items() for m in _find(patterns, segment)]
            hits += [(segment.index(token), singles[token]) for token in singles if token in segment]
            if hits:
                name = min(hits)[1]
                if name not in themes:
                    themes.append(name)
        return themes


def load_coach(path: Path | None = None, flow: Flow | None = None) -> Coach:
    """Load and check `flows/coaching.yaml`; a broken file raises `FlowError` naming the place."""
    path = path or content_dir("flows") / "coaching.yaml"
    flow = flow or load_flow()
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise FlowError(f"{path}: verwacht een YAML-object met 'naam', 'versie' en 'regels'")
    try:
        rules = CoachingFile.model_validate(data)
    except ValidationError as exc:
        raise FlowError(_validation_message(path, exc, data)) from None
    _check_against_flow(path, rules, flow)
    return Coach(rules, flow)


def _check_against_flow(path: Path, rules: CoachingFile, flow: Flow) -> None:
    keys = set(flow.question_keys())
    for rule in rules.regels:
        watched: list[str] = []
        for name in ("vragen", "beschrijven"):
            watched += list(getattr(rule, name, ()))
        if isinstance(rule, CycleOrderRule):
            watched.append(rule.oordelen_vraag)
        unknown = sorted(set(watched) - keys)
        if unknown:
            raise FlowError(f"{path}: regel '{rule.id}': onbekende vraag {', '.join(unknown)} (niet in kompas.yaml)")
        needed = _fields_needed(rule)
        for key in getattr(rule, "vragen", ()):
            have = {f.sleutel for f in flow.question(key).velden}
            missing = sorted(set(needed) - have)
            if missing:
                raise FlowError(
                    f"{path}: regel '{rule.id}': vraag '{key}' heeft geen veld {', '.join(missing)} in kompas.yaml"
                )


def _fields_needed(rule: BaseModel) -> list[str]:
    if isinstance(rule, TermRule | AmountRule | IndicatorMixRule):
        return [rule.veld]
    if isinstance(rule, ActivityLinkRule):
        return [rule.veld_resultaat, rule.veld_verwachting]
    return []
