"""The Word version (.docx): first the same one-page summary as page 1 of the PDF (the same texts,
shortened in the same places), then the full compass on A4 with real headings, lists, tables and
charts, so that municipal staff can edit it further."""

from __future__ import annotations

import io
import re

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.section import WD_SECTION
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from docx.table import _Cell
from docx.text.paragraph import Paragraph

from bot.document import outline
from bot.document.model import CompassDocument
from bot.document.outline import MARKER, Block, BulletList, Chart, Heading, Line, Para, Table, full_version

MUTED = RGBColor(0x4F, 0x5D, 0x68)
HEADER_FILL = "0B5F73"
STEP_FILLS = ("0B5F73", "2F6F3E", "8A5A00", "6B3D7A", "9B3B2F", "34507A")
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


def _shade_paragraph(paragraph: Paragraph, fill: str) -> None:
    shading = OxmlElement("w:shd")
    shading.set(qn("w:val"), "clear")
    shading.set(qn("w:color"), "auto")
    shading.set(qn("w:fill"), fill)
    paragraph._p.get_or_add_pPr().append(shading)


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
    if isinstance(block, Chart):
        from bot.document.chart import render_chart

        document.add_picture(io.BytesIO(render_chart(block.indicator)), width=Mm(min(width_mm, 150)))
    elif isinstance(block, Heading):
        document.add_heading(block.text, level=block.level - 1)
    elif isinstance(block, Para):
        _add_runs(document.add_paragraph(), block.line)
    elif isinstance(block, BulletList):
        for item in block.items:
            _add_runs(document.add_paragraph(style="List Bullet"), item)
    else:
        _table(document, block, width_mm)
        document.add_paragraph()


SUMMARY_FONT = "Arial"  # narrower than DejaVu Sans (page 1 of the PDF), so the same text fits the same boxes


def _summary_run(paragraph: Paragraph, size: float) -> None:
    for run in paragraph.runs:
        run.font.size = Pt(size)
        run.font.name = SUMMARY_FONT
    spacing = paragraph.paragraph_format
    spacing.space_before, spacing.space_after, spacing.line_spacing = Pt(0), Pt(1.5), 1.0


def _fitted_lines(
    document: DocxDocument, cell: _Cell | None, lines: list[outline.FieldLine], marker: bool, size: float = 8.5
) -> None:
    for n, line in enumerate(lines):
        target = document if cell is None else cell
        paragraph = cell.paragraphs[-1] if cell is not None and n == 0 else target.add_paragraph()
        prefix = ("• " if line.indent == 0 else "   – ") if line.bullet else ""
        if prefix:
            paragraph.add_run(prefix)
        _add_runs(paragraph, line.line)
        _summary_run(paragraph, size)
    if marker:
        paragraph = cell.add_paragraph() if cell is not None else document.add_paragraph()
        run = paragraph.add_run(f"… {MARKER}")
        run.bold = run.italic = True
        run.font.color.rgb = RGBColor(0x0B, 0x5F, 0x73)
        _summary_run(paragraph, size)
        paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT


def _mm(points: float) -> Mm:
    return Mm(points * 25.4 / 72)


def _summary(document: DocxDocument, compass: CompassDocument) -> None:
    """The one-page summary: the boxes of page 1 of the PDF, with the same widths and the same texts,
    shortened in exactly the same places (one table per row of two steps)."""
    from bot.document.pdf import layout

    page = layout(compass)
    label = document.add_paragraph()
    run = label.add_run("KWALITEITSKOMPAS OP ÉÉN A4" + (f" · RONDE {compass.round.number}" if compass.round else ""))
    run.bold = True
    run.font.color.rgb = RGBColor(0x0B, 0x5F, 0x73)
    _summary_run(label, 8)
    title = document.add_paragraph()
    title.add_run(page.title).bold = True
    _summary_run(title, 15)
    header, *boxes = page.boxes
    _fitted_lines(document, None, header.fitted.lines, header.fitted.shortened, page.size)
    for row in range(3):
        pair = boxes[2 * row : 2 * row + 2]
        grid = document.add_table(rows=1, cols=2)
        grid.style = "Table Grid"
        grid.autofit = False
        for column, box in enumerate(pair):
            cell = grid.cell(0, column)
            cell.width = _mm(box.width)
            heading = cell.paragraphs[0]
            title_run = heading.add_run(f" {box.field.number} · {box.field.title}")
            title_run.bold = True
            title_run.font.color.rgb = RGBColor(0xFF, 0xFF, 0xFF)
            _summary_run(heading, 9.5)
            _shade_paragraph(heading, STEP_FILLS[box.field.number - 1])
            cell.add_paragraph()
            _fitted_lines(document, cell, box.fitted.lines, box.fitted.shortened, page.size)
        for column, width in zip(grid.columns, (pair[0].width, pair[1].width), strict=True):
            column.width = _mm(width)
    points = document.add_paragraph()
    points.add_run("Open punten").bold = True
    _summary_run(points, page.size + 0.5)
    _fitted_lines(document, None, page.open_points.fitted.lines, False, page.size)
    note = document.add_paragraph()
    note.add_run("De volledige versie met alle antwoorden, metingen en bronnen volgt hierna.").italic = True
    _summary_run(note, page.size)
    full = document.add_section(WD_SECTION.NEW_PAGE)  # the full version, with the usual margins
    full.left_margin = full.right_margin = Mm(20)
    full.top_margin = full.bottom_margin = Mm(20)


def render_docx(compass: CompassDocument) -> bytes:
    """The full version as a Word document on A4."""
    document = Document()
    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.left_margin = section.right_margin = Mm(10)  # the summary, like page 1 of the PDF
    section.top_margin = section.bottom_margin = Mm(10)
    document.styles["Normal"].font.size = Pt(10)
    document.core_properties.title = f"Kwaliteitskompas: {compass.issue}"
    document.core_properties.author = "Kompasbot"
    _summary(document, compass)
    for block in full_version(compass):
        _block(document, block, 170)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
