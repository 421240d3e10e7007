"""The engine on its own: a group of three walks the whole compass, plus navigation and bad input."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from bot.compass import Chat
from bot.engine import MAX_ANSWER_CHARS, Actor, Edit, Engine, Reply, Text, Vote, clean_text, parse_command

from .conftest import Clock

FACILITATOR = Actor("1", "Fatima")
PROVIDER = Actor("2", "Pieter")
RESIDENT = Actor("3", "Dewi")


@dataclass
class Room:
    """A chat driven through the engine, keeping the latest state like a transport would."""

    engine: Engine
    clock: Clock
    chat: Chat
    log: list[Reply] = field(default_factory=list)

    def send(self, actor: Actor, text: str, ref: str | None = None) -> list[Reply]:
        outcome = self.engine.handle(self.chat, Text(actor=actor, text=text, at=self.clock(), ref=ref))
        self.chat = outcome.chat
        self.log.extend(outcome.replies)
        return list(outcome.replies)

    def say(self, actor: Actor, text: str) -> str:
        return "\n".join(r.text for r in self.send(actor, text))

    @property
    def where(self) -> tuple[int, str, str]:
        session = self.chat.session
        assert session is not None
        question = self.engine.flow.step(session.step).vragen[session.question_index]
        return session.step, question.sleutel, session.phase


@pytest.fixture
def group(engine: Engine, clock: Clock) -> Room:
    room = Room(engine, clock, Chat(id="g1", is_group=True))
    room.send(FACILITATOR, "/rol gemeente")
    room.send(PROVIDER, "/rol aanbieder")
    room.send(RESIDENT, "/rol doelgroep")
    room.send(FACILITATOR, "/kompas sociale acceptatie")
    return room


@pytest.fixture
def solo(engine: Engine, clock: Clock) -> Room:
    room = Room(engine, clock, Chat(id="p1", is_group=False))
    room.send(FACILITATOR, "/kompas eenzaamheid")
    return room


def test_question_is_adapted_to_the_issue(group: Room) -> None:
    group.send(FACILITATOR, "/volgende")
    asked = [r for r in group.log if r.asks][-1]
    assert "Wat zie je in de samenleving als er sociale acceptatie is?" in asked.text
    assert [b.label for b in asked.buttons] == ["Volgende", "Terug", "Overslaan", "Uitleg"]


def test_group_of_three_completes_every_step(group: Room) -> None:
    # Step 0: a formulation with two proposals; the facilitator picks one.
    group.send(PROVIDER, "Iedereen kan zichzelf zijn")
    group.send(RESIDENT, "Je hoeft je niet te verstoppen")
    text = group.say(FACILITATOR, "/volgende")
    assert "Er zijn 2 voorstellen" in text and group.where[2] == "kiezen"
    group.send(PROVIDER, "/kies 1")
    assert "alleen de facilitator" in group.log[-1].text.lower()
    group.say(FACILITATOR, "2")
    session = group.chat.session
    assert session is not None and session.answer("betekenis").agreed == "Je hoeft je niet te verstoppen"
    assert group.where[1] == "signalen"

    for actor, sign in [
        (RESIDENT, "Hand in hand lopen"),
        (PROVIDER, "Regenboogvlag op school"),
        (FACILITATOR, "Geen pesten"),
    ]:
        acks = group.send(actor, sign)
        assert acks[0].reaction  # a brief acknowledgement, not a new question
    group.send(FACILITATOR, "/volgende")

    group.send(PROVIDER, "COC Nederland")
    group.send(PROVIDER, "aanbieder")
    group.send(FACILITATOR, "/volgende")

    # Step 1: lists, a formulation with one proposal (auto-agreed) and a vote on ambitions.
    assert group.where[:2] == (1, "beeld_cijfers")
    group.send(FACILITATOR, "Een op de vijf lhbti-jongeren wordt gepest (monitor)")
    group.send(FACILITATOR, "/volgende")
    group.send(RESIDENT, "Op het werk houden mensen het liever stil")
    group.send(FACILITATOR, "/volgende")
    group.send(FACILITATOR, "Het beleid noemt lhbti niet apart")
    group.send(FACILITATOR, "/volgende")
    assert group.where[1] == "ambities"
    group.send(RESIDENT, "We willen dat inwoners zich veilig voelen om zichzelf te zijn")
    group.send(PROVIDER, "We willen dat jongeren op school open kunnen zijn")
    vote = group.send(FACILITATOR, "/volgende")
    poll = next(r.poll for r in vote if r.poll)
    assert poll is not None and len(poll.options) == 2 and group.where[2] == "stemmen"
    group.engine.handle(group.chat, Vote(RESIDENT, (0,), group.clock()))  # discarded outcome: no effect
    outcome = group.engine.handle(group.chat, Vote(RESIDENT, (0,), group.clock()))
    group.chat = outcome.chat
    group.chat = group.engine.handle(group.chat, Vote(PROVIDER, (0, 1), group.clock())).chat
    closing = group.send(FACILITATOR, "/volgende")
    assert any(r.close_poll for r in closing)
    session = group.chat.session
    assert session is not None
    ambitions = session.live("ambities")
    assert session.answer("ambities").chosen == [ambitions[0].id, ambitions[1].id]

    # Step 2: a result linked to an ambition, an indicator linked to the result.
    assert group.where[:2] == (2, "resultaten")
    group.send(FACILITATOR, "Over vier jaar voelt 80% van de lhbti-inwoners zich veilig")
    group.send(FACILITATOR, "1")
    group.send(FACILITATOR, "over vier jaar")
    group.send(FACILITATOR, "80%")
    group.send(FACILITATOR, "/volgende")
    assert group.where[1] == "indicatoren"
    group.send(RESIDENT, "Ervaren veiligheid van lhbti-inwoners")
    group.send(RESIDENT, "1")
    group.send(RESIDENT, "beleving")
    group.send(RESIDENT, "Gezondheidsmonitor")
    group.send(FACILITATOR, "/volgende")

    # Step 3: an activity with all its links; then the remaining questions skipped or answered.
    assert group.where[1] == "activiteiten"
    group.send(PROVIDER, "Gay-Straight Alliances op scholen")
    for answer in [
        "COC en scholen",
        "informeel",
        "nieuw",
        "1",
        "als leerlingen elkaar leren kennen, dan neemt pesten af",
    ]:
        group.send(PROVIDER, answer)
    session = group.chat.session
    assert session is not None
    activity = session.live("activiteiten")[0]
    result = session.live("resultaten")[0]
    assert activity.fields == {
        "wie": "COC en scholen",
        "vorm": "informeel",
        "bestaand": "nieuw",
        "resultaat": [result.id],
        "verwachting": "als leerlingen elkaar leren kennen, dan neemt pesten af",
    }
    group.send(FACILITATOR, "/volgende")
    group.send(FACILITATOR, "/overslaan")
    group.send(FACILITATOR, "/overslaan")

    # Steps 4-6.
    assert group.where[:2] == (4, "wat_werkt")
    group.send(PROVIDER, "Contact tussen groepen onder gelijke voorwaarden")
    group.send(PROVIDER, "1")
    for _ in range(3):
        group.send(FACILITATOR, "/volgende")
    assert group.where[:2] == (5, "outcome")
    group.send(PROVIDER, "Leerlingen voelen zich veiliger op school")
    for answer in ["1", "beleving", "Vragenlijst schoolveiligheid"]:
        group.send(PROVIDER, answer)
    group.send(FACILITATOR, "/volgende")
    for key, answer in [
        ("herkennen", "Minder meldingen van pesten"),
        ("verklaren", "Meer GSA's actief"),
        ("waarderen", "De aanpak op scholen werkt"),
    ]:
        assert group.where[1] == key
        group.send(RESIDENT, answer)
        group.send(FACILITATOR, "/volgende")
    group.send(FACILITATOR, "Ook het mbo erbij betrekken")
    group.send(FACILITATOR, "2")
    final = group.say(FACILITATOR, "/volgende")
    assert "helemaal doorlopen" in final
    session = group.chat.session
    assert session is not None and session.phase == "klaar"

    contributions = session.contributions
    assert {c.role for c in contributions} == {"gemeente", "aanbieder", "doelgroep"}
    assert all(c.author_id in {"1", "2", "3"} and c.at is not None for c in contributions)
    overview = group.say(RESIDENT, "/overzicht")
    for expected in ["Je hoeft je niet te verstoppen", "Gay-Straight Alliances", "Ook het mbo erbij betrekken"]:
        assert expected in overview
    assert "nog in te vullen" in overview  # the skipped questions


def test_non_facilitator_cannot_navigate(group: Room) -> None:
    before = group.where
    for command in ["/volgende", "/terug", "/overslaan", "/stap 3", "/stop", "/document"]:
        text = group.say(RESIDENT, command)
        assert "Alleen de facilitator" in text
    assert group.where == before
    assert group.chat.active is not None


def test_chat_admin_may_navigate(group: Room) -> None:
    admin = Actor("9", "Beheerder", is_admin=True)
    group.send(admin, "/stap 3")
    assert group.where[:2] == (3, "activiteiten")


def test_jump_back_and_skip(group: Room) -> None:
    group.send(FACILITATOR, "/stap 3")
    assert group.where[:2] == (3, "activiteiten")
    group.send(FACILITATOR, "/terug")
    assert group.where[:2] == (2, "indicatoren")
    group.send(FACILITATOR, "/overslaan")
    assert group.where[:2] == (3, "activiteiten")
    session = group.chat.session
    assert session is not None and session.answer("indicatoren").skipped
    group.send(FACILITATOR, "/stap 0")
    group.send(FACILITATOR, "/terug")
    assert "eerste vraag" in group.log[-1].text


def test_step_jump_resumes_at_first_open_question(group: Room) -> None:
    group.send(FACILITATOR, "/stap 1")
    group.send(FACILITATOR, "Cijfer uit de monitor")
    group.send(FACILITATOR, "/volgende")
    group.send(FACILITATOR, "/stap 0")
    group.send(FACILITATOR, "/stap 1")
    assert group.where[:2] == (1, "beeld_verhalen")


@pytest.mark.parametrize("command", ["/stap 7", "/stap -1", "/stap", "/stap drie"])
def test_step_out_of_range(group: Room, command: str) -> None:
    before = group.where
    assert "van 0 tot en met 6" in group.say(FACILITATOR, command)
    assert group.where == before


def test_solo_confirms_a_formulation_and_waits_for_volgende(solo: Room) -> None:
    said = solo.say(FACILITATOR, "Je niet verbonden voelen met anderen")
    assert solo.where[1] == "betekenis" and "/volgende" in said
    solo.send(FACILITATOR, "Je alleen voelen, ook tussen mensen")
    solo.send(FACILITATOR, "/volgende")
    assert solo.where[1] == "signalen"
    session = solo.chat.session
    assert session is not None and session.answer("betekenis").agreed == "Je alleen voelen, ook tussen mensen"
    solo.send(FACILITATOR, "Mensen zitten veel alleen thuis\nNiemand komt op bezoek")
    session = solo.chat.session
    assert session is not None and [c.text for c in session.live("signalen")] == [
        "Mensen zitten veel alleen thuis",
        "Niemand komt op bezoek",
    ]


def test_several_compasses_per_chat(group: Room) -> None:
    group.send(PROVIDER, "Iets over acceptatie")
    group.send(FACILITATOR, "/kompas armoede en schulden")
    assert group.chat.active == "armoede-en-schulden"
    listing = group.say(FACILITATOR, "/kompas")
    assert "sociale acceptatie" in listing and "armoede en schulden" in listing
    group.send(FACILITATOR, "/kompas 1")
    assert group.chat.active == "sociale-acceptatie"
    session = group.chat.session
    assert session is not None and session.live("betekenis")[0].text == "Iets over acceptatie"


def test_bad_input_keeps_everything(group: Room) -> None:
    group.send(PROVIDER, "Een eerste antwoord")
    stored = group.chat.model_copy(deep=True)
    assert "geen tekst" in group.say(PROVIDER, "   ")
    assert "onzichtbare tekens" in group.say(PROVIDER, "\u200b\x00\x07")
    too_long = group.say(PROVIDER, "x" * (MAX_ANSWER_CHARS + 1))
    assert str(MAX_ANSWER_CHARS) in too_long and "niet bewaard" in too_long
    assert "/volgende" in group.say(PROVIDER, "/volgnde")
    assert "ken ik niet" in group.say(PROVIDER, "/xyzzy")
    assert group.chat.sessions == stored.sessions


def test_control_characters_are_removed_from_answers(group: Room) -> None:
    group.send(PROVIDER, "Vei\x00lig\u200b zijn")
    session = group.chat.session
    assert session is not None and session.live("betekenis")[0].text == "Veilig zijn"


def test_answer_without_compass(engine: Engine, clock: Clock) -> None:
    room = Room(engine, clock, Chat(id="x", is_group=True))
    assert "Er loopt nog geen kompas" in room.say(PROVIDER, "hallo")
    assert room.chat.sessions == {}


def test_user_text_is_escaped(group: Room) -> None:
    group.send(PROVIDER, "<b>vet</b> & <script>")
    overview = group.say(PROVIDER, "/overzicht")
    assert "&lt;b&gt;vet&lt;/b&gt; &amp; &lt;script&gt;" in overview
    assert "<script>" not in overview


def test_edit_updates_the_stored_contribution(group: Room) -> None:
    group.send(PROVIDER, "Eerste versie", ref="m42")
    outcome = group.engine.handle(group.chat, Edit(PROVIDER, "m42", "Tweede versie", group.clock()))
    session = outcome.chat.session
    assert session is not None
    contribution = session.live("betekenis")[0]
    assert contribution.text == "Tweede versie" and contribution.edited_at is not None
    other = group.engine.handle(group.chat, Edit(RESIDENT, "m42", "Niet van mij", group.clock()))
    assert not other.changed


def test_who_shows_perspectives_and_nudges_for_target_group(group: Room) -> None:
    group.send(PROVIDER, "Zichzelf kunnen zijn")
    text = group.say(FACILITATOR, "/wie")
    assert "aanbieder: Pieter" in text and "doelgroep" in text.lower()
    group.send(RESIDENT, "Niet hoeven uitleggen wie je bent")
    assert "nog niets gehoord" not in group.say(FACILITATOR, "/wie")


def test_stop_keeps_data_and_resume(group: Room) -> None:
    group.send(PROVIDER, "Een antwoord")
    group.send(FACILITATOR, "/stop")
    assert group.chat.active is None
    assert "verder met het kompas" in group.say(PROVIDER, "/kompas sociale acceptatie")
    session = group.chat.session
    assert session is not None and session.live("betekenis")[0].text == "Een antwoord"


def test_role_validation(group: Room) -> None:
    assert "Kies een van deze rollen" in group.say(PROVIDER, "/rol koning")
    assert group.chat.roles["2"] == "aanbieder"


def test_shortlist_before_a_poll_with_many_answers(group: Room) -> None:
    group.send(FACILITATOR, "/stap 1")
    for _ in range(3):
        group.send(FACILITATOR, "/volgende")
    for n in range(12):
        group.send(PROVIDER, f"We willen dat inwoners ambitie {n} halen")
    text = group.say(FACILITATOR, "/volgende")
    assert "maximaal 10" in text and group.where[2] == "shortlist"
    replies = group.send(FACILITATOR, "/kies 1 2 3")
    poll = next(r.poll for r in replies if r.poll)
    assert poll is not None and len(poll.options) == 3


def test_parse_command_addressing() -> None:
    assert parse_command("/volgende@kompasbot", "kompasbot") is not None
    assert parse_command("/volgende@kompasbot", "kompasbot").name == "volgende"  # type: ignore[union-attr]
    other = parse_command("/volgende@anderebot", "kompasbot")
    assert other is not None and other.name == ""
    assert parse_command("geen commando") is None
    assert parse_command("/stap 3").arg == "3"  # type: ignore[union-attr]


def test_command_for_another_bot_is_ignored(flow, texts, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    engine = Engine(flow, texts, bot_username="kompasbot")
    room = Room(engine, clock, Chat(id="g", is_group=True))
    assert room.send(FACILITATOR, "/kompas@anderebot iets") == []
    assert room.chat.sessions == {}


def test_clean_text_keeps_newlines_and_emoji() -> None:
    assert clean_text(" a\tb\nc 👍🏽\x00 ") == "a\tb\nc 👍🏽"


def test_forget_removes_only_my_data_after_confirmation(group: Room) -> None:
    group.send(PROVIDER, "Mijn voorstel")
    group.send(RESIDENT, "Haar voorstel")
    assert "Zeker weten" in group.say(PROVIDER, "/vergeet")
    session = group.chat.session
    assert session is not None and session.live("betekenis")[0].text == "Mijn voorstel"
    assert "1 bijdragen" in group.say(PROVIDER, "/vergeet ja")
    session = group.chat.session
    assert session is not None
    assert [c.text for c in session.live("betekenis")] == ["Haar voorstel"]
    removed = [c for c in session.contributions if c.removed]
    assert len(removed) == 1 and removed[0].text == "" and removed[0].author_id == ""
    assert "2" not in group.chat.roles and "2" not in group.chat.names and "2" not in session.participants
    assert "Pieter" not in group.chat.model_dump_json()


def test_my_data_lists_own_contributions_privately(group: Room) -> None:
    group.send(PROVIDER, "Mijn voorstel")
    group.send(RESIDENT, "Haar voorstel")
    reply = group.send(PROVIDER, "/mijngegevens")[-1]
    assert reply.private
    assert "Mijn voorstel" in reply.text and "Haar voorstel" not in reply.text and "aanbieder" in reply.text


def test_an_issue_typed_without_a_compass_is_offered_and_started_on_yes(engine: Engine, clock: Clock) -> None:
    room = Room(engine, clock, Chat(id="p2", is_group=False))
    offer = room.say(FACILITATOR, "eenzaamheid onder ouderen in Zwolle")
    assert "kompas starten over <b>eenzaamheid onder ouderen in Zwolle</b>" in offer
    assert room.chat.session is None and room.chat.proposed_issue == "eenzaamheid onder ouderen in Zwolle"
    started = room.say(FACILITATOR, "Ja!")
    assert "Nieuw kompas gestart" in started
    session = room.chat.session
    assert session is not None and session.vraagstuk == "eenzaamheid onder ouderen in Zwolle"
    assert room.chat.proposed_issue is None


def test_yes_without_an_offer_and_group_chatter_start_nothing(engine: Engine, clock: Clock) -> None:
    room = Room(engine, clock, Chat(id="p3", is_group=False))
    assert "nog geen kompas" in room.say(FACILITATOR, "ja")
    group = Room(engine, clock, Chat(id="g3", is_group=True))
    assert "nog geen kompas" in group.say(FACILITATOR, "armoede")
    assert group.chat.proposed_issue is None and group.chat.session is None
