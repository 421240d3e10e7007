"""Read own documents (Markdown, text, PDF, Word, HTML) and cut them into passages.

`read_document(path)` returns a `DocumentRecord`: title, content hash and the passages
(about 1,000 characters, 150 overlap; Markdown is first cut at its headings, PDF per
page). Anything wrong with one file raises `IngestError` with a short Dutch reason, so a
caller can report it and go on with the other files: every reader turns its own
library's errors (lxml, zlib, zipfile, pypdf) into that Dutch reason, and nothing else
escapes `read_document` but `IngestError`. `expand_paths` turns the paths a user typed
(files and folders) into the files to read; in a folder it does not follow links that
point outside that folder.

Limits, each refused with a Dutch reason: the file itself (`MAX_FILE_BYTES`), the
*unpacked* XML of a Word file (`MAX_DOCX_XML_BYTES`, so a small zip cannot grow into
gigabytes), and the passages per file (`MAX_PASSAGES`, which bounds the time to embed
it). Word files are read with lxml directly (one pass over ``word/document.xml``, no
DTDs or entities, no per-paragraph style lookup). Text files are decoded by BOM, strict
UTF-8, UTF-16 without BOM, then charset-normalizer over the encodings Dutch documents
use; binary data is refused. Bidirectional override characters are removed from titles
and text.

Corpus items (Markdown with front matter) are not documents: `is_corpus_file` tells them
apart, and the index reads those with `bot.knowledge.corpus.parse_item`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import os
import re
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_text_splitters import MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter

__all__ = [
    "CHUNK_OVERLAP",
    "CHUNK_SIZE",
    "MAX_DOCX_XML_BYTES",
    "MAX_FILE_BYTES",
    "MAX_PASSAGES",
    "SUPPORTED_SUFFIXES",
    "DocumentRecord",
    "IngestError",
    "Passage",
    "decode_text",
    "display_source",
    "expand_paths",
    "file_hash",
    "is_corpus_file",
    "read_document",
    "strip_bidi",
]

SUPPORTED_SUFFIXES: tuple[str, ...] = (".md", ".markdown", ".txt", ".pdf", ".docx", ".html", ".htm")
MAX_FILE_BYTES = 20 * 1024 * 1024
"""Larger files are refused (20 MB): they are rarely useful text and slow to embed."""
MAX_DOCX_XML_BYTES = 25 * 1024 * 1024
"""The most XML a Word file may unpack to (25 MB, about 5 MB of text): a zip of 50 KB can hold gigabytes."""
MAX_PASSAGES = 2000
"""The most passages one file may give (about 1.7 MB of text; some ten minutes to embed on two cores)."""
CHUNK_SIZE = 1000
CHUNK_OVERLAP = 150

_SPLITTER = RecursiveCharacterTextSplitter(
    chunk_size=CHUNK_SIZE,
    chunk_overlap=CHUNK_OVERLAP,
    separators=["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""],
    keep_separator="end",
)
_HEADINGS = MarkdownHeaderTextSplitter([("#", "h1"), ("##", "h2"), ("###", "h3")], strip_headers=True)
_SKIPPED_NAMES = ("readme", "leesmij")

log = logging.getLogger(__name__)


class IngestError(Exception):
    """One file could not be read; the message is Dutch and says why (not which file)."""


@dataclass(frozen=True)
class Passage:
    text: str
    position: int  # 1-based number of the passage within its document
    section: str = ""  # Markdown heading path, "Stap 2 > Indicatoren"
    page: int | None = None  # PDF page (1-based)


@dataclass(frozen=True)
class DocumentRecord:
    path: str  # absolute path, the document's identity
    title: str
    content_hash: str
    size: int
    added: str  # ISO date-time of ingestion
    passages: tuple[Passage, ...]


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_corpus_file(path: Path) -> bool:
    """A Markdown file that starts with front matter naming a `soort` is a corpus item."""
    if path.suffix.lower() not in (".md", ".markdown"):
        return False
    try:
        with path.open(encoding="utf-8-sig", errors="replace") as handle:
            head = handle.read(2000)
    except OSError:
        return False
    if head.split("\n", 1)[0].strip() != "---":
        return False
    return re.search(r"^soort\s*:", head, flags=re.MULTILINE) is not None


def expand_paths(paths: Iterable[Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Files to ingest (folders searched recursively) and (path, Dutch problem) pairs.

    In folders, files with other extensions and README/LEESMIJ files are skipped
    silently; a file named explicitly with an unsupported extension is a problem. In a
    folder, links are not followed out of it: a linked folder is not entered, and a linked
    file whose target lies outside the folder is skipped (a problem), so a link cannot
    bring a private file into the index. A file named explicitly may be a link.
    """
    files: list[Path] = []
    problems: list[tuple[Path, str]] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            inside, outside = _folder_files(path)
            files += inside
            problems += [(p, "is een koppeling naar een bestand buiten de map; overgeslagen") for p in outside]
        elif path.is_file():
            if path.suffix.lower() in SUPPORTED_SUFFIXES:
                files.append(path)
            else:
                problems.append((path, _unsupported(path)))
        else:
            problems.append((path, "bestaat niet"))
    unique = list(dict.fromkeys(p.resolve() for p in files))
    return unique, problems


