"""Personal data on disk is private whatever the umask: the data folder 0700; the database,
its WAL/SHM and exports 0600. Exports: an issue with "/" by its name, a too-long -o name."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.compass import Chat
from bot.config import Settings, prepare_database_file, private_dir, write_private_file
from bot.engine import Actor, Engine, Text
from bot.store import Store

from .conftest import Clock

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
ALICE = Actor("1", "Alice")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The usual umask (022) or a careless one (000): the modes must not depend on it."""
    previous = os.umask(0o000)
    try:
        yield
    finally:
        os.umask(previous)


async def _compass(settings: Settings, engine: Engine, clock: Clock, issue: str) -> None:
    settings.ensure_home()
    store = await Store.open(settings.effective_database_url)
    try:
        chat = await store.load_chat("terminal") or Chat(id="terminal", is_group=False)
        for text in (f"/kompas {issue}", "Inwoners met schulden vragen eerder hulp."):
            outcome = engine.handle(chat, Text(actor=ALICE, text=text, at=clock()))
            chat = outcome.chat
        await store.save_chat(chat)
    finally:
        await store.close()


async def test_home_database_wal_and_shm_are_private(
    tmp_path: Path, engine: Engine, clock: Clock, open_umask: None
) -> None:
    settings = Settings(home=tmp_path / "nieuw" / "kompas")
    await _compass(settings, engine, clock, "armoede")
    assert _mode(settings.home) == 0o700
    database = settings.home / "kompas.db"
    store = await Store.open(settings.effective_database_url)  # open: the WAL and SHM exist now
    try:
        await store.list_sessions()
        files = [database, *(database.with_name(database.name + s) for s in ("-wal", "-shm"))]
        present = [f for f in files if f.exists()]
        assert database in present and len(present) >= 2
        assert {f.name: _mode(f) for f in present} == {f.name: 0o600 for f in present}
    finally:
        await store.close()


def test_existing_wide_home_and_database_are_tightened(tmp_path: Path) -> None:
    home = tmp_path / "oud"
    home.mkdir()
    home.chmod(0o755)
    database = home / "kompas.db"
    database.write_bytes(b"")
    database.chmod(0o644)
    (home / "kompas.db-wal").write_bytes(b"")
    (home / "kompas.db-wal").chmod(0o644)
    Settings(home=home).ensure_home()
    assert _mode(home) == 0o700 and _mode(database) == 0o600 and _mode(home / "kompas.db-wal") == 0o600


def test_helpers(tmp_path: Path, open_umask: None) -> None:
    assert _mode(private_dir(tmp_path / "a" / "b")) == 0o700
    target = tmp_path / "uit.pdf"
    target.write_bytes(b"oud")
    target.chmod(0o666)
    write_private_file(target, b"nieuw")
    assert target.read_bytes() == b"nieuw" and _mode(target) == 0o600
    assert prepare_database_file("postgresql+asyncpg://u:p@localhost/kompas") is None
    assert prepare_database_file("sqlite+aiosqlite:///:memory:") is None
    made = prepare_database_file(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    assert made == tmp_path / "x.db" and _mode(made) == 0o600


async def test_exports_are_private(
    tmp_path: Path, engine: Engine, clock: Clock, open_umask: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.document.export import console_exporter, export_session
    from bot.events import Reply
    from bot.flows import load_flow

    settings = Settings(home=tmp_path / "home")
    await _compass(settings, engine, clock, "armoede")
    written = await export_session(settings, "armoede", "md", tmp_path / "kompas.md")
    assert _mode(written) == 0o600
    store = await Store.open(settings.effective_database_url)
    chat = await store.load_chat("terminal")
    await store.close()
    assert chat is not None
    paths = await console_exporter(settings, load_flow())(chat, Reply(text="", export=("md",)))
    assert paths and all(_mode(Path(p)) == 0o600 for p in paths)
    assert _mode(settings.home / "exports") == 0o700


async def test_an_issue_with_a_slash_is_exported_by_its_name(tmp_path: Path, engine: Engine, clock: Clock) -> None:
    from bot.document.export import export_session

    settings = Settings(home=tmp_path / "home")
    await _compass(settings, engine, clock, "armoede/schulden")
    for name in ("armoede/schulden", "Armoede/Schulden", "terminal/armoede-schulden", "armoede-schulden"):
        written = await export_session(settings, name, "json", tmp_path / f"{len(name)}.json")
        assert '"issue": "armoede/schulden"' in written.read_text("utf-8"), name


def test_a_too_long_output_name_gets_a_clear_dutch_message(
    tmp_path: Path, engine: Engine, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from bot.cli import app

    settings = Settings(home=tmp_path / "home")
    asyncio.run(_compass(settings, engine, clock, "armoede"))
    monkeypatch.setenv("KOMPAS_HOME", str(settings.home))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["export", "armoede", "--formaat", "md", "-o", "k" * 297 + ".md"])
    assert result.exit_code == 2
    assert "de bestandsnaam is te lang (300 tekens; maximaal 255 bytes)" in result.output
    assert "OSError" not in result.output and "Er ging iets mis" not in result.output
    assert not list(tmp_path.glob("k*"))
