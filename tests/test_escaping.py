"""Every reply the engine builds is valid Telegram HTML with user and knowledge text escaped, on every path.

Not left to chance (the fuzz test): a script walks through every command and the item, choice,
search, measurement and privacy paths with hostile text in names, answers and search results.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.compass import Chat
from bot.engine import Engine
from bot.events import Actor, Text
from bot.flows import Flow, Texts, Themes
from bot.knowledge.search import SearchHit

from .telegram_fake import check_html

EVIL = "<b>Zorg & <i>welzijn</b> 5 < 6"
NAME = "<i>Ann & co</i>"


class HostileKnowledge:
    def search(self, query: str, k: int = 5, **_: Any) -> list[SearchHit]:
        return [
            SearchHit(
                rank=n,
                titel=f"{EVIL} {n}",
                bron="https://example.org/?a=1&b=<2>",
                score=1.0,
                soort="interventie",
                beoordeling="goed onderbouwd",
                fragment=EVIL,
                toelichting=EVIL,
            )
            for n in range(1, k + 1)
        ]


def test_every_reply_on_every_path_is_valid_escaped_html(flow: Flow, texts: Texts, themes: Themes) -> None:
    engine = Engine(flow, texts, HostileKnowledge(), themes=themes, llm_enabled=True)
    at = datetime(2026, 12, 1, tzinfo=UTC)
    people = [Actor("1", NAME), Actor("2", EVIL)]
    checked = 0
    for group in (True, False):
        chat = Chat(id="-1" if group else "1", is_group=group)
        script = [
            (0, f"/kompas {EVIL}"),
            (1, EVIL),
            (0, "/volgende"),
            (0, "1"),
            (0, "/stap 0"),
            (0, "/volgende"),
            (0, "/volgende"),
            (1, EVIL),
            (1, "9"),
            (0, "/stap 2"),
            (0, f"{EVIL}; -; in 2028; 20%"),
            (0, "/volgende"),
            (1, f"{EVIL}; 1; feiten; {EVIL}"),
            (1, f"/meting I1 14,5% 2026 {EVIL}"),
            (1, "/meting"),
            (1, EVIL),
            (0, "/stap 3"),
            (1, "/neem 2"),
            (1, EVIL),
            (0, f"/watwerkt {EVIL}"),
            (0, "/neem 1"),
            (1, f"/wijzig 2 {EVIL}"),
            (0, "/overzicht"),
            (1, "/wie"),
            (1, "/mijngegevens"),
            (0, "/stap 6"),
            *((0, f"/{command} {EVIL}") for command in engine.commands if command not in ("vergeet", "stop")),
            (1, "/vergeet ja"),
            (0, "/overzicht"),
        ]
        for who, text in script:
            at += timedelta(minutes=2)
            outcome = engine.handle(chat, Text(people[who], text, at, ref=str(checked)))
            chat = outcome.chat
            for reply in outcome.replies:
                check_html(reply.text)
                assert "<b>Zorg" not in reply.text and "<i>Ann" not in reply.text, (text, reply.text)
                for button in reply.buttons:
                    assert "<b>" not in button.command
                checked += 1
    assert checked > 120
