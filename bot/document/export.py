"""Turning a compass into files: one entry point for every transport and for the command line.

`render_export` is transport-neutral: it returns the bytes and a file name, and the Telegram
transport sends those with sendDocument / sendPhoto. `console_exporter` writes the files for
`kompas chat`; `export_session` backs `kompas export`.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, cast, get_args

from bot.compass import Chat, Session, slugify
from bot.config import Settings, private_dir, write_private_file
from bot.console import Exporter
from bot.document.model import CompassDocument, compile_document
from bot.document.outline import local
from bot.events import Reply
from bot.flows import Flow, load_flow
from bot.store import SessionSummary, Store

log = logging.getLogger(__name__)

ExportFormat = Literal["pdf", "docx", "md", "json", "png"]
FORMATS: tuple[str, ...] = get_args(ExportFormat)
MEDIA_TYPES: dict[str, str] = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "md": "text/markdown; charset=utf-8",
    "json": "application/json",
    "png": "image/png",
}


class ExportError(Exception):
    """The export cannot be made; the message is meant for the user, in Dutch."""


@dataclass(frozen=True)
class ExportFile:
    filename: str
    data: bytes
    media_type: str


def export_format(name: str) -> ExportFormat:
    """A format name checked against `FORMATS`, or an `ExportError` in Dutch."""
    if name not in FORMATS:
        raise ExportError(f"Onbekend formaat '{name}'. Kies uit: {', '.join(FORMATS)}.")
    return cast(ExportFormat, name)


def export_filename(document: CompassDocument, fmt: str) -> str:
    """'<session id>-<yyyy-mm-dd>.<ext>', dated by the export."""
    return f"{document.session_id}-{local(document.dates.exported).date().isoformat()}.{fmt}"


def render_export(
    source: CompassDocument | Session,
    fmt: ExportFormat,
    *,
    flow: Flow | None = None,
    pseudonymise: bool = False,
    exported_at: datetime | None = None,
) -> ExportFile:
    """One compass in one format, as bytes with a file name and media type.

    A session is compiled first, with `flow` (or the default flow), `pseudonymise` and `exported_at`;
    a `CompassDocument` is rendered as it is. CPU-bound (up to a second or two for a big compass):
    async callers should run it in a thread. An unknown format raises `ExportError`.
    """
    fmt = export_format(fmt)
    if isinstance(source, Session):
        document = compile_document(source, flow or load_flow(), pseudonymise=pseudonymise, exported_at=exported_at)
    else:
        document = source
    # The renderers import reportlab, python-docx and matplotlib; load them only when needed.
    if fmt == "pdf":
        from bot.document.pdf import render_pdf

        data = render_pdf(document)
    elif fmt == "docx":
        from bot.document.word import render_docx

        data = render_docx(document)
    elif fmt == "md":
        from bot.document.markdown import render_markdown

        data = render_markdown(document).encode("utf-8")
    elif fmt == "json":
        data = document.model_dump_json(indent=2).encode("utf-8")
    else:
        from bot.document.picture import render_png

        data = render_png(document)
    return ExportFile(export_filename(document, fmt), data, MEDIA_TYPES[fmt])


def render_reply_exports(chat: Chat, formats: tuple[str, ...], flow: Flow) -> list[ExportFile]:
    """The files a `Reply.export` asks for, for the chat's active compass (none without one)."""
    session = chat.session
    if session is None:
        return []
    document = compile_document(session, flow, exported_at=datetime.now(UTC))
    return [render_export(document, export_format(fmt)) for fmt in formats]


def console_exporter(settings: Settings, flow: Flow) -> Exporter:
    """The exporter for `ConsoleChat`: writes the files under <home>/exports and returns their paths."""

    async def export(chat: Chat, reply: Reply) -> list[str]:
        try:
            files = await asyncio.to_thread(render_reply_exports, chat, reply.export, flow)
            private_dir(settings.home)
            folder = private_dir(settings.exports_dir)
            paths = []
            for file in files:
                path = folder / file.filename
                write_private_file(path, file.data)  # 0600: an export holds names and answers
                paths.append(str(path))
            return paths
        except Exception as exc:  # a failed export must not end the chat
            log.warning("Het document maken lukte niet (%s). Het kompas zelf is bewaard.", exc.__class__.__name__)
            log.debug("export mislukt", exc_info=True)
            return []

    return export


async def export_session(
    settings: Settings, name: str, fmt: str, output: Path | None = None, *, pseudonymise: bool = False
) -> Path:
    """`kompas export`: find the compass, render it, write it (0600); returns the file written."""
    checked = export_format(fmt)
    flow = load_flow(settings.effective_flows_dir / "kompas.yaml")
    settings.ensure_home()
    target = _check_target(output)
    store = await Store.open(settings.effective_database_url)
    try:
        found = await _find_session(store, name)
    finally:
        await store.close()
    file = await asyncio.to_thread(render_export, found.session, checked, flow=flow, pseudonymise=pseudonymise)
    target = target or Path(file.filename)
    if target.is_dir():
        target = target / file.filename
    try:
        write_private_file(target, file.data)  # 0600: an export holds names and answers
    except FileNotFoundError:
        raise ExportError(f"Kan {target} niet schrijven: de map {target.parent} bestaat niet.") from None
    except PermissionError:
        raise ExportError(f"Kan {target} niet schrijven: geen toestemming.") from None
    except IsADirectoryError:
        raise ExportError(f"Kan {target} niet schrijven: dat is een map.") from None
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise ExportError(_name_too_long(target)) from None
        if exc.errno == errno.ENOSPC:
            raise ExportError(f"Kan {target} niet schrijven: de schijf is vol.") from None
        raise ExportError(f"Kan {target} niet schrijven ({exc.__class__.__name__}).") from None
    return target


MAX_NAME_BYTES = 255
"""The longest file name (one path component, in bytes) common file systems accept."""


def _check_target(output: Path | None) -> Path | None:
    """Refuse an `-o` whose file or folder names are too long before anything is rendered."""
    if output is None:
        return None
    for part in output.parts:
        if len(os.fsencode(part)) > MAX_NAME_BYTES:
            raise ExportError(_name_too_long(output, part))
    return output


def _name_too_long(target: Path, part: str | None = None) -> str:
    part = part or target.name
    shown = part if len(part) <= 40 else part[:30] + "…" + part[-8:]
    return (
        f"Kan '{shown}' niet schrijven: de bestandsnaam is te lang ({len(part)} tekens; "
        f"maximaal {MAX_NAME_BYTES} bytes). Kies een kortere naam met -o."
    )


async def _find_session(store: Store, name: str) -> SessionSummary:
    """By `chat/naam`, the name or the issue as typed; also an issue that itself contains a "/"."""
    found = await store.find_session(name)
    if found is not None:
        return found
    summaries = await store.list_sessions()
    if not summaries:
        raise ExportError(f"Kompas '{name}' niet gevonden. Er zijn nog geen kompassen.")
    wanted = " ".join(name.split()).casefold()
    matches = [s for s in summaries if " ".join(s.vraagstuk.split()).casefold() == wanted]
    if not matches:
        matches = [s for s in summaries if s.id == slugify(name)]
    if len(matches) == 1:
        return matches[0]
    listed = matches or summaries
    available = "\n".join(f"  {s.chat_id}/{s.id}  ({s.vraagstuk})" for s in listed)
    if matches:
        raise ExportError(f"Er zijn meer kompassen met de naam '{name}'. Kies er een met chat/naam:\n{available}")
    raise ExportError(f"Kompas '{name}' niet gevonden. Deze kompassen zijn er:\n{available}")
