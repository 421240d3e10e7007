"""Every participant has their own dialog: an item's follow-up questions belong to its author.

Nothing one person types may swallow or overwrite what another types, and nothing typed is lost.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.coach import load_coach
from bot.compass import Chat
from bot.engine import Engine
from bot.events import Actor, Text, Vote
from bot.flows import load_flow, load_texts, load_themes

FLOW = load_flow()
ENGINE = Engine(FLOW, load_texts(), themes=load_themes(), coach=load_coach(None, FLOW))
FACILITATOR = Actor("f", "Fatima")
PEOPLE = [Actor(f"p{n}", f"Deelnemer {n}") for n in range(8)]


class Room:
    def __init__(self, *, group: bool = True) -> None:
        self.chat = Chat(id="-1" if group else "1", is_group=group)
        self.at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def say(self, actor: Actor, text: str) -> str:
        self.at += timedelta(seconds=1)
        outcome = ENGINE.handle(self.chat, Text(actor, text, self.at, ref=f"m{self.at.timestamp()}"))
        self.chat = outcome.chat
        return "\n".join(r.text for r in outcome.replies)

    @property
    def session(self):  # type: ignore[no-untyped-def]
        assert self.chat.session is not None
        return self.chat.session


def _activity_script(n: int) -> list[str]:
    """One person's activity and its field answers, in the order the bot asks them."""
    return [
        f"Activiteit nummer {n}",
        f"Team {n}",
        "formeel" if n % 2 else "informeel",
        "nieuw" if n % 3 else "bestaand",
        f"Resultaat van {n}",
        f"als team {n} dit doet dan gaat het beter",
    ]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.permutations([n for n in range(8) for _ in range(6)]))
def test_eight_people_interleaving_their_field_answers_each_end_complete(order: list[int]) -> None:
    room = Room()
    room.say(FACILITATOR, "/kompas eenzaamheid")
    room.say(FACILITATOR, "/stap 3")
    scripts = {n: _activity_script(n) for n in range(8)}
    position = dict.fromkeys(range(8), 0)
    for n in order:  # each person's own answers stay in their order; the people interleave freely
        room.say(PEOPLE[n], scripts[n][position[n]])
        position[n] += 1
    session = room.session
    items = session.live("activiteiten")
    assert len(items) == 8  # no answer became an extra item, none was dropped
    assert session.drafts == []
    for n in range(8):
        [item] = [i for i in items if i.author_id == PEOPLE[n].id]
        script = scripts[n]
        assert item.text == script[0]
        assert item.fields == {
            "wie": script[1],
            "vorm": script[2],
            "bestaand": script[3],
            "resultaat": script[4],
            "verwachting": script[5],
        }


def test_the_next_organisation_typed_at_a_choice_prompt_becomes_the_next_item() -> None:
    room = Room(group=False)
    room.say(FACILITATOR, "/kompas armoede en schulden")
    room.say(FACILITATOR, "/stap 0")
    for _ in range(2):
        room.say(FACILITATOR, "/volgende")
    asked = room.say(FACILITATOR, "COC Nederland")
    assert "Vanuit welk perspectief" in asked
    reply = room.say(FACILITATOR, "Voedselbank en Stichting Leergeld")
    assert "Dat past niet bij de keuzes" in reply and "nieuw antwoord" in reply
    items = room.session.live("aan_tafel")
    assert [i.text for i in items] == ["COC Nederland", "Voedselbank en Stichting Leergeld"]
    assert items[1].fields == {"perspectief": "aanbieder"}  # read from the name itself
    overview = room.say(FACILITATOR, "/overzicht")
    assert "nog open: perspectief" in overview  # the unfinished item is listed, not lost


def test_natural_answers_fill_choice_fields() -> None:
    room = Room(group=False)
    room.say(FACILITATOR, "/kompas eenzaamheid")
    room.say(FACILITATOR, "/stap 3")
    room.say(FACILITATOR, "Huisbezoeken")
    room.say(FACILITATOR, "Welzijn Noord")
    room.say(FACILITATOR, "allebei")
    room.say(FACILITATOR, "bestaat al maar wordt uitgebreid")
    item = room.session.live("activiteiten")[0]
    assert item.fields["vorm"] == "allebei" and item.fields["bestaand"] == "uitbreiding"


