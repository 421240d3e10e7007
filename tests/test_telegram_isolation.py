"""200 group chats at once, interleaved, through the real Telegram stack: nothing lands in the wrong
chat or compass, and nothing of one chat (answers, roles, names, private data) shows up in another.

The long version (500 chats, minutes) is `bench/bench_telegram.py`; this one is sized for CI.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from bot.telegram.runner import TelegramBot

from .telegram_fake import FakeBotApi, group, user
from .telegram_harness import StartBot

CHATS = 200
ROUNDS = 3
SHARED = [user(7_000 + n, f"Gedeeld{n}") for n in range(20)]  # each is a member of ten groups


def members(n: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    return user(10_000 + n, f"Fac{n}"), user(20_000 + n, f"Deel{n}"), SHARED[n % len(SHARED)]


def role_of_shared(n: int) -> str:
    return "doelgroep" if n % 2 else "aanbieder"


async def one_chat(api: FakeBotApi, n: int) -> None:
    chat = group(-6_000_000 - n, f"Groep {n}")
    boss, member, shared = members(n)

    async def say(person: dict[str, Any], text: str, *, answer: bool = False) -> None:
        if answer:
            uid = api.text(chat, person, text, reply_to=api.last_question(chat["id"])["message_id"])
        else:
            uid = api.text(chat, person, text)
        await api.wait_confirmed(uid, timeout=120)

    await say(boss, "/rol gemeente")
    await say(shared, f"/rol {role_of_shared(n)}")
    await say(boss, f"/kompas isolatie {n}")
    for r in range(ROUNDS):
        await say(member, f"antwoord {r} van deelnemer in chat {n}", answer=True)
        await say(shared, f"antwoord {r} van gedeelde in chat {n}", answer=True)
    await say(boss, "/volgende")
    await say(member, "/wie")
    await say(shared, "/mijngegevens")


async def test_two_hundred_groups_in_parallel_stay_apart(start_bot: StartBot) -> None:
    h = await start_bot(options={"max_concurrent_chats": 64})
    api = h.api
    started = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*(one_chat(api, n) for n in range(CHATS))), 150)
    elapsed = time.monotonic() - started
    turns = CHATS * (6 + 2 * ROUNDS)
    assert h.bot.stats.batches < turns  # interleaved: many chats per batch

    await check_store(h.bot)
    check_messages(api)
    print(f"isolation: {CHATS} chats, {turns} turns in {elapsed:.1f} s ({turns / elapsed:.0f}/s)")


async def check_store(bot: TelegramBot) -> None:
    for n in range(CHATS):
        boss, member, shared = members(n)
        state = await bot.kompas.store.load_chat(str(-6_000_000 - n))
        assert state is not None and state.is_group
        assert list(state.sessions) == [f"isolatie-{n}"]
        session = state.session
        assert session is not None and session.phase == "kiezen"
        assert session.facilitators == [str(boss["id"])]
        texts = [c.text for c in session.contributions]
        expected = [f"antwoord {r} van {who} in chat {n}" for r in range(ROUNDS) for who in ("deelnemer", "gedeelde")]
        assert texts == expected, f"chat {n}: {texts}"
        ids = {str(p["id"]) for p in (boss, member, shared)}
        assert {c.author_id for c in session.contributions} <= ids
        assert state.roles == {str(boss["id"]): "gemeente", str(shared["id"]): role_of_shared(n)}
        assert set(state.names) <= ids
        roles = {c.author_id: c.role for c in session.contributions}
        assert roles[str(shared["id"])] == role_of_shared(n)


def check_messages(api: FakeBotApi) -> None:
    mentioned = re.compile(r"(?:chat|isolatie) (\d+)")
    for call in api.sent("sendMessage"):
        chat_id = call.chat_id
        assert chat_id is not None
        text = call.params["text"]
        if chat_id < 0:  # a group: only its own compass and answers
            n = -6_000_000 - chat_id
            assert {int(m) for m in mentioned.findall(text)} <= {n}, text
        else:  # /mijngegevens, privately: only what that group holds about this person
            numbers = {int(m) for m in mentioned.findall(text)}
            assert len(numbers) <= 1 and all(SHARED[k % len(SHARED)]["id"] == chat_id for k in numbers), text
        quoted = call.params.get("reply_parameters")
        if quoted:
            message = api.messages[(chat_id, quoted["message_id"])]
            assert not message["from"].get("is_bot")
    private = [c for c in api.sent("sendMessage") if (c.chat_id or 0) > 0]
    assert len(private) == CHATS  # one /mijngegevens per group, each to the shared member
    for call in api.sent("setMessageReaction"):
        chat_id, message_id = int(call.params["chat_id"]), int(call.params["message_id"])
        message = api.messages[(chat_id, message_id)]
        assert message["text"].endswith(f"in chat {-6_000_000 - chat_id}"), message["text"]
    assert len(api.sent("setMessageReaction")) == CHATS * 2 * ROUNDS
