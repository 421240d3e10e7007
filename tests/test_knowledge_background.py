"""The background index builder: chats are never answered by the thread that builds.

Every wait is for an event (a gate the fake build holds, a publication, a finished round),
never for a clock.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from bot.config import Settings
from bot.knowledge.background import BackgroundKnowledge, KnowledgeNotReady
from bot.knowledge.index import IndexStore
from bot.knowledge.retriever import open_knowledge

WAIT = 60.0  # generous upper bound for an event that must come; never reached when things work


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "kennis"
    folder.mkdir()
    (folder / "buurt.md").write_text("# Buurtaanpak\n\nBewoners groeten elkaar in het trappenhuis.\n", "utf-8")
    return folder


class Gate:
    """A `Progress` callback that holds the build at its first vector batch until released."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()
        self.threads: set[str] = set()

    def __call__(self, stage: str, done: int, total: int) -> None:
        self.threads.add(threading.current_thread().name)
        if stage == "vectoren berekenen":
            self.reached.set()
            assert self.release.wait(WAIT)


def test_a_first_build_runs_on_the_worker_and_searches_do_not_wait_for_it(tmp_path: Path) -> None:
    gate = Gate()
    knowledge = BackgroundKnowledge(
        Settings(home=tmp_path / "home"),
        embeddings=DeterministicFakeEmbedding(size=16),
        folders=[_folder(tmp_path)],
        progress=gate,
    )
    try:
        knowledge.start()
        assert gate.reached.wait(WAIT)  # the build is running, held at the gate ...
        with pytest.raises(KnowledgeNotReady, match="wordt nog opgebouwd"):  # ... and a search returns at once
            knowledge.search("trappenhuis")
        assert knowledge.state == "building"
        gate.release.set()
        assert knowledge.wait_for_publication(1, WAIT)
        assert knowledge.search("trappenhuis", 1)[0].titel == "Buurtaanpak"
        ranked = knowledge.search("trappenhuis", 1, erkend=False, prefer_themes=("eenzaamheid",), prefer_step=2)
        assert ranked[0].titel == "Buurtaanpak"  # every KnowledgeSearch argument is passed on
        assert gate.threads == {"kompas-kennis"}  # never on the thread that searched
        assert knowledge.last_report is not None and knowledge.last_report.documents == 1
    finally:
        gate.release.set()
        knowledge.close()


def test_searches_are_answered_from_the_previous_index_while_a_rebuild_runs(tmp_path: Path) -> None:
    fake = DeterministicFakeEmbedding(size=16)
    folder = _folder(tmp_path)
    settings = Settings(home=tmp_path / "home")
    open_knowledge(settings, embeddings=fake, folders=[folder])  # the previous index
    (folder / "schulden.md").write_text("# Schulden\n\nDe wachtlijst bij de schuldhulp is lang.\n", "utf-8")
    gate = Gate()
    knowledge = BackgroundKnowledge(settings, embeddings=fake, folders=[folder], progress=gate)
    try:
        knowledge.start()
        assert knowledge.wait_for_publication(1, WAIT)  # the previous index is published first
        assert gate.reached.wait(WAIT)  # then the rebuild starts and is held
        assert knowledge.search("trappenhuis", 1)[0].titel == "Buurtaanpak"  # answered meanwhile
        assert all(hit.titel != "Schulden" for hit in knowledge.search("wachtlijst schuldhulp", 5))
        gate.release.set()
        assert knowledge.wait_for_publication(2, WAIT)
        assert knowledge.search("wachtlijst schuldhulp", 1)[0].titel == "Schulden"
    finally:
        gate.release.set()
        knowledge.close()


def test_a_failing_build_keeps_the_previous_index_and_is_not_retried_per_search(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _folder(tmp_path)
    settings = Settings(home=tmp_path / "home")
    open_knowledge(settings, embeddings=None, folders=[folder])
    (folder / "nieuw.md").write_text("# Nieuw\n\nIets over mantelzorgers.\n", "utf-8")
    attempts: list[str] = []

    def broken(self: IndexStore, *args: object, **kwargs: object) -> None:
        attempts.append(threading.current_thread().name)
        raise RuntimeError("schijf vol")

    monkeypatch.setattr(IndexStore, "_build", broken)
    knowledge = BackgroundKnowledge(settings, embeddings=None, folders=[folder], check_every=3600)
    try:
        knowledge.start()
        assert knowledge.wait_for_rounds(1, WAIT)
        for round_number in range(2, 6):
            assert knowledge.search("trappenhuis", 1)[0].titel == "Buurtaanpak"
            knowledge.check()
            assert knowledge.wait_for_rounds(round_number, WAIT)
        assert attempts == ["kompas-kennis"]  # one try, on the worker; not one per search
        assert knowledge.last_error == "RuntimeError"
    finally:
        knowledge.close()


def test_a_rebuild_by_another_process_is_picked_up_by_the_worker(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    settings = Settings(home=tmp_path / "home")
    open_knowledge(settings, embeddings=None, folders=[folder])
    knowledge = BackgroundKnowledge(settings, embeddings=None, folders=[folder], check_every=3600)
    try:
        knowledge.start()
        assert knowledge.wait_for_publication(1, WAIT)
        other = tmp_path / "los.txt"
        other.write_text("Verslag\n\nHet taalcafé in de bibliotheek loopt goed.\n", "utf-8")
        IndexStore(settings, None, folders=[folder]).add_documents([other])  # "kompas kennis toevoegen"
        knowledge.check()
        assert knowledge.wait_for_publication(2, WAIT)
        assert knowledge.search("taalcafé bibliotheek", 1)[0].bron == "los.txt"
    finally:
        knowledge.close()


def test_the_engine_answers_watwerkt_and_other_chats_while_the_first_build_is_held(
    tmp_path: Path, flow: object, texts: object, clock: object
) -> None:
    """Issue 16: a first build plus one /watwerkt in chat A delayed /help in chat B by 44 s."""
    from bot.compass import Chat
    from bot.engine import Actor, Engine, Text

    gate = Gate()
    knowledge = BackgroundKnowledge(
        Settings(home=tmp_path / "home"),
        embeddings=DeterministicFakeEmbedding(size=16),
        folders=[_folder(tmp_path)],
        progress=gate,
    )
    engine = Engine(flow, texts, knowledge)  # type: ignore[arg-type]
    me = Actor("1", "Sanne")
    try:
        knowledge.start()
        assert gate.reached.wait(WAIT)  # the first build is running and held
        a = engine.handle(Chat(id="a", is_group=False), Text(me, "/watwerkt trappenhuis", clock()))  # type: ignore[operator]
        assert a.replies  # answered (the knowledge base is not ready yet), not waiting for the build
        b = engine.handle(Chat(id="b", is_group=False), Text(me, "/help", clock()))  # type: ignore[operator]
        assert b.replies and not gate.release.is_set()  # both answered while the build was still held
        gate.release.set()
        assert knowledge.wait_for_publication(1, WAIT)
        found = engine.handle(a.chat, Text(me, "/watwerkt trappenhuis", clock()))  # type: ignore[operator]
        assert "Buurtaanpak" in " ".join(r.text for r in found.replies)
    finally:
        gate.release.set()
        knowledge.close()
