"""Shared fixtures: the real content files, an engine over them, and a clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.engine import Engine
from bot.flows import Flow, Texts, Themes, load_flow, load_texts, load_themes

from .databases import backends, fresh_postgres_database, postgres_base_url, sqlite_url
from .telegram_harness import start_bot  # noqa: F401  (the fixture of the Telegram tests)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def flow() -> Flow:
    return load_flow()


@pytest.fixture(scope="session")
def texts() -> Texts:
    return load_texts()


@pytest.fixture(scope="session")
def themes() -> Themes:
    return load_themes()


@pytest.fixture
def engine(flow: Flow, texts: Texts, themes: Themes) -> Engine:
    return Engine(flow, texts, themes=themes)


class Clock:
    """Deterministic timestamps: every call is one second later."""

    def __init__(self) -> None:
        self._now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self._now += timedelta(seconds=1)
        return self._now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test may touch the real per-user data folder."""
    monkeypatch.setenv("KOMPAS_HOME", str(tmp_path_factory.mktemp("kompas_home")))
    monkeypatch.delenv("KOMPAS_DATABASE_URL", raising=False)
    yield


@pytest.fixture(params=backends())
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database for one test: a SQLite file in `tmp_path`, and (a second run of the
    test) a new PostgreSQL database when KOMPAS_TEST_DATABASE_URL is set (see tests/databases.py).

    Use it instead of a hand-made SQLite URL: `async def test_x(database_url: str)`. The test id says
    which one runs: `test_x[sqlite]`, `test_x[postgresql]`. The database is empty (no schema):
    `Store.open(database_url)` migrates it. For a subprocess, pass it as KOMPAS_DATABASE_URL.
    """
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    async with fresh_postgres_database() as url:
        yield url


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh PostgreSQL database (as `database_url`), for tests that only make sense on PostgreSQL;
    skipped when KOMPAS_TEST_DATABASE_URL is not set."""
    if postgres_base_url() is None:
        pytest.skip("KOMPAS_TEST_DATABASE_URL is not set (see .ci/run)")
    async with fresh_postgres_database() as url:
        yield url