def _folder_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """Supported files under `folder` (links to folders not entered), and links pointing out of it."""
    root = folder.resolve()
    inside: list[Path] = []
    outside: list[Path] = []
    for directory, subdirs, names in os.walk(root, followlinks=False):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        for name in sorted(names):
            path = Path(directory, name)
            if (
                name.startswith(".")
                or path.suffix.lower() not in SUPPORTED_SUFFIXES
                or path.stem.lower() in _SKIPPED_NAMES
            ):
                continue
            if path.is_symlink():
                target = path.resolve()
                if not target.is_relative_to(root):
                    outside.append(path)
                    continue
            if path.is_file():
                inside.append(path)
    return sorted(inside), outside


def display_source(path: str | Path) -> str:
    """What a chat shows as the source of an own document: its file name, never the server path."""
    return strip_bidi(Path(path).name)


_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def strip_bidi(text: str) -> str:
    """`text` without bidirectional embedding/override/isolate characters (U+202A-U+202E, U+2066-U+2069)."""
    return _BIDI_CONTROLS.sub("", text)


def _unsupported(path: Path) -> str:
    kind = path.suffix or "zonder extensie"
    return f"bestandstype {kind} wordt niet ondersteund (wel: .md, .txt, .pdf, .docx, .html)"


def read_document(path: Path) -> DocumentRecord:
    """Read, extract and split one file. Raises `IngestError` with a Dutch reason, and nothing else."""
    path = Path(path).resolve()
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise IngestError(_unsupported(path))
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise IngestError(f"kan het bestand niet lezen ({_os_reason(exc)})") from None
    if size > MAX_FILE_BYTES:
        raise IngestError(f"is te groot ({size / 1024 / 1024:.1f} MB; maximaal {MAX_FILE_BYTES // 1024 // 1024} MB)")
    if size == 0:
        raise IngestError("is leeg")
    try:
        if suffix == ".pdf":
            title, pages = _read_pdf(path)
            passages = _split_pages(pages)
        elif suffix == ".docx":
            title, text = _read_docx(path)
            passages = _split_text(text)
        elif suffix in (".html", ".htm"):
            title, text = _read_html(path)
            passages = _split_text(text)
        elif suffix in (".md", ".markdown"):
            text = _read_text(path)
            title = _markdown_title(text)
            passages = _split_markdown(text)
        else:
            text = _read_text(path)
            title = _first_line_title(text)
            passages = _split_text(text)
        content_hash = file_hash(path)
    except IngestError:
        raise
    except OSError as exc:
        raise IngestError(f"kan het bestand niet lezen ({_os_reason(exc)})") from None
    except MemoryError:
        raise IngestError("is te groot om te verwerken") from None
    except Exception as exc:  # a reader's own error (lxml, zlib, bs4, ...): never its English text
        log.debug("%s kon niet worden gelezen", path.name, exc_info=True)
        raise IngestError(f"is beschadigd of kan niet worden gelezen ({_kind(suffix)})") from exc
    if not passages:
        raise IngestError("bevat geen leesbare tekst" + (" (misschien een scan?)" if suffix == ".pdf" else ""))
    if len(passages) > MAX_PASSAGES:
        raise IngestError(
            f"bevat te veel tekst ({len(passages)} stukken; maximaal {MAX_PASSAGES}, ongeveer "
            f"{MAX_PASSAGES * (CHUNK_SIZE - CHUNK_OVERLAP) / 1e6:.1f} MB tekst): splits het in kleinere bestanden"
        )
    return DocumentRecord(
        path=str(path),
        title=_tidy_title(title) or _title_from_name(path),
        content_hash=content_hash,
        size=size,
        added=dt.datetime.now().replace(microsecond=0).isoformat(),
        passages=tuple(passages),
    )


