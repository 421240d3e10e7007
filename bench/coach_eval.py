"""Measure the coaching rules on the labelled cases in `tests/data/coaching_cases.yaml`.

Usage: `python bench/coach_eval.py [--fouten] [--heldout]`. Prints precision, recall and support
per rule; with `--fouten` also every case the coach got wrong; with `--heldout` also a separate
table for the held-out cases (`tests/data/coaching_cases_heldout.yaml`, written in other words
than the rules were tuned on). `tests/test_coach.py` uses the same functions to hold each rule
to a minimum.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from bot.coach import RULE_IDS, Coach, load_coach
from bot.compass import Contribution, FieldValue, Role, Session

CASES = Path(__file__).resolve().parents[1] / "tests" / "data" / "coaching_cases.yaml"
HELDOUT = CASES.with_name("coaching_cases_heldout.yaml")
PERSPECTIVES = ("gemeente", "aanbieder", "doelgroep")
_AT = datetime(2026, 1, 1, tzinfo=UTC)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Prior(_Strict):
    """A contribution already in the session before the case is reviewed."""

    vraag: str
    tekst: str = "..."
    auteur: str = "a"
    rol: Role | None = None
    velden: dict[str, FieldValue] = Field(default_factory=dict)
    verwijderd: bool = False


class Case(_Strict):
    """One labelled situation. Which review runs follows from what is filled in:
    `vraagstuk` -> review_issue; `stap` -> review_step; `tekst` -> review_answer on `vraag`;
    only `vraag` -> review_question."""

    vraag: str | None = None
    tekst: str | None = None
    velden: dict[str, FieldValue] = Field(default_factory=dict)
    vraagstuk: str | None = None
    stap: int | None = None
    eerder: list[Prior] = Field(default_factory=list)
    rollen: dict[str, Role] = Field(default_factory=dict)
    genudged: list[str] = Field(default_factory=list)
    verwacht: dict[str, bool | list[str]]
    waarom: str = ""


class CaseFile(_Strict):
    gevallen: list[Case]


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def support(self) -> int:
        return self.tp + self.fn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass(frozen=True)
class Miss:
    case: Case
    rule_id: str
    expected: bool
    perspective: str | None = None


def load_cases(path: Path = CASES) -> list[Case]:
    return CaseFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8"))).gevallen


def _session(case: Case) -> Session:
    session = Session(
        id="eval",
        chat_id="eval",
        vraagstuk="eval",
        created_at=_AT,
        updated_at=_AT,
        created_by="a",
        nudged=list(case.genudged),
    )
    for prior in case.eerder:
        session.contributions.append(
            Contribution(
                id=session.next_id,
                question=prior.vraag,
                text=prior.tekst,
                author_id=prior.auteur,
                role=prior.rol,
                at=_AT,
                fields=dict(prior.velden),
                removed=prior.verwijderd,
            )
        )
        session.next_id += 1
    return session


def predict(coach: Coach, case: Case) -> dict[str, set[str]]:
    """Rule id -> what fired (for the perspective rule: the missing perspectives)."""
    session = _session(case)
    if case.vraagstuk is not None:
        advice = coach.review_issue(case.vraagstuk)
    elif case.stap is not None:
        advice = coach.review_step(session, case.stap, case.rollen)
    elif case.tekst is not None and case.vraag is not None:
        contribution = Contribution(
            id=session.next_id, question=case.vraag, text=case.tekst, author_id="a", at=_AT, fields=dict(case.velden)
        )
        session.contributions.append(contribution)
        advice = coach.review_answer(session, case.vraag, contribution)
    elif case.vraag is not None:
        advice = coach.review_question(session, case.vraag)
    else:
        raise ValueError(f"geval zonder vraag, vraagstuk of stap: {case}")
    fired: dict[str, set[str]] = {}
    for item in advice:
        detail = item.once_key.rsplit(":", 1)[-1] if item.rule_id == "perspectief_ontbreekt" and item.once_key else ""
        fired.setdefault(item.rule_id, set()).add(detail)
    return fired


def evaluate(coach: Coach, cases: list[Case]) -> tuple[dict[str, Score], list[Miss]]:
    scores = {rule_id: Score() for rule_id in RULE_IDS}
    misses: list[Miss] = []
    for case in cases:
        fired = predict(coach, case)
        for rule_id, expected in case.verwacht.items():
            if rule_id not in scores:
                raise ValueError(f"onbekende regel in verwacht: {rule_id}")
            decisions: list[tuple[bool, bool, str | None]]
            if isinstance(expected, list):
                decisions = [(p in expected, p in fired.get(rule_id, set()), p) for p in PERSPECTIVES]
            else:
                decisions = [(expected, rule_id in fired, None)]
            for want, got, perspective in decisions:
                score = scores[rule_id]
                if want and got:
                    score.tp += 1
                elif want:
                    score.fn += 1
                    misses.append(Miss(case, rule_id, True, perspective))
                elif got:
                    score.fp += 1
                    misses.append(Miss(case, rule_id, False, perspective))
                else:
                    score.tn += 1
    return scores, misses


def table(scores: dict[str, Score]) -> str:
    lines = [f"{'regel':<26} {'precisie':>8} {'recall':>7} {'support':>8} {'besluiten':>10}"]
    for rule_id, s in scores.items():
        lines.append(
            f"{rule_id:<26} {s.precision:>8.2f} {s.recall:>7.2f} {s.support:>8} {s.tp + s.fp + s.fn + s.tn:>10}"
        )
    return "\n".join(lines)


def _report(coach: Coach, path: Path, show_misses: bool) -> None:
    cases = load_cases(path)
    scores, misses = evaluate(coach, cases)
    print(f"{path.name}: {len(cases)} gevallen")
    print(table(scores))
    if show_misses:
        for miss in misses:
            kind = "gemist" if miss.expected else "onterecht"
            what = (
                miss.case.tekst
                or miss.case.vraagstuk
                or (f"stap {miss.case.stap}" if miss.case.stap is not None else miss.case.vraag)
            )
            extra = f" [{miss.perspective}]" if miss.perspective else ""
            print(f"- {kind}: {miss.rule_id}{extra}: {what} {miss.case.velden or ''}")


def speed(coach: Coach, rounds: int = 500) -> float:
    """Seconds per round of three reviews (two answers, one issue); was a `< 2.0 s` assert in the tests."""
    import time

    at = datetime(2026, 11, 23, tzinfo=UTC)
    session = Session(id="s", chat_id="c", vraagstuk="eenzaamheid", created_at=at, updated_at=at, created_by="a")
    answer = Contribution(
        id=1,
        question="resultaten",
        text="Over vier jaar voelen 10% minder 75-plussers zich sterk eenzaam.",
        author_id="a",
        at=at,
    )
    started = time.perf_counter()
    for _ in range(rounds):
        coach.review_answer(session, "ambities", answer)
        coach.review_answer(session, "resultaten", answer)
        coach.review_issue("schulden, eenzaamheid en mantelzorg")
    return (time.perf_counter() - started) / rounds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fouten", action="store_true", help="toon ook de gevallen die de coach fout had")
    parser.add_argument("--gevallen", type=Path, default=CASES)
    parser.add_argument("--heldout", action="store_true", help="meet ook apart op de achtergehouden gevallen")
    parser.add_argument("--snelheid", action="store_true", help="meet ook hoe snel de coach beoordeelt")
    args = parser.parse_args(argv)
    coach = load_coach()
    if args.snelheid:
        print(f"snelheid: {speed(coach) * 1000:.2f} ms per beoordeling (antwoord, antwoord, vraagstuk)\n")
    _report(coach, args.gevallen, args.fouten)
    if args.heldout:
        print()
        _report(coach, HELDOUT, args.fouten)
    return 0


if __name__ == "__main__":
    sys.exit(main())
