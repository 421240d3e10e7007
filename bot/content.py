"""Locate the editable content folders (`flows/`, `knowledge/`, `prompts/`).

In a source checkout (or an editable install) they sit beside the `bot` package; a wheel
ships them inside the package as `bot/_content/<name>`.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def content_dir(name: str) -> Path:
    bundled = _PACKAGE_DIR / "_content" / name
    if bundled.is_dir():
        return bundled
    return _PACKAGE_DIR.parent / name
