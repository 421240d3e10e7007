"""The webhook's secret header: anything that is not the secret is a 403, never a 500."""

from __future__ import annotations

import asyncio
import json
import logging
import socket

import pytest

from bot.config import Settings
from bot.telegram.runner import TelegramBot
from bot.telegram.settings import TelegramOptions

from .telegram_fake import TOKEN, FakeBotApi, private, user
from .telegram_harness import FakeKnowledge, fake_exporter

DEWI = user(301, "Dewi")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _post(port: int, secret_header: bytes, body: bytes) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = (
        b"POST /tg/hook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"X-Telegram-Bot-Api-Secret-Token: " + secret_header + b"\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
    )
    writer.write(request)
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    await writer.wait_closed()
    return int(status_line.split()[1])


async def test_a_non_ascii_secret_header_is_refused_with_403(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    api = await FakeBotApi().start()
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", api.base_url)
    options = TelegramOptions(rate_limit=False, webhook_secret="geheim-123")  # type: ignore[arg-type]
    bot = await TelegramBot.open(Settings(), options, knowledge=FakeKnowledge(), exporter=fake_exporter)
    stop = asyncio.Event()
    port = _free_port()
    caplog.set_level(logging.ERROR)
    task = asyncio.create_task(bot.run_webhook("https://kompas.example.nl/tg/hook", port, stop, listen="127.0.0.1"))
    try:
        while not api.sent("setWebhook"):  # wait for the event: the webhook is registered
            await asyncio.sleep(0.01)
        uid = api.text(private(DEWI), DEWI, "/kompas eenzaamheid")
        body = json.dumps(api.history[uid]).encode()
        api.updates.clear()
        for header in ("gé-heim".encode(), b"\xff\xfegeheim", "geheim-123é".encode(), b"geheim-12"):
            assert await _post(port, header, body) == 403, header
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert not [t for t in api.texts(DEWI["id"]) if "Nieuw kompas gestart" in t]
        assert await _post(port, b"geheim-123", body) == 200  # the real secret still works
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await bot.close()
        await api.stop()
