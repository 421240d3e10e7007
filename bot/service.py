"""The one turn loop every transport shares: load the chat, run the engine, store, reply, follow up.

A turn is: load the chat (from a write-through cache of what this process stored), run the pure
engine in a worker thread, store the new state together with the event's marker and the planned
replies (the outbox) in one commit, and only then hand the outcome back for delivery. After
`/vergeet` the store is scrubbed. A request for the language model comes back as a new turn.

Turns of one chat run one at a time under its lock (`locks.hold`); different chats run concurrently.
Transports (terminal, Telegram, web) only translate platform events and render replies.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime

from bot.compass import Chat
from bot.engine import Engine
from bot.engine.context import MAX_POLL_OPTIONS
from bot.events import Event, LLMRequest, Outcome, Proposal, ProposalFailed
from bot.llm import LLMService, LLMUnavailable
from bot.persist import ChatCache, GroupCommit
from bot.store import AlreadyProcessed, Conflict, EventKey, Store

log = logging.getLogger(__name__)

# How often a turn is run again when its chat changed underneath it before it gives up.
MAX_ATTEMPTS = 20
# Turns an outcome into the transport's own serialisation of its replies, stored in the outbox.
Planner = Callable[[Outcome], str | None]
# Called after /vergeet with the chat as it is now, to remove the person from what lives outside the store.
EraseHook = Callable[[Chat], Awaitable[None]]


async def fulfil(service: LLMService, request: LLMRequest) -> Proposal | ProposalFailed:
    """Run one engine request against the model; any failure becomes `ProposalFailed` (the deterministic path)."""
    try:
        if request.kind == "formulering":
            text = await service.draft_formulation(request.context, request.vraagstuk, request.texts)
            return Proposal(request=request, text=text, at=datetime.now(UTC))
        if request.kind == "thema":
            clusters = await service.cluster(request.texts, max_groups=MAX_POLL_OPTIONS)
            groups = tuple((c.label, tuple(c.members)) for c in clusters)
            return Proposal(
                request=request, text="; ".join(c.label for c in clusters), at=datetime.now(UTC), groups=groups
            )
        if request.kind == "samenvatting":
            text = await service.summarize_step(request.context, request.texts)
            return Proposal(request=request, text=text, at=datetime.now(UTC))
        answer = await service.answer_question(request.context, request.hits)
        return Proposal(request=request, text=answer.text, at=datetime.now(UTC), citations=tuple(answer.citations))
    except (LLMUnavailable, ValueError) as exc:
        log.info("Taalmodel gaf geen bruikbaar antwoord: %s", exc.__class__.__name__)
        return ProposalFailed(request=request, at=datetime.now(UTC))


class ChatLocks:
    """One lock per chat, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiting: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key]
                del self._locks[key]

    def __len__(self) -> int:
        return len(self._locks)


class StoreFailure(Exception):
    """The store could not be read or written; the event is processed again later."""


class KompasService:
    def __init__(
        self, engine: Engine, store: Store, *, llm: LLMService | None = None, on_erase: EraseHook | None = None
    ) -> None:
        self.engine = engine
        self.store = store
        self.llm = llm
        self.on_erase = on_erase
        self.locks = ChatLocks()
        self.commits = GroupCommit(store)
        self.cache = ChatCache()
        # The engine is pure but may search the knowledge base (CPU work): one worker thread keeps
        # the event loop free for other chats and calls the search from one thread only.
        self._engine_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kompas-engine")

    def use_llm(self, llm: LLMService | None) -> None:
        """Switch the optional language model (the engine offers its commands only when there is one)."""
        self.llm = llm
        self.engine.enable_llm(llm is not None)

    def close(self) -> None:
        self._engine_thread.shutdown(wait=True)

    async def load(self, key: str, *, is_group: bool = False) -> Chat:
        """The chat as last stored (a new one if it has never been stored)."""
        return await self.stored(key) or Chat(id=key, is_group=is_group)

    async def stored(self, key: str) -> Chat | None:
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        try:
            chat = await self.store.load_chat(key)
        except Exception as exc:
            raise StoreFailure(exc.__class__.__name__) from exc
        if chat is not None:
            self.cache.put(chat)
        return chat

    async def turn(
        self,
        key: str,
        event: Event,
        *,
        is_group: bool = False,
        marker: EventKey | None = None,
        plan: Planner | None = None,
        state: Chat | None = None,
    ) -> Outcome:
        """One turn, stored before it returns. The caller holds the chat's lock (`locks.hold`).

        `marker` identifies the platform event (stored with the state, so it is never handled twice);
        `plan` gives the replies to keep in the outbox until the transport delivered them."""
        chat = state if state is not None else await self.load(key, is_group=is_group)
        loop = asyncio.get_running_loop()
        for _ in range(MAX_ATTEMPTS):
            outcome: Outcome = await loop.run_in_executor(self._engine_thread, self.engine.handle, chat, event)
            payload = plan(outcome) if plan is not None else None
            changed = outcome.chat.model_copy(update={"version": chat.version + 1}) if outcome.changed else None
            try:
                if changed is not None or marker is not None or payload:
                    await self.commits.save(changed, marker, key, outbox=payload)
                break
            except Conflict:
                # Another turn (another process) wrote the chat since it was read: the engine is
                # pure, so the turn simply runs again on what is stored now.
                self.cache.drop(key)
                chat = await self.load(key, is_group=is_group)
            except AlreadyProcessed:
                raise
            except Exception as exc:
                raise StoreFailure(exc.__class__.__name__) from exc
        else:
            raise StoreFailure("Conflict")
        if changed is not None:
            self.cache.put(changed)
            outcome = replace(outcome, chat=changed)
        if outcome.erased:
            await self.erase(outcome.chat, keep=marker)
        return outcome

    async def handle(self, key: str, event: Event, *, is_group: bool = False) -> Outcome:
        """A turn under the chat's lock, for transports that need nothing more (the terminal)."""
        async with self.locks.hold(key):
            return await self.turn(key, event, is_group=is_group)

    async def mark(self, key: str | None, marker: EventKey, payload: str | None = None) -> None:
        """Store that an event was handled without changing any chat (with its replies, if any)."""
        try:
            await self.commits.save(None, marker, key, outbox=payload)
        except Exception as exc:
            raise StoreFailure(exc.__class__.__name__) from exc

    async def follow_up(self, key: str, request: LLMRequest, *, plan: Planner | None = None) -> Outcome | None:
        """Run the language model (without the chat's lock: it may take a while), then feed its
        proposal (or the failure) back through the engine as a turn of its own."""
        if self.llm is None:
            return None
        event = await fulfil(self.llm, request)
        async with self.locks.hold(key):
            state = await self.stored(key)
            if state is None:
                return None
            return await self.turn(key, event, state=state, plan=plan)

    async def erase(self, chat: Chat, *, keep: EventKey | None = None) -> None:
        """After /vergeet: what the engine removed must not linger anywhere else either: replies still
        waiting in the outbox (they may quote the person), exports on disk, old pages of the database file."""
        try:
            await self.commits.flush()
            await self.store.drop_outbox(chat.id, keep=keep)
            if self.on_erase is not None:
                await self.on_erase(chat)
            await self.store.scrub()
        except Exception as exc:
            log.warning("Opschonen na /vergeet mislukt: %s", exc.__class__.__name__)

    def forget_cached(self, *keys: str) -> None:
        self.cache.drop(*keys)

    async def flush(self) -> None:
        await self.commits.flush()
