"""Upgrades keep data: a database made by an older schema (revision 0001, 0002) migrates forward on open.

On SQLite, and on PostgreSQL too when KOMPAS_TEST_DATABASE_URL is set (the `database_url` fixture)."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.compass import Chat, Contribution, Session
from bot.engine import Engine
from bot.events import Actor, Text
from bot.store import EventKey, OutboxEntry, Store, alembic_config, head_revision

from .conftest import Clock

AT = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


async def old_database(url: str, revision: str = "0001") -> None:
    """Schema `revision`, filled the way the store of 0001 wrote it (plain rows, JSON states)."""
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))
    session = Session(
        id="eenzaamheid",
        chat_id="-100",
        vraagstuk="eenzaamheid",
        created_at=AT,
        updated_at=AT,
        created_by="1",
        facilitators=["1"],
        contributions=[
            Contribution(id=1, question="betekenis", text="Niemand om mee te praten", author_id="2", at=AT, ref="7")
        ],
        next_id=2,
    )
    head = Chat(id="-100", is_group=True, active="eenzaamheid", names={"1": "Fatima", "2": "Pieter"})
    async with engine.begin() as connection:
        tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        assert "outbox" not in tables
        assert ("polls" in tables) == (revision != "0001")
        await connection.execute(
            text("INSERT INTO chats (id, is_group, state, updated_at) VALUES (:id, :group, :state, :at)"),
            {"id": "-100", "group": True, "state": head.model_dump_json(), "at": AT},
        )
        await connection.execute(
            text(
                "INSERT INTO sessions (chat_id, id, vraagstuk, state, created_at, updated_at) "
                "VALUES ('-100', 'eenzaamheid', 'eenzaamheid', :state, :at, :at)"
            ),
            {"state": session.model_dump_json(), "at": AT},
        )
        await connection.execute(
            text(
                "INSERT INTO processed_events (source, event_id, chat_id, processed_at) "
                "VALUES ('telegram', 41, '-100', :at)"
            ),
            {"at": AT},
        )
    await engine.dispose()


async def schema_of(url: str) -> tuple[str | None, set[str]]:
    """The alembic revision and the tables of a database."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            version = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
            tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    finally:
        await engine.dispose()
    return version, tables


async def test_a_database_of_revision_0001_opens_with_its_data_intact(
    database_url: str, engine: Engine, clock: Clock
) -> None:
    await old_database(database_url)

    store = await Store.open(database_url)
    try:
        chat = await store.load_chat("-100")
        assert chat is not None and chat.session is not None
        assert chat.names == {"1": "Fatima", "2": "Pieter"}
        assert [c.text for c in chat.session.contributions] == ["Niemand om mee te praten"]
        assert await store.is_processed(EventKey("telegram", 41))
        assert await store.last_event_id("telegram") == 41

        # Usable: the engine goes on with it, and what came with the new revision works.
        outcome = engine.handle(chat, Text(Actor("3", "Dewi"), "Een hele dag niemand spreken", clock()))
        await store.save_chat(outcome.chat, EventKey("telegram", 42))
        await store.save_poll("p1", "-100", 9)
        assert (await store.find_poll("p1")) is not None
        again = await store.load_chat("-100")
        assert again is not None and again.session is not None and len(again.session.contributions) == 2
    finally:
        await store.close()

    version, tables = await schema_of(database_url)
    assert {"polls", "outbox"} <= tables
    assert version == head_revision()


async def test_a_database_of_revision_0002_gains_the_outbox(database_url: str) -> None:
    await old_database(database_url, "0002")
    engine = create_async_engine(database_url)
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO polls (poll_id, chat_id, message_id, created_at, closed) "
                "VALUES ('p0', '-100', 3, :at, :closed)"
            ).bindparams(at=AT, closed=False)
        )
    await engine.dispose()

    store = await Store.open(database_url)
    try:
        assert (await store.find_poll("p0")) is not None
        chat = await store.load_chat("-100")
        assert chat is not None and chat.session is not None
        marker = EventKey("telegram", 42)
        replies = OutboxEntry(marker, chat.id, '[{"kind": "StopPoll"}]')
        await store.save_many([(chat, marker, chat.id)], outbox=[replies])
        assert await store.undelivered("telegram") == [replies]
        await store.save_many([], delivered=[marker])
        assert await store.undelivered("telegram") == []
        assert await store.is_processed(marker)
    finally:
        await store.close()


def test_the_quick_head_check_agrees_with_alembic() -> None:
    """Store.open skips loading alembic when the database is at the head it reads from the files."""
    engine = create_engine("sqlite://")
    with engine.connect() as connection:
        script = ScriptDirectory.from_config(alembic_config(connection))
        assert head_revision() == script.get_current_head()
    engine.dispose()
