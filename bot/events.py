"""What flows between a transport and the engine: events in, replies out.

Plain frozen dataclasses with no platform types, so every transport (terminal, Telegram, tests)
speaks the same language. `parse_command` and `clean_text` are the shared input rules.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from bot.compass import Chat
from bot.knowledge.search import SearchHit


@dataclass(frozen=True)
class Actor:
    id: str
    name: str = ""
    is_admin: bool = False


@dataclass(frozen=True)
class Text:
    """A message from a participant: a command or an answer."""

    actor: Actor
    text: str
    at: datetime
    ref: str | None = None


@dataclass(frozen=True)
class Edit:
    """A participant changed an earlier message (`ref` names it)."""

    actor: Actor
    ref: str
    text: str
    at: datetime


@dataclass(frozen=True)
class Vote:
    """A participant voted in the open poll; `options` are 0-based option positions."""

    actor: Actor
    options: tuple[int, ...]
    at: datetime


@dataclass(frozen=True)
class Joined:
    """The bot was added to a group."""

    at: datetime


LLMKind = Literal["formulering", "thema", "samenvatting", "antwoord"]


@dataclass(frozen=True)
class LLMRequest:
    """Work for the optional language model; the transport runs it and answers with a `Proposal`."""

    kind: LLMKind
    session_id: str | None
    question: str | None
    context: str
    texts: tuple[str, ...] = ()
    vraagstuk: str = ""
    hits: tuple[SearchHit, ...] = ()
    options: tuple[int, ...] = ()  # contribution ids behind `texts` (kind "thema")


@dataclass(frozen=True)
class Proposal:
    """What the model proposed; the engine shows it for the group to adopt or edit."""

    request: LLMRequest
    text: str
    at: datetime
    citations: tuple[int, ...] = ()
    groups: tuple[tuple[str, tuple[int, ...]], ...] = ()  # kind "thema": label and positions in `texts`


@dataclass(frozen=True)
class ProposalFailed:
    request: LLMRequest
    at: datetime


Event = Text | Edit | Vote | Joined | Proposal | ProposalFailed


@dataclass(frozen=True)
class Button:
    label: str
    command: str


@dataclass(frozen=True)
class PollSpec:
    question: str
    options: tuple[str, ...]


@dataclass(frozen=True)
class Reply:
    """One outgoing message. `asks` marks an open question (a transport may force a reply);
    `for_author` marks a prompt for the one person whose message this answers (their own draft)."""

    text: str = ""
    buttons: tuple[Button, ...] = ()
    asks: bool = False
    for_author: bool = False
    poll: PollSpec | None = None
    close_poll: bool = False
    reaction: str | None = None
    export: tuple[str, ...] = ()
    private: bool = False
    llm: LLMRequest | None = None


@dataclass(frozen=True)
class Outcome:
    """`erased`: personal data was removed (/vergeet), so the store should scrub it from disk too."""

    chat: Chat
    replies: tuple[Reply, ...]
    changed: bool
    erased: bool = False


@dataclass(frozen=True)
class Command:
    name: str
    arg: str


def clean_text(raw: str) -> str:
    """Drop control and zero-width characters (keeping newlines and tabs) and trim."""
    kept = []
    for char in raw:
        category = unicodedata.category(char)
        if char in "\n\t" or not (category == "Cc" or (category == "Cf" and char not in "\u200d")):
            kept.append(char)
    return "".join(kept).strip()


def parse_command(text: str, bot_username: str | None = None) -> Command | None:
    """`/stap 3` -> Command('stap', '3'); `/volgende@onzebot` is ours, `@anderebot` is not."""
    match = re.match(r"^/([A-Za-z0-9_]+)(?:@([A-Za-z0-9_]+))?(?:\s+(.*))?$", text, re.DOTALL)
    if not match:
        return None
    name, target, arg = match.groups()
    if target and bot_username and target.lower() != bot_username.lower():
        return Command("", "")
    return Command(name.lower(), (arg or "").strip())
