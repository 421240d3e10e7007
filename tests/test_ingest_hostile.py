"""Hostile own documents: one bad file breaks nothing, a small file cannot eat the machine.

Every hostile file is generated here (no binary blobs in the repository): Word files with
broken XML, a bad CRC, a broken deflate stream, nesting past lxml's limit, entity
expansion, or far too much XML inside a small zip; text in UTF-16 with and without BOM,
random bytes, bidi override characters; links out of a knowledge folder.
"""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

import pytest

from bot.config import Settings
from bot.knowledge import ingest
from bot.knowledge.ingest import IngestError, expand_paths, read_document
from bot.knowledge.retriever import KnowledgeBase, open_knowledge

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
GOOD_MD = "# Buurtaanpak\n\nWe willen dat bewoners elkaar vaker groeten in het trappenhuis.\n"
ENGLISH = re.compile(r"lxml|zlib|Error|CRC|line \d|column|entity|Traceback|Errno", re.IGNORECASE)


def _document_xml(body: str) -> bytes:
    head = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    return f'{head}<w:document xmlns:w="{W}"><w:body>{body}</w:body></w:document>'.encode()


def _paragraphs(*texts: str) -> str:
    return "".join(f"<w:p><w:r><w:t>{t}</w:t></w:r></w:p>" for t in texts)


def _real_docx(path: Path) -> Path:
    """A Word file as python-docx writes it (content types, relations, styles, core properties)."""
    import docx

    document = docx.Document()
    document.add_heading("Beleidsnotitie armoede", level=1)
    document.add_paragraph("De gemeente wil dat minder kinderen opgroeien in armoede.")
    document.save(str(path))
    return path


def _docx_with(path: Path, document_xml: bytes, *, compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """A real Word file with its word/document.xml replaced."""
    source = _real_docx(path.with_name("bron-" + path.name))
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(path, "w", compression) as dst:
        for info in src.infolist():
            data = document_xml if info.filename == "word/document.xml" else src.read(info)
            dst.writestr(info.filename, data, compress_type=compression)
    source.unlink()
    return path


def _flip_in_zip(path: Path, needle: bytes, replacement: bytes) -> None:
    raw = path.read_bytes()
    assert raw.count(needle) == 1 and len(needle) == len(replacement)
    path.write_bytes(raw.replace(needle, replacement))


def hostile_docx(folder: Path) -> dict[str, Path]:
    """One Word file per way of being broken."""
    files = {}
    files["kapotte-xml.docx"] = _docx_with(
        folder / "kapotte-xml.docx", b"<w:document xmlns:w='" + W.encode() + b"'><w:body><w:p>"
    )
    crc = _docx_with(
        folder / "crc.docx",
        _document_xml(_paragraphs("Een zin over armoede en schulden.")),
        compression=zipfile.ZIP_STORED,
    )
    _flip_in_zip(crc, b"armoede en schulden", b"armoede en schuldeN")
    files["crc.docx"] = crc
    deflate = _docx_with(
        folder / "deflate.docx", _document_xml(_paragraphs(*(f"Zin {i} over eenzaamheid." for i in range(400))))
    )
    raw = bytearray(deflate.read_bytes())
    with zipfile.ZipFile(deflate) as archive:
        info = archive.getinfo("word/document.xml")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start + 20, start + 60):
        raw[i] ^= 0x5A
    deflate.write_bytes(bytes(raw))
    files["deflate.docx"] = deflate
    deep = "<w:sdt><w:sdtContent>" * 3000 + _paragraphs("diep") + "</w:sdtContent></w:sdt>" * 3000
    files["diep.docx"] = _docx_with(folder / "diep.docx", _document_xml(deep))
    laughs = (
        '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
        + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
        + f']>\n<w:document xmlns:w="{W}"><w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>'
    )
    files["lachen.docx"] = _docx_with(folder / "lachen.docx", laughs.encode())
    files["geen-zip.docx"] = folder / "geen-zip.docx"
    files["geen-zip.docx"].write_bytes(b"PK\x03\x04 dit is geen zip")
    return files


def _kb(home: Path, folders: list[Path]) -> KnowledgeBase:
    return open_knowledge(Settings(home=home), embeddings=None, folders=folders)


# ---- one bad file breaks nothing ---------------------------------------------------------


def test_each_malformed_word_file_is_reported_in_dutch(tmp_path: Path) -> None:
    for name, path in hostile_docx(tmp_path).items():
        with pytest.raises(IngestError) as caught:
            read_document(path)
        message = str(caught.value)
        assert "beschadigd" in message, (name, message)
        assert not ENGLISH.search(message), (name, message)


