"""One bot process per SQLite file: an OS file lock on `<database>.lock`, held while the bot runs.

SQLite is one file on one machine; two bots on it would each keep their own view of a chat and
overwrite each other's turns. So `kompas telegram` holds an exclusive, non-blocking `flock` on
`<database>.lock` for as long as it runs; a second one on the same file is refused with a Dutch
message. Commands that only read or do one thing beside it (`kompas export`, `kompas sessies`,
`kompas chat` on its own chat) do not take the lock and keep working.

The OS drops the lock when the process ends, also after a crash or SIGKILL: there is no stale
lock to clean up. Within one process the lock is re-entrant (the CLI takes it before it opens the
bot, the runner again while it polls or serves). On Windows there is no `fcntl`: it is not checked.
PostgreSQL (or any non-file database) is not locked here: several processes are its scale-out mode.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from sqlalchemy.engine import make_url

from bot.store import StoreError

log = logging.getLogger(__name__)

LOCK_SUFFIX = ".lock"


class ProcessLockError(StoreError):
    """Another process holds the bot lock of this database; the message is meant for the operator."""


def sqlite_file(database_url: str) -> Path | None:
    """The SQLite file of a database URL; None for other databases, in-memory SQLite or a bad URL."""
    try:
        parsed = make_url(database_url)
    except Exception:
        return None
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    if parsed.database.startswith("file:"):  # a URI filename: not worth guessing its path
        return None
    return Path(parsed.database).expanduser().resolve()


def lock_path(database: Path) -> Path:
    """`kompas.db` -> `kompas.db.lock` (next to the database, so every process finds the same one)."""
    return database.with_name(database.name + LOCK_SUFFIX)


# Locks this process holds: lock file -> (open file, how many holders).
_held: dict[Path, tuple[IO[str], int]] = {}


@contextlib.contextmanager
def hold_bot_lock(database_url: str) -> Iterator[Path | None]:
    """Hold the bot lock of `database_url` (a SQLite file) for the duration of the block.

    Yields the lock file, or None when nothing is locked (not SQLite, or Windows). Raises
    `ProcessLockError` at once, without waiting, when another process holds it.
    """
    database = sqlite_file(database_url)
    if database is None:
        yield None
        return
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        log.warning(
            "Op Windows wordt niet gecontroleerd of er al een bot op %s draait. Start er maar één tegelijk.", database
        )
        yield None
        return
    path = lock_path(database)
    if path in _held:
        handle, users = _held[path]
        _held[path] = (handle, users + 1)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip()
            handle.close()
            who = f" (proces {holder})" if holder.isdigit() else ""
            raise ProcessLockError(
                f"Er draait al een Kompasbot op de database {database}{who}. Per SQLite-bestand mag maar één bot "
                "tegelijk draaien: stop die eerst. Meer bots tegelijk kan met PostgreSQL (KOMPAS_DATABASE_URL) en "
                "webhooks (kompas telegram --webhook). Commando's als 'kompas export' en 'kompas sessies' werken "
                "gewoon naast de bot."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        _held[path] = (handle, 1)
    try:
        yield path
    finally:
        handle, users = _held[path]
        if users > 1:
            _held[path] = (handle, users - 1)
        else:
            del _held[path]
            with contextlib.suppress(OSError):
                handle.seek(0)
                handle.truncate()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            handle.close()
