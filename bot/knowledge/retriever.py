"""Hybrid wat-werkt search: Dutch BM25 and dense vectors, fused by reciprocal rank.

`open_knowledge(settings)` opens the persisted index (building it first on a fresh
machine, or when the knowledge folders changed) and returns a `KnowledgeBase`, which
satisfies the engine's `KnowledgeSearch` protocol::

    kb = open_knowledge(Settings())
    hits = kb.search("wat helpt tegen vereenzaming bij senioren", k=5, thema="eenzaamheid")

`KnowledgeBase.as_retriever()` gives a langchain `HybridRetriever` returning `Document`s.

Ranking: the question is analysed once (`LoadedIndex.analyse_query`): Dutch terms, plus
fallbacks for words the index does not know (a diminutive's base, look-alike indexed
words for typos and unknown compounds). The lexical side scores every chunk with BM25
over those weighted terms; the dense side asks Chroma for the passages nearest to the
question with its synonym-group names and corrected words added. Filters (thema, soort,
stap) are applied to both lists before they are cut to the candidate depth; the two
rankings are fused with weighted reciprocal rank fusion, ``sum(w / (k + rank))``, where
the lexical weight shrinks with the share of the question the index does not know.
"""

from __future__ import annotations

import heapq
import logging
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from bot.knowledge.chunks import Chunk, kinds_for
from bot.knowledge.corpus import CorpusError, KnowledgeItem, item_id, parse_item, summary_of
from bot.knowledge.dutch import GROUP_PREFIX
from bot.knowledge.embeddings import make_embeddings
from bot.knowledge.index import BuildReport, IndexStore, LoadedIndex, Progress
from bot.knowledge.ingest import expand_paths, is_corpus_file
from bot.knowledge.search import RECOGNISED_LEVELS, SearchHit

if TYPE_CHECKING:
    from bot.config import Settings

__all__ = ["Filters", "Fusion", "HybridRetriever", "KnowledgeBase", "Mode", "open_knowledge"]

log = logging.getLogger(__name__)

Mode = Literal["hybrid", "lexical", "dense"]

MEASURE_TERM = GROUP_PREFIX + "meten"
"""The synonym group that marks a question about measuring."""
_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+|\n+")
_FRAGMENT_CHARS = 240


@dataclass(frozen=True)
class Fusion:
    """Reciprocal rank fusion settings.

    Measured on bench/watwerkt_queries.yaml: k from 5 to 20 is a plateau (k=60, the usual
    default, loses ~2 points recall@5 because it flattens the top ranks); a slightly higher
    weight for the Dutch BM25 side helps, more than 1.5 hurts. Re-checked after the query
    analysis was added (tuning half, then the held-out half and the extra set): still the
    best settings. `lexical_weight` is multiplied by the query's `confidence`: on the extra
    set (typos, loanwords) recall@5 0.79 -> 0.82 from that alone, no change on the main set.
    """

    k: int = 10
    lexical_weight: float = 1.2
    dense_weight: float = 1.0
    depth: int = 60  # candidates taken from each ranking
    instrument_bonus: float = 0.1
    """Added to measurement instruments when the question is about measuring (a word of the
    synonym group ``meten``): instrument questions nDCG@5 0.82 -> 0.87, others unchanged.
    Raised from 0.06 to 0.1 with issue 13: keyword-style instrument questions
    (bench/watwerkt_queries_instrumenten.yaml) nDCG@5 0.804 -> 0.823; held-out half and extra
    set unchanged, tuning half 0.896 -> 0.898. Above 0.1 nothing changes any more."""
    kind_depth: int = 10
    kind_share: float = 0.5
    kind_bonus: float = 0.02
    """Added to measurement instruments when at least `kind_share` of the fused top
    `kind_depth` are instruments: the ranking itself shows an instrument question that has
    no word of ``meten`` ("kosten en baten berekenen", "in beeld brengen"). Recall@5 on the
    held-out half 0.857 -> 0.869, tuning half and extra set unchanged or better."""
    theme_bonus: float = 0.05
    """Added to items of a preferred theme (`prefer_themes`, the themes of the user's
    compass). A preference, never a filter. Measured on both query sets (152 questions), with
    the theme of each question's best items as the compass theme: nDCG@5 0.875 -> 0.896; with
    a theme that does not fit the question 0.875 -> 0.835 (0.03: 0.891 and 0.861; 0.08: 0.898
    and 0.778). Outside a compass nothing changes."""
    step_bonus: float = 0.01
    """Added to items that help at the preferred step of the compass (`prefer_step`)."""


