"""A chart per measured indicator (matplotlib, PNG): the measurements, the baseline, and the straight
line to the target, for the full version of the PDF and the Word file."""

from __future__ import annotations

import io
from functools import cache

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from bot.document import fonts
from bot.document.model import Indicator, OutcomeIndicator
from bot.measure import format_number, format_value

WIDTH_INCH, HEIGHT_INCH, DPI = 6.0, 2.2, 160
INK, MUTED, LINE, TARGET = "#1d2a33", "#4f5d68", "#0b5f73", "#c05a00"
STATUS_COLOURS = {"op koers": "#2f6f3e", "achter": "#9b3b2f"}


@cache
def _font() -> str:
    return "DejaVu Sans" if fonts.REGULAR.exists() else "sans-serif"


def render_chart(indicator: Indicator | OutcomeIndicator) -> bytes:
    """The chart of one indicator as PNG bytes."""
    values = indicator.measurements
    figure = Figure(figsize=(WIDTH_INCH, HEIGHT_INCH), dpi=DPI, facecolor="white")
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0.09, 0.2, 0.64, 0.72))
    xs = [m.key for m in values]
    ys = [m.value for m in values]
    unit = values[0].unit if values else ""
    colour = STATUS_COLOURS.get(indicator.progress.status if indicator.progress else "", LINE)
    axes.plot(xs, ys, marker="o", color=colour, linewidth=2, markersize=5, label="gemeten")
    progress = indicator.progress
    baseline = next((m for m in values if m.baseline), values[0] if values else None)
    if progress and progress.target_value is not None and progress.target_year and baseline is not None:
        target_x = progress.target_year + 0.5
        axes.plot(
            [baseline.key, target_x],
            [baseline.value, progress.target_value],
            linestyle="--",
            color=TARGET,
            linewidth=1.4,
            label="lijn naar het doel",
        )
        axes.plot([target_x], [progress.target_value], marker="D", color=TARGET, markersize=6)
        xs.append(target_x)
        ys.append(progress.target_value)
    if baseline is not None:
        axes.annotate(
            "nulmeting",
            (baseline.key, baseline.value),
            textcoords="offset points",
            xytext=(4, 6),
            fontsize=7,
            color=MUTED,
            fontfamily=_font(),
        )
    low, high = min(ys), max(ys)
    pad = (high - low) * 0.2 or max(abs(high) * 0.1, 1)
    axes.set_ylim(min(0, low - pad) if low >= 0 and low - pad < 0 else low - pad, high + pad)
    years = range(int(min(xs)), int(max(xs)) + 1)
    axes.set_xticks([y + 0.5 for y in years], [str(y) for y in years])
    axes.set_xlim(min(xs) - 0.4, max(xs) + 0.4)
    axes.yaxis.set_major_formatter(
        FuncFormatter(lambda v, _: format_value(v, unit) if unit == "%" else format_number(round(v, 2)))
    )
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.tick_params(labelsize=7, colors=MUTED)
    axes.grid(axis="y", color="#dde4e8", linewidth=0.6)
    legend = axes.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7, frameon=False)
    for text in legend.get_texts():
        text.set_fontfamily(_font())
    status = progress.status if progress else ""
    figure.text(0.75, 0.3, status, fontsize=9, weight="bold", color=colour, fontfamily=_font())
    if progress and progress.target:
        figure.text(0.75, 0.2, f"doel: {progress.target}", fontsize=7, color=MUTED, fontfamily=_font())
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()
