"""The Chroma server of a deployment: its address (`KOMPAS_CHROMA_URL`) and collection name, checked in Dutch."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

_DEPLOYMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{1,40}[A-Za-z0-9]$")


class ChromaConfigError(ValueError):
    """KOMPAS_CHROMA_URL or KOMPAS_CHROMA_COLLECTION is wrong, or the server is not reachable (Dutch message)."""


def check_deployment_name(name: str) -> str:
    """A valid ``KOMPAS_CHROMA_COLLECTION``: 3-42 letters, digits, ``-`` or ``_``, starting and ending alphanumeric."""
    value = name.strip()
    if not _DEPLOYMENT_NAME.match(value):
        raise ChromaConfigError(
            f"KOMPAS_CHROMA_COLLECTION '{value}' kan geen naam voor Chroma-collecties zijn: gebruik 3 tot 42 letters, "
            "cijfers, '-' of '_', en begin en eindig met een letter of cijfer (bijvoorbeeld kompas-lelystad)."
        )
    return value


def chroma_endpoint(url: str) -> tuple[str, int, bool]:
    """(host, port, ssl) of ``KOMPAS_CHROMA_URL``; a Dutch `ChromaConfigError` if it is not an http(s) URL."""
    value = url.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ChromaConfigError(
            f"KOMPAS_CHROMA_URL '{value}' is geen bruikbaar adres: schrijf het met http:// of https:// ervoor, "
            "bijvoorbeeld http://localhost:8000 (de poort van 'chroma run')."
        )
    try:
        port = parts.port or (443 if parts.scheme == "https" else 8000)
    except ValueError:
        raise ChromaConfigError(f"KOMPAS_CHROMA_URL '{value}' heeft geen geldige poort.") from None
    return parts.hostname, port, parts.scheme == "https"


def connect_chroma(url: str) -> Any:
    """An `HttpClient` for ``KOMPAS_CHROMA_URL`` that has answered a heartbeat.

    Called when the index is opened and at the start of `kompas telegram`, so a wrong address or a
    server that is down is said in plain Dutch instead of silently searching on words only."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    host, port, ssl = chroma_endpoint(url)
    shown = f"{'https' if ssl else 'http'}://{host}:{port}"
    try:
        client = chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=ChromaSettings(anonymized_telemetry=False))
        client.heartbeat()
    except Exception as exc:
        raise ChromaConfigError(
            f"Ik kan de Chroma-server op {shown} (KOMPAS_CHROMA_URL) niet bereiken ({exc.__class__.__name__}). "
            "Draait 'chroma run' daar, en klopt het adres? Zonder KOMPAS_CHROMA_URL gebruikt de bot een eigen "
            "index in KOMPAS_HOME."
        ) from None
    return client
