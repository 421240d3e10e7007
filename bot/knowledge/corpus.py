"""Load and validate the wat-werkt knowledge corpus (Markdown files with YAML front matter).

Every item is one Markdown file::

    ---
    soort: interventie
    titel: "Join Us programma"
    themas: [eenzaamheid, jeugd-opvoeding]
    doelgroep: "jongeren van 12 tot 25 jaar die lang eenzaam zijn"
    stappen: [3, 4]
    beoordeling: "Erkend: goed onderbouwd"
    bron: "https://www.nji.nl/interventies/join-us-programma"
    bijgewerkt: 2026-11-23
    vorm: groep
    ---
    Plain Dutch text ...

`parse_item` reads one file, `load_corpus` reads whole folders. Problems are reported as a
`CorpusError` whose message is plain Dutch (file name, field and what is wrong), meant to be
shown to the Movisie advisers who edit the corpus, without a traceback.

Run ``python -m bot.knowledge.corpus [map ...]`` to check folders from the command line.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

__all__ = [
    "BEOORDELINGEN",
    "FORMS",
    "KINDS",
    "LEVELS",
    "MEASURES",
    "THEMES",
    "CorpusError",
    "Form",
    "Kind",
    "KnowledgeItem",
    "Level",
    "Measures",
    "Recognition",
    "SourceKind",
    "Theme",
    "item_id",
    "level_from_text",
    "load_corpus",
    "parse_item",
]

Theme = Literal[
    "eenzaamheid",
    "armoede-schulden",
    "mantelzorg",
    "sociale-acceptatie-lhbti",
    "participatie-werk",
    "sociale-cohesie-buurt",
    "jeugd-opvoeding",
    "ouderen-zelfredzaamheid",
    "gezondheid-leefstijl",
    "huiselijk-geweld",
    "inburgering-diversiteit",
    "vrijwillige-inzet",
    "algemeen",
]
Kind = Literal["interventie", "werkzame-factor", "meetinstrument", "methode"]
Form = Literal["individueel", "groep", "collectief", "buurt", "campagne", "training-professionals"]
Level = Literal["samenleving", "voorziening", "proces", "interventie"]
Measures = Literal["feiten", "beleving", "beide"]
Recognition = Literal[
    "onbekend",
    "goed beschreven",
    "goed onderbouwd",
    "effectief volgens eerste aanwijzingen",
    "effectief volgens goede aanwijzingen",
    "effectief volgens sterke aanwijzingen",
]
"""`beoordeling`: a level of the Erkenningscommissie ladder, lowest first, or "onbekend"."""
SourceKind = Literal["primair", "secundair"]

THEMES: tuple[str, ...] = get_args(Theme)
"""The fixed theme slugs, in display order."""
KINDS: tuple[str, ...] = get_args(Kind)
"""The kinds of item (`soort`)."""
FORMS: tuple[str, ...] = get_args(Form)
LEVELS: tuple[str, ...] = get_args(Level)
MEASURES: tuple[str, ...] = get_args(Measures)
BEOORDELINGEN: tuple[str, ...] = get_args(Recognition)
"""The allowed values of `beoordeling`: "onbekend", then the recognition levels from low to high."""
SOURCE_KINDS: tuple[str, ...] = get_args(SourceKind)

_INTERVENTION_KINDS = frozenset({"interventie", "methode"})
_INSTRUMENT_KIND = "meetinstrument"

# Allowed values per field, used to write helpful Dutch messages.
_CHOICES: dict[str, tuple[str, ...]] = {
    "soort": KINDS,
    "themas": THEMES,
    "vorm": FORMS,
    "niveau": LEVELS,
    "meet": MEASURES,
    "beoordeling": BEOORDELINGEN,
    "bron_soort": SOURCE_KINDS,
}
# Extra hint after the list of choices, per field.
_HINTS: dict[str, str] = {
    "beoordeling": (
        " (zet de woorden van de bron in 'beoordeling_bron' en een opmerking zoals 'niet beoordeeld' in 'toelichting')"
    ),
}
# Keys that are model fields but must not appear in the front matter.
_NOT_FRONT_MATTER = ("body", "path")

Step = Annotated[int, Field(ge=0, le=6)]

# Error types raised by our own validators; their messages are already Dutch.
_CUSTOM_KINDS = frozenset(
    {"leeg", "dubbel", "geen_url", "niet_bij_soort", "verplicht_bij_soort", "niveau_mist", "niveau_anders"}
)

# The ladder as sources write it ("Erkend: goed onderbouwd", "Sterke aanwijzingen voor
# effectiviteit", "Effectief volgens goede aanwijzingen voor effectiviteit").
_LEVEL_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("effectief volgens sterke aanwijzingen", re.compile(r"\bsterke\s+aanwijzingen\b")),
    ("effectief volgens goede aanwijzingen", re.compile(r"\bgoede\s+aanwijzingen\b")),
    ("effectief volgens eerste aanwijzingen", re.compile(r"\beerste\s+aanwijzingen\b")),
    ("goed onderbouwd", re.compile(r"\bgoed\s+onderbouwd")),
    ("goed beschreven", re.compile(r"\bgoed\s+beschreven\b")),
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9À-Ý'\"(])")
SUMMARY_CHARS = 240
"""A summary is the first sentence, plus the next while it stays within this length."""


def level_from_text(text: str) -> str | None:
    """The ladder level a source's wording names ("Erkend: goed onderbouwd (2017)" -> "goed
    onderbouwd"), or None when it names none."""
    folded = text.lower()
    for level, pattern in _LEVEL_PATTERNS:
        if pattern.search(folded):
            return level
    return None


