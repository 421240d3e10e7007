"""The compass as data: load and validate `flows/*.yaml`.

The questions, help texts and bot messages live in YAML so that an adviser can edit them
without touching Python. Everything is validated at start-up; a broken file raises
`FlowError` with a Dutch message that names the file, the place and the field.
"""

from __future__ import annotations

import functools
import re
import string
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot.content import content_dir
from bot.phrases import phrase_regex

AnswerKind = Literal["lijst", "formulering", "items"]
SuggestionKind = Literal["interventies", "werkzame-factoren", "meetinstrumenten"]
ROLES: tuple[str, ...] = ("gemeente", "aanbieder", "doelgroep", "anders")
STEP_NUMBERS = range(0, 7)
DocumentSection = Literal[
    "vooraf", "ambitie", "resultaat", "indicator", "activiteit", "input", "outcome", "verbetering"
]
SECTION_STEPS: dict[str, int] = {
    "vooraf": 0,
    "ambitie": 1,
    "resultaat": 2,
    "indicator": 2,
    "activiteit": 3,
    "input": 4,
    "outcome": 5,
    "verbetering": 6,
}
DEFAULT_SECTIONS: dict[int, str] = {0: "vooraf", 1: "ambitie", 2: "resultaat", 3: "activiteit", 4: "input",
                                    5: "outcome", 6: "verbetering"}  # fmt: skip
EXTRA = "extra"


@dataclass(frozen=True)
class DocumentRole:
    """A place in the compass document that a question can fill (see `document:` in kompas.yaml)."""

    section: str
    kinds: tuple[str, ...]
    single: bool = False  # one question at most (a formulation the group settles on)
    fields: dict[str, str | None] = dataclass_field(default_factory=dict)  # field role -> role it must point to


# The places the document knows. A question with rol 'extra' (the default) is shown under its section as it is.
DOCUMENT_ROLES: dict[str, DocumentRole] = {
    "betekenis": DocumentRole("vooraf", ("formulering",), single=True),
    "signalen": DocumentRole("vooraf", ("lijst",)),
    "aan_tafel": DocumentRole("vooraf", ("items",), fields={"perspectief": None}),
    "beeld_cijfers": DocumentRole("ambitie", ("lijst",)),
    "beeld_verhalen": DocumentRole("ambitie", ("lijst",)),
    "beleid": DocumentRole("ambitie", ("formulering",), single=True),
    "ambities": DocumentRole("ambitie", ("lijst", "items")),
    "resultaten": DocumentRole(
        "resultaat", ("items",), fields={"ambitie": "ambities", "termijn": None, "omvang": None}
    ),
    "indicatoren": DocumentRole(
        "indicator", ("items",), fields={"resultaat": "resultaten", "type": None, "bron": None}
    ),
    "activiteiten": DocumentRole(
        "activiteit",
        ("items",),
        fields={"wie": None, "vorm": None, "bestaand": None, "resultaat": "resultaten", "verwachting": None},
    ),
    "samenhang": DocumentRole("activiteit", ("formulering",), single=True),
    "stoppen": DocumentRole("activiteit", ("lijst",)),
    "wat_werkt": DocumentRole("input", ("items",), fields={"activiteit": "activiteiten"}),
    "mensen": DocumentRole("input", ("lijst",)),
    "voorwaarden": DocumentRole("input", ("lijst",)),
    "outcome": DocumentRole(
        "outcome", ("items",), fields={"activiteit": "activiteiten", "type": None, "instrument": None}
    ),
    "herkennen": DocumentRole("verbetering", ("lijst",)),
    "verklaren": DocumentRole("verbetering", ("lijst",)),
    "waarderen": DocumentRole("verbetering", ("lijst",)),
    "verbeteren": DocumentRole("verbetering", ("items",), fields={"terug_naar": None}),
}
Key = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


