"""The Telegram stack on either database: how a Telegram test uses the `database_url` fixture.

`start_bot(settings={"database_url": database_url})` runs the real polling bot on a fresh SQLite file, and,
when KOMPAS_TEST_DATABASE_URL is set, on a fresh PostgreSQL database as well.
"""

from __future__ import annotations

from .telegram_fake import private, user
from .telegram_harness import StartBot, stop_bot

FATIMA = user(1001, "Fatima")


async def test_a_conversation_survives_a_restart_on_either_database(start_bot: StartBot, database_url: str) -> None:
    h = await start_bot(settings={"database_url": database_url})
    me = private(FATIMA)
    await h.say(me, FATIMA, "/kompas mantelzorg")
    await h.answer(me, FATIMA, "Zorgen voor een naaste")
    chat = await h.chat(me)
    assert chat.session is not None
    assert [c.text for c in chat.session.contributions] == ["Zorgen voor een naaste"]
    await stop_bot(h)
    await h.bot.close()

    again = await start_bot(api=h.api, settings={"database_url": database_url})
    calls = await again.say(me, FATIMA, "/overzicht")
    overview = "\n".join(str(c.params.get("text", "")) for c in calls)
    assert overview.count("Zorgen voor een naaste") == 1
    assert again.bot.stats.skipped == 0  # nothing handled twice after the restart
