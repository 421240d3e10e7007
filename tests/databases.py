"""Databases for tests: SQLite by default, and a real PostgreSQL when KOMPAS_TEST_DATABASE_URL is set.

`.ci/run` starts a private PostgreSQL cluster and sets `KOMPAS_TEST_DATABASE_URL` to an (empty) database
on it, e.g. `postgresql+asyncpg://kompas@127.0.0.1:5433/kompas_test`. Tests never use that database
itself: `fresh_postgres_database` creates a uniquely named database next to it (the role needs CREATEDB)
and drops it afterwards, so every test starts from nothing and tests may run in parallel.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.engine import URL, make_url

TEST_DATABASE_ENV = "KOMPAS_TEST_DATABASE_URL"


def postgres_base_url() -> str | None:
    """The PostgreSQL to test on, or None (then the PostgreSQL variants are not generated)."""
    value = os.environ.get(TEST_DATABASE_ENV, "").strip()
    return value or None


def backends() -> list[str]:
    """The databases the store tests run on: always "sqlite", and "postgresql" when it is configured."""
    return ["sqlite", "postgresql"] if postgres_base_url() else ["sqlite"]


def sqlite_url(folder: Path, name: str = "kompas.db") -> str:
    return f"sqlite+aiosqlite:///{folder / name}"


def _asyncpg_dsn(url: URL) -> str:
    """asyncpg wants a plain `postgresql://` DSN."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@asynccontextmanager
async def fresh_postgres_database(base_url: str | None = None, *, prefix: str = "kompas_t") -> AsyncIterator[str]:
    """A new, empty PostgreSQL database on the server of `base_url` (default: KOMPAS_TEST_DATABASE_URL).

    Yields its SQLAlchemy URL (same driver, user and password as `base_url`); the database is dropped
    when the block ends, with `WITH (FORCE)` so connections a test left open do not keep it.
    """
    import asyncpg

    base = make_url(base_url or postgres_base_url() or "")
    if base.get_backend_name() != "postgresql":
        raise ValueError(f"{TEST_DATABASE_ENV} must be a postgresql URL")
    name = f"{prefix}_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(_asyncpg_dsn(base))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        admin = await asyncpg.connect(_asyncpg_dsn(base))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
