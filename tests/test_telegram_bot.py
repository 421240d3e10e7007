"""The Telegram bot end to end over real HTTP: the real polling loop against a local Bot API server.

Every scenario runs the same `TelegramBot` that `kompas telegram` runs, pointed at
`tests/telegram_fake.py` through TELEGRAM_API_BASE_URL. Exceptions reaching the bot's error
handler fail the test (checked when the bot is stopped).
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.config import Settings
from bot.telegram.runner import TelegramBot
from bot.telegram.settings import TelegramConfigError, TelegramOptions

from .telegram_fake import TOKEN, FakeBotApi, group, private, user
from .telegram_harness import FakeKnowledge, StartBot, fake_exporter, stop_bot, texts_of

FATIMA = user(1001, "Fatima")  # policy officer; starts the compass, so she facilitates
PIETER = user(1002, "Pieter")  # provider
DEWI = user(1003, "Dewi")  # target group
ANNA = user(1004, "Anna")  # the group's owner (a Telegram admin), not a participant
TEAM = group(-4001, "Sociaal domein")


# ----------------------------------------------------------------------------- a group of three


async def test_group_of_three_completes_the_compass(start_bot: StartBot) -> None:
    h = await start_bot()
    api = h.api
    api.owners[TEAM["id"]] = ANNA["id"]

    greeting = await h.deliver(api.membership(TEAM, ANNA, "left", "member"))
    assert "Ik ben Kompasbot" in texts_of(greeting)
    for person, role in [(FATIMA, "gemeente"), (PIETER, "aanbieder"), (DEWI, "doelgroep")]:
        await h.say(TEAM, person, f"/rol@kompas_testbot {role}")
    started = await h.say(TEAM, FATIMA, "/kompas sociale acceptatie")
    sent = [c for c in started if c.method == "sendMessage"]
    assert "Fatima is facilitator" in sent[0].params["text"]
    assert "inline_keyboard" in sent[-2].params["reply_markup"]  # header with Volgende/Terug/...
    assert sent[-1].params["reply_markup"]["force_reply"] is True  # the question itself

    # Step 0: two proposals for the meaning; the facilitator picks one with a reply.
    ack = await h.answer(TEAM, PIETER, "Iedereen kan zichzelf zijn")
    assert [c.method for c in ack] == ["setMessageReaction"]  # brief: a ✍ reaction, no message
    await h.answer(TEAM, DEWI, "Je hoeft je niet te verstoppen")
    choose = await h.press(TEAM, FATIMA, "Volgende")
    assert "Er zijn 2 voorstellen" in texts_of(choose)
    assert any(c.method == "answerCallbackQuery" for c in choose)
    await h.answer(TEAM, FATIMA, "2")
    state = await h.chat(TEAM)
    assert state.session is not None and state.session.answer("betekenis").agreed == "Je hoeft je niet te verstoppen"

    # Signs: a list, everyone adds; then an item with a choice field answered with a button.
    for person, sign in [(DEWI, "Hand in hand lopen"), (PIETER, "Regenboogvlag op school"), (FATIMA, "Geen pesten")]:
        await h.answer(TEAM, person, sign)
    await h.press(TEAM, FATIMA, "Volgende")
    assert (await h.where(TEAM))[1] == "aan_tafel"
    prompt = await h.answer(TEAM, PIETER, "COC Nederland")
    assert any("inline_keyboard" in (c.params.get("reply_markup") or {}) for c in prompt)
    done = await h.press(TEAM, PIETER, "aanbieder")
    assert [c.method for c in done] == ["answerCallbackQuery"]  # "saved as number 1", shown to Pieter only
    await h.say(TEAM, FATIMA, "/volgende")

    # Step 1: lists, one formulation, and a native poll on the ambitions.
    assert (await h.where(TEAM))[:2] == (1, "beeld_cijfers")
    await h.answer(TEAM, FATIMA, "Een op de vijf lhbti-jongeren wordt gepest (monitor)")
    await h.press(TEAM, FATIMA, "Volgende")
    await h.answer(TEAM, DEWI, "Op het werk houden mensen het liever stil")
    await h.press(TEAM, FATIMA, "Volgende")
    await h.answer(TEAM, FATIMA, "Het beleid noemt lhbti niet apart")
    await h.say(TEAM, FATIMA, "/volgende")
    assert (await h.where(TEAM))[1] == "ambities"
    await h.answer(TEAM, DEWI, "We willen dat inwoners zich veilig voelen om zichzelf te zijn")
    await h.answer(TEAM, PIETER, "We willen dat jongeren op school open kunnen zijn")
    polled = await h.say(TEAM, FATIMA, "/volgende")
    send_poll = next(c for c in polled if c.method == "sendPoll")
    assert send_poll.params["is_anonymous"] is False and send_poll.params["allows_multiple_answers"] is True
    poll = api.last_poll(TEAM["id"])
    await h.deliver(api.vote(DEWI, poll["poll"]["id"], [0]))
    await h.deliver(api.vote(PIETER, poll["poll"]["id"], [0, 1]))
    await h.deliver(api.vote(PIETER, poll["poll"]["id"], [1]))  # changed his mind
    closing = await h.say(TEAM, FATIMA, "/volgende")
    assert closing[0].method == "stopPoll"
    assert "Uitslag" in texts_of(closing)
    state = await h.chat(TEAM)
    assert state.session is not None
    ambitions = state.session.live("ambities")
    assert set(state.session.answer("ambities").chosen) == {ambitions[0].id, ambitions[1].id}
    assert state.session.answer("ambities").votes == {"1003": [ambitions[0].id], "1002": [ambitions[1].id]}

    # Step 2: a result linked to an ambition, an indicator linked to the result.
    assert (await h.where(TEAM))[:2] == (2, "resultaten")
    understood = await h.answer(TEAM, FATIMA, "Over vier jaar voelt 80% van de lhbti-inwoners zich veilig")
    assert "Begrepen: termijn: <i>over vier jaar</i>, omvang: <i>80 procent</i>" in texts_of(understood)
    await h.answer(TEAM, FATIMA, "1")  # only the ambition was still open
    await h.say(TEAM, FATIMA, "/volgende")
    await h.answer(TEAM, DEWI, "Ervaren veiligheid van lhbti-inwoners")  # 'ervaren': beleving
    await h.answer(TEAM, DEWI, "1")
    await h.answer(TEAM, DEWI, "Gezondheidsmonitor")
    await h.say(TEAM, FATIMA, "/volgende")

    # Step 3: an activity with all its fields; the rest skipped with the button.
    assert (await h.where(TEAM))[1] == "activiteiten"
    await h.answer(TEAM, PIETER, "Gay-Straight Alliances op scholen")
    await h.answer(TEAM, PIETER, "COC en scholen")
    await h.press(TEAM, PIETER, "informeel")
    await h.press(TEAM, PIETER, "nieuw")
    await h.answer(TEAM, PIETER, "1")
    await h.answer(TEAM, PIETER, "als leerlingen elkaar leren kennen, dan neemt pesten af")
    await h.say(TEAM, FATIMA, "/volgende")
    await h.press(TEAM, FATIMA, "Overslaan")
    await h.press(TEAM, FATIMA, "Overslaan")

    # Steps 4-6.
    assert (await h.where(TEAM))[:2] == (4, "wat_werkt")
    await h.answer(TEAM, PIETER, "Contact tussen groepen onder gelijke voorwaarden")
    await h.answer(TEAM, PIETER, "1")
    for _ in range(3):
        await h.say(TEAM, FATIMA, "/volgende")
    assert (await h.where(TEAM))[:2] == (5, "outcome")
    await h.answer(TEAM, PIETER, "Leerlingen voelen zich veiliger op school")
    await h.answer(TEAM, PIETER, "1")
    await h.press(TEAM, PIETER, "beleving")
    await h.answer(TEAM, PIETER, "Vragenlijst schoolveiligheid")
    await h.say(TEAM, FATIMA, "/volgende")
    for key, text in [
        ("herkennen", "Minder meldingen van pesten"),
        ("verklaren", "Meer GSA's actief"),
        ("waarderen", "De aanpak op scholen werkt"),
    ]:
        assert (await h.where(TEAM))[1] == key
        await h.answer(TEAM, DEWI, text)
        await h.press(TEAM, FATIMA, "Volgende")
    await h.answer(TEAM, FATIMA, "Ook het mbo erbij betrekken")
    await h.press(TEAM, FATIMA, "activiteiten (stap 3)")
    final = await h.say(TEAM, FATIMA, "/volgende")
    assert "helemaal doorlopen" in texts_of(final)

    state = await h.chat(TEAM)
    session = state.session
    assert session is not None and session.phase == "klaar"
    assert {c.role for c in session.contributions} == {"gemeente", "aanbieder", "doelgroep"}
    assert {c.author_id for c in session.contributions} == {"1001", "1002", "1003"}
    assert {c.author_name for c in session.contributions} == {"Fatima", "Pieter", "Dewi"}
    assert all(c.ref for c in session.contributions if c.question == "signalen")
    overview = texts_of(await h.say(TEAM, DEWI, "/overzicht"))
    for expected in ["Je hoeft je niet te verstoppen", "Gay-Straight Alliances", "GSA&#x27;s actief", "Ook het mbo"]:
        assert expected.replace("&#x27;", "'") in overview
    exported = await h.say(TEAM, FATIMA, "/document")
    documents = [c for c in exported if c.method == "sendDocument"]
    assert [c.files["document"][0] for c in documents] == ["sociale-acceptatie.pdf", "sociale-acceptatie.docx"]
    picture = await h.say(TEAM, FATIMA, "/plaatje")
    assert [c.method for c in picture if c.method.startswith("send")] == ["sendMessage", "sendPhoto"]


async def test_only_facilitators_steer_and_admins_count(start_bot: StartBot) -> None:
    h = await start_bot()
    api = h.api
    api.owners[TEAM["id"]] = ANNA["id"]
    await h.say(TEAM, FATIMA, "/kompas eenzaamheid")
    before = await h.where(TEAM)

    typed = await h.say(TEAM, DEWI, "/volgende")
    refusal = next(c for c in typed if c.method == "sendMessage")
    assert "Alleen de facilitator" in refusal.params["text"]
    assert refusal.params["reply_parameters"]["message_id"]  # quotes Dewi's message
    pressed = await h.press(TEAM, DEWI, "Volgende")
    assert [c.method for c in pressed if c.method != "getChatAdministrators"] == ["answerCallbackQuery"]
    assert "Alleen de facilitator" in pressed[-1].params["text"]  # a toast, only for Dewi
    assert await h.where(TEAM) == before

    moved = await h.press(TEAM, ANNA, "Volgende")  # the chat's owner may steer, checked live
    assert await h.where(TEAM) != before
    assert any(c.method == "sendMessage" for c in moved)
    assert len(api.sent("getChatAdministrators")) == 1  # cached briefly

    stale = await h.deliver(
        api.press(TEAM, FATIMA, api.bot_messages(TEAM["id"])[1]["message_id"], "/volgende#oldstamp")
    )
    assert [c.method for c in stale] == ["answerCallbackQuery"]
    assert "eerdere vraag" in stale[0].params["text"]


async def test_privacy_mode_counts_replies_and_optionally_all_messages(start_bot: StartBot) -> None:
    h = await start_bot()
    api = h.api
    await h.say(TEAM, FATIMA, "/kompas armoede")
    chatter = await h.say(TEAM, PIETER, "Zullen we om 3 uur pauzeren?")  # not a reply, not a command
    assert chatter == []
    await h.answer(TEAM, PIETER, "Geld tekort om mee te doen")
    assert [c.text for c in (await h.chat(TEAM)).session.contributions] == ["Geld tekort om mee te doen"]  # type: ignore[union-attr]
    await stop_bot(h)

    # Privacy mode off (or bot is admin) and the operator opted in: plain messages count too.
    everything = await start_bot(api=api, all_messages=True)
    await everything.say(TEAM, DEWI, "Schaamte om hulp te vragen")
    session = (await everything.chat(TEAM)).session
    assert session is not None and [c.text for c in session.contributions][-1] == "Schaamte om hulp te vragen"


async def test_edits_media_help_who_and_knowledge(start_bot: StartBot) -> None:
    h = await start_bot()
    api = h.api
    await h.say(TEAM, FATIMA, "/rol gemeente")
    await h.say(TEAM, FATIMA, "/kompas eenzaamheid")
    await h.answer(TEAM, DEWI, "Niemand om mee te praten")
    dewi_said = max(mid for (cid, mid), m in api.messages.items() if cid == TEAM["id"] and m["from"] == DEWI)
    edited = await h.deliver(api.edit(TEAM, dewi_said, "Niemand om echt mee te praten"))
    assert [c.method for c in edited] == ["setMessageReaction"]
    session = (await h.chat(TEAM)).session
    assert session is not None and session.contributions[0].text == "Niemand om echt mee te praten"

    question = api.last_question(TEAM["id"])
    photo = await h.deliver(api.photo(TEAM, DEWI, reply_to=question["message_id"]))
    assert "alleen tekst" in texts_of(photo)
    assert await h.deliver(api.sticker(TEAM, DEWI)) == []  # not addressed to the bot: ignored in a group

    who = texts_of(await h.say(TEAM, FATIMA, "/wie"))
    assert "Dewi" in who
    assert "/watwerkt" in texts_of(await h.say(TEAM, FATIMA, "/help"))
    assert "Stap 0" in texts_of(await h.say(TEAM, PIETER, "/uitleg@kompas_testbot"))
    found = texts_of(await h.say(TEAM, PIETER, "/watwerkt buurtcirkels voor ouderen"))
    assert "Buurtcirkels" in found and "&lt;en&gt;" in found  # source text stays escaped HTML


async def test_bot_added_removed_and_group_migration(start_bot: StartBot) -> None:
    h = await start_bot()
    api = h.api
    await h.say(TEAM, FATIMA, "/kompas mantelzorg")
    await h.answer(TEAM, PIETER, "Zorgen voor een naaste")
    super_id = -1001234567890
    _, second = api.migrate(TEAM, super_id, FATIMA)
    await api.wait_confirmed(second)
    assert await h.bot.kompas.store.load_chat(str(TEAM["id"])) is None
    supergroup = {**TEAM, "id": super_id, "type": "supergroup"}
    overview = texts_of(await h.say(supergroup, DEWI, "/overzicht"))
    assert "Zorgen voor een naaste" in overview
    removed = await h.deliver(api.membership(supergroup, FATIMA, "member", "left"))
    assert removed == []
    assert (await h.chat(supergroup)).session is not None  # nothing is thrown away


# ----------------------------------------------------------------------------- private chat


async def test_private_solo_session(start_bot: StartBot) -> None:
    h = await start_bot()
    api = h.api
    me = private(FATIMA)
    welcome = await h.say(me, FATIMA, "/start")
    assert "Ik ben Kompasbot" in texts_of(welcome)
    started = await h.say(me, FATIMA, "/kompas eenzaamheid")
    last = [c for c in started if c.method == "sendMessage"][-1]
    assert "inline_keyboard" in last.params["reply_markup"]  # no ForceReply needed in private
    assert not any("force_reply" in (c.params.get("reply_markup") or {}) for c in api.calls)
    noted = await h.say(me, FATIMA, "Je mist contact met anderen")  # plain message, no reply needed
    assert "Is dit de formulering?" in texts_of(noted)  # one rhythm: it waits for Volgende, as a list does
    moved_on = await h.press(me, FATIMA, "Volgende")
    assert "Vastgesteld" in texts_of(moved_on)
    await h.say(me, FATIMA, "Mensen komen de deur niet uit\nWeinig bezoek")
    await h.press(me, FATIMA, "Volgende")
    state = await h.chat(me)
    assert state.is_group is False and state.session is not None
    assert [c.text for c in state.session.live("signalen")] == ["Mensen komen de deur niet uit", "Weinig bezoek"]
    assert "Mensen komen de deur niet uit" in texts_of(await h.say(me, FATIMA, "/overzicht"))
    assert api.sent("sendPoll") == [] and api.sent("getChatAdministrators") == []
    data = texts_of(await h.say(me, FATIMA, "/mijngegevens"))
    assert "Wat Kompasbot over jou bewaart" in data


async def test_exports_with_the_real_renderers(start_bot: StartBot) -> None:
    h = await start_bot(real_exports=True)
    me = private(PIETER)
    await h.say(me, PIETER, "/kompas armoede")
    await h.say(me, PIETER, "Niet mee kunnen doen door geldgebrek")
    exported = await h.say(me, PIETER, "/document")
    documents = [c.files["document"] for c in exported if c.method == "sendDocument"]
    assert [name.rsplit(".", 1)[1] for name, _ in documents] == ["pdf", "docx"]
    assert all(size > 1000 for _, size in documents)
    picture = await h.say(me, PIETER, "/plaatje")
    photos = [c.files["photo"] for c in picture if c.method == "sendPhoto"]
    assert len(photos) == 1 and photos[0][0].endswith(".png") and photos[0][1] > 1000


async def test_private_reply_from_a_group(start_bot: StartBot) -> None:
    h = await start_bot()
    await h.say(TEAM, FATIMA, "/kompas eenzaamheid")
    await h.answer(TEAM, FATIMA, "Alleen zijn zonder het te willen")
    calls = await h.say(TEAM, FATIMA, "/mijngegevens")
    to_fatima = [c for c in calls if c.method == "sendMessage" and c.chat_id == FATIMA["id"]]
    in_group = [c for c in calls if c.method == "sendMessage" and c.chat_id == TEAM["id"]]
    assert to_fatima and "Alleen zijn zonder het te willen" in to_fatima[0].params["text"]
    assert len(in_group) == 1 and "privébericht" in in_group[0].params["text"]


# ----------------------------------------------------------------------------- resilience


async def test_429_502_and_redelivery_lose_and_duplicate_nothing(start_bot: StartBot) -> None:
    h = await start_bot(rate_limit=True)  # AIORateLimiter handles the 429, RetryingRequest the 502
    api = h.api
    me = private(PIETER)
    await h.say(me, PIETER, "/kompas schulden")
    api.fail("sendMessage", 429, retry_after=1)
    api.fail("sendMessage", 502)
    api.fail("setMessageReaction", 502, times=2)
    api.fail("getUpdates", 502)
    first = await h.say(me, PIETER, "Rekeningen stapelen zich op")
    assert any(c.status == 429 for c in first) and any(c.status == 502 for c in first)
    await h.say(me, PIETER, "/volgende")
    uid = api.text(me, PIETER, "Schulden bij de zorgverzekeraar")
    await api.wait_confirmed(uid)
    before = [c for c in api.calls if c.method != "getUpdates"]
    api.redeliver(uid)  # Telegram sends an unconfirmed update again
    await api.wait_confirmed(uid)
    assert [c for c in api.calls if c.method != "getUpdates"] == before  # skipped: nothing sent twice
    session = (await h.chat(me)).session
    assert session is not None
    texts = [c.text for c in session.contributions]
    assert texts.count("Rekeningen stapelen zich op") == 1 and texts.count("Schulden bij de zorgverzekeraar") == 1
    delivered = [c.params["text"] for c in api.sent("sendMessage", me["id"])]
    assert len(delivered) == len(set(delivered))  # each message once, despite the retries
    assert h.bot.stats.skipped >= 1


async def test_restart_on_the_same_database_resumes(start_bot: StartBot) -> None:
    h = await start_bot()
    api = h.api
    await h.say(TEAM, FATIMA, "/kompas eenzaamheid")
    await h.answer(TEAM, PIETER, "Niemand om mee te praten")
    await h.press(TEAM, FATIMA, "Volgende")
    where = await h.where(TEAM)
    await stop_bot(h)
    await h.bot.close()

    again = await start_bot(api=api)
    assert await again.where(TEAM) == where
    await again.answer(TEAM, DEWI, "Een hele dag niemand spreken")
    session = (await again.chat(TEAM)).session
    assert session is not None and [c.text for c in session.live("signalen")] == ["Een hele dag niemand spreken"]


async def test_token_problems_are_clear_and_the_token_never_logged(
    start_bot: StartBot, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    api = await FakeBotApi(token="999:" + "B" * 35).start()
    try:
        monkeypatch.setenv("TELEGRAM_API_BASE_URL", api.base_url + "/bot")
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
        with pytest.raises(TelegramConfigError) as refused:
            await TelegramBot.open(Settings(), TelegramOptions(rate_limit=False))
        assert "kent dit token niet" in str(refused.value) and TOKEN not in str(refused.value)
        for bad in ["", "geen-token", "123:kort"]:
            monkeypatch.setenv("TELEGRAM_BOT_TOKEN", bad)
            with pytest.raises(TelegramConfigError) as caught:
                await TelegramBot.open(Settings(), TelegramOptions())
            assert "TELEGRAM_BOT_TOKEN" in str(caught.value) and (not bad or bad not in str(caught.value))
    finally:
        await api.stop()

    caplog.set_level(logging.DEBUG)
    h = await start_bot()
    await h.say(TEAM, FATIMA, "/kompas eenzaamheid")
    logging.getLogger("test").info("url %s", f"http://x/bot{TOKEN}/getMe")
    assert TOKEN not in caplog.text
    assert "<TOKEN>" in caplog.text


async def test_webhook_mode_uses_the_same_processing(start_bot: StartBot, monkeypatch: pytest.MonkeyPatch) -> None:
    import aiohttp

    api = await FakeBotApi().start()
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", api.base_url)
    options = TelegramOptions(rate_limit=False, webhook_secret="geheim-123")  # type: ignore[arg-type]
    bot = await TelegramBot.open(Settings(), options, knowledge=FakeKnowledge(), exporter=fake_exporter)
    stop = asyncio.Event()
    port = _free_port()
    task = asyncio.create_task(bot.run_webhook("https://kompas.example.nl/tg/hook", port, stop, listen="127.0.0.1"))
    try:
        for _ in range(100):
            if api.sent("setWebhook"):
                break
            await asyncio.sleep(0.02)
        hook = api.sent("setWebhook")[0]
        assert hook.params["secret_token"] == "geheim-123" and hook.params["url"].endswith("/tg/hook")
        uid = api.text(private(DEWI), DEWI, "/kompas eenzaamheid")
        update = api.history[uid]
        api.updates.clear()
        async with aiohttp.ClientSession() as client:
            url = f"http://127.0.0.1:{port}/tg/hook"
            async with client.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "fout"}) as r:
                assert r.status == 403
            for _ in range(2):  # delivered twice: handled once
                async with client.post(
                    url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "geheim-123"}
                ) as r:
                    assert r.status == 200
        started = [t for t in api.texts(DEWI["id"]) if "Nieuw kompas gestart" in t]
        assert len(started) == 1
        assert bot.bridge.errors == []
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await bot.close()
        await api.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
