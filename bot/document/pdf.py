"""The PDF: the compass on one A4 (page 1), then the full version as an appendix (page 2+).

Page 1 is laid out by `layout`, which never lets it run over into page 2:

- Font size: the largest of 8.5, 8 and 7.5 pt at which everything fits whole. 7.5 pt (DejaVu Sans,
  about 1.9 mm capital height) is the minimum, readable on paper; below that we shorten instead.
- Space: each box first gets the height its content needs (rows share the page by what they need;
  within a row the width is split where the two boxes need the least), and only a box that still does
  not fit is shortened.
- Shortening: only at a sentence or word boundary, with '…', then the "zie volledige versie" marker
  at the end of the box; the marker appears when, and only when, something was shortened or left out.
- Never shortened: the missing perspectives, the round changes and the open points (listed in their
  own band; counted per step when there are too many to list, all of them in the full version).
- No URL on page 1: every source and URL becomes a numbered reference '[n]', listed under 'Bronnen'
  in the full version.
- A small trend line per measured indicator (green on track, red behind), with an arrow and the first
  and last value in the text; the full version has a chart per indicator (bot.document.chart).
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from dataclasses import dataclass, replace

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
    Image,
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
from bot.document.outline import (
    MARKER,
    Block,
    BulletList,
    Chart,
    CompassField,
    FieldLine,
    Heading,
    Line,
    Para,
    Span,
)

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
# Page 1: the largest of SIZES at which everything fits whole; below MIN_SIZE (7.5 pt, readable on
# paper) we do not go: texts are shortened at word boundaries instead.
SIZES = (8.5, 8.0, 7.5)
MIN_SIZE = 7.5
LEADING = 1.22
SHORTEST = 40  # characters an item keeps at least before lines are left out
SPLITS = (0.5, 0.42, 0.58, 0.36, 0.64, 0.3, 0.7)  # share of the row width for the left box
TITLE_HEIGHT = 40.0  # two lines of the title at most
FOOTER_HEIGHT = 28.0
HEADER_SHARE = 0.16  # of the height, at most, for the header band when not everything fits
OPEN_POINTS_SHARE = 0.16
BAND = 20.0
PAD = 5.0
SPARK_WIDTH = 26.0
STATUS_HEX = {"op koers": "#2f6f3e", "achter": "#9b3b2f"}


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


def _field_style(field_line: FieldLine, size: float) -> ParagraphStyle:
    indent = 9.0 * field_line.indent
    extra: dict[str, object] = {"rightIndent": SPARK_WIDTH + 4 if len(field_line.trend) > 1 else 0}
    leading = size * LEADING
    if field_line.bullet:
        return _style(
            f"bullet{size}", size, leading, leftIndent=indent + size, bulletIndent=indent, bulletFontName=FONT, **extra
        )
    return _style(f"line{size}", size, leading, leftIndent=indent, **extra)


def _field_paragraph(field_line: FieldLine, size: float = BODY_SIZE) -> Paragraph:
    style = _field_style(field_line, size)
    if field_line.bullet:
        return Paragraph(markup(field_line.line), style, bulletText="•" if field_line.indent == 0 else "–")
    return Paragraph(markup(field_line.line), style)


def _height(paragraph: Paragraph, width: float) -> float:
    return paragraph.wrap(width, 10_000)[1] + PARAGRAPH_GAP


def _marker(size: float) -> Paragraph:
    return Paragraph(
        f"<b><i>… {MARKER}</i></b>", _style(f"marker{size}", size, size * LEADING, alignment=TA_RIGHT, textColor=ACCENT)
    )


@dataclass
class Fitted:
    """The lines of one box as drawn on page 1: shortened at word boundaries where needed."""

    lines: list[FieldLine]
    size: float
    shortened: bool = False

    def paragraphs(self) -> list[Paragraph]:
        paragraphs = [_field_paragraph(line, self.size) for line in self.lines]
        return [*paragraphs, _marker(self.size)] if self.shortened else paragraphs

    def height(self, width: float) -> float:
        return sum(_height(p, width) for p in self.paragraphs())


def shorten(field_line: FieldLine, limit: int) -> FieldLine:
    """A line whose user text (plain spans; muted details at half the length) is at most about `limit`
    characters, cut at a sentence or word boundary with '…'. Codes, labels and protected lines stay whole."""
    if field_line.protected:
        return field_line
    spans = []
    for span in field_line.line:
        if span.style == "strong":
            spans.append(span)
            continue
        room = limit if span.style == "plain" else max(limit // 2, 24)
        lead = " " if span.text.startswith(" ") else ""
        core = span.text.strip()
        closing = ")" if span.style == "muted" and core.startswith("(") and core.endswith(")") else ""
        body = core[1:-1] if closing else core
        short = outline.clip(body, room)
        spans.append(Span(lead + ("(" if closing else "") + short + closing, span.style))
    return replace(field_line, line=tuple(spans))


class _Measure:
    """Paragraph heights, cached by line, size and width (fitting tries many combinations)."""

    def __init__(self) -> None:
        self.cache: dict[tuple[FieldLine, float, float], float] = {}

    def line(self, field_line: FieldLine, size: float, width: float) -> float:
        key = (field_line, size, width)
        if key not in self.cache:
            self.cache[key] = _height(_field_paragraph(field_line, size), width)
        return self.cache[key]

    def lines(self, lines: Sequence[FieldLine], size: float, width: float) -> float:
        return sum(self.line(line, size, width) for line in lines)

    def marker(self, size: float, width: float) -> float:
        return _height(_marker(size), width)


def fit(
    lines: Sequence[FieldLine],
    width: float,
    room: float,
    size: float = MIN_SIZE,
    compact: Sequence[FieldLine] | None = None,
    measure: _Measure | None = None,
) -> Fitted:
    """The lines of a box that fit in `width` x `room` points at `size`.

    In this order: everything as it is; every text shortened to the longest common length that fits (at
    word or sentence boundaries, never mid-word); the same with the compact lines; then the last
    unprotected lines left out. The 'zie volledige versie' marker ends the box whenever anything was
    shortened or left out, and only then. Protected lines (missing perspectives, round changes) are never
    shortened or left out.
    """
    measure = measure or _Measure()
    if measure.lines(lines, size, width) <= room:
        return Fitted(list(lines), size)
    room_left = room - measure.marker(size, width)
    short = _shortened(list(lines), width, room_left, size, measure)
    if short is None and compact is not None:
        short = _shortened(list(compact), width, room_left, size, measure)
    if short is None:
        short = [shorten(line, SHORTEST) for line in (compact if compact is not None else lines)]
        while measure.lines(short, size, width) > room_left:
            droppable = [i for i, line in enumerate(short) if not line.protected]
            if not droppable:
                break
            short.pop(droppable[-1])
    return Fitted(short, size, shortened=True)


def _shortened(
    lines: list[FieldLine], width: float, room: float, size: float, measure: _Measure
) -> list[FieldLine] | None:
    """Every text shortened to the longest common length at which all lines fit, or None when even
    SHORTEST characters per text are too many."""
    if measure.lines([shorten(line, SHORTEST) for line in lines], size, width) > room:
        return None
    longest = max((len(span.text) for line in lines for span in line.line), default=SHORTEST)
    low, high = SHORTEST, max(longest, SHORTEST)
    while low < high:
        middle = (low + high + 1) // 2
        if measure.lines([shorten(line, middle) for line in lines], size, width) <= room:
            low = middle
        else:
            high = middle - 1
    short = [shorten(line, low) for line in lines]
    # The common length leaves room where a text just missed its next line: give that room back, line by
    # line from the top, to the whole text or a longer cut.
    used = measure.lines(short, size, width)
    for index, line in enumerate(lines):
        for longer in (line, shorten(line, low * 3), shorten(line, low * 2), shorten(line, low * 3 // 2)):
            if longer == short[index]:
                break
            grown = used - measure.line(short[index], size, width) + measure.line(longer, size, width)
            if grown <= room:
                short[index], used = longer, grown
                break
    return short


def _share(needs: list[float], available: float) -> list[float]:
    """Heights for stacked parts: each gets what it needs when all fits (the rest spread evenly);
    otherwise the parts that need less than an even share get their need and the others share the rest."""
    if sum(needs) <= available:
        spare = (available - sum(needs)) / len(needs)
        return [need + spare for need in needs]
    given = [0.0] * len(needs)
    open_parts = set(range(len(needs)))
    left = available
    while open_parts:
        share = left / len(open_parts)
        small = [i for i in open_parts if needs[i] <= share]
        if not small:
            for i in open_parts:
                given[i] = share
            break
        for i in small:
            given[i] = needs[i]
            left -= needs[i]
            open_parts.remove(i)
    return given


def _draw_paragraphs(
    canvas: Canvas, paragraphs: list[Paragraph], x: float, top: float, width: float
) -> list[tuple[Paragraph, float]]:
    y = top
    placed = []
    for paragraph in paragraphs:
        height = paragraph.wrap(width, 10_000)[1]
        paragraph.drawOn(canvas, x, y - height)
        placed.append((paragraph, y))
        y -= height + PARAGRAPH_GAP
    return placed


def _sparkline(canvas: Canvas, values: Sequence[float], status: str | None, x: float, top: float, size: float) -> None:
    """A small trend line at the right of an indicator's line: the measurements, last point as a dot."""
    low, high = min(values), max(values)
    height = size * 0.9
    step = SPARK_WIDTH / (len(values) - 1)
    points = [
        (x + i * step, top - size * 1.05 + (0.5 if high == low else (v - low) / (high - low)) * height)
        for i, v in enumerate(values)
    ]
    canvas.saveState()
    colour = colors.HexColor(STATUS_HEX.get(status or "", MUTED_HEX))
    canvas.setStrokeColor(colour)
    canvas.setFillColor(colour)
    canvas.setLineWidth(0.9)
    path = canvas.beginPath()
    path.moveTo(*points[0])
    for point in points[1:]:
        path.lineTo(*point)
    canvas.drawPath(path, stroke=1, fill=0)
    canvas.circle(*points[-1], 1.3, stroke=0, fill=1)
    canvas.restoreState()


