"""Measure wat-werkt search quality on a labelled Dutch query set.

The set (``bench/watwerkt_queries.yaml``) gives per question a group and graded relevance
(1-3) of built-in corpus items. Three systems are compared on one index of the built-in
corpus:

* ``BM25 plat`` - BM25 over lowercase whitespace tokens, no Dutch processing (baseline);
* ``Dicht`` - dense vectors only (the configured embedding model);
* ``Hybride`` - Dutch BM25 + dense, reciprocal rank fusion (what the bot uses).

``BM25 NL`` (the Dutch lexical side alone) is shown too, for insight.

The main set is split once into two halves (``deel: afstemming`` / ``deel: controle``,
per group half and half, rule in the file's header): tune on the first, and accept a
change only if the second improves too. ``bench/watwerkt_queries_extra.yaml`` is a second
set in the words of real users (short keywords, typos, loanwords, unknown compounds),
written before further tuning; evaluate it with ``--vragen``. The third,
``bench/watwerkt_queries_instrumenten.yaml``, holds keyword-style questions for measurement
instruments ("meetinstrument financiële stress ouders"), the weak spot named in issue 13.

Metrics, averaged per group, per half and overall:

* recall@5 - relevant items (grade >= 2) in the top 5, divided by min(5, number relevant);
* kern@5 - the same for the essential items only (the query's highest grade, normally 3:
  "answers exactly what is asked");
* MRR@10 - 1 / rank of the first relevant item (grade >= 2) in the top 10, else 0;
* nDCG@5 - graded: gain 2^grade - 1, log2 discount, ideal order from all labels.

Run: ``python -m bot.knowledge.evaluation`` or ``kompas kennis evalueer [--vragen PAD]``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import bm25s
import numpy as np
import yaml

from bot.content import content_dir
from bot.knowledge.dutch import plain_tokens
from bot.knowledge.index import quiet_bm25s
from bot.knowledge.retriever import Fusion, KnowledgeBase, Mode, open_knowledge

__all__ = [
    "EvaluationError",
    "EvaluationResult",
    "LabelledQuery",
    "Scores",
    "default_queries_path",
    "evaluate",
    "format_table",
    "load_queries",
    "run_evaluation",
]

Ranker = Callable[[str], list[str]]
"""question -> item ids, best first."""

SYSTEMS: tuple[str, ...] = ("BM25 plat", "BM25 NL", "Dicht", "Hybride")
_RELEVANT = 2


class EvaluationError(ValueError):
    """The query file is missing or malformed (Dutch message naming the file)."""


PARTS: tuple[str, ...] = ("afstemming", "controle")
"""The fixed halves of the main set: tune on ``afstemming``, accept a change only if
``controle`` improves too (see the header of bench/watwerkt_queries.yaml)."""


@dataclass(frozen=True)
class LabelledQuery:
    vraag: str
    groep: str
    relevant: dict[str, int]
    deel: str = ""


def default_queries_path() -> Path:
    return content_dir("bench") / "watwerkt_queries.yaml"


def load_queries(path: Path | None = None, known_ids: set[str] | None = None) -> list[LabelledQuery]:
    """Read and check the labelled set; unknown item ids are an error when `known_ids` is given."""
    path = path or default_queries_path()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise EvaluationError(f"{path}: kan de vragenlijst niet lezen ({exc})") from None
    if not isinstance(data, list) or not data:
        raise EvaluationError(f"{path}: verwacht een lijst met vragen")
    queries = []
    for number, entry in enumerate(data, start=1):
        where = f"{path}: vraag {number}"
        if not isinstance(entry, dict) or not isinstance(entry.get("vraag"), str):
            raise EvaluationError(f"{where}: verwacht 'vraag', 'groep' en 'relevant'")
        relevant = entry.get("relevant")
        if not isinstance(relevant, dict) or not relevant:
            raise EvaluationError(f"{where}: 'relevant' moet item-id's met een cijfer 1-3 bevatten")
        for item, grade in relevant.items():
            if grade not in (1, 2, 3):
                raise EvaluationError(f"{where}: cijfer voor {item} moet 1, 2 of 3 zijn")
            if known_ids is not None and item not in known_ids:
                raise EvaluationError(f"{where}: onbekend item '{item}'")
        deel = str(entry.get("deel") or "")
        if deel and deel not in PARTS:
            raise EvaluationError(f"{where}: 'deel' moet {' of '.join(PARTS)} zijn")
        queries.append(LabelledQuery(entry["vraag"], str(entry.get("groep", "overig")), dict(relevant), deel))
    return queries


# ---- metrics ---------------------------------------------------------------------------


def recall_at(ranked: Sequence[str], relevant: dict[str, int], k: int = 5) -> float:
    wanted = {i for i, g in relevant.items() if g >= _RELEVANT} or set(relevant)
    return len(wanted & set(ranked[:k])) / min(k, len(wanted))


def core_recall_at(ranked: Sequence[str], relevant: dict[str, int], k: int = 5) -> float:
    top = max(relevant.values())
    wanted = {i for i, g in relevant.items() if g == top}
    return len(wanted & set(ranked[:k])) / min(k, len(wanted))


def mrr_at(ranked: Sequence[str], relevant: dict[str, int], k: int = 10) -> float:
    wanted = {i for i, g in relevant.items() if g >= _RELEVANT} or set(relevant)
    for rank, item in enumerate(ranked[:k], start=1):
        if item in wanted:
            return 1.0 / rank
    return 0.0


def ndcg_at(ranked: Sequence[str], relevant: dict[str, int], k: int = 5) -> float:
    def dcg(grades: Sequence[int]) -> float:
        return sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(grades[:k]))

    ideal = dcg(sorted(relevant.values(), reverse=True))
    return dcg([relevant.get(i, 0) for i in ranked[:k]]) / ideal if ideal else 0.0


@dataclass
class Scores:
    recall5: float = 0.0
    core5: float = 0.0
    mrr10: float = 0.0
    ndcg5: float = 0.0
    n: int = 0


_METRICS: tuple[tuple[str, str, Callable[[Sequence[str], dict[str, int]], float]], ...] = (
    ("recall@5", "recall5", recall_at),
    ("kern@5", "core5", core_recall_at),
    ("MRR@10", "mrr10", mrr_at),
    ("nDCG@5", "ndcg5", ndcg_at),
)


def evaluate(ranker: Ranker, queries: Sequence[LabelledQuery]) -> dict[str, Scores]:
    """Mean metrics per group, per part (``"deel afstemming"``, ``"deel controle"``) and ``"totaal"``."""
    sums: dict[str, list[float]] = {}
    for query in queries:
        ranked = ranker(query.vraag)
        values = [metric(ranked, query.relevant) for _, _, metric in _METRICS]
        parts = [f"deel {query.deel}"] if query.deel else []
        for group in (query.groep, *parts, "totaal"):
            acc = sums.setdefault(group, [0.0] * (len(values) + 1))
            for i, v in enumerate(values):
                acc[i] += v
            acc[-1] += 1
    result = {}
    for group, acc in sums.items():
        n = acc[-1]
        result[group] = Scores(**{attr: acc[i] / n for i, (_, attr, _) in enumerate(_METRICS)}, n=int(n))
    return result


@dataclass
class EvaluationResult:
    systems: dict[str, dict[str, Scores]] = field(default_factory=dict)
    queries: int = 0
    embeddings: str = ""


# ---- systems ---------------------------------------------------------------------------


def plain_bm25_ranker(kb: KnowledgeBase, depth: int = 10) -> Ranker:
    """Baseline: BM25 over lowercase whitespace tokens of the same chunk texts."""
    chunks = kb.index.chunks
    model = bm25s.BM25(k1=1.2, b=0.75)
    quiet_bm25s()
    model.index([plain_tokens(c.text) or [""] for c in chunks], show_progress=False)
    vocab = model.vocab_dict

    def rank(question: str) -> list[str]:
        terms = [t for t in plain_tokens(question) if t in vocab]
        if not terms:
            return []
        scores = np.asarray(model.get_scores(terms))
        order = [int(i) for i in np.argsort(-scores, kind="stable")[:depth] if scores[i] > 0]
        return [chunks[i].item_id for i in order]

    return rank


def knowledge_ranker(kb: KnowledgeBase, mode: Mode, depth: int = 10) -> Ranker:
    def rank(question: str) -> list[str]:
        return [chunk.item_id for chunk, _ in kb.rank(question, limit=depth, mode=mode)]

    return rank


def run_evaluation(
    kb: KnowledgeBase | None = None,
    *,
    queries_path: Path | None = None,
    fusion: Fusion | None = None,
) -> EvaluationResult:
    """Evaluate all systems. Without `kb`, opens an index of the built-in corpus only, kept
    apart from the user's index (under ``$KOMPAS_HOME/evaluatie``)."""
    if kb is None:
        kb = open_builtin_knowledge()
    if fusion is not None:
        kb.fusion = fusion
    known = {c.item_id for c in kb.index.chunks if c.item_id}
    queries = load_queries(queries_path, known)
    rankers: dict[str, Ranker] = {
        "BM25 plat": plain_bm25_ranker(kb),
        "BM25 NL": knowledge_ranker(kb, "lexical"),
    }
    if kb.index.vectors is not None:
        rankers["Dicht"] = knowledge_ranker(kb, "dense")
        rankers["Hybride"] = knowledge_ranker(kb, "hybrid")
    result = EvaluationResult(queries=len(queries), embeddings=kb.index.embeddings)
    for name, ranker in rankers.items():
        result.systems[name] = evaluate(ranker, queries)
    return result


