"""The wat-werkt corpus under knowledge/ and its loader (bot.knowledge.corpus)."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from pathlib import Path

import pytest

from bot.knowledge.corpus import (
    KINDS,
    THEMES,
    CorpusError,
    KnowledgeItem,
    item_id,
    load_corpus,
    parse_item,
)

KNOWLEDGE = Path(__file__).resolve().parents[1] / "knowledge"
FACTS = Path(__file__).resolve().parents[2] / "shared" / "facts"

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


def _facts_beoordelingen() -> dict[str, set[str]]:
    by_url: dict[str, set[str]] = defaultdict(set)
    with (FACTS / "interventies.tsv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            value = (row.get("beoordeling") or "").strip()
            if value:
                by_url[row["bron_url"].strip()].add(value)
    return by_url


@pytest.mark.skipif(not (FACTS / "interventies.tsv").is_file(), reason="shared/facts not present")
def test_no_invented_recognition_levels(corpus: list[KnowledgeItem]) -> None:
    """Every beoordeling other than 'onbekend' must be the source's own words, as collected."""
    facts = _facts_beoordelingen()
    for item in corpus:
        if item.beoordeling == "onbekend":
            continue
        assert item.beoordeling in facts.get(item.bron, set()), (
            f"{item_id(item)}: beoordeling {item.beoordeling!r} staat niet in de facts voor {item.bron}"
        )
    # Research findings and placeholders are not recognition levels.
    for item in corpus:
        assert not item.beoordeling.startswith("Onderzoek"), item.path
        assert item.beoordeling.lower() != "beoordeling", item.path


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
