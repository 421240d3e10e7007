"""The small phrase language in which advisers write patterns (coaching rules, field phrasings).

Words separated by spaces; `*` at the start or end of a word matches any ending or start
(`samenwerk*`); `a/b` matches either word; `...` skips up to five words; `<getal>` is a
number in digits or words, `<jaartal>` a year such as 2030. Matching ignores case and
accents, and "%" counts as the word "procent". Patterns match `normalize`d text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Annotated

from pydantic import AfterValidator

_WORD = r"[\w'+-]"
_SEP = r"[\s\"'()]+"
_GAP = rf"(?:{_WORD}+{_SEP}){{0,5}}"
_UNITS = "een|twee|drie|vier|vijf|zes|zeven|acht|negen"
_TENS = "twintig|dertig|veertig|vijftig|zestig|zeventig|tachtig|negentig"
NUMBER = (
    r"(?:\d+(?:[.,]\d+)?"
    rf"|(?:(?:{_UNITS})en)?(?:{_TENS})"
    r"|twee|drie|vier|vijf|zes|zeven|acht|negen|tien|elf|twaalf|dertien|veertien|vijftien"
    r"|zestien|zeventien|achttien|negentien|honderd|duizend|anderhalf)"
)
YEAR = r"(?:19|20)\d\d"
_BLANK = "§"
_QUOTES = str.maketrans("\u2018\u2019\u201c\u201d`", "''\"\"'")
COORDINATOR = r"(?:\s*,\s*|\s*&\s*|\s*/\s*|\s+en\s+|\s+of\s+|\s+plus\s+)"


# ----------------------------------------------------------------------------- text and phrases


def normalize(text: str) -> str:
    """Lower case, no accents, straight quotes, '%' as 'procent', single spaces."""
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(char for char in folded if not unicodedata.combining(char)).lower()
    folded = folded.translate(_QUOTES)
    folded = folded.replace("%", " procent ").replace("€", " euro ")
    return re.sub(r"\s+", " ", folded).strip()


def _token_regex(token: str) -> str:
    alternatives = []
    for alternative in token.split("/"):
        if not alternative.strip("*"):
            raise ValueError(f"lege variant in '{token}'")
        parts = re.split(r"(<getal>|<jaartal>|\*)", normalize(alternative))
        pieces = []
        for part in parts:
            if part == "<getal>":
                pieces.append(NUMBER)
            elif part == "<jaartal>":
                pieces.append(YEAR)
            elif part == "*":
                pieces.append(f"{_WORD}*")
            elif part:
                pieces.append(re.escape(part))
        alternatives.append("".join(pieces))
    return alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"


def compile_phrase(phrase: str, *, coordinator_en: bool = False) -> re.Pattern[str]:
    """Compile one phrase of the pattern language to a regular expression on normalized text.

    With `coordinator_en`, the word 'en' also matches a comma, '&', '/', 'of' or 'plus'.
    """
    return re.compile(phrase_regex(phrase, coordinator_en=coordinator_en))


def phrase_regex(phrase: str, *, coordinator_en: bool = False) -> str:
    """The regular expression of a phrase, as text; raises ValueError for a malformed phrase.

    Checking a phrase needs only this: every word in it is escaped, so the result always compiles
    (and compiling the ~1,200 phrases twice would cost a quarter second of start-up)."""
    tokens = phrase.split()
    if not tokens:
        raise ValueError("leeg patroon")
    if tokens[0] == "..." or tokens[-1] == "...":
        raise ValueError("'...' mag niet aan het begin of eind staan")
    regex = ""
    previous = ""
    for token in tokens:
        if token == "...":
            kind, piece = "gap", _GAP
        elif coordinator_en and token == "en":
            kind, piece = "coordinator", r"\s*(?:,|&|/|\ben\b|\bof\b|\bplus\b)\s*"
        else:
            kind, piece = "word", _token_regex(token)
        if previous == "word" and kind in ("word", "gap"):
            regex += _SEP
        regex += piece
        previous = kind
    return rf"(?<![\w-]){regex}(?![\w-])"


def compile_all(phrases: Iterable[str], *, coordinator_en: bool = False) -> tuple[re.Pattern[str], ...]:
    return tuple(compile_phrase(phrase, coordinator_en=coordinator_en) for phrase in phrases)


def find(patterns: Iterable[re.Pattern[str]], text: str) -> list[re.Match[str]]:
    return sorted((m for pattern in patterns for m in pattern.finditer(text)), key=lambda m: m.start())


def blank(text: str, patterns: Iterable[re.Pattern[str]]) -> str:
    """Replace every match with a filler of equal length that no phrase can match across."""
    for match in find(patterns, text):
        text = text[: match.start()] + _BLANK * (match.end() - match.start()) + text[match.end() :]
    return text


def _check_phrases(phrases: tuple[str, ...]) -> tuple[str, ...]:
    for phrase in phrases:
        try:
            phrase_regex(phrase)
        except ValueError as exc:
            raise ValueError(f"patroon '{phrase}' klopt niet: {exc}") from None
    return phrases


# A list of phrases in a content file, checked when the file is loaded.
Phrases = Annotated[tuple[str, ...], AfterValidator(_check_phrases)]
