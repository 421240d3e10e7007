"""The `kompas` command line: wiring only; the work happens in the modules it calls."""

from __future__ import annotations

import asyncio
import getpass
import logging
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from bot.app import open_kompas
from bot.coach import load_coach
from bot.config import Settings
from bot.console import ConsoleChat, stdin_lines
from bot.content import content_dir
from bot.document.export import FORMATS, ExportError, console_exporter, export_session
from bot.dutch_cli import DutchCommand, DutchGroup, usage_problem
from bot.engine import progress
from bot.events import Actor
from bot.flows import FlowError, check_examples, load_flow, load_texts, load_themes
from bot.knowledge.commands import kennis_app, watwerkt
from bot.knowledge.corpus import CorpusError, load_corpus
from bot.llm import load_prompts
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
    kompas = await open_kompas(Settings())
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
        kompas.service.close()
        await kompas.store.close()


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


app.command("watwerkt", cls=DutchCommand, options_metavar="[OPTIES]")(watwerkt)
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