def test_a_malformed_word_file_in_a_knowledge_folder_leaves_the_rest_searchable(tmp_path: Path) -> None:
    folder = tmp_path / "kennis"
    folder.mkdir()
    (folder / "goed.md").write_text(GOOD_MD, encoding="utf-8")
    bad = hostile_docx(folder)
    kb = _kb(tmp_path / "home", [folder])
    report = kb.last_report
    assert report is not None and report.documents == 1
    reasons = {Path(p).name: r for p, r in report.problems}
    assert set(reasons) == set(bad)
    assert all("beschadigd" in r and not ENGLISH.search(r) for r in reasons.values())
    assert kb.search("groeten in het trappenhuis", 1)[0].titel == "Buurtaanpak"
    # opening again does not rebuild (the bad files do not make the index stale) and still searches
    again = _kb(tmp_path / "home", [folder])
    assert again.last_report is None and again.search("trappenhuis", 1)


def test_cli_adds_the_good_file_and_reports_the_malformed_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import typer
    from typer.testing import CliRunner

    from bot.knowledge.commands import kennis_app

    app = typer.Typer()
    app.add_typer(kennis_app, name="kennis")
    app.command("x")(lambda: None)
    empty = tmp_path / "leeg"
    empty.mkdir()
    monkeypatch.setenv("KOMPAS_EMBEDDINGS", "none")
    monkeypatch.setenv("KOMPAS_KNOWLEDGE_DIRS", str(empty))
    good = tmp_path / "good.md"
    good.write_text(GOOD_MD, encoding="utf-8")
    bad = hostile_docx(tmp_path)["kapotte-xml.docx"].rename(tmp_path / "malformed.docx")
    result = CliRunner().invoke(app, ["kennis", "toevoegen", str(good), str(bad)])
    assert result.exit_code == 1
    assert f"Toegevoegd: {good.resolve()}" in result.stdout
    assert "malformed.docx: is beschadigd" in result.stderr
    assert not ENGLISH.search(result.stdout + result.stderr)


# ---- a small file cannot eat the machine ------------------------------------------------


def test_a_small_zip_with_too_much_xml_is_refused_by_its_unpacked_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest, "MAX_DOCX_XML_BYTES", 1024 * 1024)
    path = _docx_with(tmp_path / "bom.docx", _document_xml(_paragraphs(*["armoede " * 20] * 20_000)))
    assert path.stat().st_size < 100_000  # small on disk ...
    with pytest.raises(IngestError, match="uitgepakt te groot") as caught:  # ... refused for what it unpacks to
        read_document(path)
    assert "maximaal 1 MB" in str(caught.value)


def test_the_declared_size_in_the_zip_is_not_trusted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest, "MAX_DOCX_XML_BYTES", 1024 * 1024)
    path = _docx_with(tmp_path / "liegt.docx", _document_xml(_paragraphs(*["armoede " * 20] * 20_000)))
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("word/document.xml")
    small = (1000).to_bytes(4, "little")
    raw[info.header_offset + 22 : info.header_offset + 26] = small  # local header: uncompressed size
    central = raw.rfind(b"PK\x01\x02", 0, len(raw))
    while central >= 0:  # central directory entry of document.xml
        name_length = int.from_bytes(raw[central + 28 : central + 30], "little")
        if raw[central + 46 : central + 46 + name_length] == b"word/document.xml":
            raw[central + 24 : central + 28] = small
            break
        central = raw.rfind(b"PK\x01\x02", 0, central)
    path.write_bytes(bytes(raw))
    with pytest.raises(IngestError) as caught:
        read_document(path)
    assert "uitgepakt te groot" in str(caught.value) or "beschadigd" in str(caught.value)


def test_too_many_passages_are_refused_with_the_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest, "MAX_PASSAGES", 10)
    path = tmp_path / "lang.txt"
    path.write_text(" ".join(f"Zin {i} over het resultaat van de aanpak in de wijk." for i in range(600)), "utf-8")
    with pytest.raises(IngestError, match=r"te veel tekst \(\d+ stukken; maximaal 10") as caught:
        read_document(path)
    assert "splits" in str(caught.value)


def test_word_paragraphs_are_read_without_python_docx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """python-docx evaluated `paragraph.style` per paragraph: 97 % of the time. The reader does not use it."""
    import docx

    path = _real_docx(tmp_path / "notitie.docx")

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("python-docx gebruikt")

    monkeypatch.setattr(docx, "Document", forbidden)
    record = read_document(path)
    assert record.title == "Beleidsnotitie armoede"
    assert "minder kinderen" in record.passages[0].text


def test_word_reader_keeps_tables_order_dutch_heading_styles_and_content_controls(tmp_path: Path) -> None:
    body = (
        '<w:p><w:pPr><w:pStyle w:val="Kop1"/></w:pPr><w:r><w:t>Notitie </w:t></w:r><w:r><w:t>schulden</w:t></w:r></w:p>'
        + _paragraphs("Eerste alinea.")
        + "<w:tbl><w:tr><w:tc><w:p><w:r><w:t>Indicator</w:t></w:r></w:p></w:tc>"
        "<w:tc><w:p><w:r><w:t>Wachtlijst</w:t></w:r></w:p></w:tc></w:tr></w:tbl>"
        + "<w:sdt><w:sdtContent>"
        + _paragraphs("In een inhoudsbesturingselement.")
        + "</w:sdtContent></w:sdt>"
    )
    path = _docx_with(tmp_path / "nl.docx", _document_xml(body))
    # python-docx's own core.xml has no title; the Kop1 paragraph is the title
    record = read_document(path)
    assert record.title == "Notitie schulden"
    text = record.passages[0].text
    assert text.index("Eerste alinea.") < text.index("Indicator | Wachtlijst") < text.index("inhoudsbesturingselement")


