"""A large group entering items at the same time: answers lost, fields misattributed, turn latency.

30 participants each enter 5 activities with all their fields; their messages interleave in a
random (seeded) order, each person's own messages staying in their order. Every turn runs the real
loop a transport runs: load the chat from SQLite, run the engine, store the chat.

    python bench/bench_group.py                  # this checkout
    python bench/bench_group.py --compare REV    # and the same scenario on revision REV, in one run

`--compare` checks REV out in a temporary git worktree and runs this same scenario there, so both
figures come from the same machine and moment. Only the engine's and store's public API is used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIELDS = ("wie", "vorm", "bestaand", "resultaat", "verwachting")


def script(person: int, item: int) -> list[str]:
    """One activity and the answers to its follow-up questions, in the order the flow asks them."""
    return [
        f"Activiteit {person}-{item}",
        f"Uitvoerder {person}-{item}",
        "formeel" if (person + item) % 2 else "informeel",
        "nieuw" if (person + item) % 3 else "bestaand",
        f"Resultaat {person}-{item}",
        f"als uitvoerder {person}-{item} dit doet dan gaat het beter",
    ]


async def measure(people: int, items: int, seed: int) -> dict[str, float]:
    from bot.compass import Chat
    from bot.engine import Engine
    from bot.events import Actor, Text
    from bot.flows import load_flow, load_texts
    from bot.store import Store

    flow = load_flow()
    engine = Engine(flow, load_texts())
    folder = Path(tempfile.mkdtemp(prefix="kompas-bench-group-"))
    store = await Store.open(f"sqlite+aiosqlite:///{folder / 'kompas.db'}")
    at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    latencies: list[float] = []

    async def turn(actor: Actor, text: str) -> None:
        nonlocal at
        at += timedelta(seconds=1)
        started = time.perf_counter()
        chat = await store.load_chat("-1") or Chat(id="-1", is_group=True)
        outcome = engine.handle(chat, Text(actor=actor, text=text, at=at, ref=str(len(latencies))))
        if outcome.changed:
            await store.save_chat(outcome.chat)
        latencies.append(time.perf_counter() - started)

    facilitator = Actor("f", "Facilitator")
    await turn(facilitator, "/kompas eenzaamheid")
    await turn(facilitator, "/stap 3")
    actors = [Actor(f"p{n}", f"Deelnemer {n}") for n in range(people)]
    queues = {n: [line for i in range(items) for line in script(n, i)] for n in range(people)}
    rng = random.Random(seed)
    while any(queues.values()):
        person = rng.choice([n for n, queue in queues.items() if queue])
        await turn(actors[person], queues[person].pop(0))
    chat = await store.load_chat("-1")
    await store.close()
    assert chat is not None and chat.session is not None
    session = chat.session

    sent = people * items * (1 + len(FIELDS))
    kept: set[tuple[str, str]] = set()  # (author, text) of everything stored, wherever it landed
    misattributed = 0
    for contribution in session.contributions:
        if contribution.removed:
            continue
        kept.add((contribution.author_id, contribution.text))
        for value in contribution.fields.values():
            if isinstance(value, str):
                kept.add((contribution.author_id, value))
                owner = value.split(" ")[1] if value.startswith(("Uitvoerder", "Resultaat")) else None
                if owner is not None and f"p{owner.split('-')[0]}" != contribution.author_id:
                    misattributed += 1
        for note in getattr(contribution, "notes", []):
            kept.add((contribution.author_id, note))
    distinct_texts = {(f"p{n}", line) for n in range(people) for i in range(items) for line in script(n, i)}
    choices = {"formeel", "informeel", "nieuw", "bestaand"}
    # A choice word is the same text for many items: count it as kept when the item holds it.
    lost = sum(1 for author, text in distinct_texts if text not in choices and (author, text) not in kept)
    complete = sum(
        1
        for c in session.live("activiteiten")
        if all(c.fields.get(key) for key in FIELDS) and c.text.startswith("Activiteit")
    )
    ordered = sorted(latencies)
    return {
        "sent": float(sent),
        "items expected": float(people * items),
        "items complete": float(complete),
        "answers lost": float(lost),
        "fields misattributed": float(misattributed),
        "turn p50 ms": 1000 * statistics.median(ordered),
        "turn p95 ms": 1000 * ordered[int(0.95 * (len(ordered) - 1))],
    }


def compare(revision: str, args: argparse.Namespace) -> dict[str, float]:
    """The same scenario on another revision, checked out in a temporary worktree."""
    worktree = Path(tempfile.mkdtemp(prefix="kompas-bench-rev-")) / "tree"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(worktree), revision], check=True)
    try:
        env = {**os.environ, "PYTHONPATH": str(worktree)}
        result = subprocess.run(
            [
                sys.executable,
                __file__,
                "--json",
                "--people",
                str(args.people),
                "--items",
                str(args.items),
                "--seed",
                str(args.seed),
            ],
            cwd=worktree,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(worktree)], check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=30)
    parser.add_argument("--items", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--compare", metavar="REV", help="also run the scenario on this git revision")
    parser.add_argument("--json", action="store_true", help="print one JSON line (used by --compare)")
    args = parser.parse_args()
    figures = asyncio.run(measure(args.people, args.items, args.seed))
    if args.json:
        print(json.dumps(figures))
        return
    columns = {"this checkout": figures}
    if args.compare:
        columns[args.compare] = compare(args.compare, args)
    print(f"{args.people} participants × {args.items} activities with {len(FIELDS)} fields each, seed {args.seed}")
    print(f"| figure | {' | '.join(columns)} |")
    print(f"|---|{'---|' * len(columns)}")
    for key in figures:
        cells = " | ".join(f"{column[key]:.1f}" if "ms" in key else f"{column[key]:.0f}" for column in columns.values())
        print(f"| {key} | {cells} |")


if __name__ == "__main__":
    main()
