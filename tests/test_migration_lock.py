"""Several processes start at once on one PostgreSQL database: the schema upgrade runs under an
advisory lock, so exactly one process migrates and the others wait for it and find the head.

Runs only when KOMPAS_TEST_DATABASE_URL is set (see .ci/run), on a fresh database per test.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bot.store import Store, head_revision

from .test_migrations import old_database, schema_of

# Each process imports everything first, says "klaar", waits for the go file, then opens the store:
# so the three really race on the upgrade instead of on Python's start-up.
OPENER = """
import asyncio, os, sys, time
from bot.store import Store

async def main(url, go):
    print("klaar", flush=True)
    while not os.path.exists(go):
        time.sleep(0.005)
    store = await Store.open(url)
    await store.list_sessions()
    await store.close()
    print("open", flush=True)

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def _start_together(url: str, go: Path, count: int = 3) -> list[tuple[int, str]]:
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            OPENER,
            url,
            str(go),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(count)
    ]
    for process in processes:
        assert process.stdout is not None
        assert (await process.stdout.readline()).strip() == b"klaar"
    go.touch()
    results = []
    for process in processes:
        out, err = await process.communicate()
        results.append((process.returncode or 0, (out + err).decode()))
    return results


async def test_three_processes_start_at_once_on_a_fresh_database(postgres_url: str, tmp_path: Path) -> None:
    for round_ in range(2):  # the second round: all three find the head without migrating
        results = await _start_together(postgres_url, tmp_path / f"go{round_}")
        assert [code for code, _ in results] == [0, 0, 0], results
        assert all(output.strip().endswith("open") for _, output in results)
        version, tables = await schema_of(postgres_url)
        assert version == head_revision()
        assert {"chats", "sessions", "processed_events", "polls", "outbox"} <= tables


async def test_three_processes_start_at_once_on_an_older_database(postgres_url: str, tmp_path: Path) -> None:
    await old_database(postgres_url, "0001")
    results = await _start_together(postgres_url, tmp_path / "go")
    assert [code for code, _ in results] == [0, 0, 0], results
    version, _ = await schema_of(postgres_url)
    assert version == head_revision()
    store = await Store.open(postgres_url)
    try:
        chat = await store.load_chat("-100")
        assert chat is not None and chat.session is not None
        assert [c.text for c in chat.session.contributions] == ["Niemand om mee te praten"]
    finally:
        await store.close()


async def test_concurrent_opens_in_one_process_on_a_fresh_database(postgres_url: str) -> None:
    stores = await asyncio.gather(*(Store.open(postgres_url) for _ in range(4)))
    try:
        assert all([await s.list_sessions() == [] for s in stores])
    finally:
        for store in stores:
            await store.close()
    version, _ = await schema_of(postgres_url)
    assert version == head_revision()
