"""Pure translation between Telegram and the engine: no I/O, so every rule here is unit-testable.

Updates become engine events (`actor_of`, `chat_key`, `addressed_to_bot`, ...). Engine replies
become a list of Telegram `Action`s (`plan`), which `handlers` executes in order.

Design of the question message in a group. A Telegram message has one `reply_markup`: either
an inline keyboard or ForceReply, not both. With privacy mode on (the default) the bot only
sees commands and replies to its own messages, so the question itself carries ForceReply: every
member's client opens a reply to it, and that reply reaches the bot. The navigation keyboard
(Volgende / Terug / Overslaan / Uitleg) goes on a small header message sent just before it (the
first line of the question, e.g. "Stap 1 · vraag 2 van 4"). In a private chat the bot sees
everything, so the question is one message with the keyboard under it.

Callback buttons carry `command#stamp`: the stamp is the engine's short hash of where the compass
stood when the button was sent (`Engine.stamp`), so a button under an older question cannot move
the compass on twice.

A follow-up question of one person's own item (`Reply.for_author`) goes, in a group, as a reply to
that person's message with a selective ForceReply: only they get the input field, and their answer
comes back to their own draft.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from telegram import Chat as TgChat
from telegram import ForceReply, InlineKeyboardButton, InlineKeyboardMarkup, Message, User
from telegram.constants import ChatType

from bot.events import Actor, Button, LLMRequest, Outcome, Reply

MAX_MESSAGE = 4096
MAX_CALLBACK_DATA = 64
MAX_TOAST = 200
MAX_PLACEHOLDER = 64
POLL_OPTIONS = range(2, 11)
# The engine's stamp of a button's command: where the compass stands, as far as that button cares.
Stamper = Callable[[str], str]

ReplyMarkup = InlineKeyboardMarkup | ForceReply


# ----------------------------------------------------------------------------- updates -> events


def chat_key(chat_id: int) -> str:
    """The store's id of a Telegram chat: its numeric id as text (e.g. '-100123')."""
    return str(chat_id)


def is_group(chat: TgChat) -> bool:
    return chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)


def display_name(user: User) -> str:
    return user.first_name or user.username or ""


def actor_of(user: User, *, is_admin: bool = False) -> Actor:
    return Actor(id=str(user.id), name=display_name(user), is_admin=is_admin)


def sender_of(message: Message, *, is_admin: bool = False) -> Actor | None:
    """Who wrote the message; an anonymous group admin (sender_chat is the group) counts as admin."""
    sender_chat = message.sender_chat
    if sender_chat is not None:
        own_group = sender_chat.id == message.chat.id
        return Actor(id=f"chat{sender_chat.id}", name=sender_chat.title or "", is_admin=own_group or is_admin)
    if message.from_user is None:
        return None
    return actor_of(message.from_user, is_admin=is_admin)


def addressed_to_bot(message: Message, bot_id: int) -> bool:
    """A reply to one of the bot's own messages."""
    replied = message.reply_to_message
    return replied is not None and replied.from_user is not None and replied.from_user.id == bot_id


def event_time(message: Message) -> datetime:
    return message.edit_date or message.date


# ----------------------------------------------------------------------------- callback data


def callback_data(command: str, stamp: Stamper) -> str | None:
    data = f"{command}#{stamp(command)}"
    return data if len(data.encode()) <= MAX_CALLBACK_DATA else None


def parse_callback_data(data: str) -> tuple[str, str | None]:
    command, sep, stamp = data.rpartition("#")
    if not sep:
        return data, None
    return command, stamp


def keyboard(buttons: tuple[Button, ...], stamp: Stamper) -> InlineKeyboardMarkup | None:
    """Engine buttons as callback buttons whose data is the command (short labels two per row)."""
    cells = []
    for button in buttons:
        data = callback_data(button.command, stamp)
        if data is not None:
            cells.append(InlineKeyboardButton(button.label, callback_data=data))
    if not cells:
        return None
    width = 2 if all(len(b.label) <= 14 for b in buttons) else 1
    return InlineKeyboardMarkup([cells[i : i + width] for i in range(0, len(cells), width)])


# ----------------------------------------------------------------------------- HTML splitting

_TOKEN = re.compile(r"<(/?)(b|i|code)>|&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);|\n|[^<&\n]+|[<&]")


@dataclass(frozen=True)
class _Tok:
    text: str
    opens: str | None = None
    closes: str | None = None

    @property
    def is_break(self) -> bool:
        return self.text == "\n"

    @property
    def is_plain(self) -> bool:
        return self.opens is None and self.closes is None and not self.text.startswith("&") and not self.is_break


def _tokens(text: str) -> list[_Tok]:
    out = []
    for match in _TOKEN.finditer(text):
        value = match.group(0)
        if match.group(2):
            tag = match.group(2)
            out.append(_Tok(value, closes=tag) if match.group(1) else _Tok(value, opens=tag))
        else:
            out.append(_Tok(value))
    return out


