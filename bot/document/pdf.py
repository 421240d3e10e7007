"""The PDF: the compass on one A4 (page 1), then the full version as an appendix (page 2+).

Page 1 is drawn into fixed boxes. Text that does not fit is measured and cut by us (not by
reportlab) so that a visible "zie volledige versie" marker takes the place of what was left
out; page 1 therefore never runs over into page 2.
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from bot.document import fonts, outline
from bot.document.model import CompassDocument
from bot.document.outline import MARKER, Block, BulletList, CompassField, FieldLine, Heading, Line, Para, Span

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 28.0
GAP = 8.0
FONT = "KompasSans"
INK = colors.HexColor("#1d2a33")
MUTED_HEX = "#4f5d68"
MUTED = colors.HexColor(MUTED_HEX)
ACCENT = colors.HexColor("#0b5f73")
STEP_COLOURS = ("#0b5f73", "#2f6f3e", "#8a5a00", "#6b3d7a", "#9b3b2f", "#34507a")
BODY_SIZE, BODY_LEADING = 8.5, 10.4
PARAGRAPH_GAP = 1.6


def _register_font() -> None:
    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    faces = {"": fonts.REGULAR, "-Bold": fonts.BOLD, "-Italic": fonts.ITALIC, "-BoldItalic": fonts.BOLD_ITALIC}
    for suffix, path in faces.items():
        pdfmetrics.registerFont(TTFont(FONT + suffix, str(path)))
    pdfmetrics.registerFontFamily(
        FONT, normal=FONT, bold=f"{FONT}-Bold", italic=f"{FONT}-Italic", boldItalic=f"{FONT}-BoldItalic"
    )


def _style(name: str, size: float = BODY_SIZE, leading: float = BODY_LEADING, **extra: object) -> ParagraphStyle:
    settings: dict[str, object] = {"fontName": FONT, "textColor": INK, **extra}
    return ParagraphStyle(name, fontSize=size, leading=leading, **settings)


def _escape(text: str) -> str:
    return html.escape(fonts.printable(text), quote=False).replace("\n", "<br/>")


def markup(line: Line) -> str:
    """A line of spans as reportlab paragraph markup, with every piece of user text escaped."""
    parts = []
    for span in line:
        text = _escape(span.text)
        if span.style == "strong":
            text = f"<b>{text}</b>"
        elif span.style == "muted":
            text = f'<font color="{MUTED_HEX}"><i>{text}</i></font>'
        parts.append(text)
    return "".join(parts)


# --------------------------------------------------------------------------- fitting text into a box


def _field_paragraph(field_line: FieldLine, line: Line | None = None) -> Paragraph:
    indent = 9.0 * field_line.indent
    content = markup(line if line is not None else field_line.line)
    if field_line.bullet:
        style = _style("bullet", leftIndent=indent + 8.5, bulletIndent=indent, bulletFontName=FONT)
        return Paragraph(content, style, bulletText="•" if field_line.indent == 0 else "–")
    return Paragraph(content, _style("line", leftIndent=indent))


def _height(paragraph: Paragraph, width: float) -> float:
    return paragraph.wrap(width, 10_000)[1] + PARAGRAPH_GAP


def _truncate(line: Line, length: int) -> Line:
    """The first `length` characters of a line, with '…' added."""
    kept: list[Span] = []
    left = length
    for span in line:
        if left <= 0:
            break
        kept.append(Span(span.text[:left], span.style))
        left -= len(span.text)
    last = kept[-1] if kept else Span("")
    kept[-1:] = [Span(last.text.rstrip() + "…", last.style)]
    return tuple(kept)


def _cut(field_line: FieldLine, width: float, room: float) -> Paragraph | None:
    """The longest start of a line that fits in `room` points, cut at a word where possible."""
    total = sum(len(span.text) for span in field_line.line)
    low, high = 0, total
    while low < high:
        middle = (low + high + 1) // 2
        if _height(_field_paragraph(field_line, _truncate(field_line.line, middle)), width) <= room:
            low = middle
        else:
            high = middle - 1
    flat = "".join(span.text for span in field_line.line)[:low]
    space = flat.rfind(" ")
    if space > low * 0.6:
        low = space
    return _field_paragraph(field_line, _truncate(field_line.line, low)) if low >= 12 else None


def fit(lines: Sequence[FieldLine], width: float, height: float, shortened: bool) -> list[Paragraph]:
    """Paragraphs for `lines` that fit in `width` x `height`, ending in the marker when anything was left out."""
    marker = Paragraph(f"<b><i>… {MARKER}</i></b>", _style("marker", 8, 9.6, alignment=TA_RIGHT, textColor=ACCENT))
    room = height - _height(marker, width)
    paragraphs = [_field_paragraph(line) for line in lines]
    heights = [_height(p, width) for p in paragraphs]
    if sum(heights) <= height and not shortened:
        return paragraphs
    if sum(heights) <= room:
        return [*paragraphs, marker]
    kept: list[Paragraph] = []
    used = 0.0
    for line, paragraph, needed in zip(lines, paragraphs, heights, strict=True):
        if used + needed > room:
            partial = _cut(line, width, room - used)
            if partial is not None:
                kept.append(partial)
            break
        kept.append(paragraph)
        used += needed
    return [*kept, marker]


def _draw_paragraphs(canvas: Canvas, paragraphs: list[Paragraph], x: float, top: float, width: float) -> None:
    y = top
    for paragraph in paragraphs:
        height = paragraph.wrap(width, 10_000)[1]
        paragraph.drawOn(canvas, x, y - height)
        y -= height + PARAGRAPH_GAP


# --------------------------------------------------------------------------- page 1: the compass


class OnePage(Flowable):
    """The whole first page: title, common language, six boxes, footer."""

    TITLE_HEIGHT = 40.0  # two lines of the title at most
    HEADER_HEIGHT = 110.0  # at most; the band is as high as its text
    FOOTER_HEIGHT = 30.0
    BAND = 20.0

    def __init__(self, document: CompassDocument) -> None:
        super().__init__()
        self.document = document

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return available_width, available_height

    def draw(self) -> None:
        canvas: Canvas = self.canv
        doc = self.document
        width = PAGE_WIDTH - 2 * MARGIN
        top = PAGE_HEIGHT - MARGIN
        label = Paragraph(_escape("KWALITEITSKOMPAS OP ÉÉN A4"), _style("label", 8, 9.6, textColor=ACCENT))
        _draw_paragraphs(canvas, [label], MARGIN, top, width)
        title_style = _style("title", 15, 18)
        title = Paragraph(markup((Span(doc.issue, "strong"),)), title_style)
        if _height(title, width) > self.TITLE_HEIGHT:  # more than two lines
            title = Paragraph(markup((Span(outline.clip(doc.issue, 100), "strong"),)), title_style)
        _draw_paragraphs(canvas, [title], MARGIN, top - 11, width)
        top -= 11 + _height(title, width) + 4

        header = outline.compass_header(doc)
        inner = width - 12
        content = fit(header.lines, inner, self.HEADER_HEIGHT - 8, header.shortened)
        height = sum(_height(p, inner) for p in content) + 8
        canvas.setFillColor(colors.HexColor("#eef4f6"))
        canvas.roundRect(MARGIN, top - height, width, height, 4, stroke=0, fill=1)
        _draw_paragraphs(canvas, content, MARGIN + 6, top - 4, inner)
        top -= height + GAP

        box_width = (width - GAP) / 2
        box_height = (top - MARGIN - self.FOOTER_HEIGHT - 2 * GAP) / 3
        full, compact = outline.compass_fields(doc), outline.compass_fields(doc, compact=True)
        for index, (box, small) in enumerate(zip(full, compact, strict=True)):
            row, column = divmod(index, 2)
            x = MARGIN + column * (box_width + GAP)
            y_top = top - row * (box_height + GAP)
            self._box(canvas, box, small, x, y_top, box_width, box_height)
        self._footer(canvas, width)

    def _box(
        self, canvas: Canvas, box: CompassField, small: CompassField, x: float, top: float, width: float, height: float
    ) -> None:
        """One step: coloured band with number and title, then the content; the compact text if the full one
        does not fit."""
        colour = colors.HexColor(STEP_COLOURS[box.number - 1])
        canvas.setStrokeColor(colour)
        canvas.setLineWidth(1)
        canvas.roundRect(x, top - height, width, height, 4, stroke=1, fill=0)
        canvas.setFillColor(colour)
        canvas.rect(x, top - self.BAND, width, self.BAND, stroke=0, fill=1)
        canvas.setFillColor(colors.white)
        canvas.circle(x + 12, top - self.BAND / 2, 7, stroke=0, fill=1)
        canvas.setFillColor(colour)
        canvas.setFont(f"{FONT}-Bold", 9)
        canvas.drawCentredString(x + 12, top - self.BAND / 2 - 3.2, str(box.number))
        canvas.setFillColor(colors.white)
        canvas.setFont(f"{FONT}-Bold", 10)
        canvas.drawString(x + 25, top - self.BAND / 2 - 3.5, fonts.printable(box.title))
        inner, room = width - 12, height - self.BAND - 9
        if sum(_height(_field_paragraph(line), inner) for line in box.lines) > room:
            box = CompassField(small.number, small.title, small.lines, shortened=True)
        _draw_paragraphs(canvas, fit(box.lines, inner, room, box.shortened), x + 6, top - self.BAND - 5, inner)

    def _footer(self, canvas: Canvas, width: float) -> None:
        doc = self.document
        count = len(doc.open_points)
        points = f"{count} open punt{'en' if count != 1 else ''}" if count else "geen open punten"
        lines = [
            f"{points} · de volledige versie met alle antwoorden begint op pagina 2 · "
            "nummers als 2.1 verwijzen naar een onderdeel in een ander vak",
            f"{outline.meta(doc)} · Kwaliteitskompas (Movisie), gemaakt met Kompasbot",
        ]
        style = _style("footer", 8, 9.6, textColor=MUTED)
        _draw_paragraphs(
            canvas, [Paragraph(_escape(line), style) for line in lines], MARGIN, MARGIN + self.FOOTER_HEIGHT - 6, width
        )


# --------------------------------------------------------------------------- page 2+: the full version


def _appendix(blocks: list[Block], width: float) -> list[Flowable]:
    bold = f"{FONT}-Bold"
    heading_styles = {
        1: _style("h1", 15, 19, spaceAfter=4, fontName=bold),
        2: _style("h2", 12, 15, spaceBefore=10, spaceAfter=3, textColor=ACCENT, keepWithNext=1, fontName=bold),
        3: _style("h3", 9.5, 12, spaceBefore=5, spaceAfter=1, keepWithNext=1, fontName=bold),
    }
    body = _style("body", 9, 11.5, spaceAfter=2)
    bullet = _style("bullet", 9, 11.5, leftIndent=11, bulletIndent=2, spaceAfter=1.5, bulletFontName=FONT)
    flowables: list[Flowable] = [Paragraph("<b>Volledige versie</b>", _style("label", 9, 11, textColor=ACCENT))]
    for block in blocks:
        if isinstance(block, Heading):
            flowables.append(Paragraph(_escape(block.text), heading_styles[block.level]))
        elif isinstance(block, Para):
            flowables.append(Paragraph(markup(block.line), body))
        elif isinstance(block, BulletList):
            flowables += [Paragraph(markup(item), bullet, bulletText="•") for item in block.items]
        else:
            flowables += [_table(block, width), Spacer(1, 4)]
    return flowables


def _table(table: outline.Table, width: float) -> Table:
    cell_style = _style("cell", 8.5, 10.5, spaceAfter=3)
    head_style = _style("head", 8, 10, textColor=colors.white)
    data: list[list[object]] = [[Paragraph(f"<b>{_escape(text)}</b>", head_style) for text in table.header]]
    for row in table.rows:
        data.append([[Paragraph(markup(line), cell_style) for line in cell] if cell else "" for cell in row])
    total = sum(table.widths)
    widths = [width * w / total for w in table.widths]
    result = Table(data, colWidths=widths, repeatRows=1, splitInRow=24)
    result.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), ACCENT),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#9fb3bd")),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return result


def render_pdf(document: CompassDocument) -> bytes:
    """The one-page compass plus the full version, as PDF bytes."""
    _register_font()
    buffer = io.BytesIO()
    pdf = BaseDocTemplate(
        buffer,
        pagesize=A4,
        title=f"Kwaliteitskompas: {document.issue}",
        author="Kompasbot",
        subject="Kwaliteitskompas op één A4, met de volledige versie als bijlage",
    )
    content_width = PAGE_WIDTH - 2 * MARGIN

    def continuation(canvas: Canvas, template: BaseDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 8)
        canvas.setFillColor(MUTED)
        issue = outline.clip(fonts.printable(document.issue), 80)
        canvas.drawString(MARGIN, PAGE_HEIGHT - MARGIN + 10, f"Kwaliteitskompas: {issue} · volledige versie")
        canvas.drawRightString(PAGE_WIDTH - MARGIN, MARGIN - 14, f"pagina {template.page}")
        canvas.restoreState()

    pdf.addPageTemplates(
        [
            PageTemplate("kompas", [Frame(0, 0, PAGE_WIDTH, PAGE_HEIGHT, 0, 0, 0, 0, id="kompas")]),
            PageTemplate(
                "vervolg",
                [Frame(MARGIN, MARGIN, content_width, PAGE_HEIGHT - 2 * MARGIN, 0, 0, 0, 0, id="vervolg")],
                onPage=continuation,
            ),
        ]
    )
    story: list[Flowable] = [OnePage(document), NextPageTemplate("vervolg"), PageBreak()]
    story += _appendix(outline.full_version(document), content_width)
    pdf.build(story)
    return buffer.getvalue()
