"""Units of search: a `Chunk` per knowledge item and per passage of an own document, and the shipped vectors.

What is indexed (`Chunk.text`) carries the item's title, kind and themes in words, so a search for
"meetinstrument eenzaamheid" finds instruments on loneliness; what a result shows comes from `body`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from bot.content import content_dir
from bot.knowledge.corpus import KnowledgeItem, item_id, load_corpus
from bot.knowledge.ingest import (
    DocumentRecord,
    display_source,
)

_THEME_LABELS = {"sociale-acceptatie-lhbti": "sociale acceptatie van lhbti-personen"}
_KIND_LABELS = {
    "interventie": "Interventie",
    "methode": "Methode",
    "werkzame-factor": "Werkzame factor",
    "meetinstrument": "Meetinstrument",
    "document": "Document",
}


def _theme_label(slug: str) -> str:
    return _THEME_LABELS.get(slug, slug.replace("-", " "))


@dataclass(frozen=True)
class Chunk:
    """One unit of search. `text` is what is indexed; `body` is what a snippet is cut from."""

    id: str
    text: str
    body: str
    soort: str
    titel: str
    bron: str
    themas: tuple[str, ...] = ()
    stappen: tuple[int, ...] = ()
    beoordeling: str = "onbekend"
    item_id: str = ""
    source: str = ""  # own documents: absolute file path
    position: int = 0  # own documents: passage number
    page: int = 0  # own documents: PDF page, 0 if unknown
    section: str = ""
    content_hash: str = ""

    def chroma_metadata(self) -> dict[str, str | int | bool]:
        """Flat metadata Chroma accepts: lists become ``|a|b|`` strings plus one bool key each."""
        meta: dict[str, str | int | bool] = {
            "soort": self.soort,
            "titel": self.titel,
            "bron": self.bron,
            "beoordeling": self.beoordeling,
            "item_id": self.item_id,
            "themas": "|" + "|".join(self.themas) + "|",
            "stappen": "|" + "|".join(map(str, self.stappen)) + "|",
        }
        if self.source:
            meta.update(source=self.source, position=self.position, page=self.page, content_hash=self.content_hash)
        meta.update({f"thema_{t}": True for t in self.themas})
        meta.update({f"stap_{s}": True for s in self.stappen})
        return meta

    def matches(self, *, thema: str | None, soort: str | None, stap: int | None) -> bool:
        return (
            (thema is None or thema in self.themas)
            and (soort is None or self.soort in kinds_for(soort))
            and (stap is None or stap in self.stappen)
        )


def kinds_for(soort: str) -> tuple[str, ...]:
    """The item kinds a `soort` filter admits: "interventie" includes methods (as in the corpus)."""
    return ("interventie", "methode") if soort == "interventie" else (soort,)


def item_chunk(item: KnowledgeItem) -> Chunk:
    """The single chunk of a corpus item: title, what it is, target group and body."""
    themes = ", ".join(_theme_label(t) for t in item.themas)
    kind = _KIND_LABELS.get(item.soort, item.soort)
    lines = [item.titel, f"{kind} over {themes}."]
    if item.doelgroep:
        lines.append(f"Doelgroep: {item.doelgroep}.")
    lines.append(item.body)
    return Chunk(
        id=f"item:{item_id(item)}",
        text="\n".join(lines),
        body=item.body,
        soort=item.soort,
        titel=item.titel,
        bron=item.bron,
        themas=tuple(item.themas),
        stappen=tuple(item.stappen),
        beoordeling=item.beoordeling or "onbekend",
        item_id=item_id(item),
    )


def builtin_chunks(folder: Path | None = None) -> list[Chunk]:
    """The chunks of the corpus items in `folder` (default: the built-in corpus)."""
    return [item_chunk(item) for item in load_corpus([folder or content_dir("knowledge")])]


def document_chunks(record: DocumentRecord) -> list[Chunk]:
    """The chunks of an own document: one per passage, headed by title and section."""
    key = hashlib.blake2b(record.path.encode("utf-8"), digest_size=8).hexdigest()
    chunks = []
    for passage in record.passages:
        head = [record.title] + ([passage.section] if passage.section else [])
        chunks.append(
            Chunk(
                id=f"doc:{key}:{passage.position}",
                text="\n".join([*head, passage.text]),
                body=passage.text,
                soort="document",
                titel=record.title,
                bron=display_source(record.path),  # never the absolute path on the server
                beoordeling="eigen document",
                source=record.path,
                position=passage.position,
                page=passage.page or 0,
                section=passage.section,
                content_hash=record.content_hash,
            )
        )
    return chunks
