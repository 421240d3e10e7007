"""Persistent sessions: SQLAlchemy 2 (async), SQLite by default, PostgreSQL by URL.

Each chat is saved in one transaction together with the marker of the event that changed
it, so a transport can skip an event it has already stored (idempotence after a crash), and
with the replies of that event (the outbox), so a crash before they were sent does not lose them.
The schema is managed by alembic and upgraded on open, so older databases keep their data.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKeyConstraint,
    String,
    Text,
    delete,
    event,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.expression import Executable

from bot.compass import Chat, Session, slugify

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class StoreError(Exception):
    """The database cannot be opened or used; the message is meant for the operator."""


class Conflict(Exception):
    """Another turn (perhaps in another process) changed the chat since it was read: run the turn again."""


class AlreadyProcessed(Exception):
    """The event's marker is stored already (another process handled it): the turn is dropped."""


class Base(DeclarativeBase):
    pass


class ChatRow(Base):
    __tablename__ = "chats"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    is_group: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Raised by every write; a turn writes only if the chat still has the version it read.
    version: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class SessionRow(Base):
    __tablename__ = "sessions"
    __table_args__ = (ForeignKeyConstraint(["chat_id"], ["chats.id"], ondelete="CASCADE"),)

    chat_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    vraagstuk: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ProcessedEventRow(Base):
    __tablename__ = "processed_events"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    chat_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    processed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PollRow(Base):
    """A native poll a transport sent: poll answers name only the poll, so this finds the chat."""

    __tablename__ = "polls"

    poll_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(64), index=True)
    message_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed: Mapped[bool] = mapped_column(Boolean, default=False)


class OutboxRow(Base):
    """The replies of one stored event, kept until the transport has delivered them.

    Written in the transaction that stores the event, removed once delivered (or refused for
    good); what is left after a crash is delivered at the next start. `actions` is the
    transport's own serialisation (for Telegram: `bot.telegram.outbox`).
    """

    __tablename__ = "outbox"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(64), index=True)
    actions: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class PollRef:
    poll_id: str
    chat_id: str
    message_id: int
    closed: bool


@dataclass(frozen=True)
class EventKey:
    """Identifies one platform event, e.g. ('telegram', update_id)."""

    source: str
    event_id: int


@dataclass(frozen=True)
class OutboxEntry:
    """Undelivered replies: of the event `marker`, in chat `chat_id`."""

    marker: EventKey
    chat_id: str
    actions: str


@dataclass(frozen=True)
class TurnWrite:
    """What one turn stores: its chat (with the version it becomes), its event marker, its replies,
    or the removal of delivered replies."""

    chat: Chat | None = None
    marker: EventKey | None = None
    chat_id: str | None = None
    outbox: OutboxEntry | None = None
    delivered: EventKey | None = None