@dataclass(frozen=True)
class Filters:
    """What a ranking is restricted to (hard filters) and what it prefers (soft re-ranking)."""

    thema: str | None = None
    soort: str | None = None
    stap: int | None = None
    erkend: bool = False
    prefer_themes: tuple[str, ...] = ()
    prefer_step: int | None = None

    @property
    def filtering(self) -> bool:
        return bool(self.thema or self.soort or self.stap is not None or self.erkend)

    def keeps(self, chunk: Chunk) -> bool:
        return chunk.matches(thema=self.thema, soort=self.soort, stap=self.stap) and (
            not self.erkend or chunk.beoordeling in RECOGNISED_LEVELS
        )

    def where(self) -> dict[str, object] | None:
        """The same hard filters as a Chroma `where` clause."""
        conditions: list[dict[str, object]] = []
        if self.thema:
            conditions.append({f"thema_{self.thema}": True})
        if self.soort:
            kinds = kinds_for(self.soort)
            conditions.append({"soort": kinds[0]} if len(kinds) == 1 else {"soort": {"$in": list(kinds)}})
        if self.stap is not None:
            conditions.append({f"stap_{self.stap}": True})
        if self.erkend:
            conditions.append({"beoordeling": {"$in": list(RECOGNISED_LEVELS)}})
        if not conditions:
            return None
        return conditions[0] if len(conditions) == 1 else {"$and": conditions}


