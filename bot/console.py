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

from bot.compass import Chat
from bot.events import Actor, Outcome, Reply, Text
from bot.service import KompasService

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
    """The terminal as a transport over the service: one actor, one chat, plain or rich output."""

    def __init__(
        self,
        service: KompasService,
        *,
        console: Console,
        rich_output: bool,
        actor: Actor,
        chat_id: str = TERMINAL_CHAT,
        exporter: Exporter | None = None,
    ) -> None:
        self.service = service
        self.console = console
        self.rich_output = rich_output
        self.actor = actor
        self.chat_id = chat_id
        self.exporter = exporter

    async def send(self, line: str) -> None:
        outcome = await self.service.handle(self.chat_id, Text(actor=self.actor, text=line, at=datetime.now(UTC)))
        await self._show_all(outcome)

    async def _show_all(self, outcome: Outcome) -> None:
        for reply in outcome.replies:
            await self._show(outcome.chat, reply)
            if reply.llm is not None:
                follow_up = await self.service.follow_up(self.chat_id, reply.llm)
                if follow_up is not None:
                    await self._show_all(follow_up)

    async def greet(self, session_name: str | None) -> None:
        if session_name:
            await self.send(f"/kompas {session_name}")
            return
        chat = await self.service.load(self.chat_id)
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
        await self.service.flush()
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
