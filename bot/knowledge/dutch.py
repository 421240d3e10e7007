"""Dutch text analysis for the lexical (BM25) side of the wat-werkt search.

`DutchAnalyzer` turns a text into index terms:

1. fold: lowercase, strip accents (``financiële`` -> ``financiele``) and write age groups
   the same way (``65+``, ``65-plussers``, ``65plussers`` -> ``65plus``);
2. split into words (letters and digits; hyphens and punctuation separate words);
3. drop Dutch stop words (including the question verbs ``werkt``/``helpt``);
4. stem each word with the classic Snowball Dutch stemmer (``dutch_porter``: the newer
   ``dutch`` algorithm strips ``ge-`` and turns ``begeleiding`` into ``beleid``);
5. split compound words into known parts, with the linking sounds ``s``, ``e``, ``en`` and ``er``
   (``schuldhulpverlening`` -> ``schuld`` + ``hulp`` + ``verlening``), the parts being
   words of the indexed texts plus the ``woorddelen`` of the synonym file;
6. add one group term (``~eenzaamheid``) for every synonym group a word or phrase belongs
   to, so ``vereenzaming`` meets ``eenzaamheid`` and ``senioren`` meets ``ouderen``.

For query words that match nothing in the index (a typo, a diminutive, an unknown
compound or loanword) there are two fallbacks, used by the index's query analysis:
`diminutive_base` (``klusjes`` -> ``klus``) and `SimilarWords`, which finds indexed words
that share most letter trigrams (``budgetcurus`` -> ``budgetcursus``,
``geluidsoverlast`` -> ``overlast``).

The synonym groups and the extra word parts live in ``knowledge/synoniemen.yaml``, a file
meant to be edited by non-programmers; `load_lexicon` validates it and names the file in
every error.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import Stemmer
import yaml

from bot.content import content_dir

__all__ = [
    "GROUP_PREFIX",
    "STOP_WORDS",
    "DutchAnalyzer",
    "Lexicon",
    "SimilarWords",
    "SynonymFileError",
    "default_lexicon_path",
    "diminutive_base",
    "fold",
    "load_lexicon",
    "plain_tokens",
    "words",
]

GROUP_PREFIX = "~"
"""Group terms start with this; words never do, so they cannot collide."""

STOP_WORDS: frozenset[str] = frozenset(
    """
    aan al alle alles als altijd ander andere anders ben bij bijvoorbeeld binnen dan dat daar
    daarbij daarom de deze die dit doe doen door dus echter een eens en er erg even geen gaan
    gaat graag had hadden haar heb hebben heeft hem hen het hier hierbij hij hoe hoeveel hun
    iemand iets ik in is je jij jou jouw juist kan kun kunnen kunt maar me meer men met mij mijn
    moet moeten na naar namelijk niet niets nog nu of om omdat onder ons onze ook op over per
    soms steeds te tegen toch toe tot tussen u uit uw vaak van vanuit veel via voor waar waarbij
    waardoor waarin waarmee waarom wanneer want was wat we weer wel welk welke werd werden wie
    wij wil willen wordt worden zal ze zeer zich zelf zij zijn zo zoals zodat zonder zou zouden
    helpt werkt laten maken krijgen komen
    """.split()  # noqa: SIM905 - a word list reads better as text
)
"""Words that carry no meaning for search. Checked on the folded surface form, so ``werkt``
(as in "wat werkt bij ...") is dropped while ``werk`` and ``werken`` are kept."""

# Stems the Snowball algorithm conflates although the words differ: "ouderen" (elderly)
# and "ouders" (parents) both become "ouder".
_STEM_OVERRIDES: dict[str, str] = {"ouderen": "oudere", "oudere": "oudere"}

_LINKERS = ("", "s", "e", "en", "er")
_MIN_COMPOUND = 7  # shortest word we try to split
_MIN_PART = 4  # shortest part taken from the indexed texts
_MIN_LISTED_PART = 3  # shortest part from the `woorddelen` list
_MIN_REST = 6  # shortest known first part and unknown rest in `_partial_split`
_WORD_RE = re.compile(r"[a-z0-9]+")
_AGE_RE = re.compile(r"\b(\d{2})\s*(?:\+|-?\s*plus)(?:s?ers?|sers?)?(?![a-z0-9])")
_VOWELS = frozenset("aeiouy")
# Snowball 3 (PyStemmer 3) calls the classic algorithm "dutch_porter"; before that it was "dutch".
_STEMMER = "dutch_porter" if "dutch_porter" in Stemmer.algorithms() else "dutch"


class SynonymFileError(ValueError):
    """The synonym file is missing or malformed; the message names the file (in Dutch)."""


def default_lexicon_path() -> Path:
    return content_dir("knowledge") / "synoniemen.yaml"


@dataclass(frozen=True)
class Lexicon:
    """Synonym groups (name -> terms) and extra compound parts, as read from the YAML file."""

    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    word_parts: frozenset[str] = frozenset()


def load_lexicon(path: Path | None = None) -> Lexicon:
    """Read and validate the synonym file; raise `SynonymFileError` naming the file."""
    path = Path(path) if path is not None else default_lexicon_path()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SynonymFileError(f"{path}: bestand niet gevonden") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SynonymFileError(f"{path}: kan het bestand niet lezen ({exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (regel {mark.line + 1})" if mark is not None else ""
        raise SynonymFileError(f"{path}: geen geldige YAML{where}: {getattr(exc, 'problem', exc)}") from None

    if not isinstance(data, dict):
        raise SynonymFileError(f"{path}: verwacht de onderdelen 'synoniemen:' en 'woorddelen:'")
    unknown = sorted(set(map(str, data)) - {"synoniemen", "woorddelen"})
    if unknown:
        raise SynonymFileError(
            f"{path}: onbekend onderdeel {', '.join(repr(u) for u in unknown)}; "
            "toegestaan zijn 'synoniemen' en 'woorddelen'"
        )
    groups_raw = data.get("synoniemen") or {}
    if not isinstance(groups_raw, dict):
        raise SynonymFileError(f"{path}: 'synoniemen' moet een lijst van groepen zijn ('naam:' met woorden eronder)")
    groups: dict[str, tuple[str, ...]] = {}
    for name, terms in groups_raw.items():
        if not isinstance(terms, list) or not terms:
            raise SynonymFileError(f"{path}: groep '{name}' moet een lijst met minstens één woord zijn")
        bad = [t for t in terms if not isinstance(t, (str, int)) or not str(t).strip()]
        if bad:
            raise SynonymFileError(f"{path}: groep '{name}' bevat een lege of ongeldige waarde: {bad[0]!r}")
        if not words(str(name)):
            raise SynonymFileError(f"{path}: groepsnaam {name!r} moet letters of cijfers bevatten")
        groups[str(name)] = tuple(str(t).strip() for t in terms)
    parts_raw = data.get("woorddelen") or []
    if not isinstance(parts_raw, list) or not all(isinstance(p, str) and p.strip() for p in parts_raw):
        raise SynonymFileError(f"{path}: 'woorddelen' moet een lijst met woorden zijn")
    parts = frozenset(w for p in parts_raw for w in words(p))
    return Lexicon(groups=groups, word_parts=parts)


def fold(text: str) -> str:
    """Lowercase, strip accents and write age groups as ``<n>plus``."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _AGE_RE.sub(r"\1plus", plain)


