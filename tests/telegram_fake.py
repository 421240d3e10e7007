"""A local Telegram Bot API server for tests and the benchmark (aiohttp, 127.0.0.1, random port).

It implements the methods Kompasbot uses with Telegram's own rules where they matter (HTML must
parse, 4096 characters, 64-byte callback data, the fixed reaction list, 2-10 poll options),
keeps a queue of updates with real getUpdates offset semantics (long polling included), records
every call, and can fail on purpose: `fail` (429 with retry_after, 500, 502), `slow` (answer after
a delay, e.g. past the client's read timeout; the call takes effect, like Telegram would),
`drop` (close the connection without an answer), `hang` (until released). A getUpdates that is still
waiting when a newer one arrives is ended with 409 Conflict, as Telegram does with two pollers.
Private chats of people in `no_private` refuse messages (403), like Telegram does for someone who
never started the bot.
The update builders produce realistic Telegram JSON. Nothing here imports the bot: it talks HTTP only.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import re
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw-test"
BOT_ID = 123456789

# Telegram's fixed list of reactions for bots (Bot API "ReactionTypeEmoji").
# fmt: off
REACTIONS = frozenset((
    "👍", "👎", "❤", "🔥", "🥰", "👏", "😁", "🤔", "🤯", "😱", "🤬", "😢",
    "🎉", "🤩", "🤮", "💩", "🙏", "👌", "🕊", "🤡", "🥱", "🥴", "😍", "🐳",
    "❤️‍🔥", "🌚", "🌭", "💯", "🤣", "⚡", "🍌", "🏆", "💔", "🤨", "😐", "🍓",
    "🍾", "💋", "🖕", "😈", "😴", "😭", "🤓", "👻", "👨‍💻", "👀", "🎃", "🙈",
    "😇", "😨", "🤝", "✍", "🤗", "🫡", "🎅", "🎄", "☃", "💅", "🤪", "🗿",
    "🆒", "💘", "🙉", "🦄", "😘", "💊", "🙊", "😎", "👾", "🤷‍♂️", "🤷", "🤷‍♀️",
    "😡",
))
# fmt: on
HTML_TAGS = frozenset({"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "code", "pre", "a", "blockquote"})
RAW_FIELDS = frozenset({"text", "question", "caption", "callback_query_id", "url", "secret_token", "parse_mode"})


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    status: int = 200
    at: float = field(default_factory=time.monotonic)
    files: dict[str, tuple[str, int]] = field(default_factory=dict)
    error: str = ""

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return int(value) if value is not None else None


class BadRequest(Exception):
    code = 400


class Forbidden(BadRequest):
    code = 403


class Conflict(BadRequest):
    code = 409


def user(uid: int, first_name: str, *, username: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"id": uid, "is_bot": False, "first_name": first_name, "language_code": "nl"}
    if username:
        data["username"] = username
    return data


def group(chat_id: int, title: str = "Kompas-team", *, supergroup: bool = False) -> dict[str, Any]:
    return {"id": chat_id, "type": "supergroup" if supergroup else "group", "title": title}


def private(person: dict[str, Any]) -> dict[str, Any]:
    return {"id": person["id"], "type": "private", "first_name": person["first_name"]}


def visible_length(text: str) -> int:
    plain = html.unescape(re.sub(r"<[^>]+>", "", text))
    return len(plain.encode("utf-16-le")) // 2


def check_html(text: str) -> None:
    """Roughly Telegram's HTML parse mode: known tags, properly nested; only valid entities."""
    stack: list[str] = []
    for match in re.finditer(r"<(/?)([a-zA-Z-]+)([^>]*)>|<|&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);|&", text):
        whole = match.group(0)
        if whole == "<":
            raise BadRequest("Bad Request: can't parse entities: unsupported start tag")
        if whole == "&":
            raise BadRequest("Bad Request: can't parse entities: unsupported HTML entity")
        entity = match.group(4)
        if entity is not None:
            if not entity.startswith("#") and entity not in ("lt", "gt", "amp", "quot"):
                raise BadRequest(f"Bad Request: can't parse entities: unsupported HTML entity &{entity};")
            continue
        closing, tag = match.group(1), match.group(2).lower()
        if tag not in HTML_TAGS:
            raise BadRequest(f'Bad Request: can\'t parse entities: unsupported start tag "{tag}"')
        if closing:
            if not stack or stack[-1] != tag:
                raise BadRequest(f'Bad Request: can\'t parse entities: unmatched end tag "{tag}"')
            stack.pop()
        else:
            stack.append(tag)
    if stack:
        raise BadRequest(
            f"Bad Request: can't parse entities: can't find end tag corresponding to start tag {stack[-1]}"
        )