# --------------------------------------------------------------------------- page 1: the compass


def _band(box: CompassField) -> float:
    """The coloured title band of a step's box (the header and the open points have none)."""
    return BAND if 1 <= box.number <= 6 else 0.0


@dataclass
class Placed:
    """One box of page 1 with its place (points, from the bottom left) and what it shows."""

    field: CompassField
    x: float
    top: float
    width: float
    height: float
    fitted: Fitted

    @property
    def inner(self) -> float:
        return self.width - 2 * PAD

    @property
    def room(self) -> float:
        return self.height - _band(self.field) - 2 * PAD

    def used(self) -> float:
        return self.fitted.height(self.inner)


@dataclass
class PageLayout:
    """Everything page 1 draws; `boxes` holds the header band (number 0) and the six steps."""

    title: str
    size: float
    boxes: list[Placed]
    open_points: Placed
    footer_top: float


def _open_points_field(doc: CompassDocument, sources: dict[str, int], summarise: bool) -> CompassField:
    band = CompassField(7, "Open punten", sources=sources)
    lines = outline.open_point_lines(doc)
    if summarise:  # too many to list on one page: counted per step, all of them in the full version
        gaps: dict[int | None, int] = {}
        for point in doc.open_points:
            if point.kind != "leeg":
                gaps[point.step] = gaps.get(point.step, 0) + 1
        counted = ", ".join(f"stap {step}: {count}" for step, count in sorted(gaps.items(), key=str))
        lines = [f"Schakels die nog ontbreken ({sum(gaps.values())}) · {counted} · alle punten in de volledige versie"]
        lines += [line for line in outline.open_point_lines(doc) if line.startswith("Nog in te vullen")]
    if not lines:
        lines = ["Er staan geen open punten meer."]
    band.lines = [FieldLine((Span(band.text(line)),), bullet=True, protected=True) for line in lines]
    return band


