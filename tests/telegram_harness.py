"""What the Telegram tests share: the running bot against the local Bot API server (`start_bot`).

`start_bot` is a fixture (registered in conftest.py): it starts `TelegramBot` with the real
polling loop, pointed at a `FakeBotApi`; when the test ends it stops every bot and fails the
test if an exception reached the bot's error handler.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from bot.compass import Chat
from bot.config import Settings
from bot.knowledge.search import SearchHit
from bot.telegram.runner import TelegramBot
from bot.telegram.settings import TelegramOptions

from .telegram_fake import TOKEN, Call, FakeBotApi


class FakeKnowledge:
    """Search results only for questions about 'buurtcirkels'; nothing for the in-flow suggestions."""

    def search(self, query: str, k: int = 5, **_: Any) -> list[SearchHit]:
        if "buurtcirkel" not in query.lower():
            return []
        return [
            SearchHit(
                rank=1,
                titel="Buurtcirkels",
                bron="https://www.movisie.nl/interventie/buurtcirkels",
                score=1.0,
                soort="interventie",
                beoordeling="goed onderbouwd",
                fragment="Kleine groepen buurtbewoners die elkaar steunen <en> samen dingen doen.",
            )
        ]


@dataclass(frozen=True)
class FakeFile:
    data: bytes
    filename: str


async def fake_exporter(chat: Chat, fmt: str) -> FakeFile:
    assert chat.session is not None
    return FakeFile(f"{fmt}:{chat.session.vraagstuk}".encode(), f"{chat.session.id}.{fmt}")


@dataclass
class Harness:
    api: FakeBotApi
    bot: TelegramBot
    stop: asyncio.Event
    task: asyncio.Task[None]

    async def deliver(self, update_id: int) -> list[Call]:
        """Wait until the bot processed (and confirmed) the update; the calls it made meanwhile."""
        mark = len(self.api.calls)
        await self.api.wait_confirmed(update_id)
        await self.bot.bridge.idle(timeout=10)  # and the detached work it started (models, exports)
        return [c for c in self.api.calls[mark:] if c.method != "getUpdates"]

    async def say(self, chat: dict[str, Any], person: dict[str, Any], text: str) -> list[Call]:
        return await self.deliver(self.api.text(chat, person, text))

    async def answer(self, chat: dict[str, Any], person: dict[str, Any], text: str) -> list[Call]:
        """A reply to the open question (in a group: a reply to the ForceReply message)."""
        if chat["type"] == "private":
            return await self.say(chat, person, text)
        return await self.deliver(self.api.reply(chat, person, text))

    async def press(self, chat: dict[str, Any], person: dict[str, Any], label: str) -> list[Call]:
        message = self.api.last_keyboard(chat["id"])
        data = self.api.button(message, label)
        return await self.deliver(self.api.press(chat, person, message["message_id"], data))

    async def chat(self, chat: dict[str, Any]) -> Chat:
        state = await self.bot.kompas.store.load_chat(str(chat["id"]))
        assert state is not None
        return state

    async def where(self, chat: dict[str, Any]) -> tuple[int, str, str]:
        state = await self.chat(chat)
        session = state.session
        assert session is not None
        question = self.bot.kompas.flow.step(session.step).vragen[session.question_index]
        return session.step, question.sleutel, session.phase


def texts_of(calls: list[Call]) -> str:
    return "\n".join(str(c.params.get("text", "")) for c in calls)


StartBot = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def start_bot(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[StartBot]:
    running: list[Harness] = []
    servers: list[FakeBotApi] = []

    async def start(
        *,
        api: FakeBotApi | None = None,
        all_messages: bool = False,
        rate_limit: bool = False,
        real_exports: bool = False,
        options: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
        knowledge: Any = None,
        **api_options: Any,
    ) -> Harness:
        if api is None:
            api = await FakeBotApi(**api_options).start()
            servers.append(api)
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
        monkeypatch.setenv("TELEGRAM_API_BASE_URL", api.base_url)
        chosen = TelegramOptions(
            **{"all_messages": all_messages, "rate_limit": rate_limit, "poll_timeout": 5, **(options or {})}
        )
        exporter = None if real_exports else fake_exporter
        bot = await TelegramBot.open(
            Settings(**(settings or {})), chosen, knowledge=knowledge or FakeKnowledge(), exporter=exporter
        )
        stop = asyncio.Event()
        harness = Harness(api, bot, stop, asyncio.create_task(bot.run_polling(stop)))
        running.append(harness)
        return harness

    yield start
    errors: list[BaseException] = []
    for harness in running:
        if not harness.task.done():
            harness.stop.set()
            await asyncio.wait_for(harness.task, 10)
        await harness.bot.close()
        errors += harness.bot.bridge.errors
    for api in servers:
        await api.stop()
    assert errors == [], f"handler exceptions: {errors!r}"


async def stop_bot(harness: Harness) -> None:
    harness.stop.set()
    await asyncio.wait_for(harness.task, 10)
