"""Options of the Telegram transport and the checks that turn bad configuration into Dutch messages."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

TOKEN_PATTERN = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{30,64}$")
DEFAULT_API_BASE = "https://api.telegram.org/bot"


class TelegramConfigError(Exception):
    """The bot cannot start with this configuration; the message is meant for the operator."""


class TelegramOptions(BaseSettings):
    """`KOMPAS_TELEGRAM_<NAME>` environment variables (or `.env`)."""

    model_config = SettingsConfigDict(
        env_prefix="KOMPAS_TELEGRAM_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    all_messages: bool = Field(
        default=False,
        description="In groups, also count plain messages (not replies) as answers while a question is open. "
        "Only works when the bot can read all group messages (privacy mode off, or bot is admin).",
    )
    rate_limit: bool = Field(default=True, description="Throttle to Telegram's limits (AIORateLimiter).")
    poll_timeout: int = Field(default=30, ge=0, le=50, description="Long-polling timeout in seconds.")
    admin_cache_seconds: float = Field(default=60.0, ge=0, description="How long a chat's administrators are cached.")
    webhook_secret: SecretStr | None = Field(
        default=None,
        description="Secret for webhook calls; if unset, derived from the token (the same in every instance).",
    )
    webhook_listen: str = Field(
        default="0.0.0.0",
        description="Address the webhook server listens on; 127.0.0.1 (or ::1) behind a proxy on the same machine.",
    )
    conflict_window: float = Field(
        default=10.0,
        ge=0,
        description="Long polling: a 409 Conflict (another process polls the same token) before the first answer "
        "or within this many seconds of the start means this process is the second one: it stops.",
    )
    http_attempts: int = Field(default=4, ge=1, le=10, description="Attempts per API call on 5xx and network errors.")
    max_concurrent_chats: int = Field(default=64, ge=1, description="Chats processed at the same time.")
    connections: int = Field(default=32, ge=1, le=512, description="HTTP connections to the Bot API server.")
    read_timeout: float = Field(default=20.0, gt=0, description="Seconds to wait for an answer of the Bot API.")
    retention_interval: float = Field(
        default=86_400.0, gt=0, description="Seconds between two runs of the retention (KOMPAS_RETENTION_DAYS)."
    )
    redelivery_interval: float = Field(
        default=5.0, gt=0, description="Seconds between two attempts to send replies whose delivery failed."
    )


def webhook_secret_for(token: str) -> str:
    """A webhook secret derived from the bot token: every instance of one bot computes the same one, so
    instances behind a load balancer accept each other's `setWebhook` (a random secret per start would
    make the last instance to start the only one Telegram's calls get through to). Telegram allows
    1-256 characters A-Z, a-z, 0-9, _ and -."""
    digest = hmac.new(token.encode("utf-8"), b"kompasbot-webhook-secret", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def check_token(token: SecretStr | None) -> str:
    """The token as a string, or a Dutch explanation of what is wrong (never echoing the token)."""
    if token is None or not token.get_secret_value().strip():
        raise TelegramConfigError(
            "TELEGRAM_BOT_TOKEN ontbreekt. Maak een bot aan bij @BotFather in Telegram en zet het token in de "
            "omgevingsvariabele TELEGRAM_BOT_TOKEN (of in een bestand .env)."
        )
    value = token.get_secret_value().strip()
    if not TOKEN_PATTERN.match(value):
        raise TelegramConfigError(
            "TELEGRAM_BOT_TOKEN ziet er niet uit als een bottoken. Een token heeft de vorm "
            "123456789:ABC-def... (cijfers, een dubbele punt en een lange code). Kopieer het opnieuw van @BotFather."
        )
    return value


def api_base_url(configured: str | None) -> str:
    """PTB's base_url: the token is appended to it. Accepts `http://host:8081` or `http://host:8081/bot`."""
    if not configured or not configured.strip():
        return DEFAULT_API_BASE
    value = configured.strip().rstrip("/")
    if not re.match(r"^https?://", value):
        raise TelegramConfigError(
            "TELEGRAM_API_BASE_URL moet met http:// of https:// beginnen, bijvoorbeeld http://localhost:8081."
        )
    if "{token}" in value or value.endswith("/bot"):
        return value
    return value + "/bot"


def file_base_url(base_url: str) -> str:
    """The matching file URL (`.../file/bot<token>`) for a Bot API server."""
    if base_url.endswith("/bot"):
        return base_url[: -len("/bot")] + "/file/bot"
    return base_url
