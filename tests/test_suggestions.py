"""Knowledge inside the flow: suggestions come from the retriever, keep their source, can be adopted."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.compass import Chat
from bot.engine import Actor, Engine, Text
from bot.flows import Flow, Texts, load_themes
from bot.knowledge.search import SearchHit

from .conftest import Clock

ME = Actor("1", "Sanne")


@dataclass
class FakeKnowledge:
    """Returns one hit per call for the requested kind and records every call."""

    calls: list[dict[str, object]] = field(default_factory=list)
    preferences: list[dict[str, object]] = field(default_factory=list)
    broken: bool = False

    def search(
        self,
        query: str,
        k: int = 5,
        *,
        offset: int = 0,
        thema: str | None = None,
        soort: str | None = None,
        stap: int | None = None,
        erkend: bool = False,
        prefer_themes: tuple[str, ...] = (),
        prefer_step: int | None = None,
    ) -> list[SearchHit]:
        self.calls.append({"query": query, "thema": thema, "soort": soort, "stap": stap, "offset": offset})
        self.preferences.append({"erkend": erkend, "prefer_themes": prefer_themes, "prefer_step": prefer_step})
        if self.broken:
            raise RuntimeError("index weg")
        return [
            SearchHit(
                rank=1,
                titel=f"{soort} over {thema}",
                bron=f"https://example.org/{soort}",
                score=1.0,
                soort=soort or "interventie",
                beoordeling="goed onderbouwd",
                fragment="Korte uitleg.",
            ),
        ]


def _engine(flow: Flow, texts: Texts, knowledge: FakeKnowledge) -> Engine:
    return Engine(flow, texts, knowledge=knowledge, themes=load_themes())


def _send(engine: Engine, chat: Chat, clock: Clock, text: str) -> tuple[Chat, str]:
    outcome = engine.handle(chat, Text(ME, text, clock()))
    return outcome.chat, "\n".join(r.text for r in outcome.replies)


def test_activity_suggestions_are_filtered_and_adoptable(flow: Flow, texts: Texts, clock: Clock) -> None:
    knowledge = FakeKnowledge()
    engine = _engine(flow, texts, knowledge)
    chat, _ = _send(engine, Chat(id="c"), clock, "/kompas mantelzorg")
    chat, text = _send(engine, chat, clock, "/stap 3")
    assert "Uit de kennisbank" in text and "Erkend: goed onderbouwd" in text and "https://example.org/" in text
    assert knowledge.calls[0] == {
        "query": "mantelzorg",
        "thema": "mantelzorg",
        "soort": "interventie",
        "stap": 3,
        "offset": 0,
    }
    chat, text = _send(engine, chat, clock, "1")  # a bare number adopts nothing: it points to /neem
    assert "/neem 1" in text and chat.session is not None and not chat.session.live("activiteiten")
    chat, text = _send(engine, chat, clock, "/neem 1")
    session = chat.session
    assert session is not None
    adopted = session.live("activiteiten")[0]
    assert adopted.text == "interventie over mantelzorg" and adopted.source == "https://example.org/interventie"
    assert [d.item_id for d in session.drafts] == [adopted.id] and "Wie voert" in text
    chat, text = _send(engine, chat, clock, "het wijkteam")  # the first answer does not end the suggestions
    chat, text = _send(engine, chat, clock, "/neem 1")
    assert chat.session is not None and len(chat.session.live("activiteiten")) == 2


def test_instrument_suggestion_for_an_indicator_field(flow: Flow, texts: Texts, clock: Clock) -> None:
    knowledge = FakeKnowledge()
    engine = _engine(flow, texts, knowledge)
    chat, _ = _send(engine, Chat(id="c"), clock, "/kompas eenzaamheid")
    chat, _ = _send(engine, chat, clock, "/stap 2")
    chat, _ = _send(engine, chat, clock, "/volgende")
    chat, text = _send(engine, chat, clock, "Inwoners voelen zich minder eenzaam")  # 'voelen': beleving
    chat, text = _send(engine, chat, clock, "/overslaan")
    assert "meetinstrument over eenzaamheid" in text
    assert knowledge.calls[-1]["stap"] == 2 and "minder eenzaam" in str(knowledge.calls[-1]["query"])
    chat, text = _send(engine, chat, clock, "/neem 1")
    session = chat.session
    assert session is not None
    indicator = session.live("indicatoren")[0]
    assert indicator.fields["bron"] == "meetinstrument over eenzaamheid"
    assert indicator.field_sources == {"bron": "https://example.org/meetinstrument"}


def test_step_four_offers_working_factors_and_interventions(flow: Flow, texts: Texts, clock: Clock) -> None:
    knowledge = FakeKnowledge()
    engine = _engine(flow, texts, knowledge)
    chat, _ = _send(engine, Chat(id="c"), clock, "/kompas armoede")
    chat, text = _send(engine, chat, clock, "/stap 4")
    assert {c["soort"] for c in knowledge.calls} == {"werkzame-factor", "interventie"}
    assert "/neem" in text


def test_broken_index_never_stops_the_flow(flow: Flow, texts: Texts, clock: Clock) -> None:
    engine = _engine(flow, texts, FakeKnowledge(broken=True))
    chat, _ = _send(engine, Chat(id="c"), clock, "/kompas eenzaamheid")
    chat, text = _send(engine, chat, clock, "/stap 3")
    assert "Welke activiteit" in text and "kennisbank" not in text.lower()
    chat, text = _send(engine, chat, clock, "/watwerkt eenzaamheid")
    assert "niet beschikbaar" in text
    chat, text = _send(engine, chat, clock, "/neem 1")
    assert "geen suggesties" in text


def test_what_works_pages_with_more(flow: Flow, texts: Texts, clock: Clock) -> None:
    knowledge = FakeKnowledge()
    engine = _engine(flow, texts, knowledge)
    chat, text = _send(engine, Chat(id="c"), clock, "/watwerkt eenzaamheid onder jongeren")
    assert "Wat werkt bij: eenzaamheid onder jongeren" in text and "Bron: https://example.org/" in text
    chat, _ = _send(engine, chat, clock, "/meer")
    assert [c["offset"] for c in knowledge.calls] == [0, 5]


def test_what_works_in_a_compass_prefers_its_theme_and_step(flow: Flow, texts: Texts, clock: Clock) -> None:
    knowledge = FakeKnowledge()
    engine = _engine(flow, texts, knowledge)
    chat, _ = _send(engine, Chat(id="c"), clock, "/watwerkt eenoudergezinnen bereiken")
    assert knowledge.preferences[-1] == {"erkend": False, "prefer_themes": (), "prefer_step": None}  # general
    chat, _ = _send(engine, chat, clock, "/kompas armoede en schulden")
    chat, _ = _send(engine, chat, clock, "/stap 3")
    chat, _ = _send(engine, chat, clock, "/watwerkt hoe bereik je eenoudergezinnen")
    assert knowledge.preferences[-1] == {"erkend": False, "prefer_themes": ("armoede-schulden",), "prefer_step": 3}
    chat, text = _send(engine, chat, clock, "/watwerkt erkend schuldhulp")
    assert knowledge.preferences[-1]["erkend"] is True and knowledge.calls[-1]["query"] == "schuldhulp"
    assert "<b>Erkend: goed onderbouwd</b>" in text
    chat, _ = _send(engine, chat, clock, "/meer")
    assert knowledge.preferences[-1]["erkend"] is True  # the next page keeps the filter