@dataclass(frozen=True)
class SessionSummary:
    chat_id: str
    id: str
    vraagstuk: str
    updated_at: datetime
    session: Session


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Deleted content is overwritten with zeros, so what /vergeet and the retention remove is
    # not left readable in the file's free space (see `Store.scrub`).
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def alembic_config(connection: Connection) -> Config:
    """The store's alembic configuration, running on `connection` (also for tests and tools)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


@functools.cache
def head_revision() -> str | None:
    """The newest migration, read from the version files without importing alembic (which costs
    about 0.4 s of start-up). None if the files cannot be read that simply: then alembic decides."""
    revisions: dict[str, str | None] = {}
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        revision = re.search(r"^revision\s*=\s*[\"']([^\"']+)[\"']", text, re.MULTILINE)
        down = re.search(r"^down_revision\s*=\s*(?:None|[\"']([^\"']+)[\"'])\s*$", text, re.MULTILINE)
        if revision is None or down is None:
            return None
        revisions[revision.group(1)] = down.group(1)
    heads = set(revisions) - set(revisions.values())
    return heads.pop() if len(heads) == 1 else None


def _current_revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    rows = connection.exec_driver_sql("SELECT version_num FROM alembic_version").fetchall()
    return rows[0][0] if len(rows) == 1 else None


# Key of the PostgreSQL advisory lock around the schema upgrade ("kompas" in ASCII; any constant will do:
# advisory locks are per database, so other databases on the same server are not held up).
MIGRATION_LOCK_KEY = 0x6B6F6D706173


def _upgrade(connection: Connection) -> None:
    head = head_revision()
    if head is not None and _current_revision(connection) == head:
        return  # already up to date: no need to load alembic
    if connection.dialect.name == "postgresql":
        # Several processes may start at once on a fresh or older database. One upgrades; the others
        # wait here until its transaction commits (the lock is released with it), then find the head.
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
        if head is not None and _current_revision(connection) == head:
            return
    from alembic import command

    command.upgrade(alembic_config(connection), "head")


class Store:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    @classmethod
    async def open(cls, url: str) -> Store:
        """Connect, create the SQLite folder if needed, and bring the schema up to date."""
        try:
            parsed = make_url(url)
        except Exception as exc:
            raise StoreError(f"De database-URL klopt niet ({exc.__class__.__name__}).") from None
        is_sqlite = parsed.get_backend_name() == "sqlite"
        if is_sqlite and parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, pool_pre_ping=not is_sqlite)
        if is_sqlite:
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(_upgrade)
        except Exception as exc:
            await engine.dispose()
            safe = parsed.render_as_string(hide_password=True)
            raise StoreError(f"Kan de database {safe} niet openen: {exc.__class__.__name__}") from exc
        return cls(engine)

    async def close(self) -> None:
        await self._engine.dispose()

    async def scrub(self) -> None:
        """Make removed data unreadable on disk as well (after /vergeet, after retention).

        SQLite: freed space is zeroed already (secure_delete); this also empties the write-ahead
        log, which still holds earlier versions of the changed pages. PostgreSQL keeps old row
        versions until VACUUM, which its autovacuum (or the operator) runs.
        """
        if self._engine.dialect.name != "sqlite":
            return
        async with self._engine.connect() as connection:
            await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    async def load_chat(self, chat_id: str) -> Chat | None:
        async with self._sessions() as db:
            row = await db.get(ChatRow, chat_id)
            if row is None:
                return None
            chat = Chat.model_validate_json(row.state)
            chat.version = row.version
            result = await db.execute(
                select(SessionRow).where(SessionRow.chat_id == chat_id).order_by(SessionRow.created_at)
            )
            chat.sessions = {r.id: Session.model_validate_json(r.state) for r in result.scalars()}
            return chat

    async def save_chat(self, chat: Chat, marker: EventKey | None = None) -> None:
        """Write the chat, all its compasses and the event marker in one transaction, whatever version
        is stored (for tools and tests; turns go through `write_turns`, which checks the version)."""
        async with self._sessions() as db:
            stored = await db.get(ChatRow, chat.id)
            current = stored.version if stored is not None else 0
        [failure] = await self.write_turns(
            [TurnWrite(chat.model_copy(update={"version": current + 1}), marker, chat.id)]
        )
        if failure is not None:
            raise failure
        chat.version = current + 1

    async def mark_processed(self, marker: EventKey, chat_id: str | None = None) -> None:
        """Record an event that changed nothing, so it is not handled twice."""
        async with self._sessions.begin() as db:
            await db.merge(
                ProcessedEventRow(
                    source=marker.source, event_id=marker.event_id, chat_id=chat_id, processed_at=datetime.now(UTC)
                )
            )

    async def is_processed(self, marker: EventKey) -> bool:
        async with self._sessions() as db:
            return await db.get(ProcessedEventRow, (marker.source, marker.event_id)) is not None

    async def last_event_id(self, source: str) -> int | None:
        async with self._sessions() as db:
            result = await db.execute(
                select(ProcessedEventRow.event_id)
                .where(ProcessedEventRow.source == source)
                .order_by(ProcessedEventRow.event_id.desc())
                .limit(1)
            )
            return result.scalar_one_or_none()

    async def move_chat(self, old_id: str, new_id: str) -> None:
        """Follow a group that became a supergroup: its compasses move to the new chat id."""
        chat = await self.load_chat(old_id)
        if chat is None:
            return
        moved = chat.model_copy(update={"id": new_id})
        for session in moved.sessions.values():
            session.chat_id = new_id
        async with self._sessions.begin() as db:
            await db.execute(delete(SessionRow).where(SessionRow.chat_id == old_id))
            await db.execute(delete(ChatRow).where(ChatRow.id == old_id))
        await self.save_chat(moved)

    async def purge_inactive(self, days: int, now: datetime | None = None, *, chat_id: str | None = None) -> int:
        """Retention: delete compasses untouched for `days` days; returns how many were removed.

        A chat left without compasses that was itself untouched that long goes too (with the names
        and roles it kept), and so do its polls. Markers of events older than that are dropped as
        well: Telegram redelivers an update for a day at most. `chat_id` limits it to one chat.
        """
        cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
        async with self._sessions.begin() as db:
            query = select(SessionRow).where(SessionRow.updated_at < cutoff)
            if chat_id is not None:
                query = query.where(SessionRow.chat_id == chat_id)
            stale = (await db.execute(query)).scalars().all()
            for row in stale:
                chat = await db.get(ChatRow, row.chat_id)
                if chat is not None:
                    head = Chat.model_validate_json(chat.state)
                    if head.active == row.id:
                        chat.state = head.model_copy(update={"active": None}).model_dump_json()
                    chat.version += 1  # a process holding the chat in memory must not write the compass back
                await db.delete(row)
            await db.flush()
            has_sessions = select(SessionRow.chat_id).where(SessionRow.chat_id == ChatRow.id).exists()
            empty = select(ChatRow.id).where(ChatRow.updated_at < cutoff, ~has_sessions)
            if chat_id is not None:
                empty = empty.where(ChatRow.id == chat_id)
            gone = list((await db.execute(empty)).scalars())
            if gone:
                await db.execute(delete(PollRow).where(PollRow.chat_id.in_(gone)))
                await db.execute(delete(OutboxRow).where(OutboxRow.chat_id.in_(gone)))
                await db.execute(delete(ChatRow).where(ChatRow.id.in_(gone)))
            if chat_id is None:
                await db.execute(delete(ProcessedEventRow).where(ProcessedEventRow.processed_at < cutoff))
                await db.execute(delete(OutboxRow).where(OutboxRow.created_at < cutoff))
        if stale or gone:
            await self.scrub()
        return len(stale)

    async def stale_chats(self, days: int, now: datetime | None = None) -> list[str]:
        """The chats that `purge_inactive` would change: with a compass, or themselves, untouched `days` days."""
        cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
        async with self._sessions() as db:
            with_stale = select(SessionRow.chat_id).where(SessionRow.updated_at < cutoff)
            untouched = select(ChatRow.id).where(ChatRow.updated_at < cutoff)
            ids = set((await db.execute(with_stale)).scalars()) | set((await db.execute(untouched)).scalars())
            return sorted(ids)

    async def list_sessions(self) -> list[SessionSummary]:
        async with self._sessions() as db:
            result = await db.execute(select(SessionRow).order_by(SessionRow.updated_at.desc()))
            return [
                SessionSummary(
                    chat_id=r.chat_id,
                    id=r.id,
                    vraagstuk=r.vraagstuk,
                    updated_at=r.updated_at,
                    session=Session.model_validate_json(r.state),
                )
                for r in result.scalars()
            ]

    async def find_session(self, name: str) -> SessionSummary | None:
        """A compass by `chat/slug`, by slug, by its issue as typed, or by the start of either.

        A start that fits several compasses raises `StoreError` naming them, so the user can pick."""
        sessions = await self.list_sessions()
        wanted_chat, _, wanted = name.rpartition("/")
        if wanted_chat and not any(s.chat_id == wanted_chat for s in sessions):
            wanted_chat, wanted = "", name  # a '/' inside the issue itself ("wonen/zorg")
        slug = slugify(wanted)
        here = [s for s in sessions if not wanted_chat or s.chat_id == wanted_chat]
        exact = [s for s in here if s.id == slug]
        if exact:
            return exact[0]
        starts = [s for s in here if s.id.startswith(slug) or s.vraagstuk.lower().startswith(wanted.lower())]
        if len(starts) > 1:
            names = ", ".join(f"{s.chat_id}/{s.id}" for s in starts)
            example = f"{starts[0].chat_id}/{starts[0].id}"
            raise StoreError(f"Meer kompassen beginnen met '{wanted}': {names}. Noem er één, bijvoorbeeld {example}.")
        return starts[0] if starts else None

    async def save_many(
        self,
        items: Sequence[tuple[Chat | None, EventKey | None, str | None]],
        *,
        outbox: Sequence[OutboxEntry] = (),
        delivered: Sequence[EventKey] = (),
    ) -> None:
        """Many chats and event markers in ONE transaction (see `write_turns`); raises the first failure.

        Each `(chat, marker, chat_id)` is stored like `save_chat(chat, marker)`, or, without a chat,
        like `mark_processed(marker, chat_id)`. `outbox` adds replies; `delivered` removes sent ones."""
        by_marker = {entry.marker: entry for entry in outbox}
        writes = [
            TurnWrite(
                chat.model_copy(update={"version": chat.version + 1}) if chat is not None else None,
                marker,
                chat_id,
                by_marker.pop(marker, None) if marker else None,
            )
            for chat, marker, chat_id in items
        ]
        writes += [TurnWrite(None, None, entry.chat_id, entry) for entry in by_marker.values()]
        writes += [TurnWrite(delivered=marker) for marker in delivered]
        for failure in await self.write_turns(writes):
            if failure is not None:
                raise failure

    async def write_turns(self, writes: Sequence[TurnWrite]) -> list[Exception | None]:
        """Group commit: the turns of many chats in one transaction (one commit, one fsync).

        Each turn has its own savepoint: it writes its chat only over the version it read (else
        `Conflict`) and inserts its event's marker (already there: `AlreadyProcessed`), together with
        its replies for the outbox; a turn that fails leaves the others in the commit. Returns, per
        write, None or the exception that turn failed with."""
        now = datetime.now(UTC)
        failures: list[Exception | None] = []
        async with self._engine.begin() as connection:
            dialect = connection.dialect.name
            for write in writes:
                try:
                    async with connection.begin_nested():
                        await self._write_turn(connection, dialect, write, now)
                    failures.append(None)
                except (Conflict, AlreadyProcessed) as failure:
                    failures.append(failure)
                except IntegrityError:
                    failures.append(AlreadyProcessed(f"{write.marker}"))
        return failures

    async def _write_turn(self, connection: AsyncConnection, dialect: str, write: TurnWrite, now: datetime) -> None:
        chat = write.chat
        if chat is not None:
            head = chat.model_copy(update={"sessions": {}}).model_dump_json()
            values = {"is_group": chat.is_group, "state": head, "updated_at": now, "version": chat.version}
            updated = await connection.execute(
                update(ChatRow).where(ChatRow.id == chat.id, ChatRow.version == chat.version - 1).values(**values)
            )
            if not updated.rowcount:
                inserted = await connection.execute(
                    _insert(dialect, ChatRow.__table__).on_conflict_do_nothing(index_elements=["id"]),
                    [{"id": chat.id, **values}],
                )
                if not inserted.rowcount or chat.version != 1:
                    raise Conflict(chat.id)
            sessions = [
                {
                    "chat_id": chat.id,
                    "id": session.id,
                    "vraagstuk": session.vraagstuk,
                    "state": session.model_dump_json(),
                    "created_at": session.created_at,
                    "updated_at": session.updated_at,
                }
                for session in chat.sessions.values()
            ]
            if sessions:
                await connection.execute(_upsert(dialect, SessionRow.__table__, ("chat_id", "id")), sessions)
        if write.marker is not None:
            await connection.execute(
                insert(ProcessedEventRow),
                [
                    {
                        "source": write.marker.source,
                        "event_id": write.marker.event_id,
                        "chat_id": chat.id if chat is not None else write.chat_id,
                        "processed_at": now,
                    }
                ],
            )
        if write.outbox is not None:
            entry = write.outbox
            await connection.execute(
                _upsert(dialect, OutboxRow.__table__, ("source", "event_id")),
                [
                    {
                        "source": entry.marker.source,
                        "event_id": entry.marker.event_id,
                        "chat_id": entry.chat_id,
                        "actions": entry.actions,
                        "created_at": now,
                    }
                ],
            )
        if write.delivered is not None:
            await connection.execute(
                delete(OutboxRow).where(
                    OutboxRow.source == write.delivered.source, OutboxRow.event_id == write.delivered.event_id
                )
            )

    # ----------------------------------------------------------------- outbox

    async def drop_outbox(self, chat_id: str, *, keep: EventKey | None = None) -> int:
        """Remove the chat's undelivered replies (but `keep`'s): after /vergeet they may quote the person."""
        query = delete(OutboxRow).where(OutboxRow.chat_id == chat_id)
        if keep is not None:
            query = query.where(~((OutboxRow.source == keep.source) & (OutboxRow.event_id == keep.event_id)))
        async with self._sessions.begin() as db:
            result = await db.execute(query)
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def undelivered(self, source: str, chat_id: str | None = None) -> list[OutboxEntry]:
        """Replies still to be delivered (of one chat, or of all), per chat in the order of their events."""
        query = select(OutboxRow).where(OutboxRow.source == source)
        if chat_id is not None:
            query = query.where(OutboxRow.chat_id == chat_id)
        async with self._sessions() as db:
            result = await db.execute(query.order_by(OutboxRow.chat_id, OutboxRow.event_id))
            return [OutboxEntry(EventKey(r.source, r.event_id), r.chat_id, r.actions) for r in result.scalars()]

    # ----------------------------------------------------------------- polls (Telegram)

    async def save_poll(self, poll_id: str, chat_id: str, message_id: int) -> None:
        async with self._sessions.begin() as db:
            await db.merge(
                PollRow(
                    poll_id=poll_id, chat_id=chat_id, message_id=message_id, created_at=datetime.now(UTC), closed=False
                )
            )

    async def find_poll(self, poll_id: str) -> PollRef | None:
        async with self._sessions() as db:
            row = await db.get(PollRow, poll_id)
            return None if row is None else PollRef(row.poll_id, row.chat_id, row.message_id, row.closed)

    async def open_polls(self, chat_id: str) -> list[PollRef]:
        """The chat's polls that were not closed yet, newest first."""
        async with self._sessions() as db:
            result = await db.execute(
                select(PollRow)
                .where(PollRow.chat_id == chat_id, PollRow.closed.is_(False))
                .order_by(PollRow.created_at.desc())
            )
            return [PollRef(r.poll_id, r.chat_id, r.message_id, r.closed) for r in result.scalars()]

    async def close_poll(self, poll_id: str) -> None:
        async with self._sessions.begin() as db:
            await db.execute(update(PollRow).where(PollRow.poll_id == poll_id).values(closed=True))

    async def move_polls(self, old_id: str, new_id: str) -> None:
        """Polls follow their chat to its new id (see `move_chat`)."""
        async with self._sessions.begin() as db:
            await db.execute(update(PollRow).where(PollRow.chat_id == old_id).values(chat_id=new_id))


def _insert(dialect: str, table: Any) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (SQLite, PostgreSQL)."""
    from sqlalchemy.dialects import postgresql, sqlite

    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise StoreError(f"Database {dialect} wordt niet ondersteund.")  # pragma: no cover


def _upsert(dialect: str, table: Any, keys: tuple[str, ...]) -> Executable:
    """INSERT ... ON CONFLICT DO UPDATE (SQLite, PostgreSQL); markers and outbox rows are only inserted once."""
    statement: Any = _insert(dialect, table)
    if table.name in (ProcessedEventRow.__tablename__, OutboxRow.__tablename__):
        return statement.on_conflict_do_nothing(index_elements=list(keys))
    updates = {column.name: statement.excluded[column.name] for column in table.columns if column.name not in keys}
    return statement.on_conflict_do_update(index_elements=list(keys), set_=updates)
