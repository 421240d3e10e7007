"""Writing turns fast without weakening "stored before answered".

`GroupCommit`: every turn still awaits its own write before the bot answers, but the writes of
all chats that are waiting at the same moment go into one transaction (one fsync) instead of
one each; so do the replies of those turns (the outbox) and the removal of replies that were
delivered. `ChatCache`: the state this process last stored per chat, so a turn does not have to
read it back (write-through: it only ever holds what is in the store). The cache may be
stale when another process wrote the chat: a turn then fails its version check (`Conflict`) and
is run again on the stored state, so nothing is lost with several processes on one database.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from bot.compass import Chat
from bot.store import EventKey, OutboxEntry, Store, TurnWrite


class GroupCommit:
    def __init__(self, store: Store, *, max_batch: int = 500) -> None:
        self.store = store
        self.max_batch = max_batch
        self.commits = 0
        self.items = 0
        self._pending: list[tuple[TurnWrite, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def save(
        self, chat: Chat | None, marker: EventKey | None, chat_id: str | None = None, *, outbox: str | None = None
    ) -> None:
        """Store the chat (if any, with the version it becomes), the marker and the replies `outbox` (if
        any, only with a marker and a chat id); returns once committed, or raises what the turn failed
        with (`Conflict`: the chat changed meanwhile; `AlreadyProcessed`: the marker was there)."""
        entry = OutboxEntry(marker, chat_id, outbox) if outbox and marker and chat_id else None
        await self._enqueue(TurnWrite(chat, marker, chat_id, entry))

    def delivered(self, marker: EventKey) -> asyncio.Future[None]:
        """Remove the replies of `marker` from the outbox with the next commit, without waiting for
        it: a crash before that commit only means the reply is sent once more at the next start."""
        return self._enqueue(TurnWrite(delivered=marker))

    async def flush(self) -> None:
        """Wait until everything queued is committed (at shutdown)."""
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)

    def _enqueue(self, write: TurnWrite) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((write, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        return future

    async def _write(self) -> None:
        while self._pending:
            await asyncio.sleep(0)  # turns that are ready right now join this commit
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            try:
                failures = await self.store.write_turns([write for write, _ in batch])
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(RuntimeError(f"opslaan mislukt: {exc.__class__.__name__}"))
                continue
            self.commits += 1
            self.items += len(batch)
            for (_, future), failure in zip(batch, failures, strict=True):
                if future.done():
                    continue
                if failure is None:
                    future.set_result(None)
                else:
                    future.set_exception(failure)


class ChatCache:
    """The last stored state per chat, least recently used first out."""

    def __init__(self, size: int = 5000) -> None:
        self.size = size
        self._chats: OrderedDict[str, Chat] = OrderedDict()

    def get(self, key: str) -> Chat | None:
        chat = self._chats.get(key)
        if chat is not None:
            self._chats.move_to_end(key)
        return chat

    def put(self, chat: Chat) -> None:
        self._chats[chat.id] = chat
        self._chats.move_to_end(chat.id)
        while len(self._chats) > self.size:
            self._chats.popitem(last=False)

    def drop(self, *keys: str) -> None:
        for key in keys:
            self._chats.pop(key, None)
