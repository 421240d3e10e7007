"""`kompas telegram` as a real process: killed with SIGKILL mid-delivery, restarted, nothing lost or doubled,
and the reply that was cut off sent after the restart (from the outbox)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.store import Store

from .telegram_fake import TOKEN, FakeBotApi, private, user

KOMPAS = Path(sys.executable).with_name("kompas")
FATIMA = user(1001, "Fatima")


async def _start(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        str(KOMPAS), "telegram", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )


async def _wait_for(condition: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError
        await asyncio.sleep(0.02)


@pytest.mark.skipif(not KOMPAS.exists(), reason="the kompas command is not installed in this environment")
async def test_sigkill_mid_delivery_then_restart_resumes(tmp_path: Path) -> None:
    api = await FakeBotApi().start()
    home = tmp_path / "home"
    env = {
        **os.environ,
        "KOMPAS_HOME": str(home),
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": api.base_url,
        "KOMPAS_TELEGRAM_POLL_TIMEOUT": "2",
    }
    env.pop("KOMPAS_DATABASE_URL", None)
    me = private(FATIMA)
    first = await _start(env)
    try:
        await api.wait_confirmed(api.text(me, FATIMA, "/kompas mantelzorg"), timeout=30)

        # The answer is stored, then the bot hangs while answering, and is killed right there.
        api.hang("sendMessage")
        before = len(api.calls)
        answered = api.text(me, FATIMA, "Zorgen voor een naaste")
        await _wait_for(lambda: any(c.method == "sendMessage" for c in api.calls[before:]))
        cut_off = next(c for c in api.calls[before:] if c.method == "sendMessage").params["text"]
        first.send_signal(signal.SIGKILL)
        await first.wait()
        assert api.confirmed <= answered  # Telegram would deliver this update again
    finally:
        if first.returncode is None:
            first.kill()
            await first.wait()
        api.release("sendMessage")

    def attempts() -> int:
        return sum(1 for c in api.calls if c.method == "sendMessage" and c.params["text"] == cut_off)

    restarted = len(api.calls)
    second = await _start(env)
    try:
        await _wait_for(lambda: attempts() == 2)  # sent again at start, before new updates are fetched
        overview_id = api.text(me, FATIMA, "/overzicht")
        await api.wait_confirmed(overview_id, timeout=30)
        later = [c.method for c in api.calls[restarted:]]
        assert later.index("sendMessage") < later.index("getUpdates")
        overview = api.texts(me["id"])[-1]
        assert overview.count("Zorgen voor een naaste") == 1
        await api.wait_confirmed(api.text(me, FATIMA, "/volgende"), timeout=10)
        signs = api.text(me, FATIMA, "Mantelzorgers melden zich niet")
        await api.wait_confirmed(signs, timeout=10)
        second.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(second.communicate(), 15)
        assert second.returncode == 0
        log = stderr.decode()
        assert "Traceback" not in log and TOKEN not in log and TOKEN.split(":")[1] not in log
        assert attempts() == 2  # and only then: its outbox row was cleared
    finally:
        if second.returncode is None:
            second.kill()
            await second.wait()
        await api.stop()

    store = await Store.open(f"sqlite+aiosqlite:///{home / 'kompas.db'}")
    try:
        chat = await store.load_chat(str(me["id"]))
    finally:
        await store.close()
    assert chat is not None and chat.session is not None
    session = chat.session
    assert [c.text for c in session.contributions] == ["Zorgen voor een naaste", "Mantelzorgers melden zich niet"]
    assert session.answer("betekenis").agreed == "Zorgen voor een naaste"
    assert session.live("signalen")[0].author_name == "Fatima"


@pytest.mark.parametrize(
    ("token", "expected"),
    [("", "TELEGRAM_BOT_TOKEN ontbreekt"), ("dit-is-geen-token", "ziet er niet uit als een bottoken")],
)
def test_cli_explains_a_bad_token_in_dutch(token: str, expected: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", token)
    result = CliRunner().invoke(app, ["telegram"])
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert result.exit_code == 2
    assert expected in output and "Traceback" not in output
    assert not token or token not in output
