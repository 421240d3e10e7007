"""The PTB handlers: each turns one Telegram update into one engine turn.

Every turn is: load the chat, run the engine, store the new state together with the
update_id and the planned replies (one transaction), and only then talk to Telegram. A crash
after the store means the update is skipped when it is delivered again, and its replies are sent
from the outbox at the next start (`redeliver`); a crash before it means it is processed again.
"""

from __future__ import annotations

import asyncio
import html
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from telegram import (
    Bot,
    LinkPreviewOptions,
    Message,
    ReactionTypeEmoji,
    ReplyParameters,
    Update,
)
from telegram import Chat as TgChat
from telegram.constants import ChatMemberStatus, ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    MessageHandler,
    PollAnswerHandler,
    filters,
)

from bot.compass import Chat
from bot.events import Edit, Event, Joined, Outcome, Text, Vote
from bot.flows import Flow, Texts
from bot.service import KompasService, StoreFailure
from bot.store import AlreadyProcessed, EventKey
from bot.telegram.outbox import dump_actions, is_transient, lasting, load_actions
from bot.telegram.settings import TelegramOptions
from bot.telegram.translate import (
    Action,
    AskModel,
    Origin,
    React,
    SendExport,
    SendPoll,
    SendPrivate,
    SendText,
    StopPoll,
    Toast,
    actor_of,
    addressed_to_bot,
    chat_key,
    event_time,
    is_group,
    parse_callback_data,
    plan,
    sender_of,
    split_html,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

SOURCE = "telegram"
PRESENT = (ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


class ExportFile(Protocol):
    @property
    def data(self) -> bytes: ...

    @property
    def filename(self) -> str: ...


# Renders the chat's active compass in a format ("pdf", "docx", "png"): see `document_exporter`.
Exporter = Callable[[Chat, str], Awaitable[ExportFile]]


def document_exporter(flow: Flow) -> Exporter:
    """The exporter over `bot.document.render_export`, in one worker thread (renderers are CPU work
    and not all of them are thread-safe)."""
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kompas-export")

    async def export(chat: Chat, fmt: str) -> ExportFile:
        from bot.document.export import export_format, render_export

        session = chat.session
        if session is None:
            raise LookupError("geen actief kompas")
        checked = export_format(fmt)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(worker, lambda: render_export(session, checked, flow=flow))

    return export


# Actions that can take seconds (a language model, rendering a document). They run after the turn,
# detached from the update: the turn is stored already, and other chats must not wait for them.
SLOW_ACTIONS = (AskModel, SendExport)


def _prompted(message: object, user_id: int) -> int | None:
    """Under a prompt that answered this person's own message: that message (their prompts reply to it)."""
    replied = message.reply_to_message if isinstance(message, Message) else None
    author = replied.from_user if replied is not None else None
    return replied.message_id if replied is not None and author is not None and author.id == user_id else None


def _now() -> datetime:
    return datetime.now(UTC)


class TelegramBridge:
    """Thin handlers between PTB and the engine; state lives in the store, not in PTB."""

    def __init__(
        self,
        service: KompasService,
        texts: Texts,
        options: TelegramOptions,
        *,
        bot_id: int,
        exporter: Exporter | None = None,
    ) -> None:
        self.service = service
        self.engine = service.engine
        self.store = service.store
        self.texts = texts
        self.options = options
        self.bot_id = bot_id
        self.exporter = exporter
        self.errors: list[BaseException] = []
        self._failed: set[int] = set()
        self._stored: set[int] = set()
        self._admins: dict[int, tuple[float, frozenset[int]]] = {}
        self.commits = service.commits
        self.cache = service.cache
        self.background: set[asyncio.Task[None]] = set()
        # Chats whose delivery failed for now: their outbox waits for `redeliver`, and their next
        # turns are sent from it too, after it, so the chat's answers keep their order.
        self.waiting: set[str] = set()
        self._sending: set[EventKey] = set()  # outbox rows being delivered right now
        self._clearing: set[EventKey] = set()  # outbox rows delivered, their removal not yet committed

    # ------------------------------------------------------------------------- wiring

    def install(self, application: Application) -> None:  # type: ignore[type-arg]
        new_message = filters.UpdateType.MESSAGE
        application.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, self.on_migrate))
        application.add_handler(MessageHandler(new_message & filters.TEXT, self.on_text))
        application.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE & filters.TEXT, self.on_edit))
        application.add_handler(
            MessageHandler(new_message & ~filters.TEXT & ~filters.StatusUpdate.ALL, self.on_other_message)
        )
        application.add_handler(CallbackQueryHandler(self.on_button))
        application.add_handler(PollAnswerHandler(self.on_poll_answer))
        application.add_handler(ChatMemberHandler(self.on_membership, ChatMemberHandler.MY_CHAT_MEMBER))
        application.add_error_handler(self.on_error)

    async def idle(self, timeout: float | None = None) -> bool:
        """Wait until the detached work (model calls, exports) is done; False if `timeout` passed first."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while self.background:
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return False
            await asyncio.wait(set(self.background), timeout=remaining)
        return True

    async def drain(self, timeout: float) -> None:
        """At shutdown: give detached work `timeout` seconds, then cancel what is left, and commit
        what is still queued (so delivered replies are not sent again at the next start)."""
        if not await self.idle(timeout):
            for task in list(self.background):
                task.cancel()
            await asyncio.gather(*self.background, return_exceptions=True)
        await self.commits.flush()

    def _detach(self, work: Coroutine[Any, Any, None], what: str, bot: Bot, chat_id: int) -> None:
        async def run() -> None:
            try:
                await work
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.errors.append(exc)
                log.error("Fout bij %s: %s", what, exc.__class__.__name__, exc_info=exc)
                try:  # the turn itself was stored before this work started
                    await bot.send_message(chat_id, self.texts("fout_bewaard"))
                except TelegramError as failed:
                    log.warning("Foutmelding niet verstuurd: %s", failed.__class__.__name__)

        task = asyncio.get_running_loop().create_task(run())
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    def take_failure(self, update_id: int) -> bool:
        """Whether storing this update failed (the runner then retries it); forgets the bookkeeping."""
        self._stored.discard(update_id)
        if update_id in self._failed:
            self._failed.discard(update_id)
            return True
        return False

    async def chat_key_of(self, update: Update) -> str | None:
        """The store's chat for an update (poll answers carry only the poll id)."""
        if update.poll_answer is not None:
            ref = await self.store.find_poll(update.poll_answer.poll_id)
            return ref.chat_id if ref else None
        message = update.effective_message
        if message is not None and message.migrate_from_chat_id:
            return chat_key(message.migrate_from_chat_id)
        chat = update.effective_chat
        return chat_key(chat.id) if chat is not None else None

    # ------------------------------------------------------------------------- handlers

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        assert message is not None and message.text is not None
        tg_chat = message.chat
        group = is_group(tg_chat)
        state = await self._load(update, tg_chat)
        text = message.text
        addressed = text.startswith("/") or addressed_to_bot(message, self.bot_id)
        if group and not addressed and not (self.options.all_messages and self.engine.is_listening(state)):
            return  # chatter the bot can see (privacy off, or admin) only counts if the operator allows it
        is_admin = False
        user_id = message.from_user.id if message.from_user else None
        if group and user_id is not None and self.engine.needs_steering(state, str(user_id), text):
            session = state.session
            if session is None or str(user_id) not in session.facilitators:
                is_admin = await self._is_admin(context.bot, tg_chat.id, user_id)
        actor = sender_of(message, is_admin=is_admin)
        if actor is None:
            return
        event = Text(actor=actor, text=text, at=event_time(message), ref=str(message.message_id))
        actions = await self._turn(update, state, event, Origin(message_id=message.message_id, user_id=user_id))
        await self._deliver(context.bot, tg_chat.id, state.id, actions, update)

    async def on_edit(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.edited_message
        assert message is not None and message.text is not None
        actor = sender_of(message)
        if actor is None or message.text.startswith("/"):
            return
        state = await self._load(update, message.chat)
        event = Edit(actor=actor, ref=str(message.message_id), text=message.text, at=event_time(message))
        actions = await self._turn(update, state, event, Origin(message_id=message.message_id))
        await self._deliver(context.bot, message.chat.id, state.id, actions, update)

    async def on_other_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Photos, stickers, voice notes, files: only text counts."""
        message = update.message
        assert message is not None
        if is_group(message.chat) and not addressed_to_bot(message, self.bot_id):
            return
        note: list[Action] = [SendText(self.texts("alleen_tekst"), reply_to=message.message_id)]
        await self._mark(update, chat_key(message.chat.id), note)
        await self._deliver(context.bot, message.chat.id, chat_key(message.chat.id), note, update)

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        message = query.message
        if message is None or query.data is None:
            await query.answer()
            return
        tg_chat = message.chat
        toast: str | None = None
        actions: list[Action] = []
        try:
            state = await self._load(update, tg_chat)
            command, stamp = parse_callback_data(query.data)
            presser = str(query.from_user.id)
            if stamp is not None and stamp != self.engine.stamp(state, command, presser):
                await self._mark(update, state.id)
                toast = self.texts("knop_verlopen")
                return
            is_admin = False
            session = state.session
            known = session is not None and presser in session.facilitators
            if is_group(tg_chat) and not known and self.engine.needs_steering(state, presser, command):
                is_admin = await self._is_admin(context.bot, tg_chat.id, query.from_user.id)
            actor = actor_of(query.from_user, is_admin=is_admin)
            event = Text(actor=actor, text=command, at=_now())
            origin = Origin(callback=True, user_id=query.from_user.id, prompted=_prompted(message, query.from_user.id))
            actions = await self._turn(update, state, event, origin)
            toasts = [a.text for a in actions if isinstance(a, Toast)]
            toast = "\n".join(toasts)[:200] or None
        finally:
            # Always answer a button press, first, so the client stops its spinner.
            try:
                await query.answer(text=toast)
            except TelegramError as exc:
                log.info("Knop niet beantwoord: %s", exc.__class__.__name__)
        await self._deliver(context.bot, tg_chat.id, chat_key(tg_chat.id), actions, update)

    async def on_poll_answer(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        answer = update.poll_answer
        assert answer is not None
        if answer.user is None:  # voted as a channel/chat: not a participant
            return
        ref = await self._guard(self.store.find_poll(answer.poll_id), update)
        if ref is None or ref.closed:
            return
        state = await self._stored_chat(update, ref.chat_id)
        if state is None:
            return
        actor = actor_of(answer.user)
        event = Vote(actor=actor, options=tuple(answer.option_ids), at=_now())
        actions = await self._turn(update, state, event, Origin())
        await self._deliver(context.bot, int(ref.chat_id), ref.chat_id, actions, update)

    async def on_membership(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        change = update.my_chat_member
        assert change is not None
        tg_chat = change.chat
        self._admins.pop(tg_chat.id, None)
        was_in = change.old_chat_member.status in PRESENT
        now_in = change.new_chat_member.status in PRESENT
        if not is_group(tg_chat):
            return
        if now_in and not was_in:
            state = await self._load(update, tg_chat)
            actions = await self._turn(update, state, Joined(at=_now()), Origin())
            await self._deliver(context.bot, tg_chat.id, state.id, actions, update)
        elif was_in and not now_in:
            log.info("De bot is uit groep %s gehaald; de gegevens blijven bewaard.", tg_chat.id)

    async def on_migrate(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A group became a supergroup: its compasses follow the new chat id."""
        message = update.message
        if message is None or not message.migrate_to_chat_id:
            return
        old, new = chat_key(message.chat.id), chat_key(message.migrate_to_chat_id)
        await self._move(old, new)
        await self._mark(update, new)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        error = context.error
        if error is None:
            return
        self.errors.append(error)
        update_id = update.update_id if isinstance(update, Update) else None
        if isinstance(error, StoreFailure):
            log.error("Opslaan mislukt bij update %s; die wordt opnieuw verwerkt.", update_id, exc_info=error)
            return
        log.error("Fout bij update %s: %s", update_id, error.__class__.__name__, exc_info=error)
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            return
        # Named literally, so `required_messages` finds both keys in the code.
        message = self.texts("fout_bewaard") if update_id in self._stored else self.texts("fout_niet_bewaard")
        try:
            await context.bot.send_message(chat.id, message)
        except TelegramError as exc:
            log.warning("Foutmelding niet verstuurd: %s", exc.__class__.__name__)

    # ------------------------------------------------------------------------- one turn

    async def _guard(self, pending: Awaitable[T], update: Update) -> T:
        try:
            return await pending
        except AlreadyProcessed:
            raise
        except StoreFailure:
            self._failed.add(update.update_id)
            raise
        except Exception as exc:
            self._failed.add(update.update_id)
            raise StoreFailure(str(exc.__class__.__name__)) from exc

    async def _stored_chat(self, update: Update, key: str) -> Chat | None:
        return await self._guard(self.service.stored(key), update)

    async def _load(self, update: Update, tg_chat: TgChat) -> Chat:
        key = chat_key(tg_chat.id)
        return await self._stored_chat(update, key) or Chat(id=key, is_group=is_group(tg_chat))

    async def _mark(self, update: Update, key: str | None, actions: list[Action] | None = None) -> None:
        """Store that the update was handled without changing the chat (with its replies, if any)."""
        marker = EventKey(SOURCE, update.update_id)
        with suppress(AlreadyProcessed):  # another process handled it: nothing more to store
            await self._guard(self.service.mark(key, marker, dump_actions(actions or [])), update)
        self._stored.add(update.update_id)

    def _planner(self, origin: Origin, placeholder: str, planned: list[Action]) -> Callable[[Outcome], str | None]:
        """The service stores a turn's Telegram actions in the outbox; `planned` keeps them for delivery."""

        def planner(outcome: Outcome) -> str | None:
            planned[:] = plan(
                outcome,
                group=outcome.chat.is_group,
                origin=origin,
                placeholder=placeholder,
                stamp=lambda command: self.engine.stamp(outcome.chat, command, origin.actor_id),
            )
            return dump_actions(planned)

        return planner

    async def _turn(self, update: Update, state: Chat, event: Event, origin: Origin) -> list[Action]:
        actions: list[Action] = []
        marker = EventKey(SOURCE, update.update_id)
        planner = self._planner(origin, self.texts("antwoord_plaatshouder"), actions)
        try:
            await self._guard(self.service.turn(state.id, event, marker=marker, plan=planner, state=state), update)
        except AlreadyProcessed:
            actions.clear()  # another process stored this update and answers it
        self._stored.add(update.update_id)
        return actions

    async def _is_admin(self, bot: Bot, chat_id: int, user_id: int) -> bool:
        """Live check against the chat's administrators, cached briefly per chat."""
        cached = self._admins.get(chat_id)
        now = time.monotonic()
        if cached is None or now - cached[0] > self.options.admin_cache_seconds:
            try:
                members = await bot.get_chat_administrators(chat_id)
                ids = frozenset(member.user.id for member in members)
            except TelegramError as exc:
                log.info("Beheerders van %s niet op te vragen: %s", chat_id, exc.__class__.__name__)
                ids = cached[1] if cached else frozenset()
            cached = (now, ids)
            self._admins[chat_id] = cached
        return user_id in cached[1]

    async def _move(self, old: str, new: str) -> None:
        self.service.forget_cached(old, new)
        await self.store.move_chat(old, new)
        await self.store.move_polls(old, new)
        self._admins.pop(int(old), None)

    # ------------------------------------------------------------------------- delivery

    async def _deliver(self, bot: Bot, chat_id: int, key: str, actions: list[Action], update: Update) -> None:
        """Send the replies of a stored turn (which are in the outbox if `lasting` keeps any)."""
        outbox = EventKey(SOURCE, update.update_id) if lasting(actions) else None
        if outbox is not None and key in self.waiting:
            # Earlier replies of this chat wait still: all of them go first, this turn's among them.
            await self._replay(bot, key)
            actions, outbox = [a for a in actions if isinstance(a, AskModel)], None
        await self._execute(bot, chat_id, key, actions, outbox=outbox)

    async def redeliver(self, bot: Bot, keys: set[str] | None = None) -> int:
        """Send what the outbox still holds (of the chats `keys`, or all), per chat in order: at
        start what a crash left, later what failed for now. Returns how many turns were delivered."""
        chats = {entry.chat_id for entry in await self.store.undelivered(SOURCE)}
        if keys is not None:
            self.waiting -= keys - chats
            chats &= keys

        async def one(key: str) -> int:
            async with self.service.locks.hold(key):
                return await self._replay(bot, key)

        return sum(await asyncio.gather(*(one(key) for key in sorted(chats))))

    async def _replay(self, bot: Bot, key: str) -> int:
        """Deliver the chat's outbox in order (the caller holds the chat's lock). Stops at a
        delivery that fails for now: then the chat waits for the next `redeliver`."""
        delivered = 0
        for entry in await self.store.undelivered(SOURCE, key):
            if entry.marker in self._clearing:
                continue  # delivered already; its removal is on its way
            if entry.marker in self._sending:
                return delivered  # a detached delivery of this chat is still busy; it goes first
            try:
                actions = load_actions(entry.actions)
            except (ValueError, KeyError, TypeError) as exc:  # it would fail every time
                log.error("Onleesbaar uitgesteld antwoord in chat %s weggegooid: %s", key, exc.__class__.__name__)
                self._cleared(entry.marker)
                continue
            try:
                await self._execute(bot, int(key), key, actions, detached=True, outbox=entry.marker)
            except Exception as exc:
                log.warning("Uitgesteld antwoord in chat %s niet bezorgd: %s", key, exc.__class__.__name__)
                if is_transient(exc):
                    return delivered
                continue  # refused for good: `_execute` removed it
            delivered += 1
        self.waiting.discard(key)
        return delivered

    async def _execute(
        self,
        bot: Bot,
        chat_id: int,
        key: str,
        actions: list[Action],
        *,
        detached: bool = False,
        outbox: EventKey | None = None,
    ) -> None:
        """Send the actions, then remove them from the outbox (`outbox`: their row, if any).

        They stay in the outbox if the delivery is cancelled (shutdown) or fails in a way worth
        trying again (the chat then waits for `redeliver`); a refusal that will not change
        (403, 400) removes them like a delivery does."""
        if outbox is not None and not lasting(actions):
            # What is left (a model's work) is not in the outbox: the row is done before it starts.
            self._cleared(outbox)
            outbox = None
        if outbox is None:
            await self._send(bot, chat_id, key, actions, detached=detached)
            return
        self._sending.add(outbox)
        try:
            handed_over = await self._send(bot, chat_id, key, actions, detached=detached, outbox=outbox)
        except asyncio.CancelledError:
            self._sending.discard(outbox)
            raise
        except Exception as exc:
            if is_transient(exc):
                self._sending.discard(outbox)  # stays in the outbox
                self.waiting.add(key)
            else:
                self._cleared(outbox)
            raise
        if not handed_over:
            self._cleared(outbox)

    def _cleared(self, outbox: EventKey) -> None:
        """Drop a delivered row with the next group commit. Until that is committed the row counts
        as cleared, so a replay in between does not send it again."""
        self._sending.discard(outbox)
        self._clearing.add(outbox)

        def done(future: asyncio.Future[None]) -> None:
            self._clearing.discard(outbox)
            if not future.cancelled() and future.exception() is not None:
                # It stays in the outbox: sent once more at the next start.
                log.warning("Bezorgd antwoord niet uit de outbox gehaald: %s", future.exception().__class__.__name__)

        self.commits.delivered(outbox).add_done_callback(done)

    async def _send(
        self,
        bot: Bot,
        chat_id: int,
        key: str,
        actions: list[Action],
        *,
        detached: bool,
        outbox: EventKey | None = None,
    ) -> bool:
        """Send the actions in order. Toasts were already used as the callback answer.

        From the first slow action on (a model call, an export), the rest runs detached: after
        this update, in order, while the bot goes on with other updates. True if it did that (the
        detached part then also finishes the outbox row)."""
        for index, action in enumerate(actions):
            if not detached and isinstance(action, SLOW_ACTIONS):
                rest = actions[index:]
                work = self._execute(bot, chat_id, key, rest, detached=True, outbox=outbox)
                self._detach(work, type(action).__name__, bot, chat_id)
                return True
            try:
                await self._perform(bot, chat_id, key, action)
            except ChatMigrated as moved:
                new_key = chat_key(moved.new_chat_id)
                await self._move(key, new_key)
                chat_id, key = moved.new_chat_id, new_key
                await self._perform(bot, chat_id, key, action)
            except Forbidden as exc:
                log.info("Geen toegang meer tot chat %s (%s); de rest van het antwoord vervalt.", chat_id, exc.message)
                return False
        return False

    async def _perform(self, bot: Bot, chat_id: int, key: str, action: Action) -> None:
        if isinstance(action, SendText):
            reply = ReplyParameters(action.reply_to, allow_sending_without_reply=True) if action.reply_to else None
            await bot.send_message(
                chat_id,
                action.text,
                parse_mode=ParseMode.HTML,
                reply_markup=action.markup,
                reply_parameters=reply,
                link_preview_options=NO_PREVIEW,
            )
        elif isinstance(action, React):
            try:
                await bot.set_message_reaction(chat_id, action.message_id, ReactionTypeEmoji(action.emoji))
            except BadRequest as exc:
                # Reactions switched off in this chat (or the emoji is not allowed): say it instead.
                log.info("Reactie niet mogelijk in %s: %s", chat_id, exc.message)
                if action.fallback:
                    await self._perform(bot, chat_id, key, SendText(action.fallback, reply_to=action.message_id))
        elif isinstance(action, SendPoll):
            sent = await bot.send_poll(
                chat_id, action.question, list(action.options), is_anonymous=False, allows_multiple_answers=True
            )
            if sent.poll is not None:
                await self.store.save_poll(sent.poll.id, key, sent.message_id)
        elif isinstance(action, StopPoll):
            for ref in await self.store.open_polls(key):
                try:
                    await bot.stop_poll(chat_id, ref.message_id)
                except BadRequest as exc:  # already closed or deleted: nothing to stop
                    log.info("Peiling %s niet gestopt: %s", ref.poll_id, exc.message)
                await self.store.close_poll(ref.poll_id)
        elif isinstance(action, SendExport):
            await self._export(bot, chat_id, key, action.format)
        elif isinstance(action, AskModel):
            await self._ask_model(bot, chat_id, key, action)
        elif isinstance(action, SendPrivate):
            note = self.texts("prive_gestuurd")
            try:
                for chunk in split_html(action.text):
                    await bot.send_message(
                        action.user_id, chunk, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW
                    )
            except (Forbidden, BadRequest) as exc:  # this person never opened a private chat with the bot
                log.info("Privébericht niet mogelijk: %s", exc.message)
                note = self.texts("prive_niet_gelukt")
            await self._perform(bot, chat_id, key, SendText(note, reply_to=action.reply_to))

    async def _ask_model(self, bot: Bot, chat_id: int, key: str, action: AskModel) -> None:
        """The model's proposal (or its failure) is a turn of its own, run by the service."""
        actions: list[Action] = []
        outcome = await self.service.follow_up(key, action.request, plan=self._planner(Origin(), "", actions))
        if outcome is not None:
            await self._execute(bot, chat_id, key, actions, detached=True)

    async def _export(self, bot: Bot, chat_id: int, key: str, fmt: str) -> None:
        state = self.cache.get(key) or await self.store.load_chat(key)
        file: ExportFile | None = None
        problem = self.texts("geen_document")
        if self.exporter is not None and state is not None and state.session is not None:
            try:
                file = await self.exporter(state, fmt)
            except Exception as exc:
                from bot.document.export import ExportError

                if isinstance(exc, ExportError):  # a Dutch message meant for the user
                    problem = html.escape(str(exc), quote=False)
                log.warning("Export naar %s mislukt: %s", fmt, exc.__class__.__name__, exc_info=True)
        if file is None:
            await bot.send_message(chat_id, problem, parse_mode=ParseMode.HTML)
        elif fmt == "png":
            await bot.send_photo(chat_id, photo=file.data, filename=file.filename)
        else:
            await bot.send_document(chat_id, document=file.data, filename=file.filename)
