"""The facilitation state: chats, their compasses, and every contribution.

These pydantic models are what the store persists (as JSON) and what the compass document
is compiled from. The engine treats them as immutable values: it returns updated copies.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["gemeente", "aanbieder", "doelgroep", "anders"]
Phase = Literal["vragen", "item", "kiezen", "shortlist", "stemmen", "klaar"]
FieldValue = str | list[int]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Participant(_Model):
    id: str
    name: str = ""
    role: Role | None = None


class Contribution(_Model):
    """One answer by one participant to one question (or one structured item)."""

    id: int
    question: str
    text: str
    author_id: str
    author_name: str = ""
    role: Role | None = None
    at: datetime
    fields: dict[str, FieldValue] = Field(default_factory=dict)
    ref: str | None = None
    source: str | None = None
    field_sources: dict[str, str] = Field(default_factory=dict)
    edited_at: datetime | None = None
    removed: bool = False


class Answer(_Model):
    """What the group settled on for one question."""

    agreed: str | None = None
    agreed_from: list[int] = Field(default_factory=list)
    chosen: list[int] = Field(default_factory=list)
    votes: dict[str, list[int]] = Field(default_factory=dict)
    skipped: bool = False
    closed: bool = False


class Suggestion(_Model):
    """A knowledge item offered to the group; kept so `/neem N` can adopt it with its source."""

    titel: str
    bron: str
    soort: str
    beoordeling: str = "onbekend"
    leden: list[int] = Field(default_factory=list)  # a proposed theme: the contributions it groups


class Pending(_Model):
    """Sub-state of the open question: the item being filled, or the options on the table."""

    item_id: int | None = None
    field_index: int = 0
    options: list[int] = Field(default_factory=list)
    suggestions: list[Suggestion] = Field(default_factory=list)


class Session(_Model):
    """One compass for one issue in one chat."""

    id: str
    chat_id: str
    vraagstuk: str
    themas: list[str] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime
    created_by: str
    facilitators: list[str] = Field(default_factory=list)
    step: int = 0
    question_index: int = 0
    phase: Phase = "vragen"
    pending: Pending = Field(default_factory=Pending)
    contributions: list[Contribution] = Field(default_factory=list)
    answers: dict[str, Answer] = Field(default_factory=dict)
    participants: dict[str, Participant] = Field(default_factory=dict)
    nudged: list[str] = Field(default_factory=list)
    next_id: int = 1

    def live(self, question: str) -> list[Contribution]:
        """Contributions to a question that were not removed, in order."""
        return [c for c in self.contributions if c.question == question and not c.removed]

    def contribution(self, contribution_id: int) -> Contribution | None:
        return next((c for c in self.contributions if c.id == contribution_id), None)

    def answer(self, question: str) -> Answer:
        return self.answers.get(question) or Answer()


class Chat(_Model):
    """A chat (group, private or terminal) with its compasses and its people."""

    id: str
    is_group: bool = False
    active: str | None = None
    sessions: dict[str, Session] = Field(default_factory=dict)
    roles: dict[str, Role] = Field(default_factory=dict)
    names: dict[str, str] = Field(default_factory=dict)
    last_query: str | None = None
    last_offset: int = 0

    @property
    def session(self) -> Session | None:
        return self.sessions.get(self.active) if self.active else None


def slugify(text: str) -> str:
    """A compass's id within its chat, derived from the issue as typed."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")[:100] or "kompas"
