"""Wiring shared by every transport: settings -> content -> store -> engine.

Kept separate so `main()` functions only wire things, and tests can build the same pieces.
"""

from __future__ import annotations

import glob
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.coach import load_coach
from bot.compass import Chat
from bot.config import Settings
from bot.content import content_dir
from bot.engine import Engine
from bot.flows import Flow, Texts, check_examples, load_flow, load_texts, load_themes
from bot.knowledge.search import KnowledgeSearch, SearchHit

if TYPE_CHECKING:
    from bot.knowledge.background import BackgroundKnowledge
from bot.llm import LLMService, LLMUnavailable, load_prompts, make_chat_model
from bot.service import KompasService
from bot.store import Store

log = logging.getLogger(__name__)


class LazyKnowledge:
    """The knowledge base, kept current on a background thread (`BackgroundKnowledge`), started on the
    first search or by `start()`: starting a chat stays fast, and building an index never holds up a
    chat. Until a first index is there, a search raises `KnowledgeNotReady` after `wait` seconds and
    the engine says so; facilitation goes on.
    """

    def __init__(self, settings: Settings, *, wait: float = 2.0) -> None:
        self._settings = settings
        self._wait = wait
        self._inner: BackgroundKnowledge | None = None

    def start(self) -> BackgroundKnowledge:
        if self._inner is None:
            from bot.knowledge.background import BackgroundKnowledge

            self._inner = BackgroundKnowledge(self._settings, load_wait=self._wait)
            self._inner.start()
        return self._inner

    def close(self) -> None:
        if self._inner is not None:
            self._inner.close()

    def search(
        self,
        query: str,
        k: int = 5,
        *,
        offset: int = 0,
        thema: str | None = None,
        soort: str | None = None,
        stap: int | None = None,
        erkend: bool = False,
        prefer_themes: tuple[str, ...] = (),
        prefer_step: int | None = None,
    ) -> list[SearchHit]:
        return self.start().search(
            query,
            k,
            offset=offset,
            thema=thema,
            soort=soort,
            stap=stap,
            erkend=erkend,
            prefer_themes=prefer_themes,
            prefer_step=prefer_step,
        )


def exports_remover(settings: Settings) -> Callable[[Chat], Awaitable[None]]:
    """After /vergeet: earlier exports of the chat's compasses hold the person's words; they go.

    Exports are named '<compass id>-<date>.<ext>' under <home>/exports (see `bot.document.export`)."""

    async def remove(chat: Chat) -> None:
        folder = settings.home / "exports"
        if not folder.is_dir():
            return
        for session_id in chat.sessions:
            for path in folder.glob(f"{glob.escape(session_id)}-*.*"):
                path.unlink(missing_ok=True)

    return remove


@dataclass
class Kompas:
    settings: Settings
    flow: Flow
    texts: Texts
    store: Store
    engine: Engine
    service: KompasService
    llm: LLMService | None = None
    knowledge: LazyKnowledge | None = None

    async def close(self) -> None:
        """Stop the engine's worker, the knowledge worker and the store, in that order."""
        self.service.close()
        if self.knowledge is not None:
            self.knowledge.close()
        await self.store.close()


def open_llm(settings: Settings) -> LLMService | None:
    """The optional language model; a configuration problem is logged and the bot runs without it."""
    try:
        model = make_chat_model(settings)
    except LLMUnavailable as exc:
        log.warning("Taalmodel staat uit: %s", exc.detail)
        return None
    if model is None:
        return None
    return LLMService(model, load_prompts(content_dir("prompts")), timeout=settings.llm_timeout)


async def open_kompas(
    settings: Settings,
    *,
    knowledge: KnowledgeSearch | None = None,
    bot_username: str | None = None,
    knowledge_wait: float = 2.0,
) -> Kompas:
    """Load and validate the content, open (and migrate) the store, build the engine.

    `knowledge_wait`: how long a search waits for the first index before saying it is still being
    built (short for a bot that serves many chats, longer for one person in the terminal)."""
    flow = load_flow(settings.effective_flows_dir / "kompas.yaml")
    texts = load_texts(settings.effective_flows_dir / "teksten.yaml")
    settings.ensure_home()
    store = await Store.open(settings.effective_database_url)
    if settings.retention_days:
        removed = await store.purge_inactive(settings.retention_days)
        if removed:
            log.info("Bewaartermijn: %d kompassen verwijderd", removed)
    folder = settings.effective_flows_dir
    themes = load_themes(folder / "themas.yaml")
    check_examples(flow, themes, folder / "kompas.yaml")
    coach = load_coach(folder / "coaching.yaml", flow)
    llm = open_llm(settings)
    lazy = LazyKnowledge(settings, wait=knowledge_wait) if knowledge is None else None
    engine = Engine(
        flow,
        texts,
        knowledge or lazy,
        bot_username=bot_username,
        themes=themes,
        coach=coach,
        llm_enabled=llm is not None,
    )
    service = KompasService(engine, store, llm=llm, on_erase=exports_remover(settings))
    return Kompas(
        settings=settings, flow=flow, texts=texts, store=store, engine=engine, service=service, llm=llm, knowledge=lazy
    )
