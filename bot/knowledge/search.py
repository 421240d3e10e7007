"""The small interface between the engine and the knowledge retriever.

Kept free of heavy imports so the engine (and its tests) load fast; the real retriever
lives in `bot.knowledge.retriever` and satisfies `KnowledgeSearch`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["RECOGNISED_LEVELS", "KnowledgeSearch", "SearchHit"]

RECOGNISED_LEVELS: tuple[str, ...] = (
    "goed beschreven",
    "goed onderbouwd",
    "effectief volgens eerste aanwijzingen",
    "effectief volgens goede aanwijzingen",
    "effectief volgens sterke aanwijzingen",
)
"""The levels of the recognition ladder, low to high (`beoordeling` is one of these or "onbekend")."""


@dataclass(frozen=True)
class SearchHit:
    """One search result.

    `beoordeling` is a level of `RECOGNISED_LEVELS`, "onbekend", or "eigen document";
    `beoordeling_jaar` and `beoordeling_bron` (the source's own wording) go with a level;
    `toelichting` is context (e.g. "niet beoordeeld"), never a level. `bron_soort` is
    "secundair" when the source is a document mirror or news item instead of the
    provider's own page. `fragment` is the item's own summary (its opening sentences); for
    a passage of an own document it is the sentence that best matches the question.
    """

    rank: int
    titel: str
    bron: str
    score: float
    soort: str
    themas: tuple[str, ...] = ()
    beoordeling: str = "onbekend"
    fragment: str = ""
    item_id: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    beoordeling_jaar: int | None = None
    beoordeling_bron: str = ""
    toelichting: str = ""
    bron_soort: str = "primair"
    samenvatting: str = ""
    doelgroep: str = ""
    stappen: tuple[int, ...] = ()

    @property
    def erkend(self) -> bool:
        """True for an item with a level of the recognition ladder."""
        return self.beoordeling in RECOGNISED_LEVELS

    @property
    def secundair(self) -> bool:
        return self.bron_soort == "secundair"


class KnowledgeNotReady(RuntimeError):
    """No index has been published yet (the first one is being built). The message is Dutch."""

    def __init__(self, message: str = "De kennisbank wordt nog opgebouwd; probeer het zo opnieuw.") -> None:
        super().__init__(message)


class KnowledgeSearch(Protocol):
    def search(
        self,
        query: str,
        k: int = 5,
        *,
        offset: int = 0,
        thema: str | None = None,
        soort: str | None = None,
        stap: int | None = None,
        erkend: bool = False,
        prefer_themes: tuple[str, ...] = (),
        prefer_step: int | None = None,
    ) -> list[SearchHit]:
        """Best hits for a Dutch question, ranked; `offset` pages through further results.

        `thema`, `soort`, `stap` and `erkend` (only items with a recognition level) filter;
        `prefer_themes` and `prefer_step` (a compass's themes and current step) only move
        matching items up, nothing is left out. Without them the ranking is the general one.
        """
        ...