def test_a_result_says_its_own_term_and_amount_and_is_not_asked_again() -> None:
    room = Room(group=False)
    room.say(FACILITATOR, "/kompas armoede")
    room.say(FACILITATOR, "/stap 2")
    reply = room.say(FACILITATOR, "In 2028 heeft 20% minder huishoudens een betalingsachterstand")
    assert "Begrepen: termijn: <i>in 2028</i>, omvang: <i>20 procent minder</i>" in reply
    assert "Binnen welke termijn" not in reply and "Hoeveel verandering" not in reply


def test_a_whole_item_in_one_message_asks_nothing_more() -> None:
    room = Room(group=False)
    room.say(FACILITATOR, "/kompas armoede")
    room.say(FACILITATOR, "/stap 3")
    reply = room.say(
        FACILITATOR,
        "Budgetcoaching\nHumanitas\ninformeel\nnieuw\n-\nals mensen leren budgetteren dan ontstaan minder schulden",
    )
    assert "Bewaard als nummer" in reply and "Wie voert" not in reply and "Maak de zin af" not in reply.split("💡")[0]
    item = room.session.live("activiteiten")[0]
    assert item.text == "Budgetcoaching" and item.fields["wie"] == "Humanitas" and item.fields["vorm"] == "informeel"


def test_a_bare_number_answers_only_the_persons_own_prompt() -> None:
    room = Room()
    room.say(FACILITATOR, "/kompas eenzaamheid")
    room.say(FACILITATOR, "/stap 3")
    room.say(PEOPLE[0], "Maatjesproject")
    room.say(PEOPLE[0], "Vrijwilligerscentrale")
    assert room.session.draft_of(PEOPLE[0].id, "activiteiten") is not None
    reply = room.say(PEOPLE[1], "2")  # Bram has no open prompt: it picks nothing of Anna's item
    assert "los nummer" in reply
    assert "vorm" not in room.session.live("activiteiten")[0].fields
    room.say(PEOPLE[0], "2")
    assert room.session.live("activiteiten")[0].fields["vorm"] == "informeel"


def test_others_keep_talking_while_the_facilitator_chooses_or_a_vote_runs() -> None:
    room = Room()
    room.say(FACILITATOR, "/kompas eenzaamheid")
    room.say(PEOPLE[0], "Je alleen voelen")
    room.say(PEOPLE[1], "Niemand hebben om mee te praten")
    room.say(FACILITATOR, "/volgende")
    assert room.session.phase == "kiezen"
    room.say(PEOPLE[2], "Geen contact hebben terwijl je dat wel wilt")
    assert [c.text for c in room.session.live("betekenis")][-1] == "Geen contact hebben terwijl je dat wel wilt"
    room.say(FACILITATOR, "/stap 1")
    for _ in range(3):
        room.say(FACILITATOR, "/volgende")
    room.say(PEOPLE[0], "We willen dat ouderen elkaar kennen")
    room.say(PEOPLE[1], "We willen dat niemand er alleen voor staat")
    room.say(FACILITATOR, "/volgende")
    assert room.session.phase == "stemmen"
    reply = room.say(PEOPLE[2], "We willen dat jongeren een plek hebben")
    assert room.session.phase == "stemmen"
    assert "We willen dat jongeren een plek hebben" in [c.text for c in room.session.live("ambities")]
    assert (
        "bewaard" in reply.lower()
        or reply == "Bewaard bij deze vraag. De stemming loopt nog; de facilitator sluit haar met /volgende."
    )
    room.chat = ENGINE.handle(room.chat, Vote(PEOPLE[0], (0,), room.at)).chat
    room.say(FACILITATOR, "/volgende")
    assert room.session.answer("ambities").chosen


