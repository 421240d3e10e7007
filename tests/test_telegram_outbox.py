"""The outbox: replies stored with their turn, delivered after a crash, exactly once, in order."""

from __future__ import annotations

import asyncio

import pytest

from bot.compass import Chat
from bot.events import Button, LLMRequest, Outcome, PollSpec, Reply
from bot.telegram.handlers import TelegramBridge
from bot.telegram.outbox import dump_actions, load_actions
from bot.telegram.translate import Action, AskModel, Origin, SendExport, SendPrivate, Toast, plan

from .telegram_fake import Call, group, private, user
from .telegram_harness import StartBot, stop_bot

FATIMA = user(1001, "Fatima")
ME = private(FATIMA)
PIETER = user(1002, "Pieter")
OTHER = private(PIETER)
REPLIES = {"sendMessage", "setMessageReaction"}


def _shape(calls: list[Call]) -> list[tuple[str, object]]:
    return [(c.method, c.params.get("text") or c.params.get("reaction")) for c in calls]


def _as_dicts(actions: list[Action]) -> list[object]:
    out: list[object] = []
    for action in actions:
        markup = getattr(action, "markup", None)
        out.append((action, markup.to_dict() if markup is not None else None))
    return out


def test_planned_actions_survive_the_round_trip_through_json() -> None:
    chat = Chat(id="-5", is_group=True)
    replies = (
        Reply(text="Vraag 1\n<b>Wat</b> betekent het?", buttons=(Button("Volgende", "/volgende"),), asks=True),
        Reply(text="Kies", poll=PollSpec("Welke?", ("a", "b", "c")), close_poll=True),
        Reply(text="Genoteerd", reaction="✍"),
        Reply(text="Alleen voor jou", private=True),
        Reply(export=("pdf",)),
    )
    origin = Origin(message_id=7, user_id=1001)
    actions = plan(Outcome(chat, replies, changed=True), group=True, origin=origin, placeholder="Je antwoord")
    stored = dump_actions(actions)
    assert stored is not None
    again = load_actions(stored)
    assert _as_dicts(again) == _as_dicts(actions)
    assert any(isinstance(a, SendExport) for a in again) and any(isinstance(a, SendPrivate) for a in again)


def test_toasts_and_model_requests_stay_out_of_the_outbox() -> None:
    request = LLMRequest(kind="samenvatting", session_id=None, question=None, context="")
    assert dump_actions([Toast("Dat kan niet"), AskModel(request)]) is None


async def test_replies_stored_but_never_sent_are_delivered_after_restart_once(
    start_bot: StartBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await start_bot()
    api = first.api

    async def killed(*_: object, **__: object) -> None:
        """The process dies right after the commit: nothing reaches Telegram."""

    monkeypatch.setattr(first.bot.bridge, "_execute", killed)
    mark = len(api.calls)
    await first.say(ME, FATIMA, "/kompas mantelzorg")
    await first.say(ME, FATIMA, "Zorgen voor een naaste")
    assert [c for c in api.calls[mark:] if c.method in REPLIES] == []
    store = first.bot.kompas.store
    assert len(await store.undelivered("telegram", str(ME["id"]))) == 2
    await stop_bot(first)

    mark = len(api.calls)
    second = await start_bot(api=api)
    await _until_empty(second.bot.bridge)
    replayed = [c for c in api.calls[mark:] if c.method in REPLIES]
    # Exactly what the same two turns get when nothing goes wrong, in the same order.
    normal: list[Call] = []
    for text in ("/kompas mantelzorg", "Zorgen voor een naaste"):
        normal += [c for c in await second.say(OTHER, PIETER, text) if c.method in REPLIES]
    assert _shape(replayed) == _shape(normal) and replayed
    assert second.bot.stats.redelivered == 2
    await second.bot.bridge.commits.flush()  # removing delivered rows joins the next commit
    assert await second.bot.kompas.store.undelivered("telegram") == []

    # Normal turns afterwards: answered once; nothing from before comes again.
    mark = len(api.calls)
    later = await second.say(ME, FATIMA, "/overzicht")
    assert [c.method for c in later] == ["sendMessage"]
    assert not any(c.method == "setMessageReaction" for c in api.calls[mark:])
    await second.bot.bridge.commits.flush()
    assert await second.bot.kompas.store.undelivered("telegram") == []


async def test_a_reply_telegram_refuses_for_good_leaves_the_outbox(start_bot: StartBot) -> None:
    h = await start_bot()
    team = group(-4101, "Team")
    h.api.fail("sendMessage", 400)
    await h.say(team, FATIMA, "/start")
    h.bot.bridge.errors.clear()
    await h.bot.bridge.commits.flush()
    assert await h.bot.kompas.store.undelivered("telegram") == []
    assert not h.bot.bridge.waiting


async def _until_empty(bridge: TelegramBridge, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while await bridge.store.undelivered("telegram"):
        assert loop.time() < deadline, "the outbox did not drain"
        await asyncio.sleep(0.02)