def words(text: str) -> list[str]:
    """The folded words of a text, stop words included."""
    return _WORD_RE.findall(fold(text))


def plain_tokens(text: str) -> list[str]:
    """Baseline tokens without any Dutch processing: lowercase, split on whitespace."""
    return [t for t in (w.strip(".,;:!?()[]\"'") for w in text.lower().split()) if t]


_DIMINUTIVES = ("etjes", "etje", "tjes", "tje", "pjes", "pje", "jes", "je")


def diminutive_base(word: str) -> str | None:
    """The word without its diminutive ending (``klusjes`` -> ``klus``), or None.

    Only a guess: the caller checks that the base is a known word. ``-etje`` drops the
    doubled consonant too (``balletje`` -> ``bal``)."""
    for suffix in _DIMINUTIVES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            base = word[: -len(suffix)]
            if suffix.startswith("e") and len(base) >= 4 and base[-1] == base[-2]:
                base = base[:-1]
            return base
    return None


def _trigrams(word: str) -> frozenset[str]:
    padded = f"<{word}>"
    return frozenset(padded[i : i + 3] for i in range(len(padded) - 2))


class SimilarWords:
    """Finds words of a vocabulary that look like a given word (Dice overlap of letter trigrams).

    Catches typos (``eenzaamhied`` -> ``eenzaamheid``), inflected or compound forms of
    indexed words (``geluidsoverlast`` -> ``overlast``, ``belcirkel`` -> ``cirkel``). Built
    once per index generation; a lookup touches only words sharing a trigram.
    """

    def __init__(self, vocabulary: Iterable[str]) -> None:
        self._words = sorted(set(vocabulary))
        self._grams = [_trigrams(w) for w in self._words]
        self._postings: dict[str, list[int]] = {}
        for number, grams in enumerate(self._grams):
            for gram in grams:
                self._postings.setdefault(gram, []).append(number)

    def similar(self, word: str, limit: int = 2, threshold: float = 0.5) -> list[tuple[str, float]]:
        """Up to `limit` words with Dice similarity >= `threshold`, best first (ties: alphabetical)."""
        grams = _trigrams(word)
        shared: dict[int, int] = {}
        for gram in grams:
            for number in self._postings.get(gram, ()):
                shared[number] = shared.get(number, 0) + 1
        scored = [
            (2 * count / (len(grams) + len(self._grams[number])), self._words[number])
            for number, count in shared.items()
            if self._words[number] != word
        ]
        scored.sort(key=lambda pair: (-pair[0], pair[1]))
        return [(w, score) for score, w in scored[:limit] if score >= threshold]


