"""The Word version (.docx): the full compass on A4, with real headings, lists and tables,
so that municipal staff can edit it further."""

from __future__ import annotations

import io
import re

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from docx.table import _Cell
from docx.text.paragraph import Paragraph

from bot.document.model import CompassDocument
from bot.document.outline import Block, BulletList, Heading, Line, Para, Table, full_version

MUTED = RGBColor(0x4F, 0x5D, 0x68)
HEADER_FILL = "0B5F73"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _add_runs(paragraph: Paragraph, line: Line) -> None:
    for span in line:
        run = paragraph.add_run(_NOT_XML.sub("", span.text))
        if span.style == "strong":
            run.bold = True
        elif span.style == "muted":
            run.italic = True
            run.font.color.rgb = MUTED


def _shade(cell: _Cell, fill: str) -> None:
    properties = cell._tc.get_or_add_tcPr()
    shading = OxmlElement("w:shd")
    shading.set(qn("w:val"), "clear")
    shading.set(qn("w:color"), "auto")
    shading.set(qn("w:fill"), fill)
    properties.append(shading)


def _table(document: DocxDocument, table: Table, width_mm: float) -> None:
    columns = len(table.header)
    grid = document.add_table(rows=1 + len(table.rows), cols=columns)
    grid.style = "Table Grid"
    grid.alignment = WD_TABLE_ALIGNMENT.CENTER
    total = sum(table.widths)
    widths = [Mm(width_mm * w / total) for w in table.widths]
    for column, text in enumerate(table.header):
        cell = grid.cell(0, column)
        run = cell.paragraphs[0].add_run(text)
        run.bold = True
        run.font.color.rgb = RGBColor(0xFF, 0xFF, 0xFF)
        _shade(cell, HEADER_FILL)
    for row_index, row in enumerate(table.rows, start=1):
        for column, content in enumerate(row):
            cell = grid.cell(row_index, column)
            if content is None:
                cell = grid.cell(row_index - 1, column).merge(cell)
                continue
            for n, line in enumerate(content):
                _add_runs(cell.paragraphs[0] if n == 0 else cell.add_paragraph(), line)
    for row in grid.rows:
        for column, cell in enumerate(row.cells):
            cell.width = widths[column]
    header_row = grid.rows[0]._tr.get_or_add_trPr()
    repeat = OxmlElement("w:tblHeader")
    repeat.set(qn("w:val"), "true")
    header_row.append(repeat)


def _block(document: DocxDocument, block: Block, width_mm: float) -> None:
    if isinstance(block, Heading):
        document.add_heading(block.text, level=block.level - 1)
    elif isinstance(block, Para):
        _add_runs(document.add_paragraph(), block.line)
    elif isinstance(block, BulletList):
        for item in block.items:
            _add_runs(document.add_paragraph(style="List Bullet"), item)
    else:
        _table(document, block, width_mm)
        document.add_paragraph()


def render_docx(compass: CompassDocument) -> bytes:
    """The full version as a Word document on A4."""
    document = Document()
    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.left_margin = section.right_margin = Mm(20)
    section.top_margin = section.bottom_margin = Mm(20)
    document.styles["Normal"].font.size = Pt(10)
    document.core_properties.title = f"Kwaliteitskompas: {compass.issue}"
    document.core_properties.author = "Kompasbot"
    for block in full_version(compass):
        _block(document, block, 170)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