def _os_reason(exc: OSError) -> str:
    """A Dutch reason for a file-system error (the OS's own text may be English)."""
    if isinstance(exc, PermissionError):
        return "geen toestemming"
    if isinstance(exc, FileNotFoundError):
        return "het bestand bestaat niet meer"
    if isinstance(exc, IsADirectoryError):
        return "het is een map"
    return f"fout van het bestandssysteem, {exc.__class__.__name__}"


def _kind(suffix: str) -> str:
    return {
        ".pdf": "PDF",
        ".docx": "Word-bestand",
        ".html": "HTML",
        ".htm": "HTML",
        ".md": "Markdown",
        ".markdown": "Markdown",
    }.get(suffix, "tekstbestand")


def _read_text(path: Path) -> str:
    return decode_text(path.read_bytes())


_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
)
_CANDIDATES = ["utf_8", "cp1252", "iso8859_15", "utf_16_le", "utf_16_be", "utf_32_le", "utf_32_be"]
"""Encodings charset-normalizer may choose from: those Dutch documents are written in (not mac_latin2 & co.)."""
_NOT_TEXT = "bevat geen leesbare tekst (binaire gegevens, geen tekstbestand)"


def decode_text(raw: bytes) -> str:
    """Bytes of a text file as text: BOM, strict UTF-8, UTF-16 without BOM, then charset-normalizer.

    Binary data (NUL bytes that are not UTF-16, control characters, nothing decodes) raises
    `IngestError` ("geen leesbare tekst").
    """
    text: str | None = None
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            try:
                text = raw[len(bom) :].decode(encoding.removesuffix("-sig"))
            except UnicodeDecodeError:
                raise IngestError("is beschadigd: de tekst past niet bij de aangegeven codering") from None
            break
    if text is None:
        text = _decode_without_bom(raw)
    if _looks_binary(text):
        raise IngestError(_NOT_TEXT)
    return text


