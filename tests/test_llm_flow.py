"""The optional language model inside the facilitation: proposals to adopt, and a clean fallback."""

from __future__ import annotations

from langchain_core.language_models.fake_chat_models import FakeListChatModel

from bot.compass import Chat
from bot.engine import Actor, Engine, Proposal, ProposalFailed, Text
from bot.flows import Flow, Texts
from bot.llm import LLMService, load_prompts
from bot.service import fulfil

from .conftest import Clock
from .test_suggestions import FakeKnowledge

ME = Actor("1", "Sanne")


def _service(*responses: str) -> LLMService:
    return LLMService(FakeListChatModel(responses=list(responses)), load_prompts(), timeout=5)


async def test_draft_formulation_is_a_proposal_the_group_adopts(flow: Flow, texts: Texts, clock: Clock) -> None:
    engine = Engine(flow, texts, llm_enabled=True)
    chat = engine.handle(Chat(id="g", is_group=True), Text(ME, "/kompas eenzaamheid", clock())).chat
    chat = engine.handle(chat, Text(Actor("2", "Piet"), "Geen contact hebben", clock())).chat
    outcome = engine.handle(chat, Text(ME, "/voorstel", clock()))
    request = outcome.replies[-1].llm
    assert request is not None and request.texts == ("Geen contact hebben",) and request.question == "betekenis"

    event = await fulfil(_service('{"text": "Eenzaamheid is het gemis aan contact dat je wilt."}'), request)
    assert isinstance(event, Proposal)
    shown = engine.handle(outcome.chat, event)
    assert "Eenzaamheid is het gemis aan contact dat je wilt." in shown.replies[-1].text
    assert "Neem over" in [b.label for b in shown.replies[-1].buttons]
    refused = engine.handle(shown.chat, Text(Actor("2", "Piet"), "/neem 1", clock()))
    assert "Alleen de facilitator" in refused.replies[-1].text
    adopted = engine.handle(shown.chat, Text(ME, "/neem 1", clock()))
    session = adopted.chat.session
    assert session is not None
    assert session.answer("betekenis").agreed == "Eenzaamheid is het gemis aan contact dat je wilt."
    assert session.live("betekenis")[-1].source == "taalmodel"


async def test_broken_model_output_falls_back(flow: Flow, texts: Texts, clock: Clock) -> None:
    engine = Engine(flow, texts, llm_enabled=True, knowledge=FakeKnowledge())
    chat = Chat(id="p")
    outcome = engine.handle(chat, Text(ME, "/vraag wat werkt bij eenzaamheid", clock()))
    request = outcome.replies[-1].llm
    assert request is not None and request.hits
    event = await fulfil(_service("dit is geen json", "nog steeds niet"), request)
    assert isinstance(event, ProposalFailed)
    after = engine.handle(outcome.chat, event)
    text = "\n".join(r.text for r in after.replies)
    assert "geen bruikbaar antwoord" in text and "Bron: https://example.org/" in text


async def test_grounded_answer_shows_only_cited_sources(flow: Flow, texts: Texts, clock: Clock) -> None:
    engine = Engine(flow, texts, llm_enabled=True, knowledge=FakeKnowledge())
    outcome = engine.handle(Chat(id="p"), Text(ME, "/vraag wat werkt bij eenzaamheid", clock()))
    request = outcome.replies[-1].llm
    assert request is not None
    event = await fulfil(_service('{"found": true, "answer": "Huisbezoeken helpen [1]."}'), request)
    assert isinstance(event, Proposal) and event.citations == (1,)
    text = engine.handle(outcome.chat, event).replies[-1].text
    assert "Huisbezoeken helpen [1]." in text and "[1] " in text and "https://example.org/" in text


def test_without_a_model_everything_stays_deterministic(flow: Flow, texts: Texts, clock: Clock) -> None:
    engine = Engine(flow, texts, knowledge=FakeKnowledge())
    chat = engine.handle(Chat(id="p"), Text(ME, "/kompas eenzaamheid", clock())).chat
    for command in ["/voorstel", "/samenvatting"]:
        outcome = engine.handle(chat, Text(ME, command, clock()))
        assert outcome.replies[-1].llm is None and "geen taalmodel" in outcome.replies[-1].text
    answered = engine.handle(chat, Text(ME, "/vraag wat werkt", clock()))
    assert answered.replies[-1].llm is None and "Wat werkt bij" in answered.replies[-1].text


