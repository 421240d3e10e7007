"""The small interface between the engine and the knowledge retriever.

Kept free of heavy imports so the engine (and its tests) load fast; the real retriever
lives in `bot.knowledge.retriever` and satisfies `KnowledgeSearch`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class SearchHit:
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
    ) -> list[SearchHit]:
        """Best hits for a Dutch question, ranked; `offset` pages through further results."""
        ...