class FlowError(Exception):
    """A content file is missing or invalid; the message is meant for the operator."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_phrases(phrases: tuple[str, ...]) -> tuple[str, ...]:
    for phrase in phrases:
        try:
            phrase_regex(phrase)
        except ValueError as exc:
            raise ValueError(f"patroon '{phrase}' klopt niet: {exc}") from None
    return phrases


Phrases = Annotated[tuple[str, ...], AfterValidator(_check_phrases)]
# What a field can be read from in the item's own text: a term ("in 2028"), an amount ("20% minder"),
# or an expectation ("als ... dan ..."). The words for terms and amounts are the coaching rules'.
Recognised = Literal["termijn", "omvang", "verwachting"]


class FieldPlace(_Strict):
    """Where an item field goes in the document: a known `rol` of its question's place, or 'extra'
    (shown as 'kop: value' beside the item)."""

    rol: Key = EXTRA
    kop: str = ""


class DocumentPlace(_Strict):
    """Where a question goes in the document: a section (default: the section of its step) and a role."""

    sectie: DocumentSection | None = None
    rol: Key = EXTRA


class ItemField(_Strict):
    """One extra field of a structured item (the item's first field is its main text)."""

    sleutel: Key
    kort: str = ""
    vraag: str
    keuzes: tuple[str, ...] = ()
    herken: dict[str, Phrases] = Field(default_factory=dict)
    herken_als: Recognised | None = None
    verwijst_naar: Key | None = None
    meerdere: bool = False
    verplicht: bool = False
    hulp: str = ""
    suggesties: SuggestionKind | None = None
    document: FieldPlace = Field(default_factory=FieldPlace)

    @model_validator(mode="after")
    def _phrases_name_choices(self) -> ItemField:
        unknown = sorted(set(self.herken) - set(self.keuzes))
        if unknown:
            raise ValueError(
                f"'herken' noemt {', '.join(unknown)}, maar dat is geen keuze (keuzes: {', '.join(self.keuzes)})"
            )
        if self.herken_als and (self.keuzes or self.verwijst_naar):
            raise ValueError("'herken_als' kan alleen bij een veld met vrije tekst")
        return self

    @property
    def label(self) -> str:
        """The field's short name in the chat ("status"): `kort`, else the document's heading, else the key."""
        return self.kort or self.document.kop or self.sleutel.replace("_", " ")

    @property
    def heading(self) -> str:
        """The field's name in the document."""
        return self.document.kop or self.kort.capitalize() or self.sleutel.replace("_", " ").capitalize()


class Question(_Strict):
    sleutel: Key
    kort: str
    tekst: str
    tekst_per_thema: dict[str, str] = Field(default_factory=dict)
    soort: AnswerKind
    hulp: str = ""
    doorvragen: tuple[str, ...] = ()
    voorbeeld: str | dict[str, str] = ""
    velden: tuple[ItemField, ...] = ()
    kiezen: bool = False
    suggesties: tuple[SuggestionKind, ...] = ()
    document: DocumentPlace = Field(default_factory=DocumentPlace)

    def field_key(self, role: str) -> str | None:
        """The key of this question's field with a document role, if it has one."""
        return next((f.sleutel for f in self.velden if f.document.rol == role), None)

    @model_validator(mode="after")
    def _fields_match_kind(self) -> Question:
        if self.soort == "items" and not self.velden:
            raise ValueError("een vraag van soort 'items' heeft 'velden' nodig")
        if self.soort != "items" and self.velden:
            raise ValueError("alleen een vraag van soort 'items' mag 'velden' hebben")
        if self.kiezen and self.soort == "formulering":
            raise ValueError("'kiezen' kan alleen bij een lijst of items")
        return self

    def text_for(self, themes: tuple[str, ...]) -> str:
        """The question as worded for the session's issue: a theme's own wording, else the general one."""
        return next((self.tekst_per_thema[t] for t in themes if t in self.tekst_per_thema), self.tekst)

    def example(self, themes: tuple[str, ...]) -> str:
        """The example for the session's issue: the first matching theme, else 'algemeen'."""
        if isinstance(self.voorbeeld, str):
            return self.voorbeeld
        for theme in themes:
            if theme in self.voorbeeld:
                return self.voorbeeld[theme]
        return self.voorbeeld.get("algemeen", "")


class Step(_Strict):
    nummer: int = Field(ge=0, le=6)
    titel: str
    doel: str
    uitleg: str = ""
    vragen: tuple[Question, ...] = Field(min_length=1)


class Flow(_Strict):
    """The whole compass: the preparation (step 0) and the six steps, in order."""

    naam: str
    versie: int = Field(ge=1)
    stappen: tuple[Step, ...]

    @model_validator(mode="after")
    def _complete_and_consistent(self) -> Flow:
        numbers = [step.nummer for step in self.stappen]
        if numbers != list(STEP_NUMBERS):
            raise ValueError(f"de stappen moeten 0 tot en met 6 zijn, in volgorde; gevonden: {numbers}")
        keys = [q.sleutel for step in self.stappen for q in step.vragen]
        doubles = sorted({k for k in keys if keys.count(k) > 1})
        if doubles:
            raise ValueError(f"deze vraag-sleutels komen dubbel voor: {', '.join(doubles)}")
        for step in self.stappen:
            for question in step.vragen:
                for item_field in question.velden:
                    target = item_field.verwijst_naar
                    if target and target not in keys[: keys.index(question.sleutel)]:
                        raise ValueError(
                            f"vraag '{question.sleutel}', veld '{item_field.sleutel}': "
                            f"verwijst_naar '{target}' moet een eerdere vraag zijn"
                        )
        return self

    def step(self, number: int) -> Step:
        return self.stappen[number]

    def question(self, key: str) -> Question:
        for step in self.stappen:
            for question in step.vragen:
                if question.sleutel == key:
                    return question
        raise KeyError(key)

    def step_of(self, key: str) -> int:
        for step in self.stappen:
            if any(q.sleutel == key for q in step.vragen):
                return step.nummer
        raise KeyError(key)

    def question_keys(self) -> list[str]:
        return [q.sleutel for step in self.stappen for q in step.vragen]

    def section_of(self, key: str) -> str:
        """The document section a question goes to: its own `document.sectie`, else its step's."""
        question = self.question(key)
        return question.document.sectie or DEFAULT_SECTIONS[self.step_of(key)]

    def questions_with_role(self, role: str) -> list[Question]:
        """The questions that fill one place of the document, in flow order."""
        return [q for step in self.stappen for q in step.vragen if q.document.rol == role]


class Theme(_Strict):
    naam: str
    woorden: tuple[str, ...] = Field(min_length=1)


class Themes(BaseModel):
    """Recognise the themes of an issue from its wording (`flows/themas.yaml`)."""

    model_config = ConfigDict(frozen=True)

    themes: dict[Key | str, Theme]

    def detect(self, issue: str) -> tuple[str, ...]:
        text = f" {issue.lower()} "
        return tuple(slug for slug, theme in self.themes.items() if any(word in text for word in theme.woorden))


class Texts(_Strict):
    """The bot's own messages, keyed by name, with `{placeholders}`."""

    berichten: dict[str, str]
    commandos: dict[str, str]

    def __call__(self, key: str, **values: object) -> str:
        return self.berichten[key].format(**values)


_PACKAGE_DIR = Path(__file__).resolve().parent
# Every message the code asks for, by name: ctx.t(...), ctx.raw(...), texts(...) with a literal key.
_MESSAGE_USE = re.compile(r"""\b(?:t|raw|texts)\(\s*["']([a-z][a-z0-9_]*)["']""")


@functools.cache
def required_messages() -> frozenset[str]:
    """The message keys `teksten.yaml` must define: read from the code that uses them, so the list
    cannot drift from what the bot actually says."""
    keys: set[str] = set()
    for path in _PACKAGE_DIR.rglob("*.py"):
        keys.update(_MESSAGE_USE.findall(path.read_text(encoding="utf-8")))
    return frozenset(keys)


def _format_location(loc: tuple[int | str, ...], data: object) -> str:
    """Turn a pydantic error location into 'stap 3 > vraag 'activiteiten' > veld tekst'."""
    parts: list[str] = []
    node = data
    for piece in loc:
        if isinstance(piece, int) and isinstance(node, list) and piece < len(node):
            node = node[piece]
            label = node.get("sleutel") or node.get("nummer") if isinstance(node, dict) else None
            parts.append(f"nr. {piece + 1}" + (f" ({label})" if label is not None else ""))
        else:
            node = node.get(piece) if isinstance(node, dict) else None
            parts.append(str(piece))
    return " > ".join(parts) or "(bovenaan)"


def _validation_message(path: Path, error: ValidationError, data: object) -> str:
    lines = [f"{path}: de inhoud klopt niet:"]
    for item in error.errors():
        where = _format_location(tuple(item["loc"]), data)
        lines.append(f"  - {where}: {item['msg']}")
    return "\n".join(lines)


def read_content_file(path: Path) -> str:
    """A content file as text; a missing or unreadable file becomes a `FlowError` naming it."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FlowError(f"{path}: bestand niet gevonden") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FlowError(f"{path}: kan het bestand niet lezen ({exc})") from None


# The C parser (libyaml, shipped in PyYAML's wheels) reads the content files ~5x faster at start-up.
_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: Path) -> object:
    text = read_content_file(path)
    try:
        return yaml.load(text, Loader=_YamlLoader)  # a safe loader: plain data only
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"regel {mark.line + 1}, kolom {mark.column + 1}" if mark else "onbekende plek"
        problem = getattr(exc, "problem", None) or str(exc)
        raise FlowError(f"{path}: geen geldige YAML ({where}): {problem}") from None


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _check_question_templates(path: Path, flow: Flow) -> None:
    allowed = {"vraagstuk"}
    for step in flow.stappen:
        for question in step.vragen:
            examples = (
                list(question.voorbeeld.values()) if isinstance(question.voorbeeld, dict) else [question.voorbeeld]
            )
            texts = [question.tekst, *question.tekst_per_thema.values(), question.hulp, *examples, *question.doorvragen]
            for text in texts:
                try:
                    unknown = _placeholders(text) - allowed
                except ValueError as exc:
                    raise FlowError(f"{path}: vraag '{question.sleutel}': ongeldige accolades ({exc})") from None
                if unknown:
                    raise FlowError(
                        f"{path}: vraag '{question.sleutel}': onbekende invulplek "
                        f"{{{', '.join(sorted(unknown))}}}; gebruik alleen {{vraagstuk}}"
                    )
            for item_field in question.velden:
                for text in (item_field.vraag, item_field.hulp):
                    unknown = _placeholders(text) - {"vraagstuk", "item"}
                    if unknown:
                        raise FlowError(
                            f"{path}: vraag '{question.sleutel}', veld '{item_field.sleutel}': onbekende invulplek "
                            f"{{{', '.join(sorted(unknown))}}}; gebruik alleen {{vraagstuk}} of {{item}}"
                        )


def _check_document_places(path: Path, flow: Flow) -> None:
    """Each question's `document:` names a known section and role that fit its step, its kind and its fields."""
    problems: list[str] = []
    roles = ", ".join(sorted(DOCUMENT_ROLES))
    for step in flow.stappen:
        for number, question in enumerate(step.vragen, start=1):
            where = f"stap {step.nummer} > vraag nr. {number} ({question.sleutel}) > document"
            place = question.document
            section = place.sectie or DEFAULT_SECTIONS[step.nummer]
            if SECTION_STEPS[section] != step.nummer:
                problems.append(
                    f"{where} > sectie: '{section}' hoort bij stap {SECTION_STEPS[section]}, "
                    f"maar deze vraag staat in stap {step.nummer}"
                )
            role = DOCUMENT_ROLES.get(place.rol)
            if place.rol != EXTRA and role is None:
                problems.append(f"{where} > rol: onbekende rol '{place.rol}'; kies uit {roles} of '{EXTRA}'")
                continue
            if role is not None:
                if role.section != section:
                    problems.append(f"{where} > rol: '{place.rol}' hoort in sectie '{role.section}', niet '{section}'")
                if question.soort not in role.kinds:
                    problems.append(
                        f"{where} > rol: '{place.rol}' vraagt soort {' of '.join(role.kinds)}, "
                        f"maar deze vraag is soort '{question.soort}'"
                    )
                if role.single and flow.questions_with_role(place.rol)[0].sleutel != question.sleutel:
                    problems.append(f"{where} > rol: '{place.rol}' mag maar bij één vraag staan")
            allowed = role.fields if role is not None else {}
            seen: set[str] = set()
            for item_field in question.velden:
                field_where = (
                    f"stap {step.nummer} > vraag nr. {number} ({question.sleutel}) > veld {item_field.sleutel}"
                )
                field_role = item_field.document.rol
                if field_role == EXTRA:
                    continue
                if field_role not in allowed:
                    options = ", ".join([*allowed, EXTRA])
                    problems.append(f"{field_where} > document > rol: onbekende rol '{field_role}'; kies uit {options}")
                    continue
                if field_role in seen:
                    problems.append(f"{field_where} > document > rol: '{field_role}' staat al bij een ander veld")
                seen.add(field_role)
                target_role = allowed[field_role]
                if target_role is not None:
                    target = item_field.verwijst_naar
                    if target is None or flow.question(target).document.rol != target_role:
                        problems.append(
                            f"{field_where} > document > rol: '{field_role}' moet verwijzen naar een vraag met "
                            f"rol '{target_role}' (verwijst_naar)"
                        )
    if problems:
        raise FlowError("\n".join([f"{path}: de plaats in het document klopt niet:", *(f"  - {p}" for p in problems)]))


def load_flow(path: Path | None = None) -> Flow:
    path = path or content_dir("flows") / "kompas.yaml"
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise FlowError(f"{path}: verwacht een YAML-object met 'naam', 'versie' en 'stappen'")
    try:
        flow = Flow.model_validate(data)
    except ValidationError as exc:
        raise FlowError(_validation_message(path, exc, data)) from None
    _check_question_templates(path, flow)
    _check_document_places(path, flow)
    return flow


def check_examples(flow: Flow, themes: Themes, path: Path | None = None) -> None:
    """A per-theme `voorbeeld` has 'algemeen' and every theme of `themas.yaml`, and no unknown keys.

    A single-string example is fine (it is shown for every theme). When an adviser adds a theme,
    this names each question that still lacks an example for it.
    """
    path = path or content_dir("flows") / "kompas.yaml"
    expected = ["algemeen", *themes.themes]
    problems: list[str] = []
    for step in flow.stappen:
        for question in step.vragen:
            if not isinstance(question.voorbeeld, dict):
                continue
            unknown_wording = sorted(set(question.tekst_per_thema) - set(themes.themes))
            if unknown_wording:
                problems.append(
                    f"  - vraag '{question.sleutel}' > tekst_per_thema: onbekend thema {', '.join(unknown_wording)}"
                )
            missing = [key for key in expected if not question.voorbeeld.get(key, "").strip()]
            unknown = sorted(set(question.voorbeeld) - set(expected))
            if missing:
                problems.append(
                    f"  - vraag '{question.sleutel}' > voorbeeld: er ontbreekt een voorbeeld voor {', '.join(missing)}"
                )
            if unknown:
                problems.append(
                    f"  - vraag '{question.sleutel}' > voorbeeld: onbekend thema {', '.join(unknown)}; "
                    f"gebruik 'algemeen' of een thema uit themas.yaml"
                )
    if problems:
        raise FlowError(
            "\n".join(
                [
                    f"{path}: niet elk thema heeft een eigen voorbeeld. Geef bij een voorbeeld per thema "
                    f"een tekst voor 'algemeen' en voor elk thema uit themas.yaml "
                    f"({', '.join(themes.themes)}):",
                    *problems,
                ]
            )
        )


def load_texts(path: Path | None = None) -> Texts:
    path = path or content_dir("flows") / "teksten.yaml"
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise FlowError(f"{path}: verwacht een YAML-object met 'berichten' en 'commandos'")
    try:
        texts = Texts.model_validate(data)
    except ValidationError as exc:
        raise FlowError(_validation_message(path, exc, data)) from None
    missing = sorted(required_messages() - texts.berichten.keys())
    if missing:
        raise FlowError(f"{path}: deze berichten ontbreken onder 'berichten': {', '.join(missing)}")
    for key, template in texts.berichten.items():
        try:
            _placeholders(template)
        except ValueError as exc:
            raise FlowError(f"{path}: bericht '{key}': ongeldige accolades ({exc})") from None
    return texts


def load_themes(path: Path | None = None) -> Themes:
    path = path or content_dir("flows") / "themas.yaml"
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise FlowError(f"{path}: verwacht per thema een naam en woorden")
    try:
        return Themes.model_validate({"themes": data})
    except ValidationError as exc:
        raise FlowError(_validation_message(path, exc, {"themes": data})) from None