def _normalise_stem(stem: str) -> str:
    """Even out Dutch spelling alternations the stemmer leaves behind.

    A doubled final consonant is dropped (``gezinn`` -> ``gezin``), a final ``v``/``z``
    becomes ``f``/``s`` and a long vowel before the last consonant is written single, so
    verb forms meet: ``werf``/``werven``, ``lees``/``lezen``, ``maak``/``maken``.
    """
    if len(stem) < 3:
        return stem
    if len(stem) >= 4 and stem[-1] == stem[-2] and stem[-1] not in _VOWELS:
        stem = stem[:-1]
    if stem[-1] in "vz":
        stem = stem[:-1] + ("f" if stem[-1] == "v" else "s")
    if len(stem) >= 4 and stem[-1] not in _VOWELS and stem[-2] == stem[-3] and stem[-2] in "aeou":
        stem = stem[:-2] + stem[-1]
    return stem


class DutchAnalyzer:
    """Callable text -> index terms; the same instance must analyse documents and queries.

    `vocabulary` is the set of words that may be compound parts; build it from the indexed
    texts with `from_texts` and persist it with the index, so queries split the same way.
    """

    def __init__(self, lexicon: Lexicon, vocabulary: Iterable[str] = ()) -> None:
        self.lexicon = lexicon
        self.vocabulary: frozenset[str] = frozenset(vocabulary)
        self._parts = self.vocabulary | lexicon.word_parts
        self._stemmer = Stemmer.Stemmer(_STEMMER)
        self._word_cache: dict[str, tuple[str, tuple[str, ...]]] = {}
        self._single: dict[str, set[str]] = {}
        # Phrases match on the stems of their content words; a phrase that is mostly stop
        # words ("mee doen") matches on all its words instead, so it does not shrink to one.
        self._phrases: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        self._full_phrases: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        self.group_names: dict[str, str] = {}
        """Group term -> the group's name as written in the synonym file (``huiselijk_geweld``)."""
        for group, terms in lexicon.groups.items():
            token = GROUP_PREFIX + "".join(words(group))
            self.group_names[token] = group
            for term in terms:
                all_words = words(term)
                stems = tuple(self._stem(w) for w in all_words if w not in STOP_WORDS)
                if len(all_words) > 1 and len(stems) < 2:
                    full = tuple(self._full_stem(w) for w in all_words)
                    self._full_phrases.setdefault(full[0], []).append((full, token))
                elif len(stems) == 1:
                    self._single.setdefault(stems[0], set()).add(token)
                elif stems:
                    self._phrases.setdefault(stems[0], []).append((stems, token))

    @classmethod
    def from_texts(cls, lexicon: Lexicon, texts: Iterable[str]) -> DutchAnalyzer:
        """An analyzer whose compound parts are the words (4+ letters) of `texts`."""
        vocab = {w for text in texts for w in words(text) if len(w) >= _MIN_PART and w not in STOP_WORDS}
        vocab |= {w for terms in lexicon.groups.values() for t in terms for w in words(t) if len(w) >= _MIN_PART}
        return cls(lexicon, vocab - STOP_WORDS)

    def _stem(self, word: str) -> str:
        override = _STEM_OVERRIDES.get(word)
        if override is not None:
            return override
        return _normalise_stem(self._stemmer.stemWord(word))

    def _full_stem(self, word: str) -> str:
        return word if word in STOP_WORDS else self._stem(word)

    def _is_part(self, piece: str) -> bool:
        if piece in STOP_WORDS or piece.isdigit():
            return False
        if len(piece) >= _MIN_PART:
            return piece in self._parts
        return len(piece) >= _MIN_LISTED_PART and piece in self.lexicon.word_parts

    def split_compound(self, word: str) -> list[str]:
        """The parts of a compound word (all levels), or ``[]`` when it is not one.

        Chooses the split with the fewest parts (ties: the longest parts), then splits
        long parts again: ``schuldhulpverlening`` -> ``schuldhulp``, ``verlening``,
        ``schuld``, ``hulp``.
        """
        if len(word) < _MIN_COMPOUND or not word.isalpha():
            return []
        best = self._best_split(word) or self._partial_split(word)
        if best is None:
            return []
        found = list(best)
        for part in best:
            found += [p for p in self.split_compound(part) if p not in found]
        return found

    def _best_split(self, word: str) -> tuple[str, ...] | None:
        n = len(word)
        # best[i]: fewest-part split of word[i:] as (parts, -sum of squared lengths)
        best: list[tuple[int, int, tuple[str, ...]] | None] = [None] * (n + 1)
        best[n] = (0, 0, ())
        for start in range(n - 1, -1, -1):
            for end in range(start + _MIN_LISTED_PART, n + 1):
                piece = word[start:end]
                if len(piece) == n or not self._is_part(piece):
                    continue
                for linker in _LINKERS:
                    nxt = end + len(linker)
                    if nxt > n or word[end:nxt] != linker or best[nxt] is None:
                        continue
                    if linker and nxt == n:
                        continue  # a linker joins two parts; it never ends the word
                    count, weight, parts = best[nxt]  # type: ignore[misc]
                    candidate = (count + 1, weight - len(piece) ** 2, (piece, *parts))
                    current = best[start]
                    if current is None or candidate[:2] < current[:2]:
                        best[start] = candidate
        whole = best[0]
        if whole is None or whole[0] < 2:
            return None
        return whole[2]

    def _partial_split(self, word: str) -> tuple[str, ...] | None:
        """A long known first part before an unknown rest: ``ouderenadviseur`` -> ``ouderen``.

        Both must have 6+ letters; shorter known parts (``maat`` in ``maatschappelijk``)
        are too often a coincidence. The longest known part wins.
        """
        for size in range(len(word) - _MIN_REST, _MIN_REST - 1, -1):
            head, rest = word[:size], word[size:]
            if self._is_part(head) and len(rest.removeprefix("s")) >= _MIN_REST:
                return (head,)
        return None

    def _analyse_word(self, word: str) -> tuple[str, tuple[str, ...]]:
        cached = self._word_cache.get(word)
        if cached is None:
            stem = self._stem(word)
            parts = tuple(dict.fromkeys(s for s in map(self._stem, self.split_compound(word)) if s != stem))
            cached = (stem, parts)
            if len(self._word_cache) < 200_000:
                self._word_cache[word] = cached
        return cached

    def terms(self, text: str) -> Iterator[str]:
        """Yield the index terms of `text` (stems, compound-part stems, group terms)."""
        stems: list[str] = []
        full: list[str] = []
        for word in words(text):
            if word in STOP_WORDS:
                full.append(word)
                continue
            stem, parts = self._analyse_word(word)
            stems.append(stem)
            full.append(stem)
            yield stem
            yield from parts
            groups: set[str] = set()
            for s in (stem, *parts):
                groups |= self._single.get(s, set())
            yield from sorted(groups)
        for sequence, phrases in ((stems, self._phrases), (full, self._full_phrases)):
            for i, stem in enumerate(sequence):
                for phrase, token in phrases.get(stem, ()):
                    if tuple(sequence[i : i + len(phrase)]) == phrase:
                        yield token

    def __call__(self, text: str) -> list[str]:
        return list(self.terms(text))