class FakeBotApi:
    """The server. `await api.start()`, point the bot at `api.base_url`, push updates, inspect `calls`."""

    def __init__(
        self,
        token: str = TOKEN,
        *,
        username: str = "kompas_testbot",
        can_read_all: bool = False,
        bot_id: int = BOT_ID,
    ) -> None:
        self.token = token
        self.bot_user = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "Kompasbot",
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": can_read_all,
            "supports_inline_queries": False,
        }
        self.calls: list[Call] = []
        self.updates: list[dict[str, Any]] = []
        self.history: dict[int, dict[str, Any]] = {}
        self.confirmed = 0
        self.fetches = 0
        self.admins: dict[int, set[int]] = defaultdict(set)
        self.owners: dict[int, int] = {}
        self.users: dict[int, dict[str, Any]] = {}
        self.chats: dict[int, dict[str, Any]] = {}
        self._by_bot: dict[int, list[dict[str, Any]]] = defaultdict(list)
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.polls: dict[str, dict[str, Any]] = {}
        self.on_call: Callable[[Call], None] | None = None
        self.on_receive: Callable[[Call], None] | None = None
        self.no_private: set[int] = set()
        self._failures: dict[str, deque[tuple[int, int | None]]] = defaultdict(deque)
        self._slow: dict[str, deque[float]] = defaultdict(deque)
        self._drops: dict[str, int] = defaultdict(int)
        self._stalls: dict[str, int] = defaultdict(int)
        self._stopped = asyncio.Event()
        self._hang: dict[str, asyncio.Event] = {}
        self._ids = itertools.count(1000)
        self._message_ids: dict[int, itertools.count[int]] = defaultdict(lambda: itertools.count(1))
        self._update_ids = itertools.count(5001)
        self._poll_ids = itertools.count(1)
        self._current_poll = 0
        self.conflicts = 0  # getUpdates calls ended with 409 Conflict by a newer one
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._closing = False
        self.port = 0

    # ------------------------------------------------------------------------- server

    async def start(self) -> FakeBotApi:
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        self._closing = True
        self._stopped.set()  # stalled calls (see `stall`) end now
        await self._notify()  # end pending long polls now
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        """Without the `/bot` suffix, like an operator would write it for a self-hosted server."""
        return f"http://127.0.0.1:{self.port}"

    def fail(self, method: str, status: int, *, retry_after: int | None = None, times: int = 1) -> None:
        """The next `times` calls of `method` fail with this HTTP status."""
        for _ in range(times):
            self._failures[method].append((status, retry_after))

    def slow(self, method: str, seconds: float, *, times: int = 1) -> None:
        """The next `times` calls of `method` take effect at once but are answered `seconds` later."""
        self._slow[method].extend([seconds] * times)

    def stall(self, method: str, *, times: int = 1) -> None:
        """The next `times` calls of `method` take effect at once but are never answered (until
        the fake stops): the client's read timeout always fires, however slow the machine is."""
        self._stalls[method] += times

    def drop(self, method: str, *, times: int = 1) -> None:
        """The next `times` calls of `method` lose their connection before they take effect."""
        self._drops[method] += times

    def hang(self, method: str) -> asyncio.Event:
        """Calls of `method` wait until the returned event is set (to kill a bot mid-delivery)."""
        event = asyncio.Event()
        self._hang[method] = event
        return event

    def release(self, method: str) -> None:
        """Let hanging calls of `method` (see `hang`) go on, and stop hanging new ones."""
        event = self._hang.pop(method, None)
        if event is not None:
            event.set()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        params, files = await self._params(request)
        call = Call(method, params, files=files)
        self.calls.append(call)
        if self.on_receive is not None:
            self.on_receive(call)
        if method in self._hang:
            await self._hang[method].wait()
        if self._drops[method] > 0:
            self._drops[method] -= 1
            call.status = 0
            if request.transport is not None:
                request.transport.abort()  # the client sees a dropped connection, no answer
            return web.Response(status=204)
        stalled = self._stalls[method] > 0
        if stalled:
            self._stalls[method] -= 1
        delay = self._slow[method].popleft() if self._slow[method] else 0.0
        response = await self._answer(method, call, params, files)
        if stalled:
            await self._stopped.wait()
        if delay:
            await asyncio.sleep(delay)
        return response

    async def _answer(
        self, method: str, call: Call, params: dict[str, Any], files: dict[str, tuple[str, int]]
    ) -> web.StreamResponse:
        if self._failures[method]:
            status, retry_after = self._failures[method].popleft()
            call.status = status
            if status == 429:
                body = {
                    "ok": False,
                    "error_code": 429,
                    "description": f"Too Many Requests: retry after {retry_after}",
                    "parameters": {"retry_after": retry_after or 1},
                }
                return web.json_response(body, status=429)
            reason = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}.get(status, "Error")
            return web.Response(status=status, text=f"<html><body><h1>{status} {reason}</h1></body></html>")
        handler = getattr(self, "_m_" + method, None)
        if handler is None:
            call.status = 404
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        try:
            result = await handler(params, files) if asyncio.iscoroutinefunction(handler) else handler(params, files)
        except BadRequest as exc:
            call.status = exc.code
            call.error = str(exc)
            return web.json_response({"ok": False, "error_code": exc.code, "description": str(exc)}, status=exc.code)
        if self.on_call is not None:
            self.on_call(call)
        return web.json_response({"ok": True, "result": result})

    async def _params(self, request: web.Request) -> tuple[dict[str, Any], dict[str, tuple[str, int]]]:
        params: dict[str, Any] = {}
        files: dict[str, tuple[str, int]] = {}
        if request.content_type == "application/json":
            return dict(await request.json()), files
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                data = value.file.read()
                files[key] = (value.filename, len(data))
                continue
            if key in RAW_FIELDS:
                params[key] = value
            else:
                try:
                    params[key] = json.loads(value)
                except (ValueError, TypeError):
                    params[key] = value
        return params, files

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # ------------------------------------------------------------------------- methods

    def _m_getMe(self, params: dict[str, Any], files: Any) -> dict[str, Any]:
        return self.bot_user

    def _m_deleteWebhook(self, params: dict[str, Any], files: Any) -> bool:
        return True

    def _m_setWebhook(self, params: dict[str, Any], files: Any) -> bool:
        return True

    def _m_setMyCommands(self, params: dict[str, Any], files: Any) -> bool:
        for command in params["commands"]:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command["command"]) or not 1 <= len(command["description"]) <= 256:
                raise BadRequest("Bad Request: BOT_COMMAND_INVALID")
        return True

    async def _m_getUpdates(self, params: dict[str, Any], files: Any) -> list[dict[str, Any]]:
        """Like Telegram: a newer getUpdates ends a waiting one with 409 Conflict (two pollers on one token)."""
        self.fetches += 1
        me = next(self._poll_ids)
        self._current_poll = me
        await self._notify()  # a long poll that is waiting now learns it was overtaken
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        if offset:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
            if offset > self.confirmed:
                self.confirmed = offset
                await self._notify()
        deadline = time.monotonic() + timeout
        async with self._changed:
            while not self.updates and time.monotonic() < deadline and not self._closing:
                try:
                    await asyncio.wait_for(self._changed.wait(), deadline - time.monotonic())
                except TimeoutError:
                    break
                if self._current_poll != me:
                    self.conflicts += 1
                    raise Conflict(
                        "Conflict: terminated by other getUpdates request; "
                        "make sure that only one bot instance is running"
                    )
        return self.updates[:limit]

    def _chat_of(self, chat_id: int) -> dict[str, Any]:
        if chat_id in self.chats:
            return self.chats[chat_id]
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": self.users.get(chat_id, {}).get("first_name", "X")}
        return group(chat_id)

    def _bot_message(self, chat_id: int, **content: Any) -> dict[str, Any]:
        message = {
            "message_id": next(self._message_ids[chat_id]),
            "from": self.bot_user,
            "chat": self._chat_of(chat_id),
            "date": int(time.time()),
            **content,
        }
        self.messages[(chat_id, message["message_id"])] = message
        self._by_bot[chat_id].append(message)
        return message

    @staticmethod
    def _check_markup(markup: dict[str, Any] | None) -> dict[str, Any] | None:
        if not markup:
            return None
        for row in markup.get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= 64:
                    raise BadRequest("Bad Request: BUTTON_DATA_INVALID")
        placeholder = markup.get("input_field_placeholder")
        if placeholder is not None and len(placeholder) > 64:
            raise BadRequest("Bad Request: field placeholder too long")
        return markup

    def _check_chat(self, chat_id: int) -> None:
        if chat_id in self.no_private:
            raise Forbidden("Forbidden: bot can't initiate conversation with a user")

    def _m_sendMessage(self, params: dict[str, Any], files: Any) -> dict[str, Any]:
        self._check_chat(int(params["chat_id"]))
        text = params.get("text", "")
        if not isinstance(text, str) or "\x00" in text or any(0xD800 <= ord(c) <= 0xDFFF for c in text):
            raise BadRequest("Bad Request: strings must be encoded in UTF-8")
        if params.get("parse_mode") == "HTML":
            check_html(text)
            plain = html.unescape(re.sub(r"<[^>]+>", "", text))
        else:
            plain = text
        if not plain.strip():
            raise BadRequest("Bad Request: message text is empty")
        if visible_length(text) > 4096:
            raise BadRequest("Bad Request: message is too long")
        markup = self._check_markup(params.get("reply_markup"))
        content: dict[str, Any] = {"text": plain}
        if markup and "inline_keyboard" in markup:
            content["reply_markup"] = markup
        replied = self.messages.get((int(params["chat_id"]), (params.get("reply_parameters") or {}).get("message_id")))
        if replied is not None:  # as Telegram does: the message it answers travels with it
            content["reply_to_message"] = {k: v for k, v in replied.items() if not k.startswith("_")}
        message = self._bot_message(int(params["chat_id"]), **content)
        message["_html"] = text
        message["_markup"] = markup
        message["_reply_to"] = (params.get("reply_parameters") or {}).get("message_id")
        return {k: v for k, v in message.items() if not k.startswith("_")}

    def _m_editMessageText(self, params: dict[str, Any], files: Any) -> dict[str, Any]:
        key = (int(params["chat_id"]), int(params["message_id"]))
        if key not in self.messages:
            raise BadRequest("Bad Request: message to edit not found")
        check_html(params["text"])
        self.messages[key]["text"] = params["text"]
        return {k: v for k, v in self.messages[key].items() if not k.startswith("_")}

    def _m_editMessageReplyMarkup(self, params: dict[str, Any], files: Any) -> dict[str, Any]:
        key = (int(params["chat_id"]), int(params["message_id"]))
        if key not in self.messages:
            raise BadRequest("Bad Request: message to edit not found")
        return {k: v for k, v in self.messages[key].items() if not k.startswith("_")}

    def _m_answerCallbackQuery(self, params: dict[str, Any], files: Any) -> bool:
        if len(params.get("text") or "") > 200:
            raise BadRequest("Bad Request: MESSAGE_TOO_LONG")
        return True

    def _m_setMessageReaction(self, params: dict[str, Any], files: Any) -> bool:
        if (int(params["chat_id"]), int(params["message_id"])) not in self.messages:
            raise BadRequest("Bad Request: message to react not found")
        for reaction in params.get("reaction") or []:
            if reaction.get("type") == "emoji" and reaction.get("emoji") not in REACTIONS:
                raise BadRequest("Bad Request: REACTION_INVALID")
        return True

    def _m_sendPoll(self, params: dict[str, Any], files: Any) -> dict[str, Any]:
        options = [o["text"] if isinstance(o, dict) else str(o) for o in params["options"]]
        if not 2 <= len(options) <= 10 or any(not 1 <= len(o) <= 100 for o in options):
            raise BadRequest("Bad Request: POLL_OPTIONS_INVALID")
        if not 1 <= len(params["question"]) <= 300:
            raise BadRequest("Bad Request: POLL_QUESTION_INVALID")
        poll_id = str(next(self._ids) * 7919)
        poll = {
            "id": poll_id,
            "question": params["question"],
            "options": [
                {"text": text, "voter_count": 0, "persistent_id": f"{poll_id}-{n}"} for n, text in enumerate(options)
            ],
            "total_voter_count": 0,
            "is_closed": False,
            "is_anonymous": params.get("is_anonymous", True) in (True, "true"),
            "type": "regular",
            "allows_multiple_answers": params.get("allows_multiple_answers") in (True, "true"),
            "allows_revoting": True,
            "members_only": False,
        }
        message = self._bot_message(int(params["chat_id"]), poll=poll)
        self.polls[poll_id] = {"poll": poll, "chat_id": int(params["chat_id"]), "message_id": message["message_id"]}
        return message

    def _m_stopPoll(self, params: dict[str, Any], files: Any) -> dict[str, Any]:
        for entry in self.polls.values():
            if entry["chat_id"] == int(params["chat_id"]) and entry["message_id"] == int(params["message_id"]):
                if entry["poll"]["is_closed"]:
                    raise BadRequest("Bad Request: poll has already been closed")
                entry["poll"]["is_closed"] = True
                return entry["poll"]
        raise BadRequest("Bad Request: message with poll to stop not found")

    def _m_sendDocument(self, params: dict[str, Any], files: dict[str, tuple[str, int]]) -> dict[str, Any]:
        name, size = files["document"]
        document = {"file_id": f"doc{next(self._ids)}", "file_unique_id": "u1", "file_name": name, "file_size": size}
        return self._bot_message(int(params["chat_id"]), document=document)

    def _m_sendPhoto(self, params: dict[str, Any], files: dict[str, tuple[str, int]]) -> dict[str, Any]:
        _, size = files["photo"]
        photo = [
            {"file_id": f"ph{next(self._ids)}", "file_unique_id": "u2", "width": 800, "height": 600, "file_size": size}
        ]
        return self._bot_message(int(params["chat_id"]), photo=photo)

    def _member(self, chat_id: int, uid: int) -> dict[str, Any]:
        person = self.users.get(uid) or (self.bot_user if uid == self.bot_user["id"] else user(uid, "Iemand"))
        if self.owners.get(chat_id) == uid:
            return {"status": "creator", "user": person, "is_anonymous": False}
        if uid in self.admins[chat_id]:
            rights = dict.fromkeys(
                [
                    "can_manage_chat",
                    "can_delete_messages",
                    "can_manage_video_chats",
                    "can_restrict_members",
                    "can_promote_members",
                    "can_change_info",
                    "can_invite_users",
                    "can_post_stories",
                    "can_edit_stories",
                    "can_delete_stories",
                    "can_pin_messages",
                ],
                True,
            )
            return {"status": "administrator", "user": person, "can_be_edited": False, "is_anonymous": False, **rights}
        return {"status": "member", "user": person}

    def _m_getChatAdministrators(self, params: dict[str, Any], files: Any) -> list[dict[str, Any]]:
        chat_id = int(params["chat_id"])
        ids = ([self.owners[chat_id]] if chat_id in self.owners else []) + sorted(self.admins[chat_id])
        return [self._member(chat_id, uid) for uid in ids]

    def _m_getChatMember(self, params: dict[str, Any], files: Any) -> dict[str, Any]:
        return self._member(int(params["chat_id"]), int(params["user_id"]))

    # ------------------------------------------------------------------------- updates

    def push(self, payload: dict[str, Any]) -> int:
        update_id = next(self._update_ids)
        update = {"update_id": update_id, **payload}
        self.history[update_id] = update
        self.updates.append(update)
        asyncio.get_running_loop().create_task(self._notify())
        return update_id

    def redeliver(self, update_id: int) -> None:
        """Queue an update again with the same update_id, as Telegram does when it was not confirmed."""
        self.confirmed = min(self.confirmed, update_id)
        self.updates.append(self.history[update_id])
        self.updates.sort(key=lambda u: u["update_id"])
        asyncio.get_running_loop().create_task(self._notify())

    def _user_message(self, chat: dict[str, Any], person: dict[str, Any], **content: Any) -> dict[str, Any]:
        self.users[person["id"]] = person
        self.chats[chat["id"]] = chat
        message = {
            "message_id": next(self._message_ids[chat["id"]]),
            "from": person,
            "chat": chat,
            "date": int(time.time()),
            **content,
        }
        self.messages[(chat["id"], message["message_id"])] = message
        return message

    def text(self, chat: dict[str, Any], person: dict[str, Any], text: str, *, reply_to: int | None = None) -> int:
        """A message; commands get a bot_command entity, `reply_to` names a bot message it replies to."""
        content: dict[str, Any] = {"text": text}
        command = re.match(r"/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?", text)
        if command:
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command.group(0))}]
        if reply_to is not None:
            replied = self.messages[(chat["id"], reply_to)]
            content["reply_to_message"] = {k: v for k, v in replied.items() if not k.startswith("_")}
        return self.push({"message": self._user_message(chat, person, **content)})

    def reply(self, chat: dict[str, Any], person: dict[str, Any], text: str) -> int:
        """A reply to the bot's latest question (the message that asked with ForceReply)."""
        return self.text(chat, person, text, reply_to=self.last_question(chat["id"])["message_id"])

    def photo(self, chat: dict[str, Any], person: dict[str, Any], *, reply_to: int | None = None) -> int:
        content: dict[str, Any] = {
            "photo": [{"file_id": "AgAD", "file_unique_id": "AQAD", "width": 320, "height": 240, "file_size": 9000}]
        }
        if reply_to is not None:
            content["reply_to_message"] = {
                k: v for k, v in self.messages[(chat["id"], reply_to)].items() if k[0] != "_"
            }
        return self.push({"message": self._user_message(chat, person, **content)})

    def sticker(self, chat: dict[str, Any], person: dict[str, Any]) -> int:
        sticker = {
            "file_id": "CAAC",
            "file_unique_id": "AgAD",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "👍",
        }
        return self.push({"message": self._user_message(chat, person, sticker=sticker)})

    def media(self, chat: dict[str, Any], person: dict[str, Any], kind: str, *, reply_to: int | None = None) -> int:
        """A message without text: voice, document, video, video_note, audio, location, contact, dice, animation."""
        file = {"file_id": f"F{kind}", "file_unique_id": f"U{kind}"}
        contents: dict[str, Any] = {
            "voice": {**file, "duration": 3, "mime_type": "audio/ogg"},
            "audio": {**file, "duration": 120, "title": "Lied"},
            "document": {**file, "file_name": "notulen <concept>.docx", "mime_type": "application/octet-stream"},
            "video": {**file, "width": 640, "height": 480, "duration": 5},
            "video_note": {**file, "length": 240, "duration": 4},
            "animation": {**file, "width": 320, "height": 240, "duration": 2},
            "location": {"latitude": 52.37, "longitude": 4.89},
            "contact": {"phone_number": "+31600000000", "first_name": "Ria"},
            "dice": {"emoji": "🎲", "value": 4},
        }
        content: dict[str, Any] = {kind: contents[kind]}
        if kind in ("document", "video", "animation", "audio"):
            content["caption"] = "/volgende <b>bijlage</b>"
        if reply_to is not None:
            content["reply_to_message"] = {
                k: v for k, v in self.messages[(chat["id"], reply_to)].items() if k[0] != "_"
            }
        return self.push({"message": self._user_message(chat, person, **content)})

    def edit(self, chat: dict[str, Any], message_id: int, text: str) -> int:
        original = self.messages[(chat["id"], message_id)]
        edited = {**{k: v for k, v in original.items() if k[0] != "_"}, "text": text, "edit_date": int(time.time())}
        return self.push({"edited_message": edited})

    def press(self, chat: dict[str, Any], person: dict[str, Any], message_id: int, data: str) -> int:
        self.users[person["id"]] = person
        message = {k: v for k, v in self.messages[(chat["id"], message_id)].items() if not k.startswith("_")}
        query = {
            "id": str(next(self._ids) * 104729),
            "from": person,
            "message": message,
            "chat_instance": str(-abs(chat["id"]) * 31),
            "data": data,
        }
        return self.push({"callback_query": query})

    def vote(self, person: dict[str, Any], poll_id: str, option_ids: list[int]) -> int:
        self.users[person["id"]] = person
        answer = {
            "poll_id": poll_id,
            "user": person,
            "option_ids": option_ids,
            "option_persistent_ids": [f"{poll_id}-{n}" for n in option_ids],
        }
        return self.push({"poll_answer": answer})

    def membership(self, chat: dict[str, Any], by: dict[str, Any], old: str, new: str) -> int:
        change = {
            "chat": chat,
            "from": by,
            "date": int(time.time()),
            "old_chat_member": {"user": self.bot_user, "status": old},
            "new_chat_member": {"user": self.bot_user, "status": new},
        }
        return self.push({"my_chat_member": change})

    def migrate(self, old_chat: dict[str, Any], new_id: int, by: dict[str, Any]) -> tuple[int, int]:
        """A group becomes a supergroup: a service message in each chat, like Telegram sends."""
        new_chat = {**old_chat, "id": new_id, "type": "supergroup"}
        first = self.push({"message": self._user_message(old_chat, by, migrate_to_chat_id=new_id)})
        second = self.push({"message": self._user_message(new_chat, by, migrate_from_chat_id=old_chat["id"])})
        return first, second

    # ------------------------------------------------------------------------- inspection

    async def wait_confirmed(self, update_id: int, timeout: float = 10.0) -> None:
        """Until the bot asked for updates after `update_id`: it processed everything up to it."""
        deadline = time.monotonic() + timeout
        async with self._changed:
            while self.confirmed <= update_id:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"update {update_id} not confirmed (offset {self.confirmed})")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), remaining)

    def sent(self, method: str = "sendMessage", chat_id: int | None = None) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.method == method and c.status == 200 and (chat_id is None or c.chat_id == chat_id)
        ]

    def texts(self, chat_id: int) -> list[str]:
        return [c.params["text"] for c in self.sent("sendMessage", chat_id)]

    def bot_messages(self, chat_id: int) -> list[dict[str, Any]]:
        return list(self._by_bot[chat_id])

    def last_question(self, chat_id: int) -> dict[str, Any]:
        for message in reversed(self._by_bot[chat_id]):
            if (message.get("_markup") or {}).get("force_reply"):
                return message
        raise LookupError(f"no question with ForceReply in chat {chat_id}")

    def own_prompt(self, chat_id: int, user_id: int) -> dict[str, Any] | None:
        """The latest follow-up question meant for one person: a reply to their message, with an input
        field (selective ForceReply) or choice buttons; None if the bot asks them nothing now."""
        for message in reversed(self._by_bot[chat_id]):
            replied = self.messages.get((chat_id, message.get("_reply_to") or 0))
            markup = message.get("_markup") or {}
            if replied is None or replied["from"]["id"] != user_id:
                continue
            if (markup.get("force_reply") and markup.get("selective")) or markup.get("inline_keyboard"):
                return message
        return None

    def last_keyboard(self, chat_id: int) -> dict[str, Any]:
        for message in reversed(self._by_bot[chat_id]):
            if (message.get("_markup") or {}).get("inline_keyboard"):
                return message
        raise LookupError(f"no message with an inline keyboard in chat {chat_id}")

    @staticmethod
    def button(message: dict[str, Any], label: str) -> str:
        for row in message["_markup"]["inline_keyboard"]:
            for button in row:
                if button["text"] == label:
                    return str(button["callback_data"])
        raise LookupError(label)

    def last_poll(self, chat_id: int) -> dict[str, Any]:
        return [p for p in self.polls.values() if p["chat_id"] == chat_id][-1]
