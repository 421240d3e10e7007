"""Running the bot: an idempotent long-polling loop, or a webhook server, around one `process()`.

PTB's stock `run_polling` confirms an update (asks for the next offset) before the handlers
have stored it, so a kill in between loses it. Here the loop fetches a batch, processes all of it
(state stored with each update_id), and only then asks for the updates after it. Updates that
were stored already are skipped, so a batch delivered twice changes nothing twice.

Replies are stored with their turn (the outbox, see `handlers`): at start, before new updates are
fetched, what a crash left undelivered is sent; while running, deliveries that failed for now are
tried again every `redelivery_interval` seconds.

Updates of different chats run concurrently; updates of one chat strictly in order (a lock per
chat). A supergroup migration in a batch is a barrier: what came before it is finished first.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from telegram import Update
from telegram.error import Conflict, InvalidToken, NetworkError, TelegramError, TimedOut
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder

from bot.app import Kompas, open_kompas
from bot.config import Settings
from bot.knowledge.search import KnowledgeSearch
from bot.process_lock import hold_bot_lock
from bot.store import EventKey
from bot.telegram.handlers import SOURCE, Exporter, TelegramBridge, document_exporter
from bot.telegram.menu import set_commands
from bot.telegram.network import AiohttpRequest, install_token_redaction
from bot.telegram.settings import (
    TelegramConfigError,
    TelegramOptions,
    api_base_url,
    check_token,
    file_base_url,
    webhook_secret_for,
)

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "poll_answer", "my_chat_member")
BATCH = 100
MAX_BACKOFF = 30.0
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
CONFLICT_MESSAGE = (
    "Er haalt al een ander proces berichten op voor deze bot (Telegram meldt 409 Conflict). Met long polling mag "
    "per token maar één bot tegelijk draaien: deze stopt. Stop eerst de andere, of draai meer processen naast "
    "elkaar met een webhook (kompas telegram --webhook URL) en PostgreSQL."
)


def build_application(token: str, base_url: str, options: TelegramOptions) -> Application:  # type: ignore[type-arg]
    """A PTB application without Updater: this module fetches and confirms updates itself."""
    request = AiohttpRequest(
        connections=options.connections,
        attempts=options.http_attempts,
        retry_429=not options.rate_limit,
        read_timeout=options.read_timeout,
        connect_timeout=10.0,
        pool_timeout=30.0,
    )
    # getUpdates errors are retried by the loop itself (with backoff), so one attempt here.
    # PTB adds the long-polling timeout to this read timeout for getUpdates.
    updates_request = AiohttpRequest(connections=1, attempts=1, read_timeout=min(options.read_timeout, 10.0))
    builder: ApplicationBuilder = (  # type: ignore[type-arg]
        Application.builder()
        .token(token)
        .base_url(base_url)
        .base_file_url(file_base_url(base_url))
        .request(request)
        .get_updates_request(updates_request)
        .updater(None)
        .job_queue(None)
    )
    if options.rate_limit:
        # About 30 messages a second overall and 20 a minute per group; a 429 pauses all calls.
        builder = builder.rate_limiter(AIORateLimiter(max_retries=3))
    return builder.build()


async def _close_requests(application: Application) -> None:  # type: ignore[type-arg]
    """After a failed `initialize()` PTB does not shut its requests down; close their sessions."""
    for request in (application.bot.request, getattr(application.bot, "_request", (None,))[0]):
        if isinstance(request, AiohttpRequest):
            await request.shutdown()


async def _check_chroma(settings: Settings) -> None:
    """A shared Chroma server (KOMPAS_CHROMA_URL) must be reachable at start, not found missing at the
    first search (when the bot would quietly search on words only)."""
    from bot.knowledge.chroma import ChromaConfigError, check_deployment_name, connect_chroma

    try:
        check_deployment_name(settings.chroma_collection)
        await asyncio.to_thread(connect_chroma, settings.chroma_url or "")
    except ChromaConfigError as exc:
        raise TelegramConfigError(str(exc)) from None


def _is_barrier(update: Update) -> bool:
    message = update.message
    return message is not None and bool(message.migrate_to_chat_id or message.migrate_from_chat_id)


def _segments(updates: Sequence[Update]) -> list[list[Update]]:
    """Split a batch at migrations, which must run alone, after everything before them."""
    segments: list[list[Update]] = [[]]
    for update in updates:
        if _is_barrier(update):
            segments += [[update], []]
        else:
            segments[-1].append(update)
    return [segment for segment in segments if segment]


@dataclass
class Stats:
    processed: int = 0
    skipped: int = 0
    retried: int = 0
    batches: int = 0
    last_offset: int | None = field(default=None)
    purged: int = 0
    redelivered: int = 0


class TelegramBot:
    """One bot: the PTB application, the engine bridge and the store, ready to poll or serve."""

    def __init__(
        self,
        application: Application,  # type: ignore[type-arg]
        bridge: TelegramBridge,
        kompas: Kompas,
        options: TelegramOptions,
    ) -> None:
        self.application = application
        self.bridge = bridge
        self.kompas = kompas
        self.options = options
        self.locks = kompas.service.locks
        self.stats = Stats()
        self._slots = asyncio.Semaphore(options.max_concurrent_chats)
        # Updates handled by this process. Only ids up to the last one stored before it started
        # can have been handled without it knowing; those are looked up in the store.
        self._done: set[int] = set()
        self._stored_before: int | None = None
        # Updates whose storing reported a failure: the write may have landed after all, so
        # whether they were done is asked of the store, not assumed.
        self._uncertain: set[int] = set()
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)

    @classmethod
    async def open(
        cls,
        settings: Settings,
        options: TelegramOptions | None = None,
        *,
        knowledge: KnowledgeSearch | None = None,
        exporter: Exporter | None = None,
    ) -> TelegramBot:
        """Check the token, meet Telegram (getMe), open the store and wire the handlers."""
        options = options or TelegramOptions()
        token = check_token(settings.telegram_bot_token)
        install_token_redaction(token)
        base_url = api_base_url(settings.telegram_api_base_url)
        application = build_application(token, base_url, options)
        try:
            await application.initialize()
        except InvalidToken:
            await _close_requests(application)
            raise TelegramConfigError(
                "Telegram kent dit token niet. Controleer TELEGRAM_BOT_TOKEN (of vraag een nieuw token bij @BotFather)."
            ) from None
        except (NetworkError, TimedOut) as exc:
            await _close_requests(application)
            server = base_url.split("/bot")[0]
            raise TelegramConfigError(
                f"Ik kan de Telegram-server ({server}) niet bereiken: {exc.__class__.__name__}. "
                "Controleer de internetverbinding of TELEGRAM_API_BASE_URL."
            ) from None
        try:
            if settings.chroma_url:
                await _check_chroma(settings)
            me = application.bot.bot
            kompas = await open_kompas(settings, knowledge=knowledge, bot_username=me.username)
            if kompas.knowledge is not None:
                kompas.knowledge.start()  # load (or build) the index now, off the path that answers chats
        except BaseException:
            await application.shutdown()
            raise
        if options.all_messages and not me.can_read_all_group_messages:
            log.warning(
                "KOMPAS_TELEGRAM_ALL_MESSAGES staat aan, maar de privacymodus van de bot staat aan: in groepen waar "
                "de bot geen beheerder is, ziet hij alleen commando's en antwoorden op zijn eigen berichten."
            )
        exporter = exporter or document_exporter(kompas.flow)
        bridge = TelegramBridge(kompas.service, kompas.texts, options, bot_id=me.id, exporter=exporter)
        bridge.install(application)
        return cls(application, bridge, kompas, options)

    async def close(self) -> None:
        await self.bridge.drain(timeout=10.0)
        with suppress(Exception):
            await self.application.shutdown()
        await self.kompas.close()

    @property
    def username(self) -> str:
        return self.application.bot.username

    # ------------------------------------------------------------------------- processing

    async def process(self, update: Update, key: str | None = None) -> bool:
        """Handle one update exactly once. False: it could not be stored and must be tried again."""
        try:
            key = key if key is not None else await self.bridge.chat_key_of(update)
        except Exception:
            log.exception("Chat van update %s niet te bepalen", update.update_id)
            return False
        async with self.locks.hold(key or f"#{update.update_id}"):
            try:
                if await self._already_done(update.update_id):
                    self.stats.skipped += 1
                    return True
            except Exception:
                log.exception("De opslag is niet bereikbaar")
                return False
            await self.application.process_update(update)
            if self.bridge.take_failure(update.update_id):
                self._uncertain.add(update.update_id)
                return False
            self._uncertain.discard(update.update_id)
            self.stats.processed += 1
            self._remember(update.update_id)
            return True

    async def _already_done(self, update_id: int) -> bool:
        if update_id in self._done:
            return True
        if self._stored_before is None:
            self._stored_before = await self.kompas.store.last_event_id(SOURCE) or -1
        if update_id > self._stored_before and update_id not in self._uncertain:
            return False
        return await self.kompas.store.is_processed(EventKey(SOURCE, update_id))

    def _remember(self, update_id: int) -> None:
        self._done.add(update_id)
        if len(self._done) > 200_000:
            self._done = set(sorted(self._done)[-100_000:])

    async def process_batch(self, updates: Sequence[Update]) -> int | None:
        """Process a batch: chats concurrently, each chat in order. Returns the update_id to
        fetch again from if something could not be stored (everything before it is done)."""
        self.stats.batches += 1
        for segment in _segments(updates):
            by_chat: dict[str, list[tuple[Update, str | None]]] = defaultdict(list)
            for update in segment:
                try:
                    key = await self.bridge.chat_key_of(update)
                except Exception:
                    log.exception("Chat van update %s niet te bepalen", update.update_id)
                    return update.update_id
                by_chat[key or f"#{update.update_id}"].append((update, key))
            failed: list[int] = []

            async def run(items: list[tuple[Update, str | None]], failed: list[int] = failed) -> None:
                async with self._slots:
                    for update, key in items:
                        if not await self.process(update, key):
                            failed.append(update.update_id)
                            return  # the rest of this chat waits, to keep its order

            await asyncio.gather(*(run(items) for items in by_chat.values()))
            if failed:
                self.stats.retried += 1
                return min(failed)
        return None

    # ------------------------------------------------------------------------- retention

    async def apply_retention(self) -> int:
        """Remove compasses (and empty chats) untouched for KOMPAS_RETENTION_DAYS days.

        Chat by chat under that chat's lock, so no turn is halfway; the cached state of each chat
        is dropped, so a later turn cannot write a removed compass back from memory.
        """
        days = self.kompas.settings.retention_days
        if not days:
            return 0
        now = self.now()
        store = self.kompas.store
        removed = 0
        for key in await store.stale_chats(days, now):
            async with self.locks.hold(key):
                removed += await store.purge_inactive(days, now, chat_id=key)
                self.bridge.cache.drop(key)
        await store.purge_inactive(days, now, chat_id=None)  # old event markers
        if removed:
            log.info("Bewaartermijn: %d kompassen verwijderd", removed)
        self.stats.purged += removed
        return removed

    async def _retention_loop(self, stop: asyncio.Event) -> None:
        """Apply the retention once per `retention_interval` (daily by default) while running.
        (At start it was applied when the store was opened.)"""
        if not self.kompas.settings.retention_days:
            return
        while not stop.is_set():
            await self._pause(stop, self.options.retention_interval)
            if stop.is_set():
                return
            try:
                await self.apply_retention()
            except Exception:
                log.exception("Bewaartermijn toepassen mislukt; volgende poging bij de volgende ronde")

    @asynccontextmanager
    async def _maintenance(self, stop: asyncio.Event) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(self._retention_loop(stop)), asyncio.create_task(self._redelivery_loop(stop))]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with suppress(asyncio.CancelledError):
                    await task

    # ------------------------------------------------------------------------- outbox

    async def deliver_outbox(self, keys: set[str] | None = None) -> int:
        """Send the replies the outbox still holds (of the chats `keys`, or all); how many turns."""
        try:
            delivered = await self.bridge.redeliver(self.application.bot, keys)
        except Exception:
            log.exception("De uitgestelde antwoorden zijn niet op te halen; nieuwe poging later")
            return 0
        if delivered:
            log.info("%d uitgestelde antwoorden bezorgd", delivered)
        self.stats.redelivered += delivered
        return delivered

    async def _redelivery_loop(self, stop: asyncio.Event) -> None:
        """Try the chats whose delivery failed for now again, now and then, while running."""
        while not stop.is_set():
            await self._pause(stop, self.options.redelivery_interval)
            if self.bridge.waiting and not stop.is_set():
                await self.deliver_outbox(set(self.bridge.waiting))

    # ------------------------------------------------------------------------- long polling

    async def prepare(self) -> None:
        await set_commands(self.application.bot, self.kompas.texts, self.kompas.engine.steering_commands)

    async def run_polling(self, stop: asyncio.Event) -> None:
        """Fetch, process, then confirm, until `stop` is set.

        Raises `TelegramConfigError` when another process already polls this token (409 Conflict) and
        `ProcessLockError` when another bot runs on the same SQLite file."""
        with hold_bot_lock(self.kompas.settings.effective_database_url):
            bot = self.application.bot
            await bot.delete_webhook(drop_pending_updates=False)
            await self.prepare()
            await self.deliver_outbox()
            log.info("Kompasbot @%s luistert (long polling).", self.username)
            stopper = asyncio.ensure_future(stop.wait())
            try:
                async with self._maintenance(stop):
                    await self._poll(stop, stopper)
            finally:
                stopper.cancel()

    async def _poll(self, stop: asyncio.Event, stopper: asyncio.Future[Any]) -> None:
        bot = self.application.bot
        offset: int | None = None
        backoff = 1.0
        # Telegram answers a getUpdates with 409 Conflict when a newer one for the same token arrives. The
        # newcomer's first call therefore ends the running poller's call; the running one asks again soon,
        # which ends the newcomer's call. A 409 before our first answer, or soon after we started, means
        # we are the second process: stop with a message. Later, we are the first: go on.
        started = time.monotonic()
        answered = False
        conflicts = 0
        while not stop.is_set():
            fetch = asyncio.ensure_future(
                bot.get_updates(
                    offset=offset, limit=BATCH, timeout=self.options.poll_timeout, allowed_updates=ALLOWED_UPDATES
                )
            )
            await asyncio.wait({fetch, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if not fetch.done():
                fetch.cancel()
                with suppress(asyncio.CancelledError, TelegramError):
                    await fetch
                break
            try:
                updates = fetch.result()
            except InvalidToken:
                raise TelegramConfigError("Telegram weigert het token (TELEGRAM_BOT_TOKEN) nu.") from None
            except Conflict as exc:
                if not answered or time.monotonic() - started < self.options.conflict_window:
                    raise TelegramConfigError(f"{CONFLICT_MESSAGE} (Telegram: {exc.message})") from None
                conflicts += 1
                if conflicts == 1:
                    log.warning(
                        "Een ander proces probeerde ook berichten op te halen voor deze bot (409 Conflict); "
                        "deze bot draaide al en gaat door."
                    )
                await self._pause(stop, 1.0)  # ask again soon: that tells the newcomer it is the second one
                continue
            except TelegramError as exc:
                name = exc.__class__.__name__
                log.warning("Updates ophalen mislukt (%s); nieuwe poging over %.0f s", name, backoff)
                await self._pause(stop, backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            backoff = 1.0
            answered = True
            conflicts = 0
            if not updates:
                continue
            retry_from = await self.process_batch(updates)
            if retry_from is not None:
                offset = retry_from
                await self._pause(stop, 1.0)
                continue
            offset = updates[-1].update_id + 1
            self.stats.last_offset = offset

    @staticmethod
    async def _pause(stop: asyncio.Event, seconds: float) -> None:
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)

    # ------------------------------------------------------------------------- webhook

    def webhook_secret(self) -> str:
        """KOMPAS_TELEGRAM_WEBHOOK_SECRET, or one derived from the token: the same in every instance."""
        if self.options.webhook_secret is not None and self.options.webhook_secret.get_secret_value():
            return self.options.webhook_secret.get_secret_value()
        return webhook_secret_for(self.application.bot.token)

    async def run_webhook(self, url: str, port: int, stop: asyncio.Event, *, listen: str | None = None) -> None:
        """Serve Telegram's webhook calls on `listen:port` (TLS by a proxy in front) until `stop`.

        `listen` defaults to KOMPAS_TELEGRAM_WEBHOOK_LISTEN (0.0.0.0). Any number of instances may serve
        one bot behind a load balancer when they share a PostgreSQL database; on a SQLite file only one
        (`ProcessLockError` otherwise). Every request must carry the secret token."""
        with hold_bot_lock(self.kompas.settings.effective_database_url):
            await self._serve_webhook(url, port, stop, listen or self.options.webhook_listen)

    async def _serve_webhook(self, url: str, port: int, stop: asyncio.Event, listen: str) -> None:
        from aiohttp import web

        bot = self.application.bot
        secret = self.webhook_secret()
        expected = secret.encode("utf-8")
        path = urlsplit(url).path or "/"

        async def receive(request: web.Request) -> web.Response:
            # Bytes on both sides: a header with non-ASCII characters is refused, not a crash.
            try:
                given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "surrogateescape")
            except UnicodeEncodeError:
                given = b""
            if not hmac.compare_digest(given, expected):
                return web.Response(status=403)
            try:
                update = Update.de_json(await request.json(), bot)
            except Exception:
                log.exception("Onleesbare webhook-update genegeerd")
                return web.Response(status=200)
            done = await self.process(update)
            # 500 makes Telegram deliver it again later; it is skipped if it was stored after all.
            return web.Response(status=200 if done else 500)

        app = web.Application()
        app.router.add_post(path, receive)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, listen, port)
            await site.start()
            await self.prepare()
            await self.deliver_outbox()
            await bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES, max_connections=40)
            log.info("Kompasbot @%s luistert via webhook op %s poort %d.", self.username, listen, port)
            async with self._maintenance(stop):
                await stop.wait()
        finally:
            await runner.cleanup()
