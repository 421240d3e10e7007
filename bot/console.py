"""The terminal transport: `kompas chat`.

On a TTY it renders with rich; otherwise it reads stdin line by line and prints plain text,
so a whole session can be scripted (`kompas chat < script.txt`). Every change is stored
before the reply is printed.
"""

from __future__ import annotations

import asyncio
import html
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

from rich.console import Console
from rich.markup import escape

from bot.app import fulfil
from bot.compass import Chat
from bot.engine import Engine
from bot.events import Actor, Event, Reply, Text
from bot.llm import LLMService
from bot.store import Store

TERMINAL_CHAT = "terminal"
PROMPT = "› "

Exporter = Callable[[Chat, Reply], Awaitable[list[str]]]

_TAGS = {"b": "bold", "i": "italic", "code": "cyan"}


def html_to_rich(text: str) -> str:
    """Engine HTML (<b>, <i>, <code>, escaped text) -> rich markup with the text escaped again."""
    parts = re.split(r"(</?(?:b|i|code)>)", text)
    out = []
    for part in parts:
        tag = re.fullmatch(r"<(/?)(b|i|code)>", part)
        if tag:
            out.append(f"[{tag.group(1)}{_TAGS[tag.group(2)]}]")
        else:
            out.append(escape(html.unescape(part)))
    return "".join(out)


def html_to_plain(text: str) -> str:
    return html.unescape(re.sub(r"</?(?:b|i|code)>", "", text))


class ConsoleChat:
    def __init__(
        self,
        engine: Engine,
        store: Store,
        *,
        console: Console,
        rich_output: bool,
        actor: Actor,
        chat_id: str = TERMINAL_CHAT,
        exporter: Exporter | None = None,
        llm: LLMService | None = None,
    ) -> None:
        self.engine = engine
        self.store = store
        self.console = console
        self.rich_output = rich_output
        self.actor = actor
        self.chat_id = chat_id
        self.exporter = exporter
        self.llm = llm

    async def _chat(self) -> Chat:
        return await self.store.load_chat(self.chat_id) or Chat(id=self.chat_id, is_group=False)

    async def send(self, line: str) -> None:
        await self._process(Text(actor=self.actor, text=line, at=datetime.now(UTC)))

    async def _process(self, event: Event) -> None:
        """Engine, then store, then print; a language-model request comes back as a new event."""
        chat = await self._chat()
        outcome = self.engine.handle(chat, event)
        if outcome.changed:
            await self.store.save_chat(outcome.chat)
            if outcome.erased:
                await self.store.scrub()  # what /vergeet removed must not linger on disk
        for reply in outcome.replies:
            await self._show(outcome.chat, reply)
            if reply.llm is not None and self.llm is not None:
                await self._process(await fulfil(self.llm, reply.llm))

    async def greet(self, session_name: str | None) -> None:
        if session_name:
            await self.send(f"/kompas {session_name}")
            return
        chat = await self._chat()
        if chat.session is not None:
            await self.send(f"/kompas {chat.session.vraagstuk}")
        else:
            await self.send("/start")

    async def _show(self, chat: Chat, reply: Reply) -> None:
        if reply.text:
            if self.rich_output:
                self.console.print(html_to_rich(reply.text), highlight=False)
            else:
                self.console.print(html_to_plain(reply.text), markup=False, highlight=False)
            self.console.print()
        if reply.export and self.exporter is not None:
            for path in await self.exporter(chat, reply):
                self.console.print(f"Bewaard: {path}", markup=False, highlight=False)

    async def run(self, lines: AsyncIterator[str], session_name: str | None = None) -> None:
        await self.greet(session_name)
        async for line in lines:
            await self.send(line)
        self.console.print("Tot ziens! Alles is bewaard.", markup=False, highlight=False)


async def stdin_lines(interactive: bool) -> AsyncIterator[str]:
    """Lines from the terminal (with a prompt) or from a pipe; ends on EOF or Ctrl-C."""
    while True:
        try:
            if interactive:
                line = await asyncio.to_thread(input, PROMPT)
            else:
                line = await asyncio.to_thread(sys.stdin.readline)
                if not line:
                    return
                line = line.rstrip("\n")
        except (EOFError, KeyboardInterrupt):
            return
        yield line