def _decode_without_bom(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    utf16 = _utf16_order(raw)
    if utf16 is not None:
        try:
            return raw.decode(utf16)
        except UnicodeDecodeError:
            pass
    if b"\x00" in raw:
        raise IngestError(_NOT_TEXT)
    from charset_normalizer import from_bytes

    best = from_bytes(raw, cp_isolation=_CANDIDATES).best()
    if best is None:
        raise IngestError(_NOT_TEXT)
    try:
        return raw.decode(best.encoding)
    except (UnicodeDecodeError, LookupError):
        raise IngestError(_NOT_TEXT) from None


def _utf16_order(raw: bytes) -> str | None:
    """'utf-16-le' or 'utf-16-be' when the NUL bytes say so (text in Latin script has one per character)."""
    sample = raw[:65536]
    if len(sample) < 4:
        return None
    sample = sample[: len(sample) // 2 * 2]
    even = sample[0::2].count(0)
    odd = sample[1::2].count(0)
    half = len(sample) // 2
    if odd > 0.3 * half and even < 0.05 * half:
        return "utf-16-le"
    if even > 0.3 * half and odd < 0.05 * half:
        return "utf-16-be"
    return None


def _looks_binary(text: str) -> bool:
    """Control characters (other than tab, newline, form feed, carriage return) in more than 1 in 200 characters."""
    sample = text[:200_000]
    if not sample:
        return False
    controls = sum(1 for ch in sample if (ord(ch) < 32 and ch not in "\t\n\r\f") or 0x7F <= ord(ch) < 0xA0)
    return "\x00" in sample or controls * 200 > len(sample)


def _read_pdf(path: Path) -> tuple[str, list[str]]:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, PdfReadError

    pypdf_log = logging.getLogger("pypdf")
    level = pypdf_log.level
    pypdf_log.setLevel(logging.CRITICAL)  # broken files are reported in Dutch, not as pypdf warnings
    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise IngestError("is beveiligd met een wachtwoord")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = str(reader.metadata.title or "") if reader.metadata else ""
    except IngestError:
        raise
    except DependencyError:  # encrypted with a cipher pypdf cannot open without extra packages
        raise IngestError("is versleuteld en kan niet worden gelezen") from None
    except PdfReadError as exc:
        if "password" in str(exc).lower() or "decrypt" in str(exc).lower():
            raise IngestError("is beveiligd met een wachtwoord") from None
        raise IngestError("is beschadigd of geen geldige PDF") from None
    except Exception:
        raise IngestError("is beschadigd of geen geldige PDF") from None
    finally:
        pypdf_log.setLevel(level)
    return title or _first_line_title("\n".join(pages[:1])), pages


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_DC_TITLE = "{http://purl.org/dc/elements/1.1/}title"
_TITLE_STYLES = ("title", "titel", "heading1", "heading 1", "kop1", "kop 1")
_DOCX_BROKEN = "is beschadigd of geen geldig Word-bestand (.docx)"


def _read_docx(path: Path) -> tuple[str, str]:
    """Title and text of a Word file, read with lxml from the zip (no python-docx object model).

    Paragraphs and tables of the body in document order (a table row as its distinct
    cells joined by " | "); the title is the core property, else the first paragraph in a
    Title/Heading 1 style. Broken zips, bad CRCs, broken or too deeply nested XML and DTDs
    (entity expansion) give "is beschadigd"; XML that unpacks past `MAX_DOCX_XML_BYTES`
    is refused as too big.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            document = _docx_part(archive, "word/document.xml", required=True)
            styles = _docx_part(archive, "word/styles.xml")
            core = _docx_part(archive, "docProps/core.xml")
    except IngestError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError, RuntimeError, KeyError):
        raise IngestError(_DOCX_BROKEN) from None
    body = _parse_xml(document).find(f"{_W}body")
    if body is None:
        raise IngestError(_DOCX_BROKEN)
    names: dict[str, str] = {}
    title = ""
    with contextlib.suppress(IngestError):  # broken styles or properties cost the title, not the text
        names = _style_names(_parse_xml(styles)) if styles else {}
    with contextlib.suppress(IngestError):
        element = _parse_xml(core).find(_DC_TITLE) if core else None
        title = (element.text or "").strip() if element is not None else ""
    lines: list[str] = []
    for element in _body_blocks(body):
        if element.tag == f"{_W}p":
            text = _paragraph_text(element).strip()
            if not text:
                continue
            if not title:
                style = element.find(f"{_W}pPr/{_W}pStyle")
                style_id = style.get(f"{_W}val", "") if style is not None else ""
                style_name = names.get(style_id, style_id).lower()
                if style_name.startswith(_TITLE_STYLES) or style_id.lower().startswith(_TITLE_STYLES):
                    title = text
            lines.append(text)
        else:  # a table: one line per row
            for row in element.iter(f"{_W}tr"):
                cells = [_cell_text(cell) for cell in row.iterchildren(f"{_W}tc")]
                cells = [c for c in cells if c]
                if cells:
                    lines.append(" | ".join(dict.fromkeys(cells)))
    return title, "\n\n".join(lines)


def _docx_part(archive: zipfile.ZipFile, name: str, *, required: bool = False) -> bytes:
    """One part of the zip, read at most `MAX_DOCX_XML_BYTES` (+1) far: the declared size may lie."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        if required:
            raise IngestError(_DOCX_BROKEN) from None
        return b""
    limit = MAX_DOCX_XML_BYTES
    if info.file_size > limit:
        raise IngestError(_too_big_unpacked(info.file_size))
    with archive.open(info) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise IngestError(_too_big_unpacked(len(data)))
    return data


def _too_big_unpacked(size: int) -> str:
    return (
        f"is uitgepakt te groot ({size / 1024 / 1024:.0f} MB of meer aan Word-XML; maximaal "
        f"{MAX_DOCX_XML_BYTES // 1024 // 1024} MB): zo'n klein bestand dat zo groot uitpakt, wordt niet gelezen"
    )


def _parse_xml(data: bytes) -> Any:
    """Parse one part safely: no DTD (so no entities), no network, lxml's default depth limit."""
    from lxml import etree

    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise IngestError(_DOCX_BROKEN + ": het bevat een DTD, wat een Word-bestand nooit heeft")
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True
    )
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError:
        raise IngestError(_DOCX_BROKEN) from None


def _style_names(styles: Any) -> dict[str, str]:
    names: dict[str, str] = {}
    for style in styles.iterchildren(f"{_W}style"):
        name = style.find(f"{_W}name")
        if name is not None:
            names[style.get(f"{_W}styleId", "")] = name.get(f"{_W}val", "")
    return names


def _body_blocks(body: Any) -> Iterable[Any]:
    """Paragraphs and tables of the body in order, also inside content controls (w:sdt)."""
    stack = list(reversed(body))
    while stack:
        element = stack.pop()
        if element.tag in (f"{_W}p", f"{_W}tbl"):
            yield element
        elif element.tag in (f"{_W}sdt", f"{_W}sdtContent", f"{_W}customXml"):
            stack.extend(reversed(element))


def _paragraph_text(paragraph: Any) -> str:
    parts: list[str] = []
    for node in paragraph.iter(f"{_W}t", f"{_W}tab", f"{_W}br", f"{_W}cr"):
        if node.tag == f"{_W}t":
            parts.append(node.text or "")
        elif node.tag == f"{_W}tab":
            parts.append("\t")
        else:
            parts.append("\n")
    return "".join(parts)


def _cell_text(cell: Any) -> str:
    return "\n".join(t for t in (_paragraph_text(p).strip() for p in cell.iter(f"{_W}p")) if t)


def _read_html(path: Path) -> tuple[str, str]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(_read_text(path), "html.parser")
    for tag in soup(["script", "style", "nav", "header", "footer", "noscript", "form"]):
        tag.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    if not title and soup.h1:
        title = soup.h1.get_text(" ", strip=True)
    if soup.title:
        soup.title.decompose()
    body = soup.body or soup
    blocks = [b.strip() for b in body.get_text("\n").split("\n")]
    return title, "\n".join(b for b in blocks if b)


def _markdown_title(text: str) -> str:
    match = re.search(r"^#\s+(.+)$", text, flags=re.MULTILINE)
    return match.group(1) if match else _first_line_title(text)


def _first_line_title(text: str) -> str:
    for line in text.splitlines():
        line = line.strip(" \t#*▶")
        if re.search(r"[^\W\d_]", line):
            return line if len(line) <= 120 else ""
    return ""


def _tidy_title(title: str) -> str:
    title = re.sub(r"\s+", " ", strip_bidi(title)).strip()
    if title.isupper():
        title = title.capitalize()
    return title


def _title_from_name(path: Path) -> str:
    return re.sub(r"[_-]+", " ", strip_bidi(path.stem)).strip().capitalize() or strip_bidi(path.name)


def _clean(text: str) -> str:
    text = strip_bidi(text).replace("\r\n", "\n").replace("\xa0", " ")
    text = re.sub(r"[ \t]+", " ", text)
    return re.sub(r"\n\s*\n(\s*\n)+", "\n\n", text).strip()


def _split_text(text: str, *, section: str = "", page: int | None = None, start: int = 1) -> list[Passage]:
    pieces = [p.strip() for p in _SPLITTER.split_text(_clean(text))]
    pieces = [p for p in pieces if re.search(r"[^\W\d_]{2}", p)]
    return [Passage(text=p, position=start + i, section=section, page=page) for i, p in enumerate(pieces)]


def _split_pages(pages: list[str]) -> list[Passage]:
    passages: list[Passage] = []
    for number, text in enumerate(pages, start=1):
        passages += _split_text(text, page=number, start=len(passages) + 1)
    return passages


def _split_markdown(text: str) -> list[Passage]:
    passages: list[Passage] = []
    for part in _HEADINGS.split_text(_clean(text)):
        heads = [part.metadata[k] for k in ("h1", "h2", "h3") if part.metadata.get(k)]
        passages += _split_text(part.page_content, section=" > ".join(heads), start=len(passages) + 1)
    return passages
