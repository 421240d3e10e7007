"""The bot token, API keys and database passwords never appear in logs, errors or messages.

Every logger is captured at DEBUG (the bot's, telegram/PTB, httpx, aiohttp, sqlalchemy, asyncio,
langchain), tracebacks included, over a run that goes wrong in every way we can make it: a token
Telegram refuses, 5xx answers, dropped connections and timeouts, a database URL with a password
that cannot connect, a language model whose key is refused (and whose refusal quotes the key).
The `kompas telegram` command itself is checked too (its terminal output).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import Settings
from bot.llm import LLMService, load_prompts
from bot.store import Store, StoreError
from bot.telegram.runner import TelegramBot
from bot.telegram.settings import TelegramConfigError, TelegramOptions

from .llm_fake import FakeLLMEndpoint, HttpChatModel
from .telegram_fake import TOKEN, FakeBotApi, group, private, user
from .telegram_harness import StartBot, texts_of

DB_PASSWORD = "pg-geheim-7788"
LLM_KEY = "sk-live-geheim-1234567890"
SECRETS = (TOKEN, TOKEN.split(":", 1)[1], DB_PASSWORD, LLM_KEY)
DB_URL = f"postgresql+asyncpg://kompas:{DB_PASSWORD}@127.0.0.1:1/kompas"
LOGGERS = ("", "bot", "telegram", "telegram.ext", "httpx", "httpcore", "aiohttp", "asyncio", "sqlalchemy", "langchain")
FATIMA, PIETER = user(1001, "Fatima"), user(1002, "Pieter")
TEAM = group(-4401, "Geheimteam")


class Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))  # with the traceback, as a log file would have it

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def everything() -> Iterator[Everything]:
    handler = Everything()
    loggers = [logging.getLogger(name) for name in LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(handler)
    try:
        yield handler
    finally:
        logging.getLogger().removeHandler(handler)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def assert_clean(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"secret found: ...{text[max(0, text.find(secret) - 200) :][:400]}"


async def test_no_secret_in_logs_errors_or_messages(
    start_bot: StartBot, everything: Everything, monkeypatch: pytest.MonkeyPatch
) -> None:
    errors: list[str] = []

    # A token Telegram does not know.
    refusing = await FakeBotApi(token="999:" + "B" * 35).start()
    try:
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
        monkeypatch.setenv("TELEGRAM_API_BASE_URL", refusing.base_url)
        with pytest.raises(TelegramConfigError) as refused:
            await TelegramBot.open(Settings(), TelegramOptions(rate_limit=False))
        errors.append(repr(refused.value))
    finally:
        await refusing.stop()

    # A database that cannot be reached, with a password in its URL.
    with pytest.raises(StoreError) as unreachable:
        await Store.open(DB_URL)
    errors += [str(unreachable.value), repr(unreachable.value.__cause__)]
    api = await FakeBotApi().start()
    try:
        monkeypatch.setenv("TELEGRAM_API_BASE_URL", api.base_url)
        with pytest.raises(StoreError) as at_start:
            await TelegramBot.open(Settings(database_url=DB_URL), TelegramOptions(rate_limit=False))
        errors.append(str(at_start.value))
    finally:
        await api.stop()

    # A configured model whose provider is missing, with a key and credentials in its URL.
    monkeypatch.setenv("OPENAI_API_KEY", LLM_KEY)
    from bot.app import open_llm

    assert open_llm(Settings(llm="openai:gpt-4o-mini", llm_base_url=f"http://u:{LLM_KEY}@127.0.0.1:1/v1")) is None

    # A running bot through every kind of fault, and a model that refuses its key.
    endpoint = await FakeLLMEndpoint(key="sk-the-right-one").start()
    try:
        h = await start_bot(options={"read_timeout": 2.0, "http_attempts": 2, "poll_timeout": 0})
        for name in LOGGERS:  # the bot quietens httpx on start; look at everything anyway
            logging.getLogger(name).setLevel(logging.DEBUG)
        h.bot.kompas.service.use_llm(
            LLMService(HttpChatModel(url=endpoint.url, api_key=LLM_KEY), load_prompts(), timeout=2)
        )
        api = h.api
        await h.say(TEAM, FATIMA, "/kompas eenzaamheid")
        api.fail("getUpdates", 502)
        api.drop("getUpdates")
        api.fail("setMessageReaction", 500, times=2)  # fails for good: reported in the chat
        await h.answer(TEAM, PIETER, "Geen contact hebben")
        api.stall("sendMessage")  # never answered: the read timeout fires, however loaded the machine
        api.drop("sendMessage")
        await h.say(TEAM, FATIMA, "/overzicht")  # both attempts fail: reported as failed
        said = texts_of(await h.say(TEAM, FATIMA, "/voorstel"))
        assert "Het taalmodel gaf nu geen bruikbaar antwoord" in said
        await h.say(private(PIETER), PIETER, "/mijngegevens")
        errors += [repr(e) for e in h.bot.bridge.errors]
        h.bot.bridge.errors.clear()
        sent = [str(c.params) for c in api.calls]
    finally:
        await endpoint.stop()

    assert "Telegram" in everything.text and "Traceback" in everything.text  # it did log, failures included
    assert "<TOKEN>" in everything.text or TOKEN not in everything.text
    assert_clean(everything.text, *errors, *sent)


@pytest.mark.skipif(not Path(sys.executable).with_name("kompas").exists(), reason="kompas is not installed here")
async def test_the_command_prints_no_secret(tmp_path: Path) -> None:
    api = await FakeBotApi().start()
    kompas = str(Path(sys.executable).with_name("kompas"))
    base = {
        **os.environ,
        "KOMPAS_HOME": str(tmp_path),
        "TELEGRAM_API_BASE_URL": api.base_url,
        "KOMPAS_EMBEDDINGS": "none",
        "OPENAI_API_KEY": LLM_KEY,
        "KOMPAS_LLM": "openai:gpt-4o-mini",
    }
    runs = [
        {"TELEGRAM_BOT_TOKEN": TOKEN, "KOMPAS_DATABASE_URL": DB_URL},  # the database refuses
        {"TELEGRAM_BOT_TOKEN": "999:" + TOKEN.split(":")[1]},  # Telegram refuses the token
        {"TELEGRAM_BOT_TOKEN": TOKEN.replace(":", "")},  # not a token at all
    ]
    try:
        for extra in runs:
            process = await asyncio.create_subprocess_exec(
                kompas,
                "telegram",
                env={**base, **extra},
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(process.communicate(), 60)
            output = (out + err).decode()
            assert process.returncode == 2, output
            assert "Traceback" not in output
            assert_clean(output)
            secret_part = extra["TELEGRAM_BOT_TOKEN"].split(":")[-1]
            assert secret_part not in output
    finally:
        await api.stop()