# ---- links and sources -------------------------------------------------------------------


@pytest.mark.skipif(os.name == "nt", reason="symbolic links")
def test_links_out_of_a_knowledge_folder_are_not_followed(tmp_path: Path) -> None:
    private = tmp_path / "prive"
    private.mkdir()
    secret = private / "geheim.md"
    secret.write_text("# Geheim\n\nHet pincode van de directeur is 4321 zegt de notitie.\n", encoding="utf-8")
    secret.chmod(0o600)
    (private / "ook-geheim.txt").write_text("Salarisoverzicht van de afdeling sociaal domein.\n", "utf-8")
    folder = tmp_path / "kennis"
    folder.mkdir()
    (folder / "goed.md").write_text(GOOD_MD, encoding="utf-8")
    (folder / "link.md").symlink_to(secret)
    (folder / "map").symlink_to(private, target_is_directory=True)
    (folder / "intern.md").symlink_to(folder / "goed.md")  # a link inside the folder is fine

    files, problems = expand_paths([folder])
    assert [f.name for f in files] == ["goed.md"]
    assert [(p.name, "buiten de map" in r) for p, r in problems] == [("link.md", True)]

    kb = _kb(tmp_path / "home", [folder])
    assert not kb.search("pincode directeur", 5)
    assert not kb.search("salarisoverzicht", 5)
    assert kb.last_report is not None and kb.last_report.documents == 1


def test_an_own_document_shows_its_file_name_as_source_not_the_server_path(tmp_path: Path) -> None:
    folder = tmp_path / "kennis"
    folder.mkdir()
    (folder / "werksessie-verslag.txt").write_text("Verslag\n\nDe wachtlijst bij de schuldhulp is lang.\n", "utf-8")
    kb = _kb(tmp_path / "home", [folder])
    hit = kb.search("wachtlijst schuldhulp", 1)[0]
    assert hit.soort == "document"
    assert hit.bron == "werksessie-verslag.txt"
    assert str(tmp_path) not in hit.bron and "/" not in hit.bron
    docs = kb.as_retriever(k=1).invoke("wachtlijst schuldhulp")
    assert docs[0].metadata["bron"] == "werksessie-verslag.txt"


# ---- text decoding -----------------------------------------------------------------------

DUTCH = "Één café in de wijk: ‘samen koken’ – € 5 per maaltijd, ook voor ouderen.\n" * 20


@pytest.mark.parametrize(
    "data",
    [
        DUTCH.encode("utf-8"),
        b"\xef\xbb\xbf" + DUTCH.encode("utf-8"),
        DUTCH.encode("utf-16"),  # with BOM
        DUTCH.encode("utf-16-le"),  # without BOM
        DUTCH.encode("utf-16-be"),
        DUTCH.encode("cp1252"),
        DUTCH.encode("utf-32"),
    ],
    ids=["utf8", "utf8-bom", "utf16-bom", "utf16le", "utf16be", "cp1252", "utf32-bom"],
)
def test_text_encodings_are_detected(tmp_path: Path, data: bytes) -> None:
    assert ingest.decode_text(data) == DUTCH
    path = tmp_path / "tekst.txt"
    path.write_bytes(data)
    record = read_document(path)
    assert "\x00" not in record.passages[0].text and "Één café" in record.passages[0].text


def test_binary_data_is_refused(tmp_path: Path) -> None:
    import random

    rng = random.Random(16)
    for name, data in [
        ("ruis.md", rng.randbytes(2 * 1024 * 1024)),
        ("zonder-nul.txt", bytes(b or 1 for b in rng.randbytes(200_000))),
        ("plaatje.html", b"\x89PNG\r\n\x1a\n" + rng.randbytes(50_000)),
    ]:
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(IngestError, match="geen leesbare tekst"):
            read_document(path)


def test_bidi_override_characters_are_stripped_from_titles_and_text(tmp_path: Path) -> None:
    controls = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    path = tmp_path / "notitie.md"
    path.write_text(f"# Rapport \u202efdp.exe\u202c armoede\n\nTekst {controls}met overrides over armoede.\n", "utf-8")
    record = read_document(path)
    assert record.title == "Rapport fdp.exe armoede"
    assert not any(ch in controls for p in record.passages for ch in p.text + p.section)
    html = tmp_path / "pagina.html"
    html.write_text("<title>Wijk\u202ebericht</title><p>Over \u2067het\u2069 buurthuis en de buren.</p>", "utf-8")
    page = read_document(html)
    assert page.title == "Wijkbericht" and "Over het buurthuis" in page.passages[0].text
