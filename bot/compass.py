"""The facilitation state: chats, their compasses, and every contribution.

These pydantic models are what the store persists (as JSON) and what the compass document
is compiled from. The engine treats them as immutable values: it returns updated copies.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.measure import Measurement

Role = Literal["gemeente", "aanbieder", "doelgroep", "anders"]
Phase = Literal["vragen", "kiezen", "shortlist", "stemmen", "klaar"]
FieldValue = str | list[int]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Participant(_Model):
    id: str
    name: str = ""
    role: Role | None = None


class Revision(_Model):
    """One change to a contribution: what it was before, who changed it and when."""

    at: datetime
    by: str
    what: str  # "tekst", a field key, or "verwijderd"
    before: str = ""


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
    notes: list[str] = Field(default_factory=list)
    history: list[Revision] = Field(default_factory=list)


class Answer(_Model):
    """What the group settled on for one question."""

    agreed: str | None = None
    agreed_from: list[int] = Field(default_factory=list)
    chosen: list[int] = Field(default_factory=list)
    votes: dict[str, list[int]] = Field(default_factory=dict)
    skipped: bool = False
    closed: bool = False


class Suggestion(_Model):
    """A knowledge item (or a model's proposal) offered to the group; kept so `/neem N` can adopt it."""

    nummer: int = 0  # the number it was shown with
    titel: str
    bron: str
    soort: str
    beoordeling: str = "onbekend"
    leden: list[int] = Field(default_factory=list)  # a proposed theme: the contributions it groups


class Pending(_Model):
    """Sub-state of the open question: the options on the table (a choice, a shortlist, a poll)."""

    options: list[int] = Field(default_factory=list)


class Draft(_Model):
    """An item whose follow-up questions its author is still answering: one person's own dialog.

    A draft belongs to its author alone; other people's messages never touch it. `field` is the
    key of the field being asked. Drafts of a question the group has left stay, unfinished,
    until their author or a facilitator completes them.
    """

    author_id: str
    item_id: int
    question: str
    field: str = ""  # empty: the first field that has no value yet
    skipped: list[str] = Field(default_factory=list)


class MeasureDraft(_Model):
    """One person's `/meting` dialog: which indicator, then value and period, then the source."""

    author_id: str
    indicator_id: int | None = None
    indicator: str = ""
    value_text: str = ""


class RoundSnapshot(_Model):
    """A round of the compass as it was closed: its contributions and answers, kept as history."""

    number: int
    closed_at: datetime
    contributions: list[Contribution] = Field(default_factory=list)
    answers: dict[str, Answer] = Field(default_factory=dict)


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
    drafts: list[Draft] = Field(default_factory=list)
    contributions: list[Contribution] = Field(default_factory=list)
    answers: dict[str, Answer] = Field(default_factory=dict)
    participants: dict[str, Participant] = Field(default_factory=dict)
    nudged: list[str] = Field(default_factory=list)
    next_id: int = 1
    measurements: list[Measurement] = Field(default_factory=list)
    measuring: list[MeasureDraft] = Field(default_factory=list)
    round: int = 1
    previous: list[RoundSnapshot] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _from_one_cursor(cls, data: Any) -> Any:
        """Sessions stored before per-person drafts had one chat-wide item dialog: make it its author's draft."""
        if not isinstance(data, dict):
            return data
        pending = data.get("pending")
        if isinstance(pending, dict) and ("item_id" in pending or "suggestions" in pending):
            pending = dict(pending)
            item_id = pending.pop("item_id", None)
            pending.pop("field_index", None)
            pending.pop("suggestions", None)
            data = {**data, "pending": pending}
            if data.get("phase") == "item":
                data["phase"] = "vragen"
                item = next((c for c in data.get("contributions", []) if c.get("id") == item_id), None)
                if item is not None:
                    draft = {"author_id": item.get("author_id", ""), "item_id": item_id, "question": item["question"]}
                    data["drafts"] = [*data.get("drafts", []), {**draft, "field": ""}]
        return data

    def live(self, question: str) -> list[Contribution]:
        """Contributions to a question that were not removed, in order."""
        return [c for c in self.contributions if c.question == question and not c.removed]

    def contribution(self, contribution_id: int) -> Contribution | None:
        return next((c for c in self.contributions if c.id == contribution_id), None)

    def answer(self, question: str) -> Answer:
        return self.answers.get(question) or Answer()

    def draft_of(self, author_id: str, question: str) -> Draft | None:
        """The author's open draft at this question (the newest, if there are several)."""
        return next((d for d in reversed(self.drafts) if d.author_id == author_id and d.question == question), None)


class Chat(_Model):
    """A chat (group, private or terminal) with its compasses and its people."""

    id: str
    is_group: bool = False
    version: int = 0  # as stored; the store raises it with every write (see `Store.write_turns`)
    active: str | None = None
    sessions: dict[str, Session] = Field(default_factory=dict)
    roles: dict[str, Role] = Field(default_factory=dict)
    names: dict[str, str] = Field(default_factory=dict)
    last_query: str | None = None
    proposed_issue: str | None = None  # typed with no compass open: started when they say yes
    last_offset: int = 0
    last_recognised: bool = False
    offered: list[Suggestion] = Field(default_factory=list)  # the numbered list `/neem N` adopts from
    offered_for: str | None = None  # the question they were offered at; None: a search, valid anywhere
    overview_at: dict[str, datetime] = Field(default_factory=dict)  # per person: when they last asked /overzicht

    @property
    def session(self) -> Session | None:
        return self.sessions.get(self.active) if self.active else None


def slugify(text: str) -> str:
    """A compass's id within its chat, derived from the issue as typed."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")[:100] or "kompas"
