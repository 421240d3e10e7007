"""Benchmark of the Telegram transport against the local Bot API server of the tests.

Runs the real `kompas telegram` process (long polling, rate limiter off) against
`tests/telegram_fake.py` and measures, at the server, the time from queuing an update to the
bot's first answer to it (reaction or message):

1. latency at light load: answer turns in a group (a reply to the open question; the bot reacts
   with ✍) and /watwerkt turns (a search in the real wat-werkt index);
2. throughput with many concurrent group chats (default 500), each answering in a closed loop,
   then a check for cross-talk: every chat holds exactly its own answers, and every reaction
   went to a message of that chat.

    python bench/bench_telegram.py                 # defaults: 500 chats x 10 answers
    python bench/bench_telegram.py --chats 100 --answers 5 --latency-turns 100

The wat-werkt index is built once in --home (a few minutes the first time) and reused.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.telegram_fake import TOKEN, Call, FakeBotApi, group, user  # noqa: E402

REPLY_METHODS = frozenset({"sendMessage", "setMessageReaction", "sendPoll", "sendDocument", "sendPhoto"})
WATWERKT = [
    "eenzaamheid onder ouderen in de wijk",
    "schulden bij jongeren voorkomen",
    "mantelzorgers ondersteunen",
    "werkzame factoren bij armoede",
    "meetinstrument voor zelfredzaamheid",
]


class Probe:
    """Resolves a future when the bot first answers in a chat after an update was queued."""

    def __init__(self, api: FakeBotApi) -> None:
        self.waiting: dict[int, tuple[float, asyncio.Future[float]]] = {}
        self.sends = 0
        self.reactions: dict[int, list[int]] = defaultdict(list)
        api.on_call = self._seen

    def _seen(self, call: Call) -> None:
        if call.method not in REPLY_METHODS:
            return
        self.sends += 1
        chat_id = call.chat_id
        assert chat_id is not None
        if call.method == "setMessageReaction":
            self.reactions[chat_id].append(int(call.params["message_id"]))
        pending = self.waiting.pop(chat_id, None)
        if pending is not None and not pending[1].done():
            pending[1].set_result(time.perf_counter() - pending[0])

    async def turn(self, api: FakeBotApi, chat: dict[str, Any], push: Any) -> float:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting[chat["id"]] = (time.perf_counter(), future)
        push()
        return await asyncio.wait_for(future, 60)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms(value: float) -> str:
    return f"{value * 1000:.1f} ms"


async def settle(api: FakeBotApi) -> None:
    """Until the bot confirmed every queued update."""
    if api.history:
        await api.wait_confirmed(max(api.history), timeout=120)


async def start_compass(api: FakeBotApi, probe: Probe, chat: dict[str, Any], person: dict[str, Any]) -> None:
    api.owners[chat["id"]] = person["id"]
    await probe.turn(api, chat, lambda: api.text(chat, person, f"/kompas vraagstuk {abs(chat['id'])}"))
    await settle(api)


async def latency(api: FakeBotApi, probe: Probe, turns: int) -> dict[str, list[float]]:
    chat, person = group(-7_000_001, "Latentie"), user(7001, "Lotte")
    await start_compass(api, probe, chat, person)
    answers = []
    for n in range(turns):
        answers.append(await probe.turn(api, chat, lambda n=n: api.reply(chat, person, f"antwoord {n} van Lotte")))
    await settle(api)
    await probe.turn(api, chat, lambda: api.text(chat, person, "/watwerkt eenzaamheid"))  # warm the index
    searches = []
    for n in range(max(10, turns // 4)):
        query = WATWERKT[n % len(WATWERKT)]
        searches.append(await probe.turn(api, chat, lambda q=query: api.text(chat, person, f"/watwerkt {q}")))
    return {"answer": answers, "watwerkt": searches}


async def throughput(api: FakeBotApi, probe: Probe, chats: int, answers: int) -> dict[str, Any]:
    rooms = [(group(-8_000_000 - n, f"Groep {n}"), user(900_000 + n, f"Deelnemer{n}")) for n in range(chats)]
    await asyncio.gather(*(start_compass(api, probe, chat, person) for chat, person in rooms))
    for chat, _ in rooms:
        probe.reactions.pop(chat["id"], None)
    latencies: list[float] = []
    sends_before = probe.sends

    async def drive(chat: dict[str, Any], person: dict[str, Any]) -> None:
        for n in range(answers):
            text = f"antwoord {n} uit chat {chat['id']}"
            latencies.append(await probe.turn(api, chat, lambda t=text: api.reply(chat, person, t)))

    started = time.perf_counter()
    await asyncio.gather(*(drive(chat, person) for chat, person in rooms))
    elapsed = time.perf_counter() - started
    await settle(api)
    return {
        "rooms": rooms,
        "turns": chats * answers,
        "elapsed": elapsed,
        "sends": probe.sends - sends_before,
        "latencies": latencies,
    }


async def cross_talk(api: FakeBotApi, probe: Probe, database: str, rooms: list[Any], answers: int) -> list[str]:
    from bot.store import Store

    problems = []
    owners: dict[int, set[int]] = defaultdict(set)
    for (cid, mid), message in api.messages.items():
        if not message["from"].get("is_bot"):
            owners[cid].add(mid)
    store = await Store.open(database)
    try:
        for chat, person in rooms:
            state = await store.load_chat(str(chat["id"]))
            session = state.session if state else None
            if session is None:
                problems.append(f"{chat['id']}: geen kompas")
                continue
            texts = [c.text for c in session.contributions]
            expected = [f"antwoord {n} uit chat {chat['id']}" for n in range(answers)]
            if texts != expected:
                problems.append(f"{chat['id']}: {len(texts)} bijdragen, verwacht {answers} eigen")
            if {c.author_id for c in session.contributions} != {str(person["id"])}:
                problems.append(f"{chat['id']}: bijdragen van een ander")
            own = owners.get(chat["id"], set())
            reacted = probe.reactions.get(chat["id"], [])
            if len(reacted) != answers or not set(reacted) <= own:
                problems.append(f"{chat['id']}: {len(reacted)} reacties, niet allemaal op eigen berichten")
    finally:
        await store.close()
    return problems


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def prepare_index(home: Path) -> None:
    os.environ["KOMPAS_HOME"] = str(home)
    from bot.config import Settings
    from bot.knowledge.retriever import open_knowledge

    started = time.perf_counter()
    open_knowledge(Settings(), announce=lambda line: print(line, flush=True))
    print(f"wat-werkt-index klaar ({time.perf_counter() - started:.1f} s)", flush=True)


@dataclass
class TelegramRun:
    """What one run measured (seconds; see `report` for the printed form)."""

    answer: list[float]
    watwerkt: list[float]
    chats: int
    answers: int
    turns: int
    elapsed: float
    sends: int
    cpu: float
    latencies: list[float]
    peak_rss_mb: float
    problems: list[str]
    returncode: int | None
    stderr: str

    @property
    def turns_per_second(self) -> float:
        return self.turns / self.elapsed


def peak_rss_mb(pid: int) -> float:
    """The highest resident memory of a running process so far (Linux /proc, VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def measure(
    home: Path,
    *,
    chats: int = 500,
    answers: int = 10,
    latency_turns: int = 200,
    concurrency: int = 64,
    profile: str | None = None,
) -> TelegramRun:
    """One run: a fresh `kompas telegram` process and database, light-load latency, then throughput."""
    work = Path(tempfile.mkdtemp(prefix="kompas-bench-"))
    database = f"sqlite+aiosqlite:///{work / 'bench.db'}"
    api = await FakeBotApi().start()
    env = {
        **os.environ,
        "KOMPAS_HOME": str(home),
        "KOMPAS_DATABASE_URL": database,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": api.base_url,
        "KOMPAS_TELEGRAM_RATE_LIMIT": "false",
        "KOMPAS_TELEGRAM_POLL_TIMEOUT": "10",
        "KOMPAS_TELEGRAM_MAX_CONCURRENT_CHATS": str(concurrency),
    }
    kompas = Path(sys.executable).with_name("kompas")
    command = [str(kompas), "telegram"]
    if profile:
        command = [sys.executable, "-m", "cProfile", "-o", profile, *command]
    bot = await asyncio.create_subprocess_exec(*command, env=env, stderr=asyncio.subprocess.PIPE)
    probe = Probe(api)
    peak = float("nan")
    try:
        while not api.sent("setMyCommands"):
            await asyncio.sleep(0.05)
        light = await latency(api, probe, latency_turns)
        cpu_before = process_cpu(bot.pid)
        heavy = await throughput(api, probe, chats, answers)
        heavy["cpu"] = process_cpu(bot.pid) - cpu_before
        peak = peak_rss_mb(bot.pid)
    finally:
        bot.send_signal(signal.SIGTERM)
        _, stderr = await bot.communicate()
        await api.stop()
    problems = await cross_talk(api, probe, database, heavy["rooms"], answers)
    shutil.rmtree(work, ignore_errors=True)
    return TelegramRun(
        answer=light["answer"],
        watwerkt=light["watwerkt"],
        chats=chats,
        answers=answers,
        turns=heavy["turns"],
        elapsed=heavy["elapsed"],
        sends=heavy["sends"],
        cpu=heavy["cpu"],
        latencies=heavy["latencies"],
        peak_rss_mb=peak,
        problems=problems,
        returncode=bot.returncode,
        stderr=stderr.decode(errors="replace"),
    )


def report(run: TelegramRun) -> None:
    print()
    counts = f"{len(run.answer)} antwoorden, {len(run.watwerkt)} zoekvragen"
    print(f"Latentie bij lage belasting (1 groep, {counts})")
    for kind, values in (("answer", run.answer), ("watwerkt", run.watwerkt)):
        print(f"  {kind:9s} p50 {ms(statistics.median(values))}  p95 {ms(percentile(values, 0.95))}")
    sends = run.sends / run.elapsed
    print(f"Doorvoer: {run.chats} groepen tegelijk x {run.answers} antwoorden (rate limiter uit)")
    print(
        f"  {run.turns} beurten in {run.elapsed:.2f} s = {run.turns_per_second:.0f} beurten/s, {sends:.0f} berichten/s"
    )
    print(f"  ({sends / 30:.1f}x Telegrams globale limiet van 30 berichten/s)")
    print(f"  CPU van het botproces: {run.cpu / run.turns * 1000:.1f} ms per beurt")
    values = run.latencies
    print(f"  latentie onder belasting p50 {ms(statistics.median(values))}  p95 {ms(percentile(values, 0.95))}")
    print(f"  piekgeheugen van het botproces: {run.peak_rss_mb:.0f} MB")
    print(f"Overspraak tussen chats: {'geen' if not run.problems else len(run.problems)}")
    for problem in run.problems[:10]:
        print("  " + problem)
    if run.returncode not in (0, None):
        print(run.stderr[-2000:])


async def main(args: argparse.Namespace) -> int:
    home = Path(args.home).expanduser()
    prepare_index(home)
    run = await measure(
        home,
        chats=args.chats,
        answers=args.answers,
        latency_turns=args.latency_turns,
        concurrency=args.concurrency,
        profile=args.profile,
    )
    report(run)
    return 1 if run.problems or run.returncode not in (0, None) else 0


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chats", type=int, default=500)
    parser.add_argument("--answers", type=int, default=10, help="answer turns per chat in the throughput run")
    parser.add_argument("--latency-turns", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=64, help="KOMPAS_TELEGRAM_MAX_CONCURRENT_CHATS")
    parser.add_argument("--home", default=str(Path(tempfile.gettempdir()) / "kompas-bench-home"))
    parser.add_argument("--profile", help="write a cProfile of the bot process to this file")
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse())))