def layout(doc: CompassDocument) -> PageLayout:
    """Where everything on page 1 goes: the largest font size (8.5 down to MIN_SIZE pt) at which all of it
    fits whole, else MIN_SIZE with each box given the space its content needs before any text is shortened."""
    _register_font()
    measure = _Measure()
    width = PAGE_WIDTH - 2 * MARGIN
    title_style = _style("title", 15, 18)
    title = outline.unlink(doc.issue, outline.source_numbers(doc))
    if _height(Paragraph(markup((Span(title, "strong"),)), title_style), width) > TITLE_HEIGHT:
        title = outline.clip(title, 100)
    title_height = _height(Paragraph(markup((Span(title, "strong"),)), title_style), width)
    top = PAGE_HEIGHT - MARGIN - 11 - title_height - 4
    bottom = MARGIN + FOOTER_HEIGHT
    header = outline.compass_header(doc)
    full = outline.compass_fields(doc)
    compact = outline.compass_fields(doc, compact=True)
    sources = outline.source_numbers(doc)
    points = _open_points_field(doc, sources, summarise=False)
    if measure.lines(points.lines, MIN_SIZE, width - 2 * PAD) > OPEN_POINTS_SHARE * (top - bottom):
        points = _open_points_field(doc, sources, summarise=True)

    def box_need(box: CompassField, box_width: float, size: float) -> float:
        return measure.lines(box.lines, size, box_width - 2 * PAD) + _band(box) + 2 * PAD

    def row_need(row: int, split: float, size: float) -> float:
        left, right = full[2 * row], full[2 * row + 1]
        return max(box_need(left, split * (width - GAP), size), box_need(right, (1 - split) * (width - GAP), size))

    def rows_at(size: float) -> tuple[float, list[tuple[float, float]]]:
        """The header need and, per row, (need, share of the width for the left box): two equal halves
        when everything fits that way, else per row the split at which its fuller box needs least."""
        header_need = box_need(header, width, size)
        halves = [(row_need(row, 0.5, size), 0.5) for row in range(3)]
        if header_need + sum(n for n, _ in halves) + box_need(points, width, size) + 4 * GAP <= top - bottom:
            return header_need, halves
        return header_need, [min((row_need(row, split, size), split) for split in SPLITS) for row in range(3)]

    points_need = box_need(points, width, MIN_SIZE)
    chosen = MIN_SIZE
    for size in SIZES:
        header_need, rows = rows_at(size)
        points_need = box_need(points, width, size)
        if header_need + sum(n for n, _ in rows) + points_need + 4 * GAP <= top - bottom:
            chosen = size
            break
    else:
        header_need, rows = rows_at(MIN_SIZE)
        points_need = box_need(points, width, MIN_SIZE)
    available = top - bottom - points_need - 4 * GAP
    # The header band is one more part to share the height with, at most HEADER_SHARE of it (unless its
    # protected lines need more), so that the six steps keep most of the page.
    cap = max(HEADER_SHARE * available, _protected_need(header, width, chosen, measure))
    if header_need + sum(n for n, _ in rows) <= available:  # all fits: the spare height goes to the six steps
        header_room = header_need
        heights = _share([n for n, _ in rows], available - header_room)
    else:
        header_room, *heights = _share([min(header_need, cap), *(n for n, _ in rows)], available)
    placed = [_place(header, None, MARGIN, top, width, header_room, chosen, measure)]
    y = top - header_room - GAP
    for row, ((_, split), height) in enumerate(zip(rows, heights, strict=True)):
        left_width = split * (width - GAP)
        for column in range(2):
            index = 2 * row + column
            x = MARGIN if column == 0 else MARGIN + left_width + GAP
            box_width = left_width if column == 0 else width - GAP - left_width
            placed.append(_place(full[index], compact[index], x, y, box_width, height, chosen, measure))
        y -= height + GAP
    open_box = _place(points, None, MARGIN, y, width, points_need, chosen, measure)
    return PageLayout(title, chosen, placed, open_box, MARGIN + FOOTER_HEIGHT - 6)