def summary_of(body: str, limit: int = SUMMARY_CHARS) -> str:
    """The opening of a text: its first sentence, plus following ones while within `limit`."""
    text = " ".join(body.split())
    if not text:
        return ""
    sentences = _SENTENCE_END.split(text)
    summary = sentences[0]
    for sentence in sentences[1:]:
        if len(summary) + 1 + len(sentence) > limit:
            break
        summary += " " + sentence
    if len(summary) > limit:
        summary = summary[: limit - 1].rsplit(" ", 1)[0] + "…"
    return summary


def _custom(kind: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(kind, message)


class KnowledgeItem(BaseModel):
    """One corpus item: the validated front matter plus the Markdown body and its file."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    soort: Kind
    titel: str
    themas: list[Theme] = Field(min_length=1)
    doelgroep: str = ""
    stappen: list[Step] = Field(default_factory=list)
    beoordeling: Recognition
    beoordeling_jaar: int | None = Field(default=None, ge=1990, le=2100)
    beoordeling_bron: str = ""
    toelichting: str = ""
    bron: str
    bron_soort: SourceKind = "primair"
    bijgewerkt: dt.date
    vorm: Form | None = Field(default=None, validate_default=True)
    niveau: Level | None = Field(default=None, validate_default=True)
    meet: Measures | None = Field(default=None, validate_default=True)
    body: str
    path: Path

    @field_validator("titel", "body")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise _custom("leeg", "mag niet leeg zijn")
        return value

    @field_validator("doelgroep", "beoordeling_bron", "toelichting", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("themas")
    @classmethod
    def _unique_themes(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise _custom("dubbel", "noemt een thema meer dan eens")
        return value

    @field_validator("bron")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in value):
            raise _custom("geen_url", "moet een http(s)-adres zijn")
        return value

    @field_validator("vorm")
    @classmethod
    def _form_only_for_interventions(cls, value: str | None, info: ValidationInfo) -> str | None:
        soort = info.data.get("soort")
        if value is not None and soort is not None and soort not in _INTERVENTION_KINDS:
            raise _custom("niet_bij_soort", "hoort alleen bij soort 'interventie' of 'methode'")
        return value

    @field_validator("niveau", "meet")
    @classmethod
    def _instrument_fields(cls, value: str | None, info: ValidationInfo) -> str | None:
        soort = info.data.get("soort")
        if soort is None:  # soort itself is invalid; that error is reported already
            return value
        if soort == _INSTRUMENT_KIND and value is None:
            raise _custom("verplicht_bij_soort", "is verplicht bij soort 'meetinstrument'")
        if soort != _INSTRUMENT_KIND and value is not None:
            raise _custom("niet_bij_soort", "hoort alleen bij soort 'meetinstrument'")
        return value

    @field_validator("beoordeling_bron")
    @classmethod
    def _source_wording_matches(cls, value: str, info: ValidationInfo) -> str:
        level = info.data.get("beoordeling")
        if value and level is not None:
            found = level_from_text(value)
            if level == "onbekend" and found is not None:
                raise _custom("niveau_mist", f"noemt '{found}'; zet dat niveau dan ook in 'beoordeling'")
            if level != "onbekend" and found != level:
                raise _custom("niveau_anders", f"past niet bij beoordeling '{level}'")
        return value

    @property
    def is_intervention(self) -> bool:
        """True for `interventie` and `methode` items."""
        return self.soort in _INTERVENTION_KINDS

    @property
    def is_recognised(self) -> bool:
        """True when the item has a level of the recognition ladder (not "onbekend")."""
        return self.beoordeling != "onbekend"

    @property
    def summary(self) -> str:
        """The item's own summary: its first sentence, with the next one if the first is short."""
        return summary_of(self.body)


class CorpusError(Exception):
    """A corpus file (or several) could not be read or validated.

    The message is plain Dutch, one line per problem, each starting with the file name:
    ``knowledge/interventies/x.md: veld 'bron': moet een http(s)-adres zijn``.

    `problems` holds those lines; `errors` holds one `CorpusError` per broken file (for an
    error about a single file that is just ``[self]``).
    """

    def __init__(
        self,
        problems: Sequence[str],
        *,
        path: Path | None = None,
        errors: Sequence[CorpusError] | None = None,
        heading: str | None = None,
    ) -> None:
        self.problems: list[str] = list(problems)
        self.path = path
        self.errors: list[CorpusError] = list(errors) if errors is not None else [self]
        lines = ([heading] if heading else []) + self.problems
        super().__init__("\n".join(lines))

    @classmethod
    def for_file(cls, label: str, problems: Sequence[str], path: Path | None = None) -> CorpusError:
        return cls([f"{label}: {p}" for p in problems], path=path)

    @classmethod
    def combine(cls, errors: Sequence[CorpusError]) -> CorpusError:
        if len(errors) == 1:
            return errors[0]
        heading = f"{len(errors)} bestanden in de kennisbank zijn niet in orde:"
        problems = [line for err in errors for line in err.problems]
        return cls(problems, errors=errors, heading=heading)


def _label(path: Path, root: Path | None = None) -> str:
    """How a file is named in messages: relative to the folder above the corpus root, else to cwd."""
    for base in ([root.parent] if root is not None else []) + [Path.cwd()]:
        try:
            return path.resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            continue
    return path.as_posix()


def _field_name(loc: tuple[int | str, ...]) -> str:
    if not loc:
        return "front matter"
    name = str(loc[0])
    if name == "body":
        return "de tekst onder de front matter"
    if len(loc) > 1 and isinstance(loc[1], int):
        return f"veld '{name}' (waarde {loc[1] + 1})"
    return f"veld '{name}'"


def _dutch(error: dict[str, Any]) -> str:
    """Translate one pydantic error into a short Dutch explanation."""
    kind = error["type"]
    loc = error.get("loc", ())
    field = str(loc[0]) if loc else ""
    given = error.get("input")
    if kind == "missing":
        return "ontbreekt; dit veld is verplicht"
    if kind == "extra_forbidden":
        allowed = ", ".join(f for f in KnowledgeItem.model_fields if f not in _NOT_FRONT_MATTER)
        return f"is geen bekend veld (tikfout?); toegestaan zijn: {allowed}"
    if kind == "literal_error":
        choices = ", ".join(_CHOICES.get(field, ()))
        return f"{given!r} is geen geldige waarde; kies uit: {choices}{_HINTS.get(field, '')}"
    if kind in ("string_type",):
        return "moet tekst zijn"
    if kind == "string_too_short":
        return "mag niet leeg zijn"
    if kind == "too_short":
        return "moet minstens één waarde bevatten"
    if kind == "list_type":
        return "moet een lijst zijn, bijvoorbeeld [3, 4]"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "moet een heel getal zijn"
    if kind in ("greater_than_equal", "less_than_equal") and field == "beoordeling_jaar":
        return "moet een jaartal zijn, bijvoorbeeld 2020"
    if kind in ("greater_than_equal", "less_than_equal"):
        return "moet een stap van 0 tot en met 6 zijn"
    if kind.startswith("date_"):
        return "moet een datum zijn in de vorm JJJJ-MM-DD, bijvoorbeeld 2026-11-23"
    if kind in _CUSTOM_KINDS:
        return str(error["msg"])
    return f"ongeldige waarde ({error['msg']})"


class _FrontMatterLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that leaves dates as text, so pydantic can report bad dates per field."""


_FrontMatterLoader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))


def _split_front_matter(text: str) -> tuple[str, str] | str:
    """Return (yaml_text, body), or a Dutch problem description."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return "mist front matter: het bestand moet beginnen met een regel '---'"
    for index in range(1, len(lines)):
        if lines[index].strip() == "---":
            return "".join(lines[1:index]), "".join(lines[index + 1 :])
    return "de front matter wordt niet afgesloten met een regel '---'"


def parse_item(path: Path, *, root: Path | None = None) -> KnowledgeItem:
    """Read and validate one corpus file.

    The front matter sits between the first two ``---`` lines and is read with a
    `yaml.SafeLoader` (dates are kept as text and checked by the model); everything after it
    is the body. `root` (the corpus folder) only
    affects how the file is named in error messages. Raises `CorpusError`.
    """
    path = Path(path)
    label = _label(path, root)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CorpusError.for_file(label, ["kan het bestand niet lezen: het is geen UTF-8-tekst"], path) from None
    except OSError as exc:
        raise CorpusError.for_file(label, [f"kan het bestand niet lezen ({exc.strerror})"], path) from None
    if text.startswith("\ufeff"):
        text = text[1:]

    split = _split_front_matter(text)
    if isinstance(split, str):
        raise CorpusError.for_file(label, [split], path)
    front_text, body = split

    try:
        data = yaml.load(front_text, Loader=_FrontMatterLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (regel {mark.line + 2})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "onleesbaar"
        raise CorpusError.for_file(label, [f"de front matter is geen geldige YAML{where}: {problem}"], path) from None
    except ValueError as exc:  # defensive: a constructor rejected a value
        raise CorpusError.for_file(label, [f"de front matter bevat een ongeldige waarde ({exc})"], path) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise CorpusError.for_file(label, ["de front matter moet bestaan uit regels 'veld: waarde'"], path)

    problems = [f"veld '{key}': is geen bekend veld" for key in _NOT_FRONT_MATTER if key in data]
    fields = {str(k): v for k, v in data.items() if k not in _NOT_FRONT_MATTER}
    try:
        item = KnowledgeItem.model_validate({**fields, "body": body.strip(), "path": path})
    except ValidationError as exc:
        problems += [f"{_field_name(tuple(err['loc']))}: {_dutch(dict(err))}" for err in exc.errors()]
        raise CorpusError.for_file(label, problems, path) from None
    if problems:
        raise CorpusError.for_file(label, problems, path)
    return item


def item_id(item: KnowledgeItem) -> str:
    """Stable id of an item: ``<folder>/<file name without .md>``.

    Example: ``interventies/join-us-programma``. It does not depend on where the corpus is
    installed, only on the item's own folder and slug; `load_corpus` checks it is unique.
    """
    return f"{item.path.parent.name}/{item.path.stem}"


def _markdown_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*.md") if p.is_file() and p.name.lower() != "readme.md"]


def load_corpus(folders: Iterable[Path] | Path) -> list[KnowledgeItem]:
    """Read every ``*.md`` file (recursively, except README.md) in the given folders.

    Folders that do not exist are skipped (an optional folder of one's own documents may
    not have been created yet). Items are returned sorted by path. If any file is broken,
    or two files share an `item_id`, one `CorpusError` lists all problems of all files.
    """
    roots = [folders] if isinstance(folders, (str, Path)) else list(folders)
    found: list[tuple[Path, Path]] = []
    for root in roots:
        root = Path(root)
        if root.is_dir():
            found += [(p, root) for p in _markdown_files(root)]
    found.sort(key=lambda pair: pair[0].as_posix())

    items: list[KnowledgeItem] = []
    errors: list[CorpusError] = []
    seen: dict[str, str] = {}
    for path, root in found:
        try:
            item = parse_item(path, root=root)
        except CorpusError as exc:
            errors.append(exc)
            continue
        key = item_id(item)
        label = _label(path, root)
        if key in seen:
            errors.append(
                CorpusError.for_file(
                    label, [f"dezelfde id '{key}' als {seen[key]}; kies een andere bestandsnaam"], path
                )
            )
            continue
        seen[key] = label
        items.append(item)
    if errors:
        raise CorpusError.combine(errors)
    return items


def main(argv: Sequence[str] | None = None) -> int:
    """Check corpus folders and print a Dutch summary; exit code 1 when something is wrong."""
    args = list(sys.argv[1:] if argv is None else argv)
    folders = [Path(a) for a in args] or [Path(__file__).resolve().parents[2] / "knowledge"]
    missing = [f for f in folders if not f.is_dir()]
    if missing:
        print("Map niet gevonden: " + ", ".join(str(f) for f in missing), file=sys.stderr)
        return 1
    try:
        items = load_corpus(folders)
    except CorpusError as exc:
        print(exc, file=sys.stderr)
        return 1
    counts = {kind: sum(1 for i in items if i.soort == kind) for kind in KINDS}
    summary = ", ".join(f"{n} {kind}" for kind, n in counts.items())
    print(f"In orde: {len(items)} items ({summary}).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
