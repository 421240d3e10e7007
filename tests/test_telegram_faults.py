"""Faults around the bot: the Bot API (429, 500/502, answers past the read timeout, dropped
connections), the knowledge index, and the language model. The bot keeps running, handles each
update once, and never loses a stored answer."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.app import LazyKnowledge
from bot.compass import Chat
from bot.config import Settings
from bot.engine import Engine
from bot.events import Actor, Text
from bot.flows import Flow, Texts
from bot.llm import LLMService, load_prompts

from .conftest import Clock
from .llm_fake import FakeLLMEndpoint, HttpChatModel
from .telegram_fake import group, private, user
from .telegram_harness import FakeKnowledge, Harness, StartBot, texts_of

FATIMA, PIETER, DEWI = user(1001, "Fatima"), user(1002, "Pieter"), user(1003, "Dewi")
TEAM = group(-4101, "Storingsteam")
FAST = {"read_timeout": 2.0, "http_attempts": 4}
# A read timeout no normal call on a loaded machine comes near: the faults that must time out are
# stalled calls (never answered), not calls answered a little later than a short timeout.


async def _until(condition: Any, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.02)


def contributions(state: Chat) -> list[str]:
    assert state.session is not None
    return [c.text for c in state.session.contributions]


def processed_once(h: Harness, state: Chat) -> None:
    """No update was handled twice: one contribution per message, one processing per update_id."""
    assert state.session is not None
    refs = [c.ref for c in state.session.contributions if c.ref]
    assert len(refs) == len(set(refs))
    assert h.bot.stats.processed == len(h.bot._done)


async def test_api_faults_on_replies_lose_and_double_nothing(start_bot: StartBot) -> None:
    h = await start_bot(options=FAST)
    api = h.api
    await h.say(TEAM, FATIMA, "/kompas eenzaamheid")

    api.fail("setMessageReaction", 500)
    api.fail("setMessageReaction", 502)
    first = await h.answer(TEAM, PIETER, "Niemand om mee te praten")
    assert [c.status for c in first if c.method == "setMessageReaction"] == [500, 502, 200]

    api.drop("setMessageReaction")  # the connection breaks before Telegram takes it in
    dropped = await h.answer(TEAM, DEWI, "Een hele dag niemand spreken")
    assert [c.status for c in dropped if c.method == "setMessageReaction"] == [0, 200]

    api.fail("sendMessage", 429, retry_after=1)  # rate limiter off: the request honours retry_after
    moved = await h.say(TEAM, FATIMA, "/volgende")
    sends = [c for c in moved if c.method == "sendMessage"]
    assert [c.status for c in sends] == [429, 200] and sends[1].at - sends[0].at >= 0.9

    api.stall("sendMessage")  # it was sent, but no answer came: the read timeout fires
    overview = await h.say(TEAM, DEWI, "/overzicht")
    sends = [c for c in overview if c.method == "sendMessage"]
    # Sent again after the timeout: shown twice rather than lost (see bot/telegram/network.py).
    assert [c.status for c in sends] == [200, 200] and sends[0].params["text"] == sends[1].params["text"]

    state = await h.chat(TEAM)
    assert contributions(state) == ["Niemand om mee te praten", "Een hele dag niemand spreken"]
    assert state.session is not None and state.session.answer("betekenis").agreed is None
    assert state.session.phase == "kiezen"  # two proposals: the group picks one
    processed_once(h, state)


async def test_a_reply_that_cannot_be_delivered_is_reported_and_the_answer_kept(start_bot: StartBot) -> None:
    h = await start_bot(options={"read_timeout": 10.0, "http_attempts": 2})  # no timeouts in this test
    api = h.api
    me = private(PIETER)
    await h.say(me, PIETER, "/kompas schulden")
    api.fail("setMessageReaction", 502, times=2)  # every attempt fails
    api.fail("sendMessage", 502, times=2)  # and the fallback text too
    failed = await h.say(me, PIETER, "/volgende")  # the question itself cannot be sent
    assert [c.status for c in failed if c.method == "sendMessage"][:2] == [502, 502]
    notice = [c for c in failed if c.method == "sendMessage" and c.status == 200]
    assert notice and "wel bewaard" in notice[-1].params["text"]  # the failure is reported
    assert len(h.bot.bridge.errors) == 1
    h.bot.bridge.errors.clear()

    api.drop("sendMessage", times=2)
    await h.say(me, PIETER, "Rekeningen stapelen zich op")
    h.bot.bridge.errors.clear()
    after = await h.say(me, PIETER, "Aanmaningen blijven liggen")  # the bot goes on as usual
    delivered = [c.params["text"] for c in after if c.method == "sendMessage" and c.status == 200]
    assert delivered and "mis" not in delivered[0]
    state = await h.chat(me)
    assert state.session is not None and state.session.question_index == 1
    assert contributions(state) == ["Rekeningen stapelen zich op", "Aanmaningen blijven liggen"]
    h.bot.bridge.errors.clear()


async def test_get_updates_faults_keep_the_loop_going(start_bot: StartBot) -> None:
    h = await start_bot(options={"read_timeout": 2.0, "poll_timeout": 0})
    api = h.api
    me = private(DEWI)
    await h.say(me, DEWI, "/kompas mantelzorg")
    for fault in ("502", "drop", "slow", "500"):
        if fault == "drop":
            api.drop("getUpdates")
        elif fault == "slow":
            api.stall("getUpdates")  # never answered: past read timeout + poll timeout
        else:
            api.fail("getUpdates", int(fault))
        uid = api.text(me, DEWI, f"Antwoord na {fault}")
        await api.wait_confirmed(uid, timeout=15)
    state = await h.chat(me)
    assert state.session is not None
    assert [c.text for c in state.session.contributions] == [
        "Antwoord na 502",  # the formulation is settled, the list of signals follows
        "Antwoord na drop",
        "Antwoord na slow",
        "Antwoord na 500",
    ]
    assert {c.status for c in api.calls if c.method == "getUpdates"} >= {0, 500, 502, 200}
    assert h.task.done() is False


async def test_429_with_the_rate_limiter_pauses_and_delivers(start_bot: StartBot) -> None:
    h = await start_bot(rate_limit=True)
    api = h.api
    me = private(FATIMA)
    await h.say(me, FATIMA, "/kompas armoede")
    api.fail("sendMessage", 429, retry_after=1, times=2)
    calls = await h.say(me, FATIMA, "/overzicht")
    statuses = [c.status for c in calls if c.method == "sendMessage"]
    assert statuses == [429, 429, 200]
    assert calls[-1].at - calls[0].at >= 1.5  # it waited as Telegram asked


# ----------------------------------------------------------------------------- knowledge index


class BrokenKnowledge:
    def __init__(self) -> None:
        self.calls = 0

    def search(self, query: str, k: int = 5, **_: Any) -> list[Any]:
        self.calls += 1
        raise ConnectionError("index niet bereikbaar")


async def test_unavailable_knowledge_says_so_and_facilitation_goes_on(start_bot: StartBot) -> None:
    broken = BrokenKnowledge()
    h = await start_bot(knowledge=broken)
    me = private(PIETER)
    await h.say(me, PIETER, "/kompas eenzaamheid")
    said = texts_of(await h.say(me, PIETER, "/watwerkt buurtcirkels"))
    assert "De kennisbank is nu niet beschikbaar" in said
    await h.say(me, PIETER, "Niemand om mee te praten")
    step3 = texts_of(await h.say(me, PIETER, "/stap 3"))  # asks for activities, with suggestions if it can
    assert "Stap 3" in step3 and broken.calls > 1
    await h.say(me, PIETER, "Huisbezoeken door vrijwilligers")
    state = await h.chat(me)
    assert state.session is not None and [c.text for c in state.session.contributions][-1].startswith("Huisbezoeken")


def test_a_knowledge_index_that_cannot_open_is_reported(flow: Flow, texts: Texts, clock: Clock, tmp_path: Any) -> None:
    """The real lazy index that cannot be opened (its data folder is a file)."""
    (tmp_path / "home").write_text("geen map")
    settings = Settings(home=tmp_path / "home", embeddings="none")
    engine = Engine(flow, texts, LazyKnowledge(settings))
    me = Actor("7", "Ria")
    chat = engine.handle(Chat(id="7"), Text(me, "/kompas eenzaamheid", clock())).chat
    outcome = engine.handle(chat, Text(me, "/watwerkt ontmoeting", clock()))
    assert "niet beschikbaar" in outcome.replies[-1].text
    answered = engine.handle(outcome.chat, Text(me, "Alleen thuis zitten", clock()))
    assert answered.chat.session is not None and answered.chat.session.contributions[-1].text == "Alleen thuis zitten"


# ----------------------------------------------------------------------------- language model


async def _with_model(h: Harness, endpoint: FakeLLMEndpoint, *, key: str, timeout: float) -> None:
    h.bot.kompas.service.use_llm(
        LLMService(HttpChatModel(url=endpoint.url, api_key=key), load_prompts(), timeout=timeout)
    )


async def test_a_down_or_slow_model_falls_back_to_the_plain_flow(start_bot: StartBot) -> None:
    endpoint = await FakeLLMEndpoint().start()
    try:
        h = await start_bot()
        await _with_model(h, endpoint, key=endpoint.key, timeout=2.0)
        await h.say(TEAM, FATIMA, "/kompas eenzaamheid")
        await h.answer(TEAM, PIETER, "Geen contact hebben")

        works = texts_of(await h.say(TEAM, FATIMA, "/voorstel"))
        assert "Een voorstel van het model." in works

        endpoint.hold = asyncio.Event()  # never answered in time: the model timeout fires
        slow = texts_of(await h.say(TEAM, FATIMA, "/voorstel"))
        assert "Het taalmodel gaf nu geen bruikbaar antwoord" in slow
        endpoint.hold.set()
        endpoint.hold = None

        endpoint.status = 500
        broken = texts_of(await h.say(TEAM, FATIMA, "/voorstel"))
        assert "Het taalmodel gaf nu geen bruikbaar antwoord" in broken
        endpoint.status = 200

        endpoint.answers.append("dit is geen JSON")
        endpoint.answers.append("nog steeds niet")
        garbage = texts_of(await h.say(TEAM, FATIMA, "/voorstel"))
        assert "Het taalmodel gaf nu geen bruikbaar antwoord" in garbage

        await endpoint.stop()  # down: connection refused
        down = texts_of(await h.say(TEAM, FATIMA, "/voorstel"))
        assert "Het taalmodel gaf nu geen bruikbaar antwoord" in down

        await h.answer(TEAM, DEWI, "Niemand die naar je omkijkt")  # the deterministic path goes on
        await h.say(TEAM, FATIMA, "/volgende")
        state = await h.chat(TEAM)
        assert state.session is not None and state.session.phase == "kiezen"
        assert contributions(state)[-1] == "Niemand die naar je omkijkt"
    finally:
        await endpoint.stop()


def test_engine_says_the_model_failed_and_goes_on(flow: Flow, texts: Texts, clock: Clock) -> None:
    from bot.events import LLMRequest, ProposalFailed

    engine = Engine(flow, texts, FakeKnowledge(), llm_enabled=True)
    me = Actor("1", "Sanne")
    chat = engine.handle(Chat(id="g", is_group=True), Text(me, "/kompas eenzaamheid", clock())).chat
    request = LLMRequest(kind="formulering", session_id="eenzaamheid", question="betekenis", context="")
    failed = engine.handle(chat, ProposalFailed(request=request, at=clock()))
    assert "Het taalmodel gaf nu geen bruikbaar antwoord" in failed.replies[0].text
    assert failed.chat.session is not None and failed.chat.session.question_index == 0


async def test_model_call_does_not_block_other_chats(start_bot: StartBot) -> None:
    """A slow model holds up only its own chat: another chat is answered while the call is held."""
    endpoint = await FakeLLMEndpoint().start()
    try:
        h = await start_bot()
        await _with_model(h, endpoint, key=endpoint.key, timeout=60.0)
        await h.say(TEAM, FATIMA, "/kompas eenzaamheid")
        await h.answer(TEAM, PIETER, "Geen contact hebben")
        endpoint.hold = asyncio.Event()
        waiting = h.api.text(TEAM, FATIMA, "/voorstel")
        await asyncio.wait_for(endpoint.held.wait(), 30)  # the model call is in flight, and stays so
        other = private(DEWI)
        await h.api.wait_confirmed(h.api.text(other, DEWI, "/kompas armoede"))
        assert not endpoint.hold.is_set()  # answered while the model call was still held
        assert "Nieuw kompas" in texts_of(h.api.sent("sendMessage", DEWI["id"]))
        assert "Een voorstel van het model." not in texts_of(h.api.sent("sendMessage", TEAM["id"]))
        endpoint.hold.set()
        await h.api.wait_confirmed(waiting, timeout=30)
        await h.bot.bridge.idle(timeout=10)
        assert "Een voorstel van het model." in texts_of(h.api.sent("sendMessage", TEAM["id"]))
    finally:
        await endpoint.stop()


async def test_a_document_that_cannot_be_sent_is_reported_then_sent_from_the_outbox(start_bot: StartBot) -> None:
    h = await start_bot(options={"http_attempts": 2, "redelivery_interval": 0.2})
    me = private(FATIMA)
    await h.say(me, FATIMA, "/kompas armoede")
    h.api.fail("sendDocument", 502, times=2)
    calls = await h.say(me, FATIMA, "/document")
    assert [c.status for c in calls if c.method == "sendDocument"] == [502, 502]
    assert "wel bewaard" in texts_of(calls)
    assert len(h.bot.bridge.errors) == 1
    h.bot.bridge.errors.clear()
    mark = len(h.api.calls)
    await _until(lambda: not h.bot.bridge.waiting)  # kept in the outbox, and a moment later it is sent
    assert [c.status for c in h.api.calls[mark:] if c.method == "sendDocument"] == [200, 200]
    again = await h.say(me, FATIMA, "/document")  # and asked again, it comes once more, once
    assert [c.status for c in again if c.method == "sendDocument"] == [200, 200]
    # The delivered rows leave the outbox with the next group commit, after the sends: wait for
    # that (the delivery finished, its removal committed), not for a clock.
    bridge = h.bot.bridge
    assert await bridge.idle(timeout=30)
    await _until(lambda: not bridge._sending and not bridge._clearing and not bridge.waiting, timeout=30)
    await bridge.commits.flush()
    assert await h.bot.kompas.store.undelivered("telegram") == []