def test_change_and_remove_keep_a_history_and_only_for_the_author_or_facilitator() -> None:
    room = Room()
    room.say(FACILITATOR, "/kompas eenzaamheid")
    room.say(PEOPLE[0], "Je alleen voelen")
    contribution = room.session.live("betekenis")[0]
    assert "alleen je eigen" in room.say(PEOPLE[1], f"/wijzig {contribution.id} iets anders")
    room.say(PEOPLE[0], f"/wijzig {contribution.id} Je alleen voelen, ook tussen mensen")
    changed = room.session.contribution(contribution.id)
    assert changed is not None and changed.text == "Je alleen voelen, ook tussen mensen"
    assert [(r.by, r.what, r.before) for r in changed.history] == [(PEOPLE[0].id, "tekst", "Je alleen voelen")]
    room.say(FACILITATOR, f"/verwijder {contribution.id}")
    assert room.session.live("betekenis") == []
    data = room.say(PEOPLE[0], "/mijngegevens")
    assert "Je alleen voelen" not in data or "eerder" in data
    room.say(PEOPLE[0], "/vergeet ja")
    gone = room.session.contribution(contribution.id)
    assert gone is not None and gone.history == [] and gone.text == ""


def test_adopting_a_search_result_with_neem() -> None:
    class Knowledge:
        def search(self, query: str, k: int = 5, **_: object) -> list:  # type: ignore[type-arg]
            from bot.knowledge.search import SearchHit

            return [
                SearchHit(rank=1, titel="Buurtcirkel", bron="https://example.org/b", score=1.0, soort="interventie")
            ]

    engine = Engine(FLOW, load_texts(), Knowledge())
    chat = Chat(id="1")
    at = datetime(2026, 12, 1, tzinfo=UTC)
    for text in ["/kompas eenzaamheid", "/stap 3", "/watwerkt buurt"]:
        chat = engine.handle(chat, Text(FACILITATOR, text, at)).chat
    outcome = engine.handle(chat, Text(FACILITATOR, "/neem 1", at))
    assert outcome.chat.session is not None
    [item] = outcome.chat.session.live("activiteiten")
    assert item.text == "Buurtcirkel" and item.source == "https://example.org/b"


def test_a_big_group_overview_stays_short_in_the_chat_and_comes_whole_as_a_file() -> None:
    from bot.telegram.translate import split_html

    room = Room()
    room.say(FACILITATOR, "/kompas eenzaamheid")
    room.say(FACILITATOR, "/volgende")
    for n in range(250):
        room.say(PEOPLE[n % 8], f"Signaal {n}: " + "een lang verhaal over wat we in de wijk zien " * 8)
    outcome = ENGINE.handle(room.chat, Text(PEOPLE[0], "/overzicht", room.at))
    [reply] = outcome.replies
    assert reply.export == ("md",) and len(split_html(reply.text)) == 1  # one message, not 126
    assert "250×" in reply.text
    assert len(split_html(ENGINE.overview(room.chat))) > 20  # the whole one would take many messages: a file


def test_a_dash_or_weet_niet_leaves_a_field_open() -> None:
    room = Room(group=False)
    room.say(FACILITATOR, "/kompas armoede")
    room.say(FACILITATOR, "/stap 3")
    for text in ["Buurtgezinnen", "Humanitas", "-", "weet niet", "-", "-"]:
        reply = room.say(FACILITATOR, text)
    assert "Bewaard als nummer" in reply
    assert room.session.live("activiteiten")[0].fields == {"wie": "Humanitas"}


def test_the_document_lists_unfinished_items_and_whose_they_are() -> None:
    from bot.document.model import compile_document

    room = Room()
    room.say(FACILITATOR, "/kompas eenzaamheid")
    room.say(FACILITATOR, "/stap 3")
    room.say(FACILITATOR, "Maatjesproject")
    room.say(FACILITATOR, "Vrijwilligerscentrale")
    points = [p.text for p in compile_document(room.session, FLOW).open_points if p.kind == "concept"]
    missing = "(vorm, status, resultaat, verwachting)"
    assert points == [f"Stap 3 · Activiteiten: nr. 1 'Maatjesproject' van Fatima is nog niet af {missing}."]
    hidden = compile_document(room.session, FLOW, pseudonymise=True).open_points
    assert [p.text for p in hidden if p.kind == "concept"] == [points[0].replace("Fatima", "Deelnemer 1")]
