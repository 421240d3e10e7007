"""One bot per SQLite file and one long poller per token; the webhook is the mode for several processes.

- a second `kompas telegram` on the same SQLite file is refused (an OS file lock), while `kompas sessies`
  and `kompas export` keep working beside the running bot;
- a second poller on the same token (Telegram: 409 Conflict) stops with a Dutch message, and the first
  goes on;
- the webhook listens where it is told (`--listen`), checks the secret token on every request (as bytes:
  a non-ASCII header is refused, not a crash), and instances without a configured secret share one.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from bot.config import Settings
from bot.process_lock import ProcessLockError, hold_bot_lock, lock_path, sqlite_file
from bot.telegram.runner import TelegramBot
from bot.telegram.settings import TelegramConfigError, TelegramOptions, webhook_secret_for

from .telegram_fake import TOKEN, FakeBotApi, private, user
from .telegram_harness import FakeKnowledge, StartBot, fake_exporter

KOMPAS = Path(sys.executable).with_name("kompas")
FATIMA = user(1001, "Fatima")
PIETER = user(1002, "Pieter")


# ---- the lock itself ----------------------------------------------------------------------------


def test_the_lock_is_only_for_sqlite_files(tmp_path: Path) -> None:
    assert sqlite_file(f"sqlite+aiosqlite:///{tmp_path / 'kompas.db'}") == (tmp_path / "kompas.db").resolve()
    assert sqlite_file("sqlite+aiosqlite://") is None
    assert sqlite_file("sqlite+aiosqlite:///:memory:") is None
    assert sqlite_file("postgresql+asyncpg://kompas@localhost/kompas") is None
    with hold_bot_lock("postgresql+asyncpg://kompas@localhost/kompas") as held:
        assert held is None


HOLDER = """
import sys
from bot.process_lock import hold_bot_lock
with hold_bot_lock(sys.argv[1]):
    print("vast", flush=True)
    sys.stdin.readline()
