"""How a turn's cost grows with the compass: p50/p95 of one answer at 50, 500 and 2,000 contributions.

Each turn is the real loop through the service (cache, engine in its thread, group commit to SQLite).

    python bench/bench_turn_size.py [--sizes 50,500,2000] [--turns 100]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path


async def measure(size: int, turns: int) -> tuple[float, float]:
    from bot.compass import Contribution
    from bot.engine import Engine
    from bot.events import Actor, Text
    from bot.flows import load_flow, load_texts
    from bot.service import KompasService
    from bot.store import Store

    folder = Path(tempfile.mkdtemp(prefix="kompas-bench-size-"))
    store = await Store.open(f"sqlite+aiosqlite:///{folder / 'kompas.db'}")
    service = KompasService(Engine(load_flow(), load_texts()), store)
    at = datetime(2026, 12, 1, tzinfo=UTC)
    actor = Actor("p", "Deelnemer")
    await service.handle("-1", Text(actor, "/kompas eenzaamheid", at), is_group=True)
    await service.handle("-1", Text(actor, "/volgende", at), is_group=True)
    chat = await service.load("-1")
    assert chat.session is not None
    session = chat.session
    for n in range(size):  # a compass that already holds `size` answers
        session.contributions.append(
            Contribution(id=session.next_id, question="signalen", text=f"Signaal {n} " * 8, author_id="p", at=at)
        )
        session.next_id += 1
    await store.save_chat(chat)
    service.forget_cached("-1")
    latencies = []
    for n in range(turns):
        at += timedelta(seconds=1)
        started = time.perf_counter()
        await service.handle("-1", Text(actor, f"Nog een signaal {n}", at), is_group=True)
        latencies.append(time.perf_counter() - started)
    service.close()
    await store.close()
    ordered = sorted(latencies)
    return 1000 * statistics.median(ordered), 1000 * ordered[int(0.95 * (len(ordered) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="50,500,2000")
    parser.add_argument("--turns", type=int, default=100)
    args = parser.parse_args()
    print("| contributions in the compass | turn p50 ms | turn p95 ms |")
    print("|---|---|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        p50, p95 = asyncio.run(measure(size, args.turns))
        print(f"| {size} | {p50:.1f} | {p95:.1f} |")


if __name__ == "__main__":
    main()
