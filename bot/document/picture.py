"""The logic chain as a picture (PNG): ambitions -> results -> activities -> outcomes.

Four columns of boxes with arrows, 1080 px wide so it reads on a phone. Labels are wrapped at word
boundaries by measuring the text with the real font (a word wider than a box is hyphenated with
pyphen's Dutch patterns) and shortened after a whole word to `MAX_LINES` lines; each column shows at
most `MAX_PER_COLUMN` boxes. A result whose measured indicators are on track gets a green edge and
'✔ op koers', one that is behind a red edge and '▼ achter'. Boxes are placed next to the boxes
they link to, to keep arrows short.
A dashed orange edge marks a gap in the chain.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from bot.document import fonts
from bot.document.model import EMPTY, CompassDocument, Item

WIDTH = 1080
DPI = 150
MARGIN = 24
COLUMN_GAP = 40
COLUMNS = 4
COLUMN_WIDTH = (WIDTH - 2 * MARGIN - (COLUMNS - 1) * COLUMN_GAP) / COLUMNS
PAD = 12
BOX_GAP = 14
TEXT_SIZE = 11.5
META_SIZE = 10
TITLE_SIZE = 16
MAX_LINES = 6
META_LINES = 2
MAX_PER_COLUMN = 12
INK, MUTED, GAP_COLOUR = "#1d2a33", "#4f5d68", "#c05a00"
STATUS_COLOURS = {"op koers": "#2f6f3e", "achter": "#b0281a"}
STATUS_MARKS = {"op koers": "✔", "achter": "▼"}
COLUMN_COLOURS = ("#0b5f73", "#2f6f3e", "#8a5a00", "#9b3b2f")
FILLS = ("#e7f1f4", "#e9f2eb", "#f6efe2", "#f6e8e6")
HEADERS = ("Ambities", "Maatschappelijke resultaten", "Activiteiten", "Outcome per activiteit")


def _px(points: float) -> float:
    return points * DPI / 72


@cache
def _face(bold: bool) -> FT2Font:
    return FT2Font(str(fonts.BOLD if bold else fonts.REGULAR))


def text_width(text: str, size: float, bold: bool = False) -> float:
    """Width in pixels of `text` in DejaVu Sans at `size` points."""
    face = _face(bold)
    face.set_size(size, DPI)
    face.set_text(text)
    return face.get_width_height()[0] / 64


@cache
def _hyphenator() -> Any:
    """Dutch hyphenation (pyphen's nl_NL patterns); None when pyphen is not installed."""
    try:
        import pyphen
    except ImportError:  # pragma: no cover - pyphen is a dependency
        return None
    return pyphen.Pyphen(lang="nl_NL")


def _break_word(word: str, room: float, size: float, bold: bool = False) -> tuple[str, str]:
    """The longest start of `word` that fits in `room` with a hyphen, at a Dutch hyphenation point
    (else at a character when no point fits), and the rest."""
    hyphenator = _hyphenator()
    if hyphenator is not None:
        for start, rest in hyphenator.iterate(word):
            head = start if start.endswith("-") else start + "-"
            if text_width(head, size, bold) <= room:
                return head, rest
    cut = _longest_fit(word + "-", room, size, bold) - 1
    cut = max(cut, 1)
    return word[:cut] + "-", word[cut:]


def wrap(
    text: str, width: float, size: float, max_lines: int, first_indent: float = 0.0, bold: bool = False
) -> list[str]:
    """Word wrap by measured width, at word boundaries; a single word wider than a line is hyphenated
    the Dutch way. When the text needs more than `max_lines`, the last line ends in ' …' after the last
    whole word that fits (never inside a word).

    The first line is `first_indent` shorter (room for a bold code).
    """
    lines: list[str] = []
    current = ""
    words = text.split()
    index = 0
    while index < len(words):
        word = words[index]
        room = width - (first_indent if not lines else 0)
        candidate = f"{current} {word}".strip()
        if text_width(candidate, size, bold) <= room:
            current = candidate
            index += 1
            continue
        if current or (first_indent and not lines and text_width(word, size, bold) <= width):
            lines.append(current)  # the word moves to the next line (after the code, the first may stay empty)
            current = ""
            continue
        head, rest = _break_word(word, room, size, bold)  # one word wider than the whole line
        lines.append(head)
        words[index] = rest
        if len(lines) > max_lines:
            break
    if current:
        lines.append(current)
    if len(lines) <= max_lines:
        return lines
    kept = lines[: max_lines - 1]
    last = lines[max_lines - 1].split(" ")
    room = width - (first_indent if max_lines == 1 else 0)
    while last and (last[-1].endswith("-") or text_width(" ".join(last) + " …", size, bold) > room):
        last.pop()
    if not last and kept:  # nothing of this line fits beside the ellipsis: end the line before
        return [*kept[:-1], kept[-1] + " …"] if text_width(kept[-1] + " …", size, bold) <= width else [*kept, "…"]
    return [*kept, " ".join(last).rstrip(" ,;:") + " …"]


def _longest_fit(text: str, width: float, size: float, bold: bool = False) -> int:
    cut = len(text)
    while cut > 1 and text_width(text[:cut], size, bold) > width:
        cut -= 1
    return cut


@dataclass
class _Box:
    item_id: int | None
    code: str
    lines: list[str]
    meta: str = ""
    gap: bool = False
    status: str | None = None
    links: list[int] = field(default_factory=list)  # ids in the column to the left
    top: float = 0.0

    @property
    def meta_lines(self) -> list[str]:
        return wrap(self.meta, COLUMN_WIDTH - 2 * PAD, META_SIZE, META_LINES) if self.meta else []

    @property
    def height(self) -> float:
        text = len(self.lines) * _px(TEXT_SIZE) * 1.25
        meta = _px(META_SIZE) * 1.3 * len(self.meta_lines)
        return 2 * PAD + text + meta

    @property
    def middle(self) -> float:
        return self.top + self.height / 2


def _box(item: Item, meta: str, gap: bool, links: list[int], status: str | None = None) -> _Box:
    code = f"{item.code} " if item.code else ""
    indent = text_width(code, TEXT_SIZE, bold=True)
    lines = wrap(fonts.printable(item.text), COLUMN_WIDTH - 2 * PAD, TEXT_SIZE, MAX_LINES, indent)
    return _Box(item.id, code, lines, fonts.printable(meta), gap, status, links)


def result_status(doc: CompassDocument, result_id: int) -> str | None:
    """'achter' when any measured indicator of the result is behind, else 'op koers' when one is on track."""
    linked = set(doc.linked("result_indicator", result_id))
    states = [i.progress.status for i in doc.societal_results.indicators if i.id in linked and i.progress]
    if "achter" in states:
        return "achter"
    return "op koers" if "op koers" in states else None


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _columns(doc: CompassDocument) -> list[list[_Box]]:
    results = doc.societal_results.results
    activities = doc.activity_plan.activities
    ambition_scope = {a.id for a in doc.ambitions_in_scope()}
    result_scope = {r.id for r in doc.results_in_scope()}
    ambitions = [
        _box(
            a,
            "gekozen" if a.chosen else "",
            bool(results) and a.id in ambition_scope and not doc.linked("ambition_result", a.id),
            [],
        )
        for a in doc.monitoring.ambitions
    ]
    result_boxes = []
    for result in results:
        indicators = len(doc.linked("result_indicator", result.id))
        meta = _plural(indicators, "indicator", "indicatoren") if indicators else "nog geen indicator"
        status = result_status(doc, result.id)
        if status:
            meta = f"{STATUS_MARKS[status]} {status} · {meta}"
        gap = bool(activities) and result.id in result_scope and not doc.linking("activity_result", result.id)
        result_boxes.append(_box(result, meta, gap, doc.linking("ambition_result", result.id), status))
    activity_boxes = [
        _box(a, a.who or "", bool(results) and not a.results.ids, doc.linked("activity_result", a.id))
        for a in activities
    ]
    outcome_boxes = [
        _box(o, o.instrument or "", bool(activities) and not o.activity.ids, doc.linked("outcome_activity", o.id))
        for o in doc.outcome.outcomes
    ]
    return [ambitions, result_boxes, activity_boxes, outcome_boxes]


def _cap(boxes: list[_Box]) -> list[_Box]:
    if not boxes:
        return [_Box(None, "", [EMPTY], gap=True)]
    if len(boxes) <= MAX_PER_COLUMN:
        return boxes
    hidden = len(boxes) - MAX_PER_COLUMN + 1
    return [*boxes[: MAX_PER_COLUMN - 1], _Box(None, "", [f"+ {hidden} meer", "zie het document"])]


def _place(columns: list[list[_Box]], start: float) -> None:
    """Stack each column; a box sits as close as it can to the boxes it links to on its left."""
    for index, column in enumerate(columns):
        middles = {b.item_id: b.middle for b in columns[index - 1] if b.item_id is not None} if index else {}

        def wanted(box: _Box, middles: dict[int, float] = middles) -> float:
            linked = [middles[i] for i in box.links if i in middles]
            return sum(linked) / len(linked) if linked else float("inf")

        column.sort(key=wanted)
        bottom = start
        for box in column:
            desired = wanted(box) - box.height / 2
            box.top = max(bottom, desired) if desired != float("inf") else bottom
            bottom = box.top + box.height + BOX_GAP


def render_png(doc: CompassDocument) -> bytes:
    """The logic chain of the compass as a PNG, 1080 px wide."""
    title = wrap(fonts.printable(f"Logische keten · {doc.issue}"), WIDTH - 2 * MARGIN, TITLE_SIZE, 2, bold=True)
    header_top = MARGIN + len(title) * _px(TITLE_SIZE) * 1.3 + 10
    header_lines = [wrap(h, COLUMN_WIDTH, TEXT_SIZE, 2, bold=True) for h in HEADERS]
    boxes_top = header_top + max(len(h) for h in header_lines) * _px(TEXT_SIZE) * 1.25 + 14
    columns = [_cap(column) for column in _columns(doc)]
    _place(columns, boxes_top)
    caption = wrap(
        "Lees van links naar rechts: een ambitie wordt concreet in resultaten, activiteiten dragen bij aan "
        "resultaten, outcome laat zien wat deelnemers aan een activiteit hebben. Een oranje stippellijn is een "
        "schakel die nog ontbreekt; ✔ op koers en ▼ achter zeggen hoe de metingen van een resultaat ervoor staan.",
        WIDTH - 2 * MARGIN,
        META_SIZE,
        4,
    )
    content_bottom = max(b.top + b.height for column in columns for b in column)
    height = int(content_bottom + 16 + len(caption) * _px(META_SIZE) * 1.3 + MARGIN)

    figure = Figure(figsize=(WIDTH / DPI, height / DPI), dpi=DPI, facecolor="white")
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(0, WIDTH)
    axes.set_ylim(height, 0)
    axes.axis("off")
    text: dict[str, Any] = {"fontfamily": "DejaVu Sans", "va": "top", "ha": "left"}

    for n, line in enumerate(title):
        axes.text(
            MARGIN, MARGIN + n * _px(TITLE_SIZE) * 1.3, line, fontsize=TITLE_SIZE, weight="bold", color=INK, **text
        )
    x_of = [MARGIN + i * (COLUMN_WIDTH + COLUMN_GAP) for i in range(COLUMNS)]
    for index, lines in enumerate(header_lines):
        for n, line in enumerate(lines):
            axes.text(
                x_of[index],
                header_top + n * _px(TEXT_SIZE) * 1.25,
                line,
                fontsize=TEXT_SIZE,
                weight="bold",
                color=COLUMN_COLOURS[index],
                **text,
            )

    for index, column in enumerate(columns):
        for box in column:
            _draw_box(axes, box, x_of[index], index)
    for index in range(1, COLUMNS):
        lefts = {b.item_id: b for b in columns[index - 1] if b.item_id is not None}
        for box in columns[index]:
            for link in box.links:
                if link in lefts:
                    start = (x_of[index - 1] + COLUMN_WIDTH, lefts[link].middle)
                    end = (x_of[index], box.middle)
                    axes.add_patch(
                        FancyArrowPatch(
                            start,
                            end,
                            arrowstyle="-|>",
                            mutation_scale=14,
                            lw=1.4,
                            color="#7d8b94",
                            shrinkA=2,
                            shrinkB=2,
                        )
                    )
    for n, line in enumerate(caption):
        axes.text(MARGIN, content_bottom + 16 + n * _px(META_SIZE) * 1.3, line, fontsize=META_SIZE, color=MUTED, **text)

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _draw_box(axes: Axes, box: _Box, x: float, column: int) -> None:
    edge = GAP_COLOUR if box.gap else STATUS_COLOURS.get(box.status or "", COLUMN_COLOURS[column])
    patch = FancyBboxPatch(
        (x, box.top),
        COLUMN_WIDTH,
        box.height,
        boxstyle="round,pad=0,rounding_size=10",
        facecolor=FILLS[column],
        edgecolor=edge,
        linewidth=2 if box.gap or box.status else 1.4,
        linestyle="--" if box.gap else "-",
    )
    axes.add_patch(patch)
    text: dict[str, Any] = {"fontfamily": "DejaVu Sans", "va": "top", "ha": "left", "fontsize": TEXT_SIZE, "color": INK}
    line_height = _px(TEXT_SIZE) * 1.25
    y = box.top + PAD
    if box.code:
        axes.text(x + PAD, y, box.code, weight="bold", **text)
    for n, line in enumerate(box.lines):
        indent = text_width(box.code, TEXT_SIZE, bold=True) if n == 0 and box.code else 0
        axes.text(x + PAD + indent, y + n * line_height, line, **text)
    colour = STATUS_COLOURS.get(box.status or "", GAP_COLOUR if box.meta == "nog geen indicator" else MUTED)
    for n, meta in enumerate(box.meta_lines):
        axes.text(
            x + PAD,
            y + len(box.lines) * line_height + 2 + n * _px(META_SIZE) * 1.3,
            meta,
            fontsize=META_SIZE,
            color=colour,
            style="normal" if box.status else "italic",
            weight="bold" if box.status else "normal",
            fontfamily="DejaVu Sans",
            va="top",
            ha="left",
        )
