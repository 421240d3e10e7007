"""Who may do what in a group, and what the bot keeps about people, over the real Telegram stack.

* Only facilitators (who started the compass, and the chat's admins, checked live with a brief
  cache) navigate, stop, switch compass, export or adopt a proposal, by command and by button.
* /vergeet removes the asker's contributions and personal data in that chat, after confirmation,
  and leaves the rest of the compass; /mijngegevens sends a person what the bot keeps about them,
  privately (in a group too, and never into the group).
* Retention (KOMPAS_RETENTION_DAYS) at start and periodically while the bot runs.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.compass import Chat
from bot.llm import LLMService, load_prompts
from bot.store import Store

from .llm_fake import FakeLLMEndpoint, HttpChatModel
from .telegram_fake import Call, group, private, user
from .telegram_harness import Harness, StartBot, texts_of

FATIMA, PIETER, DEWI, ANNA = user(1001, "Fatima"), user(1002, "Pieter"), user(1003, "Dewi"), user(1004, "Anna")
TEAM = group(-4301, "Privacyteam")
STEERING = ["/volgende", "/terug", "/overslaan", "/stap 2", "/stop", "/document", "/plaatje", "/kompas iets anders"]


async def position(h: Harness, chat: dict[str, Any] = TEAM) -> tuple[Any, ...]:
    state = await h.chat(chat)
    session = state.session
    assert session is not None
    return state.active, session.step, session.question_index, session.phase


def refused(calls: list[Call]) -> bool:
    return "Alleen de facilitator" in texts_of(calls) and not any(c.method.startswith("sendDoc") for c in calls)


async def test_only_facilitators_and_live_admins_steer(start_bot: StartBot) -> None:
    h = await start_bot(options={"admin_cache_seconds": 0.3})
    api = h.api
    api.owners[TEAM["id"]] = ANNA["id"]
    await h.say(TEAM, FATIMA, "/kompas eenzaamheid")
    await h.answer(TEAM, PIETER, "Niemand om mee te praten")
    before = await position(h)

    for command in STEERING:  # a participant, by command
        assert refused(await h.say(TEAM, DEWI, command)), command
        assert await position(h) == before, command
    for label in ("Volgende", "Terug", "Overslaan"):  # and by button: a toast only for her
        pressed = await h.press(TEAM, DEWI, label)
        assert [c.method for c in pressed if c.method != "getChatAdministrators"] == ["answerCallbackQuery"]
        assert "Alleen de facilitator" in pressed[-1].params["text"]
    assert await position(h) == before
    assert "eenzaamheid" in (await h.chat(TEAM)).sessions and len((await h.chat(TEAM)).sessions) == 1

    # The chat's owner may steer (checked live), by button and by command.
    await h.press(TEAM, ANNA, "Volgende")
    moved = await position(h)
    assert moved != before
    await h.say(TEAM, ANNA, "/terug")
    assert await position(h) == before

    # Demoted: after the brief cache she is a participant like any other.
    api.admins[TEAM["id"]].add(DEWI["id"])
    await asyncio.sleep(0.35)
    await h.say(TEAM, DEWI, "/volgende")  # Dewi was promoted: now she may
    assert await position(h) == moved
    api.admins[TEAM["id"]].discard(DEWI["id"])
    api.owners.pop(TEAM["id"])
    await asyncio.sleep(0.35)
    assert refused(await h.say(TEAM, DEWI, "/terug"))
    assert refused(await h.say(TEAM, ANNA, "/terug"))
    pressed = await h.press(TEAM, ANNA, "Terug")
    assert "Alleen de facilitator" in pressed[-1].params["text"]
    assert await position(h) == moved
    assert len(api.sent("getChatAdministrators")) >= 3  # checked again after each cache period

    # The facilitator herself needs no admin check, and may switch to another compass.
    calls = await h.say(TEAM, FATIMA, "/kompas armoede")
    assert "getChatAdministrators" not in {c.method for c in calls}
    assert (await h.chat(TEAM)).active == "armoede"


async def test_an_admin_adopts_a_proposal_with_the_button(start_bot: StartBot) -> None:
    endpoint = await FakeLLMEndpoint().start()
    try:
        h = await start_bot()
        h.bot.kompas.service.use_llm(
            LLMService(HttpChatModel(url=endpoint.url, api_key=endpoint.key), load_prompts(), timeout=5)
        )
        h.api.admins[TEAM["id"]].add(ANNA["id"])
        await h.say(TEAM, FATIMA, "/kompas eenzaamheid")
        await h.answer(TEAM, PIETER, "Geen contact hebben")
        await h.say(TEAM, FATIMA, "/voorstel")
        pressed = await h.press(TEAM, DEWI, "Neem over")  # a participant may not settle it
        assert "Alleen de facilitator" in pressed[-1].params["text"]
        await h.say(TEAM, FATIMA, "/voorstel")
        await h.press(TEAM, ANNA, "Neem over")  # an admin may
        session = (await h.chat(TEAM)).session
        assert session is not None and session.answer("betekenis").agreed == "Een voorstel van het model."
    finally:
        await endpoint.stop()


# ----------------------------------------------------------------------------- /vergeet, /mijngegevens


async def raw_database(h: Harness) -> bytes:
    """Every byte the database keeps on disk (the file and its write-ahead log)."""
    home = h.bot.kompas.settings.home
    return b"".join(path.read_bytes() for path in sorted(home.glob("kompas.db*")))


async def test_forget_in_a_group_removes_only_the_askers_data(start_bot: StartBot) -> None:
    h = await start_bot()
    await h.say(TEAM, FATIMA, "/kompas mantelzorg")
    await h.say(TEAM, PIETER, "/rol aanbieder")
    await h.say(TEAM, DEWI, "/rol doelgroep")
    await h.answer(TEAM, PIETER, "Zorgen voor je zieke vader")
    await h.answer(TEAM, DEWI, "Er altijd zijn voor een naaste")
    await h.say(TEAM, FATIMA, "/stap 0")  # on to the first open question: the list of signs
    await h.answer(TEAM, PIETER, "Pieter zijn geheime signaal")
    await h.answer(TEAM, DEWI, "Dewi ziet uitval op het werk")

    asked = texts_of(await h.say(TEAM, PIETER, "/vergeet"))
    assert "/vergeet ja" in asked
    assert len([c for c in (await h.chat(TEAM)).session.contributions if c.author_id == "1002"]) == 2  # type: ignore[union-attr]

    done = texts_of(await h.say(TEAM, PIETER, "/vergeet ja"))
    assert "2 bijdragen" in done
    state = await h.chat(TEAM)
    session = state.session
    assert session is not None
    removed = [c for c in session.contributions if c.removed]
    assert len(removed) == 2 and all(c.text == "" and c.author_id == "" and c.author_name == "" for c in removed)
    assert [c.text for c in session.contributions if not c.removed] == [
        "Er altijd zijn voor een naaste",
        "Dewi ziet uitval op het werk",
    ]
    assert "1002" not in state.names and "1002" not in state.roles and "1002" not in session.participants
    assert state.roles["1003"] == "doelgroep" and state.names["1003"] == "Dewi"
    assert session.step == 0 and session.question_index == 1  # the compass goes on where it was

    overview = texts_of(await h.say(TEAM, DEWI, "/overzicht"))
    assert "Dewi ziet uitval" in overview and "geheime signaal" not in overview
    who = texts_of(await h.say(TEAM, FATIMA, "/wie"))
    assert "Pieter" not in who
    mine = await h.say(TEAM, PIETER, "/mijngegevens")
    private_text = texts_of([c for c in mine if c.chat_id == PIETER["id"]])
    assert "0 bijdragen" in private_text and "geheime signaal" not in private_text

    raw = await raw_database(h)
    assert b"geheime signaal" not in raw and b"zieke vader" not in raw
    assert b"Dewi ziet uitval" in raw


async def test_forget_and_my_data_in_private(start_bot: StartBot) -> None:
    h = await start_bot()
    me = private(DEWI)
    await h.say(me, DEWI, "/kompas armoede")
    await h.say(me, DEWI, "Niet mee kunnen doen")
    await h.say(me, DEWI, "Schulden bij de energieleverancier")
    data = await h.say(me, DEWI, "/mijngegevens")
    assert [c.chat_id for c in data if c.method == "sendMessage"] == [DEWI["id"]]
    assert "Schulden bij de energieleverancier" in texts_of(data) and "2 bijdragen" in texts_of(data)
    assert "/vergeet ja" in texts_of(await h.say(me, DEWI, "/vergeet"))  # it asks first
    assert len((await h.chat(me)).session.contributions) == 2  # type: ignore[union-attr]
    assert "2 bijdragen" in texts_of(await h.say(me, DEWI, "/vergeet ja"))
    state = await h.chat(me)
    assert state.session is not None and all(c.removed and not c.text for c in state.session.contributions)
    assert state.names == {}
    assert "0 bijdragen" in texts_of(await h.say(me, DEWI, "/mijngegevens"))
    raw = await raw_database(h)
    assert b"energieleverancier" not in raw and b"Niet mee kunnen doen" not in raw  # the latter was agreed


async def test_my_data_never_goes_into_the_group(start_bot: StartBot) -> None:
    h = await start_bot()
    h.api.no_private.add(PIETER["id"])  # Pieter never started a private chat with the bot
    await h.say(TEAM, FATIMA, "/kompas eenzaamheid")
    await h.answer(TEAM, PIETER, "Mijn buurman spreekt niemand")
    calls = await h.say(TEAM, PIETER, "/mijngegevens")
    in_group = [c for c in calls if c.method == "sendMessage" and c.chat_id == TEAM["id"]]
    assert len(in_group) == 1 and "Open eerst een chat met mij" in in_group[0].params["text"]
    assert "buurman" not in texts_of(h.api.sent("sendMessage", TEAM["id"]))
    assert [c.status for c in calls if c.chat_id == PIETER["id"]] == [403]

    ok = await h.say(TEAM, FATIMA, "/mijngegevens")
    assert [c.chat_id for c in ok if c.method == "sendMessage"] == [FATIMA["id"], TEAM["id"]]
    assert "Ik heb je een privébericht gestuurd" in texts_of(ok[-1:])


# ----------------------------------------------------------------------------- retention


async def _old_compass(url: str, chat_id: str, days: int) -> None:
    """A chat whose only compass, and the chat itself, were last touched `days` days ago."""
    import sqlite3

    from bot.compass import Session

    store = await Store.open(url)
    at = datetime.now(UTC) - timedelta(days=days)
    try:
        session = Session(id="oud", chat_id=chat_id, vraagstuk="oud", created_at=at, updated_at=at, created_by="1")
        chat = Chat(id=chat_id, is_group=True, active="oud", sessions={"oud": session}, names={"1": "X"})
        await store.save_chat(chat)
    finally:
        await store.close()
    with sqlite3.connect(url.split(":///", 1)[1]) as db:
        db.execute("UPDATE chats SET updated_at = ? WHERE id = ?", (at.strftime("%Y-%m-%d %H:%M:%S.%f"), chat_id))


async def test_retention_at_start_and_while_running(start_bot: StartBot, tmp_path: Any) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'kompas.db'}"
    await _old_compass(url, "-999", days=40)
    settings = {"database_url": url, "retention_days": 30}
    h = await start_bot(settings=settings, options={"retention_interval": 0.2})
    assert await h.bot.kompas.store.load_chat("-999") is None  # at start: the stale compass and its chat

    await h.say(TEAM, FATIMA, "/kompas eenzaamheid")
    await h.answer(TEAM, PIETER, "Niemand om mee te praten")
    me = private(DEWI)
    await h.say(me, DEWI, "/kompas armoede")
    assert h.bot.bridge.cache.get(str(TEAM["id"])) is not None

    # Time passes for the bot: 31 days later its periodic run removes both compasses.
    h.bot.now = lambda: datetime.now(UTC) + timedelta(days=31)
    for _ in range(100):
        if h.bot.stats.purged >= 2:
            break
        await asyncio.sleep(0.05)
    assert h.bot.stats.purged == 2
    assert await h.bot.kompas.store.load_chat(str(TEAM["id"])) is None
    assert h.bot.bridge.cache.get(str(TEAM["id"])) is None  # not written back from memory
    h.bot.now = lambda: datetime.now(UTC)
    answer = texts_of(await h.say(TEAM, PIETER, "/overzicht"))
    assert "Er loopt nog geen kompas" in answer
    state = await h.bot.kompas.store.load_chat(str(TEAM["id"]))
    assert state is not None and state.sessions == {} and "1001" not in state.names


async def test_retention_is_off_by_default(start_bot: StartBot) -> None:
    h = await start_bot(options={"retention_interval": 0.1})
    await h.say(TEAM, FATIMA, "/kompas eenzaamheid")
    h.bot.now = lambda: datetime.now(UTC) + timedelta(days=3650)
    await asyncio.sleep(0.3)
    assert h.bot.stats.purged == 0 and await h.bot.apply_retention() == 0
    assert (await h.chat(TEAM)).session is not None


async def test_forget_in_the_terminal_scrubs_the_file_too(tmp_path: Any, engine: Any) -> None:
    from rich.console import Console

    from bot.console import ConsoleChat
    from bot.events import Actor
    from bot.service import KompasService

    url = f"sqlite+aiosqlite:///{tmp_path / 'kompas.db'}"
    store = await Store.open(url)
    try:
        with open(os.devnull, "w") as nowhere:
            service = KompasService(engine, store)
            chat = ConsoleChat(service, console=Console(file=nowhere), rich_output=False, actor=Actor("t", "Ria"))
            for line in ["/kompas eenzaamheid", "Een heel persoonlijk verhaal", "/volgende", "/vergeet ja"]:
                await chat.send(line)
        state = await store.load_chat("terminal")
    finally:
        await store.close()
    assert state is not None and state.session is not None
    assert state.session.answer("betekenis").agreed is None  # it was agreed from her answer alone
    raw = b"".join(path.read_bytes() for path in sorted(tmp_path.glob("kompas.db*")))
    assert b"persoonlijk verhaal" not in raw and b"Ria" not in raw