def open_builtin_knowledge(announce: Callable[[str], None] | None = None) -> KnowledgeBase:
    """An index of only the built-in corpus, beside (not in) the user's own index."""
    from bot.config import Settings
    from bot.knowledge.embeddings import make_embeddings

    settings = Settings()
    embeddings = make_embeddings(settings)  # embedding cache stays in the user's data folder
    isolated = settings.model_copy(update={"home": settings.home / "evaluatie", "chroma_url": None})
    return open_knowledge(isolated, embeddings=embeddings, folders=[content_dir("knowledge")], announce=announce)


def format_table(result: EvaluationResult) -> str:
    """A plain-text table: one row per group and metric, one column per system."""
    names = [s for s in SYSTEMS if s in result.systems]
    first = result.systems[names[0]]
    groups = [*sorted(g for g in first if g != "totaal" and not g.startswith("deel ")), "totaal"]
    groups[-1:-1] = sorted(g for g in first if g.startswith("deel "))
    header = f"{'groep':<22}{'maat':<10}" + "".join(f"{n:>11}" for n in names)
    lines = [f"{result.queries} vragen, embeddings: {result.embeddings}", header, "-" * len(header)]
    for group in groups:
        label = f"{group} ({first[group].n})"
        for metric, attr, _ in _METRICS:
            cells = "".join(f"{getattr(result.systems[n][group], attr):>11.3f}" for n in names)
            lines.append(f"{label:<22}{metric:<10}{cells}")
            label = ""
    return "\n".join(lines)


def main() -> int:
    try:
        result = run_evaluation()
    except EvaluationError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(format_table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