"""


async def test_a_second_process_is_refused_and_the_lock_goes_with_the_process(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'kompas.db'}"
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLDER, url, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    assert holder.stdout is not None and holder.stdin is not None
    try:
        assert (await holder.stdout.readline()).strip() == b"vast"
        with pytest.raises(ProcessLockError) as refused, hold_bot_lock(url):
            pass
        message = str(refused.value)
        assert "Er draait al een Kompasbot" in message and f"proces {holder.pid}" in message
        assert "PostgreSQL" in message and "kompas export" in message
    finally:
        holder.kill()  # like a crash: the OS drops the lock, nothing stale is left behind
        await holder.wait()
    with hold_bot_lock(url) as held:
        assert held == lock_path((tmp_path / "kompas.db").resolve())
        with hold_bot_lock(url):  # re-entrant within one process (CLI and runner both hold it)
            pass
        assert held.read_text().strip() == str(os.getpid())


# ---- two real `kompas telegram` processes on one SQLite file ------------------------------------


@pytest.mark.skipif(not KOMPAS.exists(), reason="the kompas command is not installed in this environment")
async def test_a_second_kompas_telegram_on_the_same_file_is_refused_cli_commands_still_work(tmp_path: Path) -> None:
    api = await FakeBotApi().start()
    env = {
        **os.environ,
        "KOMPAS_HOME": str(tmp_path / "home"),
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": api.base_url,
        "KOMPAS_TELEGRAM_POLL_TIMEOUT": "2",
    }
    env.pop("KOMPAS_DATABASE_URL", None)
    pipe = asyncio.subprocess.PIPE
    first = await asyncio.create_subprocess_exec(str(KOMPAS), "telegram", env=env, stdout=pipe, stderr=pipe)
    try:
        me = private(FATIMA)
        await api.wait_confirmed(api.text(me, FATIMA, "/kompas mantelzorg"), timeout=60)
        await api.wait_confirmed(api.text(me, FATIMA, "Zorgen voor een naaste"), timeout=30)

        second = await asyncio.create_subprocess_exec(str(KOMPAS), "telegram", env=env, stdout=pipe, stderr=pipe)
        out, err = await second.communicate()
        output = (out + err).decode()
        assert second.returncode == 2, output
        assert "Er draait al een Kompasbot op de database" in output and "Traceback" not in output
        assert f"proces {first.pid}" in output

        for command in (["sessies"], ["export", "mantelzorg", "--formaat", "md", "-o", str(tmp_path / "k.md")]):
            beside = await asyncio.create_subprocess_exec(str(KOMPAS), *command, env=env, stdout=pipe, stderr=pipe)
            out, err = await beside.communicate()
            assert beside.returncode == 0, (command, (out + err).decode())
        assert "Zorgen voor een naaste" in (tmp_path / "k.md").read_text(encoding="utf-8")

        # The first bot is still the one answering.
        await api.wait_confirmed(api.text(me, FATIMA, "/overzicht"), timeout=30)
        assert first.returncode is None
    finally:
        if first.returncode is None:
            first.terminate()
            await first.communicate()
        await api.stop()
    assert first.returncode == 0


# ---- two pollers on one token -------------------------------------------------------------------


async def test_a_second_poller_on_the_same_token_stops_with_a_message(start_bot: StartBot, tmp_path: Path) -> None:
    # The running bot is past its start-up window (0 s): a 409 means someone else came, and it goes on.
    first = await start_bot(options={"conflict_window": 0.0, "poll_timeout": 5})
    api = first.api
    me = private(FATIMA)
    await first.say(me, FATIMA, "/kompas armoede")

    # Another machine (another KOMPAS_HOME, think PostgreSQL) starts polling the same token.
    second = await start_bot(api=api, settings={"home": tmp_path / "tweede"})
    with pytest.raises(TelegramConfigError) as refused:
        await second.task
    assert "409 Conflict" in str(refused.value) and "webhook" in str(refused.value)
    assert api.conflicts >= 2  # the first one's call was ended once, the second one's too

    # The first one still answers.
    calls = await first.say(me, FATIMA, "/overzicht")
    assert any(c.method == "sendMessage" for c in calls)
    assert not first.task.done()


# ---- the webhook --------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _wait_for_webhook(api: FakeBotApi, count: int = 1) -> None:
    while len(api.sent("setWebhook")) < count:
        await asyncio.sleep(0.02)


async def test_webhook_listens_on_loopback_and_checks_the_secret_on_every_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api = await FakeBotApi().start()
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", api.base_url)
    monkeypatch.setenv("KOMPAS_TELEGRAM_WEBHOOK_LISTEN", "127.0.0.1")
    bot = await TelegramBot.open(
        Settings(), TelegramOptions(rate_limit=False), knowledge=FakeKnowledge(), exporter=fake_exporter
    )
    stop = asyncio.Event()
    port = _free_port()
    task = asyncio.create_task(bot.run_webhook("https://kompas.example.nl/hook", port, stop))
    try:
        await _wait_for_webhook(api)
        secret = api.sent("setWebhook")[0].params["secret_token"]
        assert secret == webhook_secret_for(TOKEN)  # not configured: derived from the token
        assert 1 <= len(secret) <= 256 and secret.replace("-", "").replace("_", "").isalnum()
        assert _accepts("127.0.0.1", port)
        outside = _outside_address()
        if outside is not None:  # bound to loopback only: not reachable on the machine's own address
            assert not _accepts(outside, port)

        me = private(PIETER)
        update = api.history[api.text(me, PIETER, "/kompas eenzaamheid")]
        api.updates.clear()
        url = f"http://127.0.0.1:{port}/hook"
        async with aiohttp.ClientSession() as client:
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "fout"}, {"X-Telegram-Bot-Api-Secret-Token": ""}):
                async with client.post(url, json=update, headers=headers) as response:
                    assert response.status == 403
            # A header that is not ASCII: refused, not a 500.
            raw = {"X-Telegram-Bot-Api-Secret-Token": "gehéim€".encode().decode("latin-1")}
            async with client.post(url, json=update, headers=raw) as response:
                assert response.status == 403
            assert api.texts(me["id"]) == []
            async with client.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": secret}) as response:
                assert response.status == 200
        assert any("Nieuw kompas gestart" in t for t in api.texts(me["id"]))
        assert bot.bridge.errors == []
    finally:
        stop.set()
        await task
        await bot.close()
        await api.stop()


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=5):
            return True
    except OSError:
        return False


def _outside_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect(("192.0.2.1", 9))  # no packet is sent for UDP connect
            address = sock.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") else address


async def test_two_webhook_instances_without_a_configured_secret_accept_the_same_calls(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    api = await FakeBotApi().start()
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", api.base_url)
    bots, tasks, ports = [], [], []
    stop = asyncio.Event()
    try:
        for number in range(2):
            bot = await TelegramBot.open(
                Settings(home=tmp_path / f"instance{number}"),
                TelegramOptions(rate_limit=False),
                knowledge=FakeKnowledge(),
                exporter=fake_exporter,
            )
            bots.append(bot)
            ports.append(_free_port())
            tasks.append(
                asyncio.create_task(
                    bot.run_webhook("https://kompas.example.nl/hook", ports[-1], stop, listen="127.0.0.1")
                )
            )
            await _wait_for_webhook(api, number + 1)
        secrets = {c.params["secret_token"] for c in api.sent("setWebhook")}
        assert len(secrets) == 1  # the last setWebhook does not lock the first instance out
        (secret,) = secrets
        async with aiohttp.ClientSession() as client:
            for number, port in enumerate(ports):
                person = user(2000 + number, f"Deelnemer {number}")
                update = api.history[api.text(private(person), person, "/kompas armoede")]
                headers = {"X-Telegram-Bot-Api-Secret-Token": secret}
                async with client.post(f"http://127.0.0.1:{port}/hook", json=update, headers=headers) as response:
                    assert response.status == 200
                assert any("Nieuw kompas gestart" in t for t in api.texts(person["id"]))
    finally:
        stop.set()
        for task in tasks:
            await task
        for bot in bots:
            await bot.close()
        await api.stop()


@pytest.mark.skipif(not KOMPAS.exists(), reason="the kompas command is not installed in this environment")
async def test_kompas_telegram_webhook_listen_from_the_command_line(tmp_path: Path) -> None:
    api = await FakeBotApi().start()
    env = {
        **os.environ,
        "KOMPAS_HOME": str(tmp_path / "home"),
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": api.base_url,
    }
    env.pop("KOMPAS_DATABASE_URL", None)
    port = _free_port()
    pipe = asyncio.subprocess.PIPE
    arguments = [
        "telegram",
        "--webhook",
        "https://kompas.example.nl/hook",
        "--listen",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    bot = await asyncio.create_subprocess_exec(str(KOMPAS), *arguments, env=env, stdout=pipe, stderr=pipe)
    try:
        while not api.sent("setWebhook"):
            assert bot.returncode is None
            await asyncio.sleep(0.05)
        assert api.sent("setWebhook")[0].params["secret_token"] == webhook_secret_for(TOKEN)
        me = private(PIETER)
        update = api.history[api.text(me, PIETER, "/kompas armoede")]
        headers = {"X-Telegram-Bot-Api-Secret-Token": webhook_secret_for(TOKEN)}
        async with (
            aiohttp.ClientSession() as client,
            client.post(f"http://127.0.0.1:{port}/hook", json=update, headers=headers) as response,
        ):
            assert response.status == 200
        assert any("Nieuw kompas gestart" in t for t in api.texts(me["id"]))
    finally:
        if bot.returncode is None:
            bot.terminate()
        _, err = await bot.communicate()
        await api.stop()
    assert bot.returncode == 0, err.decode()
