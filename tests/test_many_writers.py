"""Two processes writing the same chat (two `kompas chat` on one home, two bots on one database),
on SQLite and, when KOMPAS_TEST_DATABASE_URL is set, on PostgreSQL.

Each keeps its own cache; a turn writes only over the version it read, and runs again otherwise.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.engine import Engine
from bot.events import Actor, Text
from bot.service import KompasService
from bot.store import AlreadyProcessed, EventKey, Store

ANNA = Actor("1", "Anna")
BRAM = Actor("2", "Bram")


async def _two_services(url: str, engine: Engine) -> tuple[KompasService, KompasService, list[Store]]:
    stores = [await Store.open(url), await Store.open(url)]
    return KompasService(engine, stores[0]), KompasService(engine, stores[1]), stores


async def test_interleaved_writers_lose_nothing_and_an_erase_stays_erased(database_url: str, engine: Engine) -> None:
    first, second, stores = await _two_services(database_url, engine)
    at = datetime(2026, 12, 1, tzinfo=UTC)

    async def say(service: KompasService, actor: Actor, text: str) -> None:
        nonlocal at
        at += timedelta(seconds=1)
        await service.handle("-1", Text(actor, text, at), is_group=True)

    try:
        await say(first, ANNA, "/kompas eenzaamheid")
        await say(second, BRAM, "Je alleen voelen")  # the second process has never seen the chat
        for n in range(20):  # both write in turn, each from its own (stale) cache
            await say(first, ANNA, f"Anna {n}")
            await say(second, BRAM, f"Bram {n}")
        chat = await stores[0].load_chat("-1")
        assert chat is not None and chat.session is not None
        texts = [c.text for c in chat.session.live("betekenis")]
        assert len(texts) == 41 and all(f"Anna {n}" in texts and f"Bram {n}" in texts for n in range(20))

        await say(first, BRAM, "/vergeet ja")
        await say(second, ANNA, "Nog een zin van Anna")  # its cache still holds Bram's words
        chat = await stores[1].load_chat("-1")
        assert chat is not None and chat.session is not None
        assert not any(
            c.text.startswith("Bram") or c.text == "Je alleen voelen" for c in chat.session.live("betekenis")
        )
        assert "Nog een zin van Anna" in [c.text for c in chat.session.live("betekenis")]
    finally:
        for service in (first, second):
            service.close()
        for store in stores:
            await store.close()


async def test_an_event_stored_by_another_process_is_not_handled_twice(database_url: str, engine: Engine) -> None:
    first, second, stores = await _two_services(database_url, engine)
    at = datetime(2026, 12, 1, tzinfo=UTC)
    marker = EventKey("telegram", 77)
    try:
        async with first.locks.hold("-1"):
            await first.turn("-1", Text(ANNA, "/kompas armoede", at), is_group=True, marker=marker)
        with pytest.raises(AlreadyProcessed):
            async with second.locks.hold("-1"):
                await second.turn("-1", Text(ANNA, "/kompas armoede", at), is_group=True, marker=marker)
        chat = await stores[0].load_chat("-1")
        assert chat is not None and list(chat.sessions) == ["armoede"]
    finally:
        for service in (first, second):
            service.close()
        for store in stores:
            await store.close()


async def test_a_compass_removed_by_retention_is_not_written_back_from_memory(
    database_url: str, engine: Engine
) -> None:
    first, second, stores = await _two_services(database_url, engine)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        await first.handle("-1", Text(ANNA, "/kompas eenzaamheid", at), is_group=True)
        await second.handle("-1", Text(BRAM, "Je alleen voelen", at), is_group=True)  # now in its cache
        assert await stores[0].purge_inactive(30, datetime(2026, 6, 1, tzinfo=UTC)) == 1
        await second.handle("-1", Text(BRAM, "/overzicht", at + timedelta(days=200)), is_group=True)
        await second.handle("-1", Text(BRAM, "Nog een zin", at + timedelta(days=200)), is_group=True)
        chat = await stores[0].load_chat("-1")
        assert chat is not None and chat.sessions == {}  # the removed compass did not come back
    finally:
        for service in (first, second):
            service.close()
        for store in stores:
            await store.close()
