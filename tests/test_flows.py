"""The content files: the real ones load, broken ones give a clear message (file, place, field)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.flows import FlowError, check_examples, load_flow, load_texts, load_themes

from .conftest import REPO


def test_real_flow_has_preparation_and_six_steps() -> None:
    flow = load_flow()
    assert [s.nummer for s in flow.stappen] == list(range(7))
    assert all(step.vragen and step.doel for step in flow.stappen)
    kinds = {q.soort for step in flow.stappen for q in step.vragen}
    assert kinds == {"lijst", "formulering", "items"}
    assert "{vraagstuk}" in flow.question("signalen").tekst


def _broken_copy(tmp_path: Path, change) -> Path:  # type: ignore[no-untyped-def]
    data = yaml.safe_load((REPO / "flows" / "kompas.yaml").read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "kompas.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_missing_field_names_file_place_and_field(tmp_path: Path) -> None:
    path = _broken_copy(tmp_path, lambda d: d["stappen"][3]["vragen"][0].pop("tekst"))
    with pytest.raises(FlowError) as caught:
        load_flow(path)
    message = str(caught.value)
    assert str(path) in message
    assert "stappen > nr. 4 (3) > vragen > nr. 1 (activiteiten) > tekst" in message


def test_wrong_kind_and_unknown_key(tmp_path: Path) -> None:
    def change(d: dict) -> None:  # type: ignore[type-arg]
        d["stappen"][1]["vragen"][0]["soort"] = "essay"
        d["stappen"][1]["vragen"][0]["tekstje"] = "x"

    with pytest.raises(FlowError) as caught:
        load_flow(_broken_copy(tmp_path, change))
    assert "soort" in str(caught.value) and "tekstje" in str(caught.value)


def test_unknown_placeholder(tmp_path: Path) -> None:
    path = _broken_copy(tmp_path, lambda d: d["stappen"][0]["vragen"][0].update(tekst="Wat is {thema}?"))
    with pytest.raises(FlowError, match=r"onbekende invulplek \{thema\}"):
        load_flow(path)


def test_missing_step_and_bad_reference(tmp_path: Path) -> None:
    with pytest.raises(FlowError, match="0 tot en met 6"):
        load_flow(_broken_copy(tmp_path, lambda d: d["stappen"].pop(4)))

    def bad_ref(d: dict) -> None:  # type: ignore[type-arg]
        d["stappen"][2]["vragen"][0]["velden"][0]["verwijst_naar"] = "activiteiten"

    with pytest.raises(FlowError, match="eerdere vraag"):
        load_flow(_broken_copy(tmp_path, bad_ref))


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "kompas.yaml"
    path.write_text("naam: x\nstappen: [\n  - a: b\n", encoding="utf-8")
    with pytest.raises(FlowError, match=r"regel \d+"):
        load_flow(path)


def test_texts_require_all_messages(tmp_path: Path) -> None:
    data = yaml.safe_load((REPO / "flows" / "teksten.yaml").read_text(encoding="utf-8"))
    del data["berichten"]["welkom"]
    path = tmp_path / "teksten.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(FlowError, match="welkom"):
        load_texts(path)


def test_examples_follow_the_issue(flow, texts) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from bot.compass import Chat
    from bot.engine import Actor, Engine, Text
    from bot.flows import load_themes

    engine = Engine(flow, texts, themes=load_themes())
    at = datetime(2026, 11, 23, tzinfo=UTC)
    outcome = engine.handle(Chat(id="c"), Text(Actor("1", "A"), "/kompas schulden bij jongeren", at))
    session = outcome.chat.session
    assert session is not None and session.themas == ["armoede-schulden", "jeugd-opvoeding"]
    assert "geld" in outcome.replies[-1].text  # the armoede example, not the lhbti one
    plain = engine.handle(Chat(id="d"), Text(Actor("1", "A"), "/kompas iets heel anders", at))
    assert "Iedereen kan meedoen" in plain.replies[-1].text


def test_step_one_shows_the_example_of_the_theme(flow, texts) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from bot.compass import Chat
    from bot.engine import Actor, Engine, Text

    engine = Engine(flow, texts, themes=load_themes())
    at = datetime(2026, 11, 23, tzinfo=UTC)
    examples = flow.question("beeld_cijfers").voorbeeld
    assert isinstance(examples, dict)

    def first_figures_question(issue: str) -> str:
        chat = engine.handle(Chat(id=issue), Text(Actor("1", "A"), f"/kompas {issue}", at)).chat
        return engine.handle(chat, Text(Actor("1", "A"), "/stap 1", at)).replies[-1].text

    poverty = first_figures_question("armoede")
    assert examples["armoede-schulden"] in poverty and "eenzaam" not in poverty
    acceptance = first_figures_question("sociale acceptatie van lhbti-inwoners")
    assert examples["sociale-acceptatie-lhbti"] in acceptance and "eenzaam" not in acceptance
    loneliness = first_figures_question("eenzaamheid onder ouderen")
    assert examples["eenzaamheid"] in loneliness


def test_every_theme_has_its_own_example() -> None:
    flow, themes = load_flow(), load_themes()
    check_examples(flow, themes)
    per_theme = [q for step in flow.stappen for q in step.vragen if isinstance(q.voorbeeld, dict)]
    assert per_theme, "er zijn vragen met een voorbeeld per thema"
    for question in per_theme:
        assert isinstance(question.voorbeeld, dict)
        for theme in ["algemeen", *themes.themes]:
            assert question.voorbeeld.get(theme, "").strip(), f"{question.sleutel}: geen voorbeeld voor {theme}"


def test_a_new_theme_without_examples_is_named(tmp_path: Path) -> None:
    data = yaml.safe_load((REPO / "flows" / "themas.yaml").read_text(encoding="utf-8"))
    data["digitale-inclusie"] = {"naam": "digitale inclusie", "woorden": ["digitaal"]}
    themes_path = tmp_path / "themas.yaml"
    themes_path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(FlowError) as caught:
        check_examples(load_flow(), load_themes(themes_path), REPO / "flows" / "kompas.yaml")
    message = str(caught.value)
    assert "kompas.yaml" in message
    assert "vraag 'beeld_cijfers' > voorbeeld: er ontbreekt een voorbeeld voor digitale-inclusie" in message
    assert "vraag 'verbeteren'" in message


def test_a_missing_or_misspelled_theme_example_is_named(tmp_path: Path) -> None:
    def change(d: dict) -> None:  # type: ignore[type-arg]
        examples = d["stappen"][1]["vragen"][0]["voorbeeld"]
        examples["armoede"] = examples.pop("armoede-schulden")

    path = _broken_copy(tmp_path, change)
    with pytest.raises(FlowError) as caught:
        check_examples(load_flow(path), load_themes(), path)
    message = str(caught.value)
    assert str(path) in message
    assert "vraag 'beeld_cijfers' > voorbeeld: er ontbreekt een voorbeeld voor armoede-schulden" in message
    assert "vraag 'beeld_cijfers' > voorbeeld: onbekend thema armoede" in message
