"""What every part of the engine shares: its content and services (`Context`) and one turn's scratchpad (`Turn`).

Reply text is a small HTML subset (<b>, <i>, <code>) in which every piece of user text is escaped
with `esc`, so a transport can show it as Telegram HTML or convert it for a terminal.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import datetime

from bot.coach import Advice, Coach
from bot.compass import Chat, Contribution, Session
from bot.engine.understand import FieldReader
from bot.events import Actor, Reply
from bot.flows import Flow, Question, Texts, Themes
from bot.knowledge.search import KnowledgeNotReady, KnowledgeSearch, SearchHit

MAX_ANSWER_CHARS = 2000
MAX_POLL_OPTIONS = 10
SEARCH_PAGE = 5
SUGGESTIONS_PER_KIND = 3
ACK_REACTION = "✍"

_UNSENDABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")


def esc(value: object) -> str:
    """HTML-escape for Telegram, dropping control characters and lone surrogates it would refuse.

    Knowledge fragments and ingested documents can hold such bytes even though user text is cleaned on entry.
    """
    return html.escape(_UNSENDABLE.sub("", str(value)), quote=False)


class KnowledgeUnavailable(Exception):
    """The knowledge index cannot answer now; facilitation goes on without it. `building`: the first
    index is still being built (it will answer soon)."""

    def __init__(self, reason: str, *, building: bool = False) -> None:
        super().__init__(reason)
        self.building = building


@dataclass(frozen=True)
class Context:
    """The engine's content and services; the same for every turn."""

    flow: Flow
    texts: Texts
    reader: FieldReader
    knowledge: KnowledgeSearch | None = None
    themes: Themes | None = None
    coach: Coach | None = None
    llm_enabled: bool = False
    bot_username: str | None = None

    def t(self, key: str, **values: object) -> str:
        """A message from `teksten.yaml` with every value escaped."""
        return self.texts(key, **{name: esc(value) for name, value in values.items()})

    def raw(self, key: str, **values: str) -> str:
        """Like `t`, for values that are already safe HTML built by the engine."""
        return self.texts(key, **values)

    def question(self, session: Session) -> Question:
        return self.flow.step(session.step).vragen[session.question_index]

    def fill(self, template: str, session: Session, **extra: str) -> str:
        values = {"vraagstuk": esc(session.vraagstuk), **{k: esc(v) for k, v in extra.items()}}
        return template.format(**values)

    def search(self, query: str, k: int, **filters: object) -> list[SearchHit]:
        """Search the knowledge base; any failure of the index becomes `KnowledgeUnavailable`."""
        if self.knowledge is None:
            raise KnowledgeUnavailable("geen kennisbank")
        try:
            return self.knowledge.search(query, k, **filters)  # type: ignore[arg-type]
        except KnowledgeUnavailable:
            raise
        except KnowledgeNotReady as exc:
            raise KnowledgeUnavailable("bezig", building=True) from exc
        except Exception as exc:  # the index is a separate component: whatever breaks there stays there
            raise KnowledgeUnavailable(exc.__class__.__name__) from exc


@dataclass
class Turn:
    """Mutable scratchpad for one event: the chat copy being changed and the replies so far."""

    chat: Chat
    actor: Actor | None
    at: datetime
    ref: str | None = None
    replies: list[Reply] = field(default_factory=list)
    changed: bool = False
    erased: bool = False

    @property
    def session(self) -> Session | None:
        return self.chat.session

    @property
    def actor_id(self) -> str:
        return self.actor.id if self.actor is not None else ""

    def say(self, text: str, **kwargs: object) -> None:
        self.replies.append(Reply(text=text, **kwargs))  # type: ignore[arg-type]

    def ack(self, text: str) -> None:
        """A short acknowledgement: a reaction on the person's message where the transport can."""
        self.replies.append(Reply(text=text, reaction=ACK_REACTION))

    def name_of(self, author_id: str, fallback: str = "") -> str:
        return self.chat.names.get(author_id) or fallback


def may_steer(turn: Turn) -> bool:
    """Facilitators (and live chat admins) steer a group; in a private chat everyone does."""
    session = turn.session
    actor = turn.actor
    if session is None or actor is None or not turn.chat.is_group:
        return True
    return actor.is_admin or actor.id in session.facilitators


def give_advice(ctx: Context, turn: Turn, advice: list[Advice]) -> None:
    """Coaching is a gentle question back, never a block; once-only advice is remembered."""
    session = turn.session
    assert session is not None
    for item in advice:
        if item.once_key:
            if item.once_key in session.nudged:
                continue
            session.nudged.append(item.once_key)
            turn.changed = True
        turn.say(f"💡 <i>{esc(item.text)}</i>")


def review(ctx: Context, turn: Turn, contribution: Contribution) -> None:
    session = turn.session
    if ctx.coach is not None and session is not None:
        give_advice(ctx, turn, ctx.coach.review_answer(session, contribution.question, contribution))


def numbers(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", text)]


def is_bare_number(text: str) -> bool:
    return text.strip().isdigit()


def short(text: str, limit: int) -> str:
    """Shorten at a word boundary, with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:.") + "…"


def poll_label(text: str, limit: int = 100) -> str:
    return short(text, limit)


def distinct(contributions: list[Contribution]) -> list[Contribution]:
    seen: set[str] = set()
    unique = []
    for contribution in contributions:
        key = " ".join(contribution.text.lower().split())
        if key not in seen:
            seen.add(key)
            unique.append(contribution)
    return unique


def progress(flow: Flow, session: Session) -> int:
    keys = flow.question_keys()
    done = sum(1 for key in keys if session.live(key) or session.answer(key).agreed)
    return round(100 * done / len(keys))