def _twelve_ambitions(engine: Engine, clock: Clock) -> Chat:
    """A group at the ambitions question of step 1 with more answers than one poll can hold."""
    chat = engine.handle(Chat(id="g", is_group=True), Text(ME, "/kompas eenzaamheid", clock())).chat
    chat = engine.handle(chat, Text(ME, "/stap 1", clock())).chat
    for _ in range(3):
        chat = engine.handle(chat, Text(ME, "/volgende", clock())).chat
    for n in range(12):
        topic = "ontmoeting in de wijk" if n % 2 else "hulp bij geldzorgen"
        chat = engine.handle(chat, Text(Actor("2", "Piet"), f"We willen dat inwoners {topic} ({n})", clock())).chat
    return chat


async def test_many_answers_grouped_into_themes_for_the_poll(flow: Flow, texts: Texts, clock: Clock) -> None:
    engine = Engine(flow, texts, llm_enabled=True)
    shortlist = engine.handle(_twelve_ambitions(engine, clock), Text(ME, "/volgende", clock()))
    assert "/voorstel" in shortlist.replies[-1].text
    outcome = engine.handle(shortlist.chat, Text(ME, "/voorstel", clock()))
    request = outcome.replies[-1].llm
    assert request is not None and request.kind == "thema" and len(request.texts) == 12

    odd, even = [n for n in range(1, 13) if n % 2 == 0], [n for n in range(1, 13) if n % 2]
    reply = '{"groups": [{"label": "Ontmoeting & buurt", "members": %s}, {"label": "Geldzorgen", "members": %s}]}'
    event = await fulfil(_service(reply % (odd, even)), request)
    assert isinstance(event, Proposal) and [label for label, _ in event.groups] == ["Ontmoeting & buurt", "Geldzorgen"]
    shown = engine.handle(outcome.chat, event)
    text = shown.replies[-1].text
    assert "Ontmoeting &amp; buurt" in text and "(antwoord 2, 4, 6, 8, 10, 12)" in text

    refused = engine.handle(shown.chat, Text(Actor("2", "Piet"), "/neem 1", clock()))
    assert "Alleen de facilitator" in refused.replies[-1].text and refused.chat.session.phase == "shortlist"  # type: ignore[union-attr]
    voted = engine.handle(shown.chat, Text(ME, "/neem 1", clock()))
    poll = next(r.poll for r in voted.replies if r.poll)
    assert poll.options == ("Ontmoeting & buurt", "Geldzorgen")
    session = voted.chat.session
    assert session is not None and session.phase == "stemmen"
    themes = [session.contribution(i) for i in session.pending.options]
    assert [(c.text, c.source) for c in themes if c] == [
        ("Ontmoeting & buurt", "taalmodel"),
        ("Geldzorgen", "taalmodel"),
    ]
    assert len(session.live("ambities")) == 14  # the answers themselves stay in the compass


async def test_themes_that_arrive_too_late_or_broken_change_nothing(flow: Flow, texts: Texts, clock: Clock) -> None:
    engine = Engine(flow, texts, llm_enabled=True)
    shortlist = engine.handle(_twelve_ambitions(engine, clock), Text(ME, "/volgende", clock()))
    outcome = engine.handle(shortlist.chat, Text(ME, "/voorstel", clock()))
    request = outcome.replies[-1].llm
    assert request is not None

    missing_one = '{"groups": [{"label": "A", "members": [1, 2, 3]}, {"label": "B", "members": [4, 5]}]}'
    failed = await fulfil(_service(missing_one, missing_one), request)
    assert isinstance(failed, ProposalFailed)
    after = engine.handle(outcome.chat, failed)
    assert "geen bruikbaar antwoord" in after.replies[-1].text and after.chat.session.phase == "shortlist"  # type: ignore[union-attr]

    good = (
        '{"groups": [{"label": "A", "members": [1, 2, 3, 4, 5, 6]}, {"label": "B", "members": [7, 8, 9, 10, 11, 12]}]}'
    )
    event = await fulfil(_service(good), request)
    assert isinstance(event, Proposal)
    moved_on = engine.handle(outcome.chat, Text(ME, "/kies 1 2 3", clock())).chat
    late = engine.handle(moved_on, event)
    assert late.replies == () and late.chat.offered == []