class KnowledgeBase:
    """Search over the current index generation; picks up rebuilds by other processes."""

    def __init__(
        self,
        store: IndexStore,
        index: LoadedIndex,
        fusion: Fusion | None = None,
        report: BuildReport | None = None,
    ) -> None:
        self.store = store
        self._index = index
        self.fusion = fusion or Fusion()
        self.last_report = report  # what the (re)build at opening did, if there was one
        self._positions = {c.id: i for i, c in enumerate(index.chunks)}
        self._items: dict[str, KnowledgeItem] | None = None

    @property
    def index(self) -> LoadedIndex:
        return self._index

    @property
    def embeddings(self) -> Embeddings | None:
        return self.store.embeddings

    def replace_index(self, index: LoadedIndex) -> None:
        self._index = index
        self._positions = {c.id: i for i, c in enumerate(index.chunks)}
        self._items = None

    def item(self, key: str) -> KnowledgeItem | None:
        """The corpus item with this `item_id` (its full front matter), read once per index."""
        if self._items is None:
            self._items = self._read_items()
        return self._items.get(key)

    def _read_items(self) -> dict[str, KnowledgeItem]:
        """The corpus items of the knowledge folders, as the index read them (first id wins)."""
        wanted = {c.item_id for c in self._index.chunks if c.item_id}
        files, _ = expand_paths([f for f in self.store.folders if f.is_dir()])
        items: dict[str, KnowledgeItem] = {}
        for path in files:
            if path.suffix.lower() != ".md" or not is_corpus_file(path):
                continue
            try:
                item = parse_item(path)
            except CorpusError:  # reported when the index was built
                continue
            key = item_id(item)
            if key in wanted and key not in items:
                items[key] = item
        return items

    def refresh(self) -> None:
        """Reload when another process swapped in a new generation (cheap `stat` otherwise)."""
        if self.store.manifest_stamp() == self._index.stamp:
            return
        loaded = self.store.load()
        if loaded is not None:
            self.replace_index(loaded)

    # ---- ranking ---------------------------------------------------------------------

    def rank(
        self,
        query: str,
        *,
        limit: int,
        thema: str | None = None,
        soort: str | None = None,
        stap: int | None = None,
        erkend: bool = False,
        prefer_themes: tuple[str, ...] = (),
        prefer_step: int | None = None,
        mode: Mode = "hybrid",
    ) -> list[tuple[Chunk, float]]:
        """The best `limit` chunks with their fused scores, filters applied first.

        `prefer_themes` / `prefer_step` add `Fusion.theme_bonus` / `step_bonus` to the fused
        score of matching chunks (hybrid and lexical mode); they never remove a chunk."""
        self.refresh()
        index = self._index
        filters = Filters(thema, soort, stap, erkend, tuple(prefer_themes), prefer_step)
        analysis = index.analyse_query(query)
        depth = max(self.fusion.depth, limit)
        lexical: list[int] = []
        dense: list[int] = []
        if mode in ("hybrid", "lexical"):
            lexical = self._lexical(index, query, depth, filters)
        if mode in ("hybrid", "dense") and index.vectors is not None:
            # "dense" is the model on its own (the evaluation's baseline); hybrid search gives
            # it the question with its synonym groups and corrected words
            text = analysis.dense_text if mode == "hybrid" else query
            dense = self._dense(index, text, depth, filters)
        if mode == "dense":
            return [(index.chunks[i], 1.0 / (self.fusion.k + r)) for r, i in enumerate(dense[:limit], start=1)]
        scores: dict[int, float] = {}
        if mode == "lexical" or not dense:
            scores = {i: 1.0 / (self.fusion.k + r) for r, i in enumerate(lexical, start=1)}
        else:
            lexical_weight = self.fusion.lexical_weight * analysis.confidence
            for weight, ranking in ((lexical_weight, lexical), (self.fusion.dense_weight, dense)):
                for rank, position in enumerate(ranking, start=1):
                    scores[position] = scores.get(position, 0.0) + weight / (self.fusion.k + rank)
            if MEASURE_TERM in analysis.term_set:
                self._boost_instruments(index, scores, self.fusion.instrument_bonus)
            if self._instrument_share(index, scores) >= self.fusion.kind_share:
                self._boost_instruments(index, scores, self.fusion.kind_bonus)
        self._prefer(index, scores, filters)
        best = sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))[:limit]
        return [(index.chunks[i], score) for i, score in best]

    def _prefer(self, index: LoadedIndex, scores: dict[int, float], filters: Filters) -> None:
        """Soft preferences of a compass: a bonus for its themes and for its current step."""
        themes = set(filters.prefer_themes)
        if not themes and filters.prefer_step is None:
            return
        for position in scores:
            chunk = index.chunks[position]
            if themes and themes.intersection(chunk.themas):
                scores[position] += self.fusion.theme_bonus
            if filters.prefer_step is not None and filters.prefer_step in chunk.stappen:
                scores[position] += self.fusion.step_bonus

    @staticmethod
    def _boost_instruments(index: LoadedIndex, scores: dict[int, float], bonus: float) -> None:
        for position in scores:
            if index.chunks[position].soort == "meetinstrument":
                scores[position] += bonus

    def _instrument_share(self, index: LoadedIndex, scores: dict[int, float]) -> float:
        """The share of measurement instruments among the `kind_depth` best fused chunks."""
        top = heapq.nlargest(self.fusion.kind_depth, scores.items(), key=lambda pair: (pair[1], -pair[0]))
        if not top:
            return 0.0
        return sum(index.chunks[position].soort == "meetinstrument" for position, _ in top) / len(top)

    def _lexical(self, index: LoadedIndex, query: str, depth: int, filters: Filters) -> list[int]:
        scores = index.lexical_scores(query)
        if filters.filtering:
            keep = np.fromiter((filters.keeps(c) for c in index.chunks), dtype=bool, count=len(index.chunks))
            scores = np.where(keep, scores, 0.0)
        candidates = np.flatnonzero(scores > 0)
        if candidates.size > depth:
            candidates = candidates[np.argpartition(-scores[candidates], depth - 1)[:depth]]
        order = sorted(candidates.tolist(), key=lambda i: (-float(scores[i]), i))
        return order

    def _dense(self, index: LoadedIndex, query: str, depth: int, filters: Filters) -> list[int]:
        where = filters.where()
        assert self.embeddings is not None and index.vectors is not None
        try:
            vector = self.embeddings.embed_query(query)
            found = index.vectors.similarity_search_by_vector_with_relevance_scores(
                vector, k=depth, filter=cast(Any, where)
            )
        except Exception as exc:
            log.warning("Zoeken op betekenis mislukte (%s); alleen tekstueel gezocht.", exc)
            return []
        positions = [self._positions[d.id] for d, _ in found if d.id in self._positions]
        # the same filters once more on our side: an index written before a field existed
        return [p for p in positions if filters.keeps(index.chunks[p])] if filters.filtering else positions

    # ---- KnowledgeSearch -------------------------------------------------------------

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
        """Hits `offset+1 .. offset+k` for a Dutch question (the engine's `KnowledgeSearch`).

        `erkend=True` keeps only items with a recognition level; `prefer_themes` and
        `prefer_step` (a compass's themes and current step) re-rank without filtering."""
        if k <= 0 or not query.strip():
            return []
        ranked = self.rank(
            query,
            limit=offset + k,
            thema=thema,
            soort=soort,
            stap=stap,
            erkend=erkend,
            prefer_themes=tuple(prefer_themes),
            prefer_step=prefer_step,
        )
        terms = set(self._index.analyse_query(query).term_set)
        hits = []
        for rank, (chunk, score) in enumerate(ranked[offset:], start=offset + 1):
            extra: dict[str, str] = {}
            item = self.item(chunk.item_id) if chunk.item_id else None
            summary = summary_of(chunk.body) if chunk.soort != "document" else ""
            if chunk.soort == "document":
                extra = {"passage": str(chunk.position)}
                if chunk.page:
                    extra["pagina"] = str(chunk.page)
                if chunk.section:
                    extra["sectie"] = chunk.section
            hits.append(
                SearchHit(
                    rank=rank,
                    titel=chunk.titel,
                    bron=chunk.bron,
                    score=round(score, 5),
                    soort=chunk.soort,
                    themas=chunk.themas,
                    beoordeling=chunk.beoordeling,
                    fragment=summary or self.fragment(chunk, terms),
                    item_id=chunk.item_id,
                    extra=extra,
                    beoordeling_jaar=item.beoordeling_jaar if item else None,
                    beoordeling_bron=item.beoordeling_bron if item else "",
                    toelichting=item.toelichting if item else "",
                    bron_soort=item.bron_soort if item else "primair",
                    samenvatting=summary,
                    doelgroep=item.doelgroep if item else "",
                    stappen=chunk.stappen,
                )
            )
        return hits

    def fragment(self, chunk: Chunk, query_terms: set[str]) -> str:
        """A short piece of the chunk for a passage of an own document: the sentence sharing
        most terms with the query (a corpus item shows its own summary instead)."""
        sentences = [s.strip() for s in _SENTENCE_RE.split(chunk.body) if s.strip()]
        if not sentences:
            return ""
        analyzer = self._index.analyzer
        overlap = [len(query_terms & set(analyzer(s))) for s in sentences]
        start = int(np.argmax(overlap)) if max(overlap) > 0 else 0
        text = sentences[start]
        for sentence in sentences[start + 1 :]:
            if len(text) + len(sentence) + 1 > _FRAGMENT_CHARS:
                break
            text += " " + sentence
        if len(text) > _FRAGMENT_CHARS:
            text = text[: _FRAGMENT_CHARS - 1].rsplit(" ", 1)[0] + "…"
        return text

    def as_retriever(
        self,
        k: int = 5,
        *,
        thema: str | None = None,
        soort: str | None = None,
        stap: int | None = None,
        erkend: bool = False,
        prefer_themes: tuple[str, ...] = (),
        prefer_step: int | None = None,
    ) -> HybridRetriever:
        return HybridRetriever(
            knowledge=self,
            k=k,
            thema=thema,
            soort=soort,
            stap=stap,
            erkend=erkend,
            prefer_themes=tuple(prefer_themes),
            prefer_step=prefer_step,
        )


