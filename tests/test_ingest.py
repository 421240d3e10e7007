"""Ingesting own documents: readers, chunking, add/replace/remove, bad files, crash safety.

These tests run without the real dense model: lexical search, or a tiny deterministic
fake embedding where the Chroma path itself is under test.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from bot.config import Settings
from bot.knowledge import ingest
from bot.knowledge.index import IndexStore
from bot.knowledge.ingest import IngestError, expand_paths, read_document
from bot.knowledge.retriever import KnowledgeBase, open_knowledge

ITEM = """---
soort: interventie
titel: "Proefinterventie Zonnebloemtuin"
themas: [eenzaamheid]
doelgroep: "eenzame buurtbewoners"
stappen: [3]
beoordeling: "onbekend"
bron: "https://example.org/zonnebloemtuin"
bijgewerkt: 2026-11-23
---
In de Zonnebloemtuin werken buurtbewoners samen aan een moestuin en ontmoeten ze elkaar.
"""


def _pdf(path: Path, pages: list[str], password: str | None = None) -> Path:
    from pypdf import PdfReader, PdfWriter
    from reportlab.pdfgen.canvas import Canvas

    canvas = Canvas(str(path))
    for text in pages:
        y = 800
        for line in text.split("\n"):
            canvas.drawString(72, y, line)
            y -= 14
        canvas.showPage()
    canvas.save()
    if password:
        writer = PdfWriter(clone_from=PdfReader(path))
        writer.encrypt(password, algorithm="RC4-128")
        writer.write(path)
    return path


def _docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_heading("Beleidsnotitie armoede", level=1)
    document.add_paragraph("De gemeente wil dat minder kinderen opgroeien in armoede.")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Indicator"
    table.rows[0].cells[1].text = "Aantal kinderen in een minimahuishouden"
    document.save(str(path))
    return path


def _store(home: Path, folders: list[Path], embeddings: object = None) -> KnowledgeBase:
    return open_knowledge(Settings(home=home), embeddings=embeddings, folders=folders)  # type: ignore[arg-type]


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "notitie.md").write_text(
        "# Notitie buurtaanpak\n\n## Ambitie\n\nWe willen dat bewoners elkaar vaker groeten.\n\n"
        "## Indicatoren\n\nHet aandeel bewoners dat wekelijks een praatje maakt met de buren.\n",
        encoding="utf-8",
    )
    (folder / "verslag.txt").write_text(
        "Verslag werksessie\n\nDe deelnemers spraken over de wachtlijst bij de schuldhulpverlening.\n", "utf-8"
    )
    (folder / "pagina.html").write_text(
        "<html><head><title>Wijkbericht</title><script>var x=1;</script></head>"
        "<body><nav>menu</nav><p>Het buurthuis opent een taalcafé voor nieuwkomers.</p></body></html>",
        encoding="utf-8",
    )
    _docx(folder / "notitie.docx")
    _pdf(folder / "rapport.pdf", ["Rapport mantelzorg", "Op pagina twee staat iets over respijtzorg in de regio."])
    return folder


# ---- readers -----------------------------------------------------------------------------


def test_readers_extract_title_text_and_position(docs: Path) -> None:
    md = read_document(docs / "notitie.md")
    assert md.title == "Notitie buurtaanpak"
    assert [p.section for p in md.passages] == ["Notitie buurtaanpak > Ambitie", "Notitie buurtaanpak > Indicatoren"]
    assert [p.position for p in md.passages] == [1, 2]

    pdf = read_document(docs / "rapport.pdf")
    assert any(p.page == 2 and "respijtzorg" in p.text for p in pdf.passages)

    word = read_document(docs / "notitie.docx")
    assert word.title == "Beleidsnotitie armoede"
    assert "minimahuishouden" in " ".join(p.text for p in word.passages)

    page = read_document(docs / "pagina.html")
    assert page.title == "Wijkbericht"
    text = " ".join(p.text for p in page.passages)
    assert "taalcafé" in text and "var x" not in text and "menu" not in text

    txt = read_document(docs / "verslag.txt")
    assert txt.title == "Verslag werksessie" and len(txt.content_hash) == 64


def test_long_text_is_split_with_overlap(tmp_path: Path) -> None:
    path = tmp_path / "lang.txt"
    sentences = [f"Zin nummer {i} gaat over het maatschappelijk resultaat van de aanpak." for i in range(120)]
    path.write_text(" ".join(sentences), encoding="utf-8")
    passages = read_document(path).passages
    assert len(passages) > 5
    assert all(len(p.text) <= ingest.CHUNK_SIZE for p in passages)
    assert [p.position for p in passages] == list(range(1, len(passages) + 1))


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("leeg.txt", b"", "is leeg"),
        ("kapot.pdf", b"%PDF-1.4 dit is geen pdf", "beschadigd"),
        ("kapot.docx", b"PK geen zip", "beschadigd"),
        ("plaatje.png", b"\x89PNG", "wordt niet ondersteund"),
    ],
)
def test_bad_files_get_a_dutch_reason(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(IngestError, match=reason):
        read_document(path)


def test_password_protected_pdf(tmp_path: Path) -> None:
    path = _pdf(tmp_path / "geheim.pdf", ["Vertrouwelijk"], password="geheim")
    with pytest.raises(IngestError, match=r"wachtwoord|versleuteld"):
        read_document(path)


def test_huge_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest, "MAX_FILE_BYTES", 1000)
    path = tmp_path / "groot.txt"
    path.write_text("woord " * 500, encoding="utf-8")
    with pytest.raises(IngestError, match="te groot"):
        read_document(path)


def test_expand_paths(docs: Path, tmp_path: Path) -> None:
    (docs / "README.md").write_text("uitleg", encoding="utf-8")
    (docs / "data.csv").write_text("a,b", encoding="utf-8")
    files, problems = expand_paths([docs, tmp_path / "bestaat-niet.txt", docs / "data.csv"])
    assert {f.name for f in files} == {"notitie.md", "verslag.txt", "pagina.html", "notitie.docx", "rapport.pdf"}
    assert [reason for _, reason in problems] == ["bestaat niet", ingest._unsupported(docs / "data.csv")]


# ---- the index ---------------------------------------------------------------------------


def test_add_replace_remove(docs: Path, tmp_path: Path) -> None:
    kb = _store(tmp_path / "home", folders=[])
    loaded, report = kb.store.add_documents([docs])
    kb.replace_index(loaded)
    assert len(report.added) == 5 and not report.problems
    hit = kb.search("wachtlijst schulden", 1)[0]
    assert hit.soort == "document" and hit.bron.endswith("verslag.txt") and "wachtlijst" in hit.fragment
    assert hit.extra["passage"] == "1"

    # unchanged: nothing happens, the generation stays
    generation = kb.index.generation
    loaded, report = kb.store.add_documents([docs / "verslag.txt"])
    assert report.unchanged and not report.added and loaded.generation == generation

    # changed: the old chunks are replaced
    (docs / "verslag.txt").write_text("Verslag\n\nNu gaat het over vrijwilligers in de sportclub.\n", "utf-8")
    loaded, report = kb.store.add_documents([docs / "verslag.txt"])
    kb.replace_index(loaded)
    assert report.replaced == [str((docs / "verslag.txt").resolve())]
    assert not [h for h in kb.search("wachtlijst", 5) if h.bron.endswith("verslag.txt")]
    assert kb.search("sportclub vrijwilligers", 1)[0].bron.endswith("verslag.txt")

    # remove
    loaded, removed = kb.store.remove_document(docs / "notitie.docx")
    assert removed and loaded is not None
    kb.replace_index(loaded)
    assert not [h for h in kb.search("minimahuishouden armoede", 5) if h.bron.endswith("notitie.docx")]
    assert kb.store.remove_document(docs / "notitie.docx")[1] is None


def test_bad_files_do_not_stop_the_others(docs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (docs / "leeg.txt").write_bytes(b"")
    (docs / "kapot.pdf").write_bytes(b"%PDF-1.4 kapot")
    _pdf(docs / "geheim.pdf", ["Vertrouwelijk"], password="x")
    (docs / "groot.txt").write_text("woord " * 20_000, encoding="utf-8")
    monkeypatch.setattr(ingest, "MAX_FILE_BYTES", 100_000)
    kb = _store(tmp_path / "home", folders=[])
    _, report = kb.store.add_documents([docs, tmp_path / "weg.md"])
    reasons = {Path(path).name: reason for path, reason in report.problems}
    assert set(reasons) == {"leeg.txt", "kapot.pdf", "geheim.pdf", "groot.txt", "weg.md"}
    assert len(report.added) == 5


def test_knowledge_folder_holds_items_and_documents(docs: Path, tmp_path: Path) -> None:
    folder = tmp_path / "kennis" / "interventies"
    folder.mkdir(parents=True)
    (folder / "zonnebloemtuin.md").write_text(ITEM, encoding="utf-8")
    (folder / "kapot.md").write_text(ITEM.replace("soort: interventie", "soort: onzin"), encoding="utf-8")
    (tmp_path / "kennis" / "notitie.md").write_text((docs / "notitie.md").read_text("utf-8"), "utf-8")
    kb = _store(tmp_path / "home", folders=[tmp_path / "kennis"])
    report = kb.last_report
    assert report is not None and report.items == 1 and report.documents == 1
    assert [Path(p).name for p, _ in report.problems] == ["kapot.md"]
    hit = kb.search("moestuin", 1)[0]
    assert hit.item_id == "interventies/zonnebloemtuin" and hit.bron == "https://example.org/zonnebloemtuin"
    assert kb.search("praatje met de buren", 1)[0].soort == "document"

    # reopening is cheap and does not rebuild; a changed folder does
    again = _store(tmp_path / "home", folders=[tmp_path / "kennis"])
    assert again.last_report is None and again.index.generation == kb.index.generation
    (folder / "kapot.md").unlink()
    changed = _store(tmp_path / "home", folders=[tmp_path / "kennis"])
    assert changed.last_report is not None and not changed.last_report.problems


def test_running_search_picks_up_a_rebuild_by_another_process(docs: Path, tmp_path: Path) -> None:
    reader = _store(tmp_path / "home", folders=[])
    writer = _store(tmp_path / "home", folders=[])
    writer.store.add_documents([docs / "verslag.txt"])
    assert reader.search("wachtlijst", 1)[0].bron.endswith("verslag.txt")


def test_crash_during_build_leaves_old_index_usable(
    docs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = DeterministicFakeEmbedding(size=16)
    kb = _store(tmp_path / "home", folders=[], embeddings=fake)
    kb.store.add_documents([docs / "verslag.txt"])
    store: IndexStore = kb.store
    before = store.read_manifest()
    assert before is not None and before["collection"]

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("stroomstoring")

    monkeypatch.setattr("langchain_chroma.Chroma.add_texts", crash)
    with pytest.raises(RuntimeError):
        store.add_documents([docs / "notitie.md"])
    assert store.read_manifest() == before
    survivor = _store(tmp_path / "home", folders=[], embeddings=fake)
    assert survivor.last_report is None
    assert survivor.search("wachtlijst", 1)[0].bron.endswith("verslag.txt")
    leftovers = [p.name for p in store.root.iterdir() if p.name.endswith(".tmp")]
    assert leftovers  # the half-written generation is still there ...

    monkeypatch.undo()
    loaded, _ = store.add_documents([docs / "notitie.md"])
    assert not [p for p in store.root.iterdir() if p.name.endswith(".tmp")]  # ... until the next build
    names = [c.name for c in store.client().list_collections()]
    assert names == [store.read_manifest()["collection"]]  # type: ignore[index]
    assert len(loaded.documents) == 2


def test_first_build_tells_the_user_once_without_log_noise(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    folder = tmp_path / "kennis"
    folder.mkdir()
    (folder / "zonnebloemtuin.md").write_text(ITEM, encoding="utf-8")
    logging.getLogger("bm25s").setLevel(logging.DEBUG)  # what bm25s itself sets on import
    caplog.set_level(logging.DEBUG)
    kb = _store(tmp_path / "home", [folder])
    assert kb.search("moestuin", 1)
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["De zoekindex wordt voor het eerst opgebouwd, een ogenblik geduld..."]
    assert not [r for r in caplog.records if r.name.startswith("bm25s") or r.levelno >= logging.WARNING]
    _store(tmp_path / "home", [folder])  # current index: nothing to tell
    assert capsys.readouterr().err == ""


# ---- command line ------------------------------------------------------------------------


def test_cli_add_list_search_remove(docs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    import typer
    from typer.testing import CliRunner

    from bot.knowledge.commands import kennis_app, watwerkt

    app = typer.Typer()
    app.add_typer(kennis_app, name="kennis")
    app.command("watwerkt")(watwerkt)
    folder = tmp_path / "kennis" / "interventies"
    folder.mkdir(parents=True)
    (folder / "zonnebloemtuin.md").write_text(ITEM, encoding="utf-8")
    monkeypatch.setenv("KOMPAS_EMBEDDINGS", "none")
    monkeypatch.setenv("KOMPAS_KNOWLEDGE_DIRS", str(tmp_path / "kennis"))
    (docs / "leeg.txt").write_bytes(b"")
    runner = CliRunner()

    result = runner.invoke(app, ["kennis", "toevoegen", str(docs)])
    assert result.exit_code == 1  # one bad file ...
    assert "Toegevoegd:" in result.stdout and "leeg.txt: is leeg" in result.stderr  # ... the others went in
    result = runner.invoke(app, ["kennis", "toevoegen", str(docs / "verslag.txt")])
    assert result.exit_code == 0 and "Ongewijzigd" in result.stdout

    result = runner.invoke(app, ["kennis", "lijst"])
    assert result.exit_code == 0 and "Ingebouwde kennis: 1 items" in result.stdout and "toegevoegd" in result.stdout

    result = runner.invoke(app, ["watwerkt", "--json", "-k", "2"], input="moestuin\nwachtlijst schulden\n")
    assert result.exit_code == 0
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["query"] for line in lines] == ["moestuin", "wachtlijst schulden"]
    first = lines[0]["results"][0]
    assert first["titel"] == "Proefinterventie Zonnebloemtuin" and first["rank"] == 1
    assert {"bron", "score", "soort", "themas", "beoordeling", "fragment"} <= set(first)
    assert lines[1]["results"][0]["bron"].endswith("verslag.txt")

    result = runner.invoke(app, ["watwerkt", "moestuin", "--soort", "meetinstrument"])
    assert result.exit_code == 0 and "Niets gevonden" in result.stdout
    assert runner.invoke(app, ["watwerkt", "x", "--thema", "onzin"]).exit_code == 2
    assert runner.invoke(app, ["watwerkt"]).exit_code == 2

    result = runner.invoke(app, ["kennis", "verwijderen", str(docs / "verslag.txt")])
    assert result.exit_code == 0 and "Verwijderd" in result.stdout
    result = runner.invoke(app, ["kennis", "verwijderen", str(docs / "verslag.txt")])
    assert result.exit_code == 1 and "staat niet in de kennisbank" in result.stderr
