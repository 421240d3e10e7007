"""The `kompas` command line: wiring only; the work happens in the modules it calls."""

from __future__ import annotations

import asyncio
import getpass
import logging
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from bot.app import open_kompas
from bot.coach import load_coach
from bot.compass import Session
from bot.config import Settings
from bot.console import ConsoleChat, stdin_lines
from bot.content import content_dir
from bot.document.export import FORMATS, ExportError, console_exporter, export_session
from bot.document.model import compile_document
from bot.dutch_cli import DutchCommand, DutchGroup, usage_problem
from bot.engine import progress
from bot.engine.measuring import new_round
from bot.events import Actor
from bot.flows import Flow, FlowError, check_examples, load_flow, load_texts, load_themes
from bot.knowledge.commands import kennis_app, watwerkt
from bot.knowledge.corpus import CorpusError, load_corpus
from bot.llm import load_prompts
from bot.measure import (
    MeasureError,
    Measurement,
    format_value,
    import_csv,
    indicator_checker,
    parse_number,
    parse_period,
    resolve_indicator,
)
from bot.store import Store, StoreError

app = typer.Typer(
    cls=DutchGroup,
    help="Kompasbot: samen door het Kwaliteitskompas.",
    options_metavar="[OPTIES]",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run a command; known problems become a Dutch message, never a traceback."""
    try:
        asyncio.run(coroutine)
    except (FlowError, StoreError) as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


@app.command(cls=DutchCommand, options_metavar="[OPTIES]")
def chat(
    sessie: Annotated[
        str | None, typer.Option("--sessie", "-s", metavar="KOMPAS", help="Hervat (of start) dit kompas.")
    ] = None,
    naam: Annotated[str | None, typer.Option("--naam", metavar="NAAM", help="Je naam in het kompas.")] = None,
) -> None:
    """Werk in de terminal door een kompas."""
    run(_chat(sessie, naam))


async def _chat(sessie: str | None, naam: str | None) -> None:
    kompas = await open_kompas(Settings(), knowledge_wait=60.0)
    interactive = sys.stdin.isatty()
    console = Console(highlight=False, soft_wrap=not interactive)
    actor = Actor(id="terminal", name=naam or _user_name())
    transport = ConsoleChat(
        kompas.service,
        console=console,
        rich_output=interactive and console.is_terminal,
        actor=actor,
        exporter=console_exporter(kompas.settings, kompas.flow),
    )
    try:
        await transport.run(stdin_lines(interactive), session_name=sessie)
    finally:
        await kompas.close()


def _user_name() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return ""


@app.command(cls=DutchCommand, options_metavar="[OPTIES]")
def sessies() -> None:
    """Toon alle kompassen met hun voortgang."""
    run(_sessions())


async def _sessions() -> None:
    settings = Settings()
    settings.ensure_home()
    flow = load_flow(settings.effective_flows_dir / "kompas.yaml")
    store = await Store.open(settings.effective_database_url)
    try:
        summaries = await store.list_sessions()
    finally:
        await store.close()
    out = Console(highlight=False)
    if not summaries:
        out.print("Er zijn nog geen kompassen. Start er een met: kompas chat", markup=False)
        return
    for s in summaries:  # the name to type on a line of its own, whole; then what it is about
        step = "klaar" if s.session.phase == "klaar" else f"stap {s.session.step}"
        when = s.updated_at.strftime("%d-%m-%Y %H:%M")
        out.print(f"{s.chat_id}/{s.id}", markup=False, overflow="fold")
        out.print(f"   {s.vraagstuk} · {progress(flow, s.session)}% ingevuld · {step} · laatst {when}", markup=False)


@app.command(cls=DutchCommand, options_metavar="[OPTIES]")
def export(
    sessie: Annotated[
        str, typer.Argument(metavar="KOMPAS", help="Het kompas: chat/naam, de naam, het vraagstuk of het begin ervan.")
    ],
    formaat: Annotated[
        str, typer.Option("--formaat", "-f", metavar="FORMAAT", help=f"Een van: {', '.join(FORMATS)}.")
    ] = "pdf",
    uitvoer: Annotated[
        Path | None, typer.Option("--uitvoer", "-o", metavar="PAD", help="Bestand of map (standaard: hier).")
    ] = None,
    pseudoniem: Annotated[
        bool, typer.Option("--pseudoniem", metavar="", help="Namen vervangen door Deelnemer 1, 2, ...")
    ] = False,
) -> None:
    """Bewaar een kompas als PDF (één A4 + volledige versie), Word, Markdown, JSON of plaatje."""
    try:
        path = asyncio.run(export_session(Settings(), sessie, formaat.lower(), uitvoer, pseudonymise=pseudoniem))
    except (ExportError, FlowError, StoreError) as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    Console(highlight=False, soft_wrap=True).print(f"Bewaard: {path}", markup=False)


@app.command(cls=DutchCommand, options_metavar="[OPTIES]")
def controleer() -> None:
    """Controleer de inhoudsbestanden (flows/, prompts/, knowledge/) op fouten."""
    settings = Settings()
    folder = settings.effective_flows_dir
    try:
        flow = load_flow(folder / "kompas.yaml")
        load_texts(folder / "teksten.yaml")
        themes = load_themes(folder / "themas.yaml")
        check_examples(flow, themes, folder / "kompas.yaml")
        load_coach(folder / "coaching.yaml", flow)
        prompts = load_prompts(content_dir("prompts"))
        items = load_corpus(settings.effective_knowledge_dirs)
    except (FlowError, CorpusError) as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    Console().print(
        f"In orde: {len(flow.stappen)} stappen met {len(flow.question_keys())} vragen, "
        f"{len(prompts)} prompts, {len(items)} items in de kennisbank.",
        markup=False,
    )


@app.command(cls=DutchCommand, options_metavar="[OPTIES]")
def telegram(
    webhook: Annotated[
        str | None,
        typer.Option("--webhook", metavar="URL", help="Publieke https-URL voor een webhook (anders: long polling)."),
    ] = None,
    port: Annotated[
        int, typer.Option("--port", metavar="POORT", help="Poort waarop de webhook luistert (achter een proxy).")
    ] = 8443,
    listen: Annotated[
        str | None,
        typer.Option(
            "--listen",
            metavar="ADRES",
            help="Adres waarop de webhook luistert, bijvoorbeeld 127.0.0.1 achter een proxy op dezelfde machine "
            "(standaard KOMPAS_TELEGRAM_WEBHOOK_LISTEN, anders 0.0.0.0).",
        ),
    ] = None,
    alle_berichten: Annotated[
        bool | None,
        typer.Option(
            "--alle-berichten/--alleen-antwoorden",
            help="Tellen in groepen ook gewone berichten als antwoord (bot moet alles kunnen lezen)?",
        ),
    ] = None,
) -> None:
    """Start de Telegram-bot met TELEGRAM_BOT_TOKEN."""
    from bot.telegram.settings import TelegramConfigError

    try:
        run(_telegram(webhook, port, alle_berichten, listen))
    except TelegramConfigError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from None


async def _telegram(webhook: str | None, port: int, alle_berichten: bool | None, listen: str | None = None) -> None:
    import signal

    from bot.process_lock import hold_bot_lock
    from bot.telegram.runner import TelegramBot
    from bot.telegram.settings import TelegramOptions

    logging.getLogger("bot.telegram").setLevel(logging.INFO)
    options = TelegramOptions() if alle_berichten is None else TelegramOptions(all_messages=alle_berichten)
    settings = Settings()
    # One bot per SQLite file: refused here, before meeting Telegram or touching the outbox.
    with hold_bot_lock(settings.effective_database_url):
        bot = await TelegramBot.open(settings, options)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        err.print(f"Kompasbot @{bot.username} draait. Stoppen: Ctrl-C.", markup=False)
        try:
            if webhook:
                await bot.run_webhook(webhook, port, stop, listen=listen)
            else:
                await bot.run_polling(stop)
        finally:
            await bot.close()


meting_app = typer.Typer(
    cls=DutchGroup,
    options_metavar="[OPTIES]",
    help="Metingen van de indicatoren van een kompas: toevoegen, inlezen uit CSV, bekijken.",
    no_args_is_help=True,
)
Compass = Annotated[str, typer.Argument(metavar="KOMPAS", help="Het kompas: chat/naam, de naam of het begin ervan.")]


async def _with_session(name: str, change: Callable[[Flow, Session], str]) -> str:
    """Load a compass, let `change` work on it, store it if it changed; its result is what to print."""
    settings = Settings()
    settings.ensure_home()
    flow = load_flow(settings.effective_flows_dir / "kompas.yaml")
    store = await Store.open(settings.effective_database_url)
    try:
        found = await store.find_session(name)
        if found is None:
            raise StoreError(f"Geen kompas gevonden met de naam '{name}'. Bekijk ze met: kompas sessies")
        chat = await store.load_chat(found.chat_id)
        assert chat is not None
        session = chat.sessions[found.id]
        before = session.model_dump_json()
        message = change(flow, session)
        if session.model_dump_json() != before:
            await store.save_chat(chat)
        return message
    finally:
        await store.close()


def _run_on_session(name: str, change: Callable[[Flow, Session], str]) -> None:
    try:
        message = asyncio.run(_with_session(name, change))
    except (MeasureError, FlowError, StoreError) as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    Console(highlight=False, soft_wrap=True).print(message, markup=False)


@meting_app.command("toevoegen", cls=DutchCommand, options_metavar="[OPTIES]")
def meting_toevoegen(
    sessie: Compass,
    indicator: Annotated[
        str, typer.Option("--indicator", metavar="NUMMER", help="Zoals /overzicht het toont, bv. I1.")
    ],
    waarde: Annotated[str, typer.Option("--waarde", metavar="WAARDE", help='Bijvoorbeeld "14,5%" of "1.200".')],
    eenheid: Annotated[str, typer.Option("--eenheid", metavar="EENHEID", help="Bijvoorbeeld % of huishoudens.")] = "",
    datum: Annotated[str, typer.Option("--datum", metavar="PERIODE", help='"2026", "2026-09" of "najaar 2026".')] = str(
        date.today().year
    ),
    bron: Annotated[str, typer.Option("--bron", metavar="BRON", help="Waar het cijfer vandaan komt.")] = "",
) -> None:
    """Voeg één meting toe aan een indicator."""

    def add(flow: Flow, session: Session) -> str:
        quantity = parse_number(waarde)
        refs = compile_document(session, flow).indicator_refs()
        target = resolve_indicator(indicator, refs)
        measurement = Measurement(
            indicator=target.code,
            indicator_id=target.id,
            period=parse_period(datum).canonical,
            value=quantity.value,
            unit=eenheid or quantity.unit,
            source=bron,
            entered_by="cli",
            entered_at=datetime.now(UTC),
        )
        session.measurements.append(measurement)
        return (
            f"Bewaard: {target.code} {format_value(measurement.value, measurement.unit)} in {measurement.when.label}."
        )

    _run_on_session(sessie, add)


@meting_app.command("importeer", cls=DutchCommand, options_metavar="[OPTIES]")
def meting_importeer(
    sessie: Compass,
    bestand: Annotated[Path, typer.Argument(metavar="BESTAND", help="CSV: indicator,datum,waarde,eenheid,bron")],
) -> None:
    """Lees metingen in uit een CSV-bestand; met een fout erin wordt niets ingelezen."""
    try:
        text = bestand.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        err.print(f"Kan {bestand} niet lezen ({exc.__class__.__name__}).", markup=False)
        raise typer.Exit(2) from None

    def load(flow: Flow, session: Session) -> str:
        refs = compile_document(session, flow).indicator_refs()
        result = import_csv(text, indicator_checker(refs))
        if not result.ok:
            raise MeasureError("Er is niets ingelezen:\n" + "\n".join(result.errors))
        now = datetime.now(UTC)
        for row in result.rows:
            target = resolve_indicator(row.indicator, refs)
            session.measurements.append(
                row.measurement(indicator_id=target.id, entered_by="cli", entered_at=now).model_copy(
                    update={"indicator": target.code}
                )
            )
        return f"Ingelezen: {len(result.rows)} metingen."

    _run_on_session(sessie, load)


@meting_app.command("lijst", cls=DutchCommand, options_metavar="[OPTIES]")
def meting_lijst(sessie: Compass) -> None:
    """Toon per indicator de metingen en waar hij staat tegen het doel."""

    def show(flow: Flow, session: Session) -> str:
        lines = compile_document(session, flow).recognise_lines()
        return "\n".join(lines) if lines else "Dit kompas heeft nog geen indicatoren."

    _run_on_session(sessie, show)


@app.command(cls=DutchCommand, options_metavar="[OPTIES]")
def ronde(sessie: Compass) -> None:
    """Begin een nieuwe ronde van een kompas: stap 0-5 blijven staan, de metingen lopen door."""

    def next_round(flow: Flow, session: Session) -> str:
        improvements = new_round(flow, session, datetime.now(UTC), "cli")
        return f"Ronde {session.round} is begonnen, met {len(improvements)} verbeteringen uit de vorige ronde."

    _run_on_session(sessie, next_round)


app.command("watwerkt", cls=DutchCommand, options_metavar="[OPTIES]")(watwerkt)
app.add_typer(meting_app, name="meting")
app.add_typer(kennis_app, name="kennis")


def main() -> None:
    from typer._click.exceptions import UsageError

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        code = app(standalone_mode=False)  # returns the code of `typer.Exit` instead of exiting
    except UsageError as exc:
        command = exc.ctx.command_path if exc.ctx is not None else "kompas"
        err.print(f"{usage_problem(exc)} Typ '{command} --help' voor uitleg.", markup=False)
        sys.exit(2)
    except SystemExit:
        raise
    except Exception as exc:
        logging.getLogger("kompas").debug("onverwachte fout", exc_info=True)
        err.print(f"Er ging iets mis ({exc.__class__.__name__}). Er is niets verloren gegaan.", markup=False)
        sys.exit(1)
    if isinstance(code, int) and code:
        sys.exit(code)