def units(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


class _Chunker:
    """Collects tokens into chunks that close their open tags and reopen them in the next chunk."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.chunks: list[str] = []
        self.stack: list[str] = []
        self.parts: list[str] = []
        self.size = 0

    def _overhead(self) -> int:
        return sum(len(f"</{tag}>") for tag in self.stack)

    def fits(self, extra: int) -> bool:
        return self.size + extra + self._overhead() + 8 <= self.limit

    def add(self, tok: _Tok) -> None:
        if tok.opens:
            self.stack.append(tok.opens)
        elif tok.closes and tok.closes in self.stack:
            index = len(self.stack) - 1 - self.stack[::-1].index(tok.closes)
            del self.stack[index]
        self.parts.append(tok.text)
        self.size += units(tok.text)

    def flush(self) -> None:
        body = "".join(self.parts)
        closing = "".join(f"</{tag}>" for tag in reversed(self.stack))
        if re.sub(r"</?(?:b|i|code)>", "", body).strip():
            self.chunks.append((body + closing).strip("\n"))
        reopen = "".join(f"<{tag}>" for tag in self.stack)
        self.parts = [reopen] if reopen else []
        self.size = units(reopen)


def _pieces(tok: _Tok, room: int) -> list[_Tok]:
    """Cut a plain text token at spaces (or, for one huge word, anywhere) into pieces of <= room."""
    if not tok.is_plain or units(tok.text) <= room:
        return [tok]
    out: list[str] = []
    current = ""
    for word in re.split(r"(?<=\s)", tok.text):
        while units(word) > room:
            head, word = _cut(word, room)
            if current:
                out.append(current)
                current = ""
            out.append(head)
        if units(current + word) > room and current:
            out.append(current)
            current = ""
        current += word
    if current:
        out.append(current)
    return [_Tok(piece) for piece in out]


def _cut(text: str, room: int) -> tuple[str, str]:
    """The longest head of `text` of at most `room` UTF-16 units (at least one character), and the rest.

    Telegram counts UTF-16 units: an emoji outside the basic plane counts twice."""
    size = 0
    for index, char in enumerate(text):
        size += 2 if ord(char) > 0xFFFF else 1
        if size > room:
            index = max(index, 1)
            return text[:index], text[index:]
    return text, ""


def split_html(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Split engine HTML into messages of at most `limit` characters.

    Splits on line boundaries when it can, else between words; never inside a tag or an entity.
    Tags open at a split are closed at the end of one chunk and reopened at the next.
    """
    if units(text) <= limit:
        return [text] if text.strip() else []
    chunker = _Chunker(limit)
    lines: list[list[_Tok]] = [[]]
    for tok in _tokens(text):
        lines[-1].append(tok)
        if tok.is_break:
            lines.append([])
    for line in lines:
        size = sum(units(t.text) for t in line)
        if not chunker.fits(size):
            chunker.flush()
        if chunker.fits(size):
            for tok in line:
                chunker.add(tok)
            continue
        for tok in line:  # one line longer than a message: cut between words
            room = max(1, chunker.limit - chunker._overhead() - 8 - chunker.size)
            for piece in _pieces(tok, min(room, limit // 2)):
                if not chunker.fits(units(piece.text)):
                    chunker.flush()
                chunker.add(piece)
    chunker.flush()
    return chunker.chunks


def split_first_line(text: str) -> tuple[str, str]:
    """(first line, the rest) with tags balanced in both halves."""
    tokens = _tokens(text)
    stack: list[str] = []
    for index, tok in enumerate(tokens):
        if tok.is_break:
            head = "".join(t.text for t in tokens[:index]) + "".join(f"</{tag}>" for tag in reversed(stack))
            rest = "".join(f"<{tag}>" for tag in stack) + "".join(t.text for t in tokens[index + 1 :])
            return head.strip(), rest.strip("\n")
        if tok.opens:
            stack.append(tok.opens)
        elif tok.closes and tok.closes in stack:
            stack.remove(tok.closes)
    return text, ""


def html_to_plain(text: str) -> str:
    return html.unescape(re.sub(r"</?(?:b|i|code)>", "", text))


# ----------------------------------------------------------------------------- replies -> actions


@dataclass(frozen=True)
class Origin:
    """What triggered the turn: a user's message (to react or reply to) or a button press."""

    message_id: int | None = None
    callback: bool = False
    user_id: int | None = None
    # For a button under a prompt meant for one person: the message of theirs that prompt answered.
    prompted: int | None = None

    @property
    def author_message(self) -> int | None:
        """The person's own message a follow-up for them replies to."""
        return self.message_id if self.message_id is not None else self.prompted

    @property
    def actor_id(self) -> str:
        return str(self.user_id) if self.user_id is not None else ""


@dataclass(frozen=True)
class SendText:
    text: str
    markup: ReplyMarkup | None = None
    reply_to: int | None = None


@dataclass(frozen=True)
class React:
    """Acknowledge a message with an emoji reaction; `fallback` is sent if reactions are refused."""

    message_id: int
    emoji: str
    fallback: str


@dataclass(frozen=True)
class Toast:
    """A short note shown to the one person who pressed a button (the callback answer)."""

    text: str


@dataclass(frozen=True)
class SendPoll:
    question: str
    options: tuple[str, ...]


@dataclass(frozen=True)
class StopPoll:
    pass


@dataclass(frozen=True)
class SendExport:
    format: str


@dataclass(frozen=True)
class SendPrivate:
    """A reply meant for one person only (e.g. /mijngegevens in a group): to their private chat."""

    user_id: int
    text: str
    reply_to: int | None = None


@dataclass(frozen=True)
class AskModel:
    """Work for the optional language model; its answer returns to the engine as a new event."""

    request: LLMRequest


Action = SendText | React | Toast | SendPoll | StopPoll | SendExport | SendPrivate | AskModel


def _simple(reply: Reply) -> bool:
    return not (
        reply.buttons
        or reply.asks
        or reply.poll
        or reply.close_poll
        or reply.export
        or reply.reaction
        or reply.private
        or reply.llm
    )


def _is_plain_note(outcome: Outcome) -> bool:
    """One short note that asks nothing (a refusal, "already at the start"): fit for a toast."""
    if len(outcome.replies) != 1:
        return False
    reply = outcome.replies[0]
    return _simple(reply) and units(html_to_plain(reply.text)) <= MAX_TOAST


def plan(
    outcome: Outcome, *, group: bool, origin: Origin, placeholder: str = "", stamp: Stamper | None = None
) -> list[Action]:
    """Engine replies -> Telegram actions, in order. See the module docstring for the design."""
    if origin.callback and _is_plain_note(outcome):
        # A button press that changed nothing (a refusal, "already at the start"): tell only the presser.
        return [Toast(html_to_plain(outcome.replies[0].text))]
    actions: list[Action] = []
    stamper: Stamper = stamp or (lambda command: "")
    hint = placeholder[:MAX_PLACEHOLDER] or None
    force = ForceReply(selective=False, input_field_placeholder=hint)
    own = ForceReply(selective=True, input_field_placeholder=hint)
    # Answers meant for one person (a refusal, /wie, /uitleg) quote that person's message in a group.
    personal = group and origin.message_id is not None and all(_simple(r) for r in outcome.replies)
    for reply in outcome.replies:
        if reply.close_poll:
            actions.append(StopPoll())
        if reply.reaction:
            if origin.message_id is not None:
                if not any(isinstance(a, React) for a in actions):  # one acknowledgement per message
                    actions.append(React(origin.message_id, reply.reaction, reply.text))
            elif origin.callback:
                actions.append(Toast(html_to_plain(reply.text)))
            elif reply.text:
                actions.append(SendText(reply.text))
            continue
        if reply.private and group and reply.text:
            if origin.user_id is not None:
                actions.append(SendPrivate(origin.user_id, reply.text, origin.message_id))
            continue
        if reply.text:
            buttons = keyboard(reply.buttons, stamper)
            if reply.for_author and group and origin.author_message is not None:
                # Only the author gets the input field: the prompt answers their message.
                actions += _texts(reply.text, buttons or own, reply_to=origin.author_message)
            elif reply.asks and group:
                head, rest = split_first_line(reply.text)
                if buttons is not None and rest.strip():
                    actions += _texts(head, buttons)
                    actions += _texts(rest, force)
                elif buttons is not None:
                    actions += _texts(reply.text, buttons)
                else:
                    actions += _texts(reply.text, force)
            else:
                actions += _texts(reply.text, buttons, reply_to=origin.message_id if personal else None)
        if reply.poll is not None and group and len(reply.poll.options) in POLL_OPTIONS:
            actions.append(SendPoll(reply.poll.question, reply.poll.options))
        actions += [SendExport(fmt) for fmt in reply.export]
        if reply.llm is not None:
            actions.append(AskModel(reply.llm))
    return _coalesce(actions)


def _coalesce(actions: list[Action]) -> list[Action]:
    """Join consecutive texts into one message where possible: fewer messages, less flooding
    (a group may receive about 20 messages a minute). A keyboard or ForceReply stays on the last."""
    out: list[Action] = []
    for action in actions:
        previous = out[-1] if out else None
        if (
            isinstance(action, SendText)
            and isinstance(previous, SendText)
            and previous.markup is None
            and previous.reply_to == action.reply_to
            and units(previous.text) + units(action.text) + 2 <= MAX_MESSAGE
        ):
            out[-1] = SendText(previous.text + "\n\n" + action.text, action.markup, action.reply_to)
        else:
            out.append(action)
    return out


def _texts(text: str, markup: ReplyMarkup | None, reply_to: int | None = None) -> list[Action]:
    chunks = split_html(text)
    return [
        SendText(chunk, markup if n == len(chunks) - 1 else None, reply_to if n == 0 else None)
        for n, chunk in enumerate(chunks)
    ]