def _protected_need(box: CompassField, width: float, size: float, measure: _Measure) -> float:
    return measure.lines([line for line in box.lines if line.protected], size, width - 2 * PAD) + 2 * PAD + 30


def _place(
    box: CompassField,
    compact: CompassField | None,
    x: float,
    top: float,
    width: float,
    height: float,
    size: float,
    measure: _Measure,
) -> Placed:
    placed = Placed(box, x, top, width, height, Fitted(box.lines, size))
    fitted = fit(box.lines, placed.inner, placed.room, size, compact.lines if compact else None, measure)
    placed.fitted = fitted
    return placed


class OnePage(Flowable):
    """The whole first page: title, common language, six boxes, open points, footer."""

    def __init__(self, document: CompassDocument) -> None:
        super().__init__()
        self.document = document

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return available_width, available_height

    def draw(self) -> None:
        canvas: Canvas = self.canv
        doc = self.document
        page = layout(doc)
        width = PAGE_WIDTH - 2 * MARGIN
        top = PAGE_HEIGHT - MARGIN
        heading = "KWALITEITSKOMPAS OP ÉÉN A4" + (f" · RONDE {doc.round.number}" if doc.round else "")
        label = Paragraph(_escape(heading), _style("label", 8, 9.6, textColor=ACCENT))
        _draw_paragraphs(canvas, [label], MARGIN, top, width)
        title = Paragraph(markup((Span(page.title, "strong"),)), _style("title", 15, 18))
        _draw_paragraphs(canvas, [title], MARGIN, top - 11, width)
        for box in page.boxes:
            if box.field.number == 0:
                canvas.setFillColor(colors.HexColor("#eef4f6"))
                canvas.roundRect(box.x, box.top - box.height, box.width, box.height, 4, stroke=0, fill=1)
                self._content(canvas, box, box.top - PAD)
            else:
                self._box(canvas, box)
        points = page.open_points
        canvas.setStrokeColor(colors.HexColor(MUTED_HEX))
        canvas.setLineWidth(0.6)
        canvas.roundRect(points.x, points.top - points.height, points.width, points.height, 4, stroke=1, fill=0)
        self._content(canvas, points, points.top - PAD)
        self._footer(canvas, width, page.footer_top)

    def _content(self, canvas: Canvas, box: Placed, top: float) -> None:
        paragraphs = box.fitted.paragraphs()
        placed = _draw_paragraphs(canvas, paragraphs, box.x + PAD, top, box.inner)
        for line, (_, y) in zip(box.fitted.lines, placed, strict=False):
            if len(line.trend) > 1:
                _sparkline(canvas, line.trend, line.status, box.x + PAD + box.inner - SPARK_WIDTH, y, box.fitted.size)

    def _box(self, canvas: Canvas, box: Placed) -> None:
        """One step: coloured band with number and title, then the content."""
        x, top, width, height = box.x, box.top, box.width, box.height
        colour = colors.HexColor(STEP_COLOURS[box.field.number - 1])
        canvas.setStrokeColor(colour)
        canvas.setLineWidth(1)
        canvas.roundRect(x, top - height, width, height, 4, stroke=1, fill=0)
        canvas.setFillColor(colour)
        canvas.rect(x, top - BAND, width, BAND, stroke=0, fill=1)
        canvas.setFillColor(colors.white)
        canvas.circle(x + 12, top - BAND / 2, 7, stroke=0, fill=1)
        canvas.setFillColor(colour)
        canvas.setFont(f"{FONT}-Bold", 9)
        canvas.drawCentredString(x + 12, top - BAND / 2 - 3.2, str(box.field.number))
        canvas.setFillColor(colors.white)
        canvas.setFont(f"{FONT}-Bold", 10)
        canvas.drawString(x + 25, top - BAND / 2 - 3.5, fonts.printable(box.field.title))
        self._content(canvas, box, top - BAND - PAD)

    def _footer(self, canvas: Canvas, width: float, top: float) -> None:
        doc = self.document
        sources = ", [1] naar een bron" if outline.source_numbers(doc) else ""
        lines = [
            "De volledige versie met alle antwoorden, metingen en bronnen begint op pagina 2 · "
            f"nummers als 2.1 verwijzen naar een onderdeel in een ander vak{sources}",
            f"{outline.meta(doc)} · Kwaliteitskompas (Movisie), gemaakt met Kompasbot",
        ]
        style = _style("footer", MIN_SIZE, MIN_SIZE * LEADING, textColor=MUTED)
        _draw_paragraphs(canvas, [Paragraph(_escape(line), style) for line in lines], MARGIN, top, width)


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
        elif isinstance(block, Chart):
            from bot.document.chart import HEIGHT_INCH, WIDTH_INCH, render_chart

            chart_width = min(width, 440)
            image = Image(
                io.BytesIO(render_chart(block.indicator)), chart_width, chart_width * HEIGHT_INCH / WIDTH_INCH
            )
            flowables += [image, Spacer(1, 4)]
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
