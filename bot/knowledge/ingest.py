"""Read own documents (Markdown, text, PDF, Word, HTML) and cut them into passages.

`read_document(path)` returns a `DocumentRecord`: title, content hash and the passages
(about 1,000 characters, 150 overlap; Markdown is first cut at its headings, PDF per
page). Anything wrong with one file raises `IngestError` with a short Dutch reason, so a
caller can report it and go on with the other files. `expand_paths` turns the paths a
user typed (files and folders) into the files to read.

Corpus items (Markdown with front matter) are not documents: `is_corpus_file` tells them
apart, and the index reads those with `bot.knowledge.corpus.parse_item`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from langchain_text_splitters import MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter

__all__ = [
    "CHUNK_OVERLAP",
    "CHUNK_SIZE",
    "MAX_FILE_BYTES",
    "SUPPORTED_SUFFIXES",
    "DocumentRecord",
    "IngestError",
    "Passage",
    "expand_paths",
    "file_hash",
    "is_corpus_file",
    "read_document",
]

SUPPORTED_SUFFIXES: tuple[str, ...] = (".md", ".markdown", ".txt", ".pdf", ".docx", ".html", ".htm")
MAX_FILE_BYTES = 20 * 1024 * 1024
"""Larger files are refused (20 MB): they are rarely useful text and slow to embed."""
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
    silently; a file named explicitly with an unsupported extension is a problem.
    """
    files: list[Path] = []
    problems: list[tuple[Path, str]] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in SUPPORTED_SUFFIXES
                and not p.name.startswith(".")
                and p.stem.lower() not in _SKIPPED_NAMES
            )
            files += found
        elif path.is_file():
            if path.suffix.lower() in SUPPORTED_SUFFIXES:
                files.append(path)
            else:
                problems.append((path, _unsupported(path)))
        else:
            problems.append((path, "bestaat niet"))
    unique = list(dict.fromkeys(p.resolve() for p in files))
    return unique, problems


def _unsupported(path: Path) -> str:
    kind = path.suffix or "zonder extensie"
    return f"bestandstype {kind} wordt niet ondersteund (wel: .md, .txt, .pdf, .docx, .html)"


def read_document(path: Path) -> DocumentRecord:
    """Read, extract and split one file. Raises `IngestError` with a Dutch reason."""
    path = Path(path).resolve()
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise IngestError(_unsupported(path))
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise IngestError(f"kan het bestand niet lezen ({exc.strerror})") from None
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
    except OSError as exc:
        raise IngestError(f"kan het bestand niet lezen ({exc.strerror or exc})") from None
    if not passages:
        raise IngestError("bevat geen leesbare tekst" + (" (misschien een scan?)" if suffix == ".pdf" else ""))
    return DocumentRecord(
        path=str(path),
        title=_tidy_title(title) or _title_from_name(path),
        content_hash=file_hash(path),
        size=size,
        added=dt.datetime.now().replace(microsecond=0).isoformat(),
        passages=tuple(passages),
    )


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


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


def _read_docx(path: Path) -> tuple[str, str]:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError):
        raise IngestError("is beschadigd of geen geldig Word-bestand (.docx)") from None
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
    title = re.sub(r"\s+", " ", title).strip()
    if title.isupper():
        title = title.capitalize()
    return title


def _title_from_name(path: Path) -> str:
    return re.sub(r"[_-]+", " ", path.stem).strip().capitalize() or path.name


def _clean(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\xa0", " ")
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
