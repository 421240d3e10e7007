"""The wat-werkt corpus under knowledge/ and its loader (bot.knowledge.corpus)."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bot.knowledge.corpus import (
    BEOORDELINGEN,
    KINDS,
    THEMES,
    CorpusError,
    KnowledgeItem,
    item_id,
    level_from_text,
    load_corpus,
    parse_item,
    summary_of,
)

KNOWLEDGE = Path(__file__).resolve().parents[1] / "knowledge"
FACTS = Path(__file__).resolve().parents[2] / "shared" / "facts"
SEEDS = FACTS.parent / "seeds"
RECOGNITIONS = Path(__file__).resolve().parent / "data" / "erkenningen.tsv"

CORE_THEMES = (
    "eenzaamheid",
    "armoede-schulden",
    "mantelzorg",
    "sociale-acceptatie-lhbti",
    "participatie-werk",
    "sociale-cohesie-buurt",
    "jeugd-opvoeding",
    "ouderen-zelfredzaamheid",
)
FOLDER_KINDS = {
    "interventies": {"interventie", "methode"},
    "werkzame-factoren": {"werkzame-factor"},
    "meetinstrumenten": {"meetinstrument"},
}
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


@pytest.fixture(scope="module")
def corpus() -> list[KnowledgeItem]:
    return load_corpus([KNOWLEDGE])


# --- the real corpus ------------------------------------------------------------------


def test_every_file_validates_and_has_a_source(corpus: list[KnowledgeItem]) -> None:
    files = sorted(p for p in KNOWLEDGE.rglob("*.md") if p.name != "README.md")
    assert len(corpus) == len(files)
    for item in corpus:
        assert re.match(r"https?://\S+$", item.bron), item.path
        assert item.body.strip(), item.path
        assert item.stappen, item.path


def test_ids_and_file_names(corpus: list[KnowledgeItem]) -> None:
    ids = [item_id(i) for i in corpus]
    assert len(ids) == len(set(ids))
    for item in corpus:
        folder = item.path.parent.name
        assert item.soort in FOLDER_KINDS[folder], item.path
        stem = item.path.stem
        if folder == "werkzame-factoren":
            theme, _, slug = stem.partition("--")
            assert theme in item.themas, item.path
        else:
            slug = stem
        assert SLUG.fullmatch(slug), item.path


def test_counts(corpus: list[KnowledgeItem]) -> None:
    interventions = [i for i in corpus if i.soort in ("interventie", "methode")]
    factors = [i for i in corpus if i.soort == "werkzame-factor"]
    instruments = [i for i in corpus if i.soort == "meetinstrument"]
    assert len(corpus) >= 150
    assert len(interventions) >= 80
    assert len(instruments) >= 30
    for theme in CORE_THEMES:
        assert any(theme in i.themas for i in interventions), theme
        assert any(theme in i.themas for i in factors), theme


def test_kind_specific_fields(corpus: list[KnowledgeItem]) -> None:
    for item in corpus:
        if item.soort == "meetinstrument":
            assert item.niveau and item.meet, item.path
            assert item.vorm is None, item.path
        else:
            assert item.niveau is None and item.meet is None, item.path
        if item.soort in ("interventie", "methode"):
            assert item.vorm, item.path


def _read_tsv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


def _facts_levels() -> dict[str, set[str]]:
    """Per source URL, the ladder levels the collected facts name for it.

    Two files: the shared facts (`shared/facts/interventies.tsv`, column `beoordeling`) and
    our own record of levels read on newer primary pages (`tests/data/erkenningen.tsv`,
    column `beoordeling_bron`, the page's own wording)."""
    by_url: dict[str, set[str]] = defaultdict(set)
    rows = [(r["bron_url"], r.get("beoordeling") or "") for r in _read_tsv(FACTS / "interventies.tsv")]
    rows += [(r["bron_url"], r["beoordeling_bron"]) for r in _read_tsv(RECOGNITIONS)]
    for url, wording in rows:
        level = level_from_text(wording)
        if level:
            by_url[url.strip()].add(level)
    return by_url


@pytest.mark.skipif(not (FACTS / "interventies.tsv").is_file(), reason="shared/facts not present")
def test_no_invented_recognition_levels(corpus: list[KnowledgeItem]) -> None:
    """Every level other than 'onbekend' must be one the source names, as collected."""
    facts = _facts_levels()
    for item in corpus:
        if item.beoordeling == "onbekend":
            continue
        assert item.beoordeling in facts.get(item.bron, set()), (
            f"{item_id(item)}: beoordeling {item.beoordeling!r} staat niet in de facts voor {item.bron}"
        )


def test_levels_are_ladder_levels_and_notes_are_notes(corpus: list[KnowledgeItem]) -> None:
    for item in corpus:
        assert item.beoordeling in BEOORDELINGEN, item.path
        # a note is context, never a level: a level the note names belongs in `beoordeling`
        assert level_from_text(item.toelichting) is None or item.is_recognised, item.path


def test_known_corrections(corpus: list[KnowledgeItem]) -> None:
    """Issue 13: facts that were wrong in an earlier version."""
    by_id = {item_id(i): i for i in corpus}
    julia = by_id["interventies/julia"]
    assert julia.vorm == "individueel" and "herbeoordeling" in julia.toelichting
    home_start = by_id["interventies/home-start"]
    assert "6 jaar" in home_start.doelgroep and "17" not in home_start.doelgroep
    oranje = by_id["interventies/oranje-huis-aanpak"]
    assert (oranje.beoordeling, oranje.beoordeling_jaar) == ("goed onderbouwd", 2016)
    gsa = by_id["interventies/gay-straight-alliances-op-scholen"]
    assert gsa.titel.startswith("Gender & Sexuality Alliances op scholen")
    assert (gsa.beoordeling, gsa.beoordeling_jaar) == ("goed onderbouwd", 2020)


MIRRORS = ("5dok.net", "docplayer.", "studylibnl.", "fdocuments.", "slideshare.", "adoc.pub")


def test_mirrors_are_marked_secondary(corpus: list[KnowledgeItem]) -> None:
    for item in corpus:
        host = urlsplit(item.bron).netloc.lower()
        if any(m in host for m in MIRRORS):
            assert item.bron_soort == "secundair", f"{item_id(item)}: {item.bron} is een documentkopie"


# --- copied text ----------------------------------------------------------------------

_WORD = re.compile(r"\w+")
COPY_RUN = 8


def _shingles(text: str, n: int = COPY_RUN) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def copied_runs(text: str, source: set[tuple[str, ...]], n: int = COPY_RUN) -> list[str]:
    """The maximal runs of at least `n` words of `text` that also occur in the source."""
    words = _WORD.findall(text.lower())
    flags = [tuple(words[i : i + n]) in source for i in range(len(words) - n + 1)]
    runs, i = [], 0
    while i < len(flags):
        if not flags[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(flags) and flags[j + 1]:
            j += 1
        runs.append(" ".join(words[i : j + n]))
        i = j + 1
    return runs


def test_copied_runs_finds_a_copy() -> None:
    source = _shingles("Julia is bedoeld voor meisjes van 13 tot 19 jaar die het meemaakten.")
    assert copied_runs("Het is voor meisjes van 13 tot 19 jaar die het meemaakten, zegt men.", source) == [
        "voor meisjes van 13 tot 19 jaar die het meemaakten"
    ]
    assert copied_runs("Voor meisjes tussen 13 en 19 jaar die dit meemaakten.", source) == []


@pytest.mark.skipif(not FACTS.is_dir(), reason="shared/facts not present")
def test_no_long_runs_copied_from_sources_at_hand(corpus: list[KnowledgeItem]) -> None:
    """No item text repeats 8 or more words in a row of a source text we have: the shared
    seed documents, and the collected facts (text fields of rows with the item's source)."""
    seeds: set[tuple[str, ...]] = set()
    for path in sorted(SEEDS.glob("*.txt")):
        seeds |= _shingles(path.read_text(encoding="utf-8"))
    by_url: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    for name in ("interventies.tsv", "werkzame_factoren.tsv", "meetinstrumenten.tsv"):
        for row in _read_tsv(FACTS / name):
            for column, value in row.items():
                if column not in ("bron_url", "bron_datum") and value:
                    by_url[row["bron_url"].strip()] |= _shingles(value)
    offenders = []
    for item in corpus:
        runs = copied_runs(item.body, seeds | by_url.get(item.bron, set()))
        if runs:
            offenders.append(f"{item_id(item)}: {' || '.join(runs)}")
    assert not offenders, "Overgenomen tekst (8+ woorden op rij):\n" + "\n".join(offenders)


# --- loader errors --------------------------------------------------------------------

VALID = """---
soort: interventie
titel: "Proefitem"
themas: [eenzaamheid]
doelgroep: "ouderen"
stappen: [3, 4]
beoordeling: "onbekend"
bron: "https://www.movisie.nl/voorbeeld"
bijgewerkt: 2026-11-23
vorm: groep
---
Een korte tekst. Nog een zin.
"""

INSTRUMENT = """---
soort: meetinstrument
titel: "Proefinstrument"
themas: [algemeen]
stappen: [5]
beoordeling: "onbekend"
bron: "https://instrumentwijzer.nl/voorbeeld"
bijgewerkt: 2026-11-23
niveau: voorziening
meet: beide
---
Meet iets. Op voorzieningsniveau.
"""


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _error_for(tmp_path: Path, text: str, name: str = "interventies/kapot.md") -> str:
    path = _write(tmp_path / "knowledge", name, text)
    with pytest.raises(CorpusError) as info:
        parse_item(path, root=tmp_path / "knowledge")
    message = str(info.value)
    assert path.name in message
    assert "Traceback" not in message and "pydantic" not in message.lower()
    return message


def test_valid_item_parses(tmp_path: Path) -> None:
    root = tmp_path / "knowledge"
    _write(root, "interventies/proef.md", VALID)
    _write(root, "meetinstrumenten/proef-instrument.md", INSTRUMENT)
    _write(root, "README.md", "# Uitleg, geen item\n")
    items = load_corpus([root, tmp_path / "bestaat-niet"])
    assert [item_id(i) for i in items] == ["interventies/proef", "meetinstrumenten/proef-instrument"]
    first = items[0]
    assert first.soort == "interventie" and first.themas == ["eenzaamheid"]
    assert first.bijgewerkt.isoformat() == "2026-11-23"
    assert first.body == "Een korte tekst. Nog een zin."
    assert set(THEMES) >= {"eenzaamheid", "algemeen"} and "methode" in KINDS


def test_missing_bron(tmp_path: Path) -> None:
    text = VALID.replace('bron: "https://www.movisie.nl/voorbeeld"\n', "")
    message = _error_for(tmp_path, text)
    assert "veld 'bron'" in message and "ontbreekt" in message


def test_bron_must_be_http_url(tmp_path: Path) -> None:
    message = _error_for(tmp_path, VALID.replace("https://www.movisie.nl/voorbeeld", "www.movisie.nl"))
    assert "knowledge/interventies/kapot.md: veld 'bron': moet een http(s)-adres zijn" in message


def test_bad_theme_slug(tmp_path: Path) -> None:
    message = _error_for(tmp_path, VALID.replace("[eenzaamheid]", "[eenzaamheid, eenzaam]"))
    assert "veld 'themas'" in message and "'eenzaam'" in message and "kies uit" in message


def test_unknown_extra_key(tmp_path: Path) -> None:
    message = _error_for(tmp_path, VALID.replace("vorm: groep\n", "vorm: groep\nbeoordelnig: erkend\n"))
    assert "veld 'beoordelnig'" in message and "geen bekend veld" in message


def test_broken_yaml(tmp_path: Path) -> None:
    message = _error_for(tmp_path, VALID.replace("themas: [eenzaamheid]", "themas: [eenzaamheid"))
    assert "YAML" in message


def test_missing_front_matter(tmp_path: Path) -> None:
    message = _error_for(tmp_path, "Alleen tekst, geen velden.\n")
    assert "front matter" in message


def test_instrument_without_niveau(tmp_path: Path) -> None:
    message = _error_for(tmp_path, INSTRUMENT.replace("niveau: voorziening\n", ""), "meetinstrumenten/x.md")
    assert "veld 'niveau'" in message and "meetinstrument" in message


def test_niveau_not_allowed_on_intervention(tmp_path: Path) -> None:
    message = _error_for(tmp_path, VALID.replace("vorm: groep\n", "vorm: groep\nniveau: samenleving\n"))
    assert "veld 'niveau'" in message


def test_all_field_problems_of_one_file_are_listed(tmp_path: Path) -> None:
    text = VALID.replace("soort: interventie", "soort: meetinstrument").replace("stappen: [3, 4]", "stappen: [3, 9]")
    message = _error_for(tmp_path, text)
    for field in ("'stappen'", "'niveau'", "'meet'", "'vorm'"):
        assert field in message, field


def test_load_corpus_lists_every_broken_file(tmp_path: Path) -> None:
    root = tmp_path / "knowledge"
    _write(root, "interventies/goed.md", VALID)
    _write(root, "interventies/zonder-bron.md", VALID.replace('bron: "https://www.movisie.nl/voorbeeld"\n', ""))
    _write(root, "meetinstrumenten/zonder-niveau.md", INSTRUMENT.replace("niveau: voorziening\n", ""))
    with pytest.raises(CorpusError) as info:
        load_corpus([root])
    message = str(info.value)
    assert "knowledge/interventies/zonder-bron.md: veld 'bron'" in message
    assert "knowledge/meetinstrumenten/zonder-niveau.md: veld 'niveau'" in message
    assert "goed.md" not in message
    assert len(info.value.errors) == 2


def test_duplicate_ids_are_reported(tmp_path: Path) -> None:
    _write(tmp_path / "a" / "interventies", "zelfde.md", VALID)
    _write(tmp_path / "b" / "interventies", "zelfde.md", VALID)
    with pytest.raises(CorpusError) as info:
        load_corpus([tmp_path / "a", tmp_path / "b"])
    assert "interventies/zelfde" in str(info.value)


# --- recognition fields ----------------------------------------------------------------


def test_unknown_level_is_an_error_naming_the_file(tmp_path: Path) -> None:
    message = _error_for(tmp_path, VALID.replace('beoordeling: "onbekend"', 'beoordeling: "Erkend: goed onderbouwd"'))
    assert "knowledge/interventies/kapot.md: veld 'beoordeling'" in message
    assert "'Erkend: goed onderbouwd' is geen geldige waarde" in message and "goed onderbouwd" in message
    assert "toelichting" in message  # says where a note goes instead
    message = _error_for(tmp_path, VALID.replace('beoordeling: "onbekend"', 'beoordeling: "niet beoordeeld"'))
    assert "veld 'beoordeling'" in message


def test_recognition_fields(tmp_path: Path) -> None:
    text = VALID.replace(
        'beoordeling: "onbekend"',
        'beoordeling: "effectief volgens sterke aanwijzingen"\nbeoordeling_jaar: 2021\n'
        'beoordeling_bron: "Sterke aanwijzingen voor effectiviteit"\ntoelichting: "opnieuw beoordeeld"',
    ).replace("vorm: groep\n", "vorm: groep\nbron_soort: secundair\n")
    item = parse_item(_write(tmp_path / "knowledge", "interventies/sterk.md", text))
    assert item.is_recognised and item.beoordeling_jaar == 2021
    assert item.beoordeling_bron == "Sterke aanwijzingen voor effectiviteit"
    assert item.toelichting == "opnieuw beoordeeld" and item.bron_soort == "secundair"
    plain = parse_item(_write(tmp_path / "knowledge", "interventies/gewoon.md", VALID))
    assert not plain.is_recognised and plain.bron_soort == "primair" and plain.beoordeling_jaar is None


def test_source_wording_must_match_the_level(tmp_path: Path) -> None:
    text = VALID.replace(
        'beoordeling: "onbekend"', 'beoordeling: "goed beschreven"\nbeoordeling_bron: "Erkend: goed onderbouwd"'
    )
    assert "veld 'beoordeling_bron'" in _error_for(tmp_path, text)
    text = VALID.replace('beoordeling: "onbekend"', 'beoordeling: "onbekend"\nbeoordeling_bron: "Goed onderbouwd"')
    assert "veld 'beoordeling_bron'" in _error_for(tmp_path, text)


def test_bad_year_and_source_kind(tmp_path: Path) -> None:
    message = _error_for(tmp_path, VALID.replace("vorm: groep\n", "vorm: groep\nbeoordeling_jaar: twintig\n"))
    assert "veld 'beoordeling_jaar'" in message and "heel getal" in message
    message = _error_for(tmp_path, VALID.replace("vorm: groep\n", "vorm: groep\nbron_soort: kopie\n"))
    assert "veld 'bron_soort'" in message and "secundair" in message


def test_level_from_text() -> None:
    assert level_from_text("Erkend: goed onderbouwd (maart 2017)") == "goed onderbouwd"
    assert level_from_text("Sterke aanwijzingen voor effectiviteit") == "effectief volgens sterke aanwijzingen"
    assert level_from_text("Effectief volgens goede aanwijzingen") == "effectief volgens goede aanwijzingen"
    assert level_from_text("Goed Beschreven") == "goed beschreven"
    assert level_from_text("niet beoordeeld") is None


def test_summary_is_the_opening() -> None:
    body = "Eerste zin over het aanbod. Tweede zin, iets langer. " + "Derde zin " * 30 + "."
    assert summary_of(body) == "Eerste zin over het aanbod. Tweede zin, iets langer."
    assert summary_of("Zo kan het, o.a. bij 65+ers. Klaar.") == "Zo kan het, o.a. bij 65+ers. Klaar."
    long = "woord " * 100
    assert summary_of(long).endswith("…") and len(summary_of(long)) <= 240
