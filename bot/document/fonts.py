"""The font of the PDF and the picture, and what to do with characters it cannot draw.

We use DejaVu Sans as shipped with matplotlib (a dependency anyway), so no system fonts are
needed. It covers Dutch accents, € and many symbols, but not most emoji: `printable` drops
emoji and other symbols the font lacks (they are decoration in these texts) and replaces
any other missing character (e.g. a script DejaVu does not cover) by '�', so a PDF never
shows empty boxes.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from pathlib import Path

import matplotlib
from matplotlib.ft2font import FT2Font

FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
REGULAR = FONT_DIR / "DejaVuSans.ttf"
BOLD = FONT_DIR / "DejaVuSans-Bold.ttf"
ITALIC = FONT_DIR / "DejaVuSans-Oblique.ttf"
BOLD_ITALIC = FONT_DIR / "DejaVuSans-BoldOblique.ttf"

_DROPPED_CATEGORIES = frozenset({"So", "Sk", "Mn", "Me", "Cf", "Co", "Cs"})
REPLACEMENT = "\ufffd"  # '�', the usual sign for a character that cannot be shown
_VARIATION = re.compile("[\ufe00-\ufe0f]")


@cache
def _covered() -> frozenset[int]:
    """Code points every face we use can draw."""
    maps = [set(FT2Font(str(path)).get_charmap()) for path in (REGULAR, BOLD, ITALIC, BOLD_ITALIC)]
    return frozenset(set.intersection(*maps))


def printable(text: str) -> str:
    """`text` with every character the font cannot draw dropped (emoji) or replaced by '�'."""
    covered = _covered()
    kept = []
    dropped = False
    for char in unicodedata.normalize("NFC", text):
        category = unicodedata.category(char)
        if char in "\n\t" or (ord(char) in covered and category != "Cf" and not _VARIATION.match(char)):
            kept.append(char)
        elif category not in _DROPPED_CATEGORIES:
            kept.append(REPLACEMENT)
        else:
            dropped = True
    result = "".join(kept)
    if dropped:  # close the gaps the dropped characters leave
        result = re.sub(r"[ \t]+(?=[;,.:!?)]|$)", "", re.sub(r"[ \t]{2,}", " ", result))
    return result
