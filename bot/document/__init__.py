"""The compass document: the structured model and its exports (PDF, Word, Markdown, JSON, PNG)."""

from bot.document.export import (
    FORMATS,
    ExportError,
    ExportFile,
    ExportFormat,
    console_exporter,
    export_session,
    render_export,
    render_reply_exports,
)
from bot.document.model import CompassDocument, compile_document, document_schema

__all__ = [
    "FORMATS",
    "CompassDocument",
    "ExportError",
    "ExportFile",
    "ExportFormat",
    "compile_document",
    "console_exporter",
    "document_schema",
    "export_session",
    "render_export",
    "render_reply_exports",
]
