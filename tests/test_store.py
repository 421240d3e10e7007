"""The store: everything survives a restart, markers make events idempotent, schema migrates."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from bot.compass import Chat, Session
from bot.engine import Actor, Engine, Text
from bot.store import EventKey, OutboxEntry, Store, StoreError

from .conftest import Clock

ALICE = Actor("1", "Alice")
BOB = Actor("2", "Bob")


def _url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'kompas.db'}"


async def _send(store: Store, engine: Engine, clock: Clock, chat_id: str, actor: Actor, text: str) -> None:
    chat = await store.load_chat(chat_id) or Chat(id=chat_id, is_group=True)
    outcome = engine.handle(chat, Text(actor=actor, text=text, at=clock()))
    if outcome.changed:
        await store.save_chat(outcome.chat)


async def test_restart_resumes_exactly(database_url: str, engine: Engine, clock: Clock) -> None:
    store = await Store.open(database_url)
    for actor, text in [
        (ALICE, "/rol gemeente"),
        (ALICE, "/kompas mantelzorg"),
        (BOB, "Zorgen voor een naaste"),
        (ALICE, "/volgende"),
        (ALICE, "/stap 3"),
        (BOB, "Mantelzorgcafé"),
        (BOB, "Welzijnswerk"),
    ]:
        await _send(store, engine, clock, "g", actor, text)
    before = await store.load_chat("g")
    await store.close()

    reopened = await Store.open(database_url)
    after = await reopened.load_chat("g")
    await reopened.close()
    assert after == before
    assert after is not None and after.session is not None
    session = after.session
    assert (session.step, session.phase) == (3, "vragen")
    assert [(d.author_id, d.field) for d in session.drafts] == [(BOB.id, "vorm")]  # Bob's own open item
    assert session.answer("betekenis").agreed == "Zorgen voor een naaste"
    assert session.live("activiteiten")[0].fields == {"wie": "Welzijnswerk"}

    fresh_engine = Engine(engine.flow, engine.texts)
    reply = fresh_engine.handle(after, Text(actor=BOB, text="/start", at=clock()))
    assert "formeel" in reply.replies[-1].text  # asks Bob the same field of the same item again
    answered = fresh_engine.handle(after, Text(actor=BOB, text="informeel", at=clock()))
    assert answered.chat.session is not None
    assert answered.chat.session.live("activiteiten")[0].fields == {"wie": "Welzijnswerk", "vorm": "informeel"}


def test_a_session_stored_with_one_chat_wide_item_dialog_becomes_its_authors_draft(clock: Clock) -> None:
    """Before per-person drafts, one item dialog ran for the whole chat (phase 'item')."""
    legacy = {
        "id": "m",
        "chat_id": "g",
        "vraagstuk": "mantelzorg",
        "created_at": clock().isoformat(),
        "updated_at": clock().isoformat(),
        "created_by": ALICE.id,
        "step": 3,
        "phase": "item",
        "pending": {"item_id": 2, "field_index": 1, "options": [], "suggestions": []},
        "contributions": [
            {
                "id": 2,
                "question": "activiteiten",
                "text": "Mantelzorgcafé",
                "author_id": BOB.id,
                "at": clock().isoformat(),
            }
        ],
        "next_id": 3,
    }
    session = Session.model_validate(legacy)
    assert session.phase == "vragen"
    assert [(d.author_id, d.item_id, d.question) for d in session.drafts] == [(BOB.id, 2, "activiteiten")]


async def test_event_markers(database_url: str) -> None:
    store = await Store.open(database_url)
    key = EventKey("telegram", 1001)
    assert not await store.is_processed(key)
    await store.save_chat(Chat(id="c"), marker=key)
    assert await store.is_processed(key)
    await store.mark_processed(EventKey("telegram", 1002))
    assert await store.last_event_id("telegram") == 1002
    await store.close()


async def test_move_chat_follows_supergroup_migration(database_url: str, engine: Engine, clock: Clock) -> None:
    store = await Store.open(database_url)
    await _send(store, engine, clock, "-100", ALICE, "/kompas armoede")
    await store.move_chat("-100", "-100200")
    assert await store.load_chat("-100") is None
    moved = await store.load_chat("-100200")
    assert moved is not None and moved.session is not None and moved.session.chat_id == "-100200"
    found = await store.find_session("armoede")
    assert found is not None and found.chat_id == "-100200"
    await store.close()


async def test_schema_is_created_by_migrations_in_wal_mode(tmp_path: Path) -> None:
    store = await Store.open(_url(tmp_path))
    await store.close()
    sync = create_engine(f"sqlite:///{tmp_path / 'kompas.db'}")
    with sync.connect() as connection:
        tables = set(inspect(connection).get_table_names())
        mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
        version = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    assert {"chats", "sessions", "processed_events"} <= tables
    assert mode == "wal"
    assert version is not None


async def test_bad_database_url_is_reported_without_secrets() -> None:
    with pytest.raises(StoreError) as caught:
        await Store.open("postgresql+asyncpg://kompas:supergeheim@127.0.0.1:1/kompas")
    assert "supergeheim" not in str(caught.value)
    with pytest.raises(StoreError):
        await Store.open("dit is geen url")


async def test_retention_removes_only_stale_compasses(database_url: str, engine: Engine, clock: Clock) -> None:
    from datetime import timedelta

    store = await Store.open(database_url)
    await _send(store, engine, clock, "g", ALICE, "/kompas oud")
    await _send(store, engine, clock, "g", ALICE, "/kompas nieuw")
    chat = await store.load_chat("g")
    assert chat is not None
    chat.sessions["oud"].updated_at -= timedelta(days=40)
    await store.save_chat(chat)
    assert await store.purge_inactive(30, now=clock()) == 1
    after = await store.load_chat("g")
    assert after is not None and list(after.sessions) == ["nieuw"] and after.active == "nieuw"
    await store.close()


async def test_outbox_is_written_with_the_turn_kept_in_order_and_cleared(database_url: str) -> None:
    store = await Store.open(database_url)
    first, second, other = EventKey("telegram", 7), EventKey("telegram", 8), EventKey("telegram", 5)
    await store.save_many(
        [(Chat(id="b"), second, "b"), (Chat(id="a"), other, "a"), (None, first, "b")],
        outbox=[OutboxEntry(second, "b", "[2]"), OutboxEntry(other, "a", "[0]"), OutboxEntry(first, "b", "[1]")],
    )
    assert [e.actions for e in await store.undelivered("telegram")] == ["[0]", "[1]", "[2]"]
    assert [e.marker for e in await store.undelivered("telegram", "b")] == [first, second]
    await store.save_many([], delivered=[first, other])
    assert await store.undelivered("telegram") == [OutboxEntry(second, "b", "[2]")]
    await store.close()


async def test_retention_drops_the_outbox_of_a_chat_it_removes(database_url: str) -> None:
    from datetime import UTC, datetime, timedelta

    store = await Store.open(database_url)
    marker = EventKey("telegram", 9)
    await store.save_many([(Chat(id="leeg"), marker, "leeg")], outbox=[OutboxEntry(marker, "leeg", "[]")])
    await store.purge_inactive(30, now=datetime.now(UTC) + timedelta(days=20))
    assert len(await store.undelivered("telegram")) == 1  # not stale yet
    await store.purge_inactive(30, now=datetime.now(UTC) + timedelta(days=40), chat_id="leeg")
    assert await store.load_chat("leeg") is None
    assert await store.undelivered("telegram") == []
    await store.close()
