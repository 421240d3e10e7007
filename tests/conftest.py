"""Shared fixtures: the real content files, an engine over them, and a clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.engine import Engine
from bot.flows import Flow, Texts, Themes, load_flow, load_texts, load_themes

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
