"""The Markdown version: the full compass as plain text that reads well anywhere."""

from __future__ import annotations

import re

from bot.document.model import CompassDocument
from bot.document.outline import Block, BulletList, Chart, Heading, Line, Para, Span, Table, full_version

_SPECIAL = re.compile(r"([\\`*_\[\]<>|#&])")


def _escape(text: str) -> str:
    return _SPECIAL.sub(r"\\\1", text)


def _span(span: Span) -> str:
    """One span on one line; emphasis markers hug the words, surrounding spaces stay outside."""
    core = _escape(" ".join(span.text.split()))
    if not core:
        return " " if span.text else ""
    if span.style == "strong":
        core = f"**{core}**"
    elif span.style == "muted":
        core = f"*{core}*"
    lead = " " if span.text[:1].isspace() else ""
    trail = " " if span.text[-1:].isspace() else ""
    return lead + core + trail


def _line(line: Line) -> str:
    return "".join(_span(span) for span in line).strip()


def _table(table: Table) -> list[str]:
    lines = ["| " + " | ".join(table.header) + " |", "|" + "---|" * len(table.header)]
    for row in table.rows:
        cells = ["<br>".join(_line(line) for line in cell) if cell else "" for cell in row]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _block(block: Block) -> list[str]:
    if isinstance(block, Heading):
        return ["#" * block.level + " " + _escape(block.text), ""]
    if isinstance(block, Para):
        return [_line(block.line), ""]
    if isinstance(block, BulletList):
        return [*("- " + _line(item) for item in block.items), ""]
    if isinstance(block, Chart):
        return ["*De grafiek van deze metingen staat in de PDF en het Word-bestand.*", ""]
    return [*_table(block), ""]


def render_markdown(document: CompassDocument) -> str:
    """The full version as Markdown (CommonMark with GitHub tables)."""
    lines = [line for block in full_version(document) for line in _block(block)]
    return "\n".join(lines).rstrip() + "\n"