class HybridRetriever(BaseRetriever):
    """langchain retriever over a `KnowledgeBase`; metadata holds score, rank and the item fields."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    knowledge: KnowledgeBase
    k: int = 5
    thema: str | None = None
    soort: str | None = None
    stap: int | None = None
    erkend: bool = False
    prefer_themes: tuple[str, ...] = ()
    prefer_step: int | None = None
    mode: Mode = "hybrid"

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        ranked = self.knowledge.rank(
            query,
            limit=self.k,
            thema=self.thema,
            soort=self.soort,
            stap=self.stap,
            erkend=self.erkend,
            prefer_themes=self.prefer_themes,
            prefer_step=self.prefer_step,
            mode=self.mode,
        )
        documents = []
        for rank, (chunk, score) in enumerate(ranked, start=1):
            metadata: dict[str, object] = {
                "score": score,
                "rank": rank,
                "soort": chunk.soort,
                "themas": list(chunk.themas),
                "stappen": list(chunk.stappen),
                "beoordeling": chunk.beoordeling,
                "bron": chunk.bron,
                "titel": chunk.titel,
                "item_id": chunk.item_id,
            }
            item = self.knowledge.item(chunk.item_id) if chunk.item_id else None
            if item is not None:
                metadata.update(
                    beoordeling_jaar=item.beoordeling_jaar,
                    beoordeling_bron=item.beoordeling_bron,
                    toelichting=item.toelichting,
                    bron_soort=item.bron_soort,
                    samenvatting=item.summary,
                )
            if chunk.source:
                metadata.update(source=chunk.source, position=chunk.position, page=chunk.page, section=chunk.section)
            documents.append(Document(id=chunk.id, page_content=chunk.body, metadata=metadata))
        return documents


def open_knowledge(
    settings: Settings,
    *,
    embeddings: Embeddings | Literal["auto"] | None = "auto",
    folders: list[Path] | None = None,
    progress: Progress | None = None,
    announce: Callable[[str], None] | None = None,
) -> KnowledgeBase:
    """Open the persisted index, building or updating it first when needed.

    `embeddings` defaults to `make_embeddings(settings)`; `folders` to the configured
    knowledge folders. `announce` receives a Dutch line when a (re)build starts; by default
    that line is printed on stderr as it is (a notice for the person waiting, not a log
    record). If the dense side cannot be built or opened (a Chroma server that is down,
    say), it falls back to lexical search with a warning.
    """
    model = make_embeddings(settings) if embeddings == "auto" else embeddings
    store = IndexStore(settings, model, folders=folders)
    told: list[str] = []

    def tell(line: str) -> None:  # one notice per opening, also when the fallback rebuilds
        if line not in told:
            told.append(line)
            (announce or _notice)(line)

    try:
        loaded, report = store.ensure(progress=progress, announce=tell)
    except Exception as exc:
        if model is None:
            raise
        log.warning("De vectorindex is niet beschikbaar (%s); er wordt alleen op tekst gezocht.", exc)
        store = IndexStore(settings, None, folders=folders)
        loaded, report = store.ensure(progress=progress, announce=tell)
    if report is not None:
        _log_report(report, problems=announce is None)
    return KnowledgeBase(store, loaded, report=report)


def _notice(line: str) -> None:
    """The default `announce`: the line itself on stderr, without a log level or logger name."""
    print(line, file=sys.stderr, flush=True)


def _log_report(report: BuildReport, *, problems: bool) -> None:
    log.info(
        "Zoekindex opgebouwd: %d items, %d eigen documenten, %d stukken in %.1f s",
        report.items,
        report.documents,
        report.chunks,
        report.seconds,
    )
    if problems:  # a caller with its own output (the CLI) reports them itself
        for path, reason in report.problems:
            log.warning("Overgeslagen: %s: %s", path, reason)
