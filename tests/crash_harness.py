"""Crash harness: the real `kompas telegram` process, killed with SIGKILL at random moments.

A scripted session (several group chats and one private chat: roles, compasses, answers as
replies to the bot, edits, /volgende, /terug, new compasses) is pushed into the local Bot API
server of the tests at a steady pace, whether the bot is up or not, as Telegram would queue it.
The bot process is killed at random moments of three kinds and restarted each time:

* `opstart`: while it starts (importing, migrating, meeting Telegram);
* `verwerking`: at a random moment while it processes updates;
* `bezorging`: the instant the server receives its k-th reply call (a reaction or a message),
  so the turn is stored but its answer not yet confirmed.

Two independent checks, after every kill and at the end:

* the oracle: the same updates replayed through the pure engine. For each chat, the updates the
  store marked processed must be a prefix of that chat's updates, and the stored chat must equal
  the replay of exactly that prefix (so each turn counted once, in order: the session resumes at
  the right question). Made on a copy of the database taken right after the kill.
* the acknowledgements: every answer the bot acknowledged to the server (a ✍ reaction, or a
  reply quoting it) is in the store exactly once (one contribution with its message id);
  no message id has two contributions.
* the outbox: an answer stored but not yet acknowledged when the bot was killed is acknowledged
  after a restart (its reply waited in the outbox); at the end, after the outbox has drained,
  no stored answer is left without its acknowledgement (`never_answered`).

`python -m tests.crash_harness --kills 200` runs it long; the tests run it short.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import os
import random
import shutil
import signal
import sqlite3
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .telegram_fake import BOT_ID, TOKEN, Call, FakeBotApi, group, private, user

BOT_USERNAME = "kompas_testbot"
REPLY_CALLS = frozenset({"sendMessage", "setMessageReaction", "sendPoll", "stopPoll", "sendDocument", "sendPhoto"})
KILL_KINDS = (("opstart", 0.15), ("verwerking", 0.45), ("bezorging", 0.40))
# Answer texts with the odd characters people type; every one is unique through its prefix.
FLAVOURS = ("", " 🙂", " <b>&amp;</b>", " ‏שלום‏", " a\u200bb", " *vet* _schuin_", " «quote» & co", " 😀👍🏽")


def kompas_command() -> list[str]:
    return [str(Path(sys.executable).with_name("kompas")), "telegram"]


@dataclass
class CrashReport:
    seed: int
    kills: int = 0
    starts: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    pushed: int = 0
    answers: int = 0
    acknowledged: int = 0
    unacknowledged_at_kill: int = 0  # answers stored but not acknowledged right after some kill
    acknowledged_after_restart: int = 0  # ... of which the acknowledgement came after a restart
    never_answered: int = 0  # stored answers never acknowledged, at the end
    acknowledged_twice: int = 0  # unedited answers; at-least-once: killed between sending and clearing the outbox
    lost: int = 0
    duplicated: int = 0
    checks: int = 0
    wrong_state: int = 0
    tracebacks: int = 0
    start_seconds: list[float] = field(default_factory=list)
    pending_at_kills: set[tuple[int, int]] = field(default_factory=set)
    duration: float = 0.0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        start = statistics.median(self.start_seconds) if self.start_seconds else float("nan")
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.kinds.items()))
        return (
            f"seed {self.seed}: {self.kills} kills ({kinds}), {self.starts} starts in {self.duration:.0f} s; "
            f"{self.pushed} updates, {self.answers} answers, {self.acknowledged} acknowledged, "
            f"{self.unacknowledged_at_kill} stored but unacknowledged at a kill, "
            f"{self.acknowledged_after_restart} of them acknowledged after a restart, "
            f"{self.never_answered} never answered, {self.acknowledged_twice} acknowledged twice; "
            f"lost {self.lost}, duplicated {self.duplicated}; "
            f"{self.checks} chat states checked against the replay, {self.wrong_state} different; "
            f"tracebacks {self.tracebacks}; start to first getUpdates: median {start:.2f} s"
        )


# ----------------------------------------------------------------------------- the script


@dataclass
class Room:
    chat: dict[str, Any]
    people: list[dict[str, Any]]
    rng: random.Random
    compass: int = 0
    sent: list[tuple[dict[str, Any], int]] = field(default_factory=list)  # (author, message_id) of answers

    @property
    def facilitator(self) -> dict[str, Any]:
        return self.people[0]


def rooms(groups: int) -> list[Room]:
    made = []
    for n in range(groups):
        chat = group(-5_000_000 - n, f"Team {n}")
        people = [user(100_000 + 10 * n + k, f"{name}{n}") for k, name in enumerate(("Fa", "Piet", "Dewi"))]
        made.append(Room(chat, people, random.Random()))
    solo = user(200_001, "Solo")
    made.append(Room(private(solo), [solo], random.Random()))
    return made


def next_item(api: FakeBotApi, room: Room, counter: Iterator[int]) -> tuple[int, bool]:
    """Push the room's next scripted update; (update_id, is_answer)."""
    rng, chat, boss = room.rng, room.chat, room.facilitator
    is_group = chat["type"] != "private"
    bot_messages = api.bot_messages(chat["id"])
    if room.compass == 0:
        room.compass = 1
        if is_group:
            for person, role in zip(room.people, ("gemeente", "aanbieder", "doelgroep"), strict=True):
                api.text(chat, person, f"/rol@{BOT_USERNAME} {role}")
        return api.text(chat, boss, f"/kompas thema {abs(chat['id'])} nummer 1"), False
    # Mostly answers; now and then steering, a new or resumed compass, an overview or an edit.
    # (Kept to the first steps, where the engine does not search the knowledge base.)
    roll = rng.random()
    if roll < 0.04:
        room.compass += 1
        return api.text(chat, boss, f"/kompas thema {abs(chat['id'])} nummer {room.compass}"), False
    if roll < 0.06 and room.compass > 1:
        return api.text(chat, boss, f"/kompas {rng.randint(1, room.compass)}"), False
    if roll < 0.14:
        return api.text(chat, boss, "/volgende"), False
    if roll < 0.17:
        return api.text(chat, boss, "/terug"), False
    if roll < 0.19:
        return api.text(chat, rng.choice(room.people), "/overzicht"), False
    if roll < 0.22 and room.sent:
        author, message_id = rng.choice(room.sent)
        return api.edit(chat, message_id, f"bewerkt {next(counter)} door {author['first_name']}"), False
    person = rng.choice(room.people)
    text = "1" if roll < 0.25 else f"bijdrage {next(counter)} van {person['first_name']}{rng.choice(FLAVOURS)}"
    if is_group and not bot_messages:
        return api.text(chat, boss, "/start"), False
    reply_to = bot_messages[-1]["message_id"] if is_group else None
    update_id = api.text(chat, person, text, reply_to=reply_to)
    message_id = api.history[update_id]["message"]["message_id"]
    room.sent.append((person, message_id))
    return update_id, True


# ----------------------------------------------------------------------------- the oracle


class Oracle:
    """The same updates through the pure engine, built like `open_kompas` builds it."""

    def __init__(self) -> None:
        from bot.coach import load_coach
        from bot.config import Settings
        from bot.engine import Engine
        from bot.flows import load_flow, load_texts, load_themes

        folder = Settings().effective_flows_dir
        flow = load_flow(folder / "kompas.yaml")
        self.engine = Engine(
            flow,
            load_texts(folder / "teksten.yaml"),
            NoKnowledge(),
            bot_username=BOT_USERNAME,
            themes=load_themes(folder / "themas.yaml"),
            coach=load_coach(folder / "coaching.yaml", flow),
        )
        self.order: dict[str, list[int]] = defaultdict(list)  # chat -> update ids it handles, in order
        self.events: dict[int, Any] = {}
        self.states: dict[str, Any] = {}
        self.applied: dict[str, int] = defaultdict(int)
        self.reacted: set[tuple[int, int]] = set()  # messages the engine acknowledges with a reaction

    def add(self, update: dict[str, Any]) -> None:
        from bot.events import Actor, Edit, Text

        message = update.get("message") or update.get("edited_message")
        if message is None or "text" not in message:
            return
        chat, sender, text = message["chat"], message["from"], message["text"]
        key = str(chat["id"])
        actor = Actor(id=str(sender["id"]), name=sender["first_name"], is_admin=False)
        if "edited_message" in update:
            if text.startswith("/"):
                return
            at = datetime.fromtimestamp(message["edit_date"], UTC)
            event: Any = Edit(actor=actor, ref=str(message["message_id"]), text=text, at=at)
        else:
            replied = message.get("reply_to_message")
            addressed = text.startswith("/") or (replied is not None and replied["from"]["id"] == BOT_ID)
            if chat["type"] != "private" and not addressed:
                return  # the bridge ignores it (and stores no marker)
            at = datetime.fromtimestamp(message["date"], UTC)
            event = Text(actor=actor, text=text, at=at, ref=str(message["message_id"]))
        self.order[key].append(update["update_id"])
        self.events[update["update_id"]] = event

    def state(self, key: str, count: int) -> Any:
        """The chat after its first `count` updates (replays forward; never needs to go back)."""
        from bot.compass import Chat

        if count < self.applied[key]:
            raise AssertionError(f"chat {key}: the store went back from {self.applied[key]} to {count} updates")
        state = self.states.get(key) or Chat(id=key, is_group=int(key) < 0)
        for update_id in self.order[key][self.applied[key] : count]:
            event = self.events[update_id]
            outcome = self.engine.handle(state, event)
            if outcome.changed:
                state = outcome.chat
            if getattr(event, "ref", None) is not None and any(reply.reaction for reply in outcome.replies):
                self.reacted.add((int(key), int(event.ref)))
        self.states[key] = state
        self.applied[key] = count
        return state


class NoKnowledge:
    """What the bot process finds in an empty knowledge folder: nothing."""

    def search(self, query: str, k: int = 5, **_: Any) -> list[Any]:
        return []


def read_database(path: Path) -> tuple[dict[str, list[int]], dict[str, Any]]:
    """Processed update ids per chat, and every chat as the store would load it (plain sqlite3)."""
    from bot.compass import Chat, Session

    connection = sqlite3.connect(path)
    try:
        markers: dict[str, list[int]] = defaultdict(list)
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "processed_events" not in tables:  # killed before the first migration was committed: empty
            return markers, {}
        for event_id, chat_id in connection.execute(
            "SELECT event_id, chat_id FROM processed_events WHERE source = 'telegram' ORDER BY event_id"
        ):
            markers[chat_id].append(event_id)
        chats: dict[str, Any] = {}
        for chat_id, state in connection.execute("SELECT id, state FROM chats"):
            chats[chat_id] = Chat.model_validate_json(state)
        for chat_id, state in connection.execute("SELECT chat_id, state FROM sessions ORDER BY created_at"):
            session = Session.model_validate_json(state)
            chats[chat_id].sessions[session.id] = session
    finally:
        connection.close()
    return markers, chats


def snapshot(database: Path, into: Path) -> Path:
    """Copy the database as the killed process left it (with its write-ahead log)."""
    into.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal"):
        source = Path(f"{database}{suffix}")
        if source.exists():
            shutil.copyfile(source, into / f"kompas.db{suffix}")
    return into / "kompas.db"


def compare(oracle: Oracle, database: Path, report: CrashReport, moment: str) -> None:
    if not database.exists():
        return
    markers, chats = read_database(database)
    for key, processed in markers.items():
        expected = oracle.order.get(key, [])
        if processed != sorted(expected[: len(processed)]):
            report.wrong_state += 1
            report.problems.append(f"{moment}: chat {key} processed {processed[-3:]}..., not a prefix of its updates")
            continue
        wanted = oracle.state(key, len(processed))
        stored = chats.get(key)
        report.checks += 1
        # `version` counts the writes (the store raises it), which a replay through the engine does not do.
        if stored is None or stored.model_dump(exclude={"version"}) != wanted.model_dump(exclude={"version"}):
            report.wrong_state += 1
            report.problems.append(f"{moment}: chat {key} after {len(processed)} updates differs from the replay")


def acknowledged(calls: list[Call]) -> Counter[tuple[int, int]]:
    """How often each message was acknowledged (a reaction, or a reply quoting it)."""
    return Counter(ref for _, ref in _acknowledgements(calls))


def _acknowledgements(calls: list[Call]) -> Iterator[tuple[int, tuple[int, int]]]:
    """(index of the call, the message it acknowledges), for every acknowledging call."""
    for index, call in enumerate(calls):
        if call.method == "setMessageReaction":
            yield index, (int(call.params["chat_id"]), int(call.params["message_id"]))
        elif call.method == "sendMessage" and call.params.get("reply_parameters"):
            yield index, (int(call.params["chat_id"]), int(call.params["reply_parameters"]["message_id"]))


def acknowledged_twice_by_one_bot(calls: list[Call], starts: list[int]) -> set[tuple[int, int]]:
    """Messages one bot process acknowledged twice (`starts`: where each process's calls begin).
    A replay after a restart may repeat an acknowledgement; the normal path must never."""
    per_process = Counter((bisect.bisect_right(starts, index), ref) for index, ref in _acknowledgements(calls))
    return {ref for (_, ref), count in per_process.items() if count > 1}


def unacknowledged(
    database: Path, oracle: Oracle, answers: set[tuple[int, int]], acked: Counter[tuple[int, int]]
) -> set[tuple[int, int]]:
    """Answers in the store that the engine acknowledges but the server has no acknowledgement of."""
    _, chats = read_database(database)
    stored = _contributions_per_message(chats)
    return {ref for ref in stored if ref in answers and ref in oracle.reacted} - set(acked)


def acknowledgements(
    api: FakeBotApi,
    database: Path,
    oracle: Oracle,
    report: CrashReport,
    answers: set[tuple[int, int]],
    edited: set[tuple[int, int]],
    starts: list[int],
) -> None:
    """Every acknowledged answer in the store exactly once; no message stored twice; every
    answer left unacknowledged by a kill acknowledged after a restart."""
    counts = acknowledged(api.calls)
    acked = set(counts)
    report.acknowledged_twice = sum(1 for ref, n in counts.items() if n > 1 and ref in answers - edited)
    doubled = acknowledged_twice_by_one_bot(api.calls, starts) & (answers - edited)
    if doubled:
        report.problems.append(f"answers acknowledged twice by the same bot process: {sorted(doubled)[:5]}")
    _, chats = read_database(database)
    stored = _contributions_per_message(chats)
    replayed = _contributions_per_message(oracle.states)
    acked_answers = acked & answers
    report.acknowledged = len(acked_answers)
    for ref in sorted(acked_answers):
        # An answer can also be a pick ("1") or a field of an item: those make no contribution of
        # their own. The replay says how many contributions each message makes.
        if stored[ref] < replayed[ref]:
            report.lost += 1
            report.problems.append(f"acknowledged answer {ref} not in the store")
    for ref, count in stored.items():
        if count > 1:
            report.duplicated += count - 1
            report.problems.append(f"message {ref} stored {count} times")
    # Stored, the engine acknowledged them, but the reaction never reached the server.
    never = unacknowledged(database, oracle, answers, counts)
    report.never_answered = len(never)
    if never:
        report.problems.append(f"stored answers never acknowledged: {sorted(never)[:5]}")
    report.acknowledged_after_restart = len(report.pending_at_kills & acked)
    report.unacknowledged_at_kill = len(report.pending_at_kills)


async def outbox_drained(database: Path, timeout: float) -> bool:
    """Wait until every reply the bot stored has been delivered (its outbox is empty)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        connection = sqlite3.connect(database)
        try:
            left = connection.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        finally:
            connection.close()
        if not left:
            return True
        await asyncio.sleep(0.05)
    return False


def _contributions_per_message(chats: dict[str, Any]) -> Counter[tuple[int, int]]:
    counts: Counter[tuple[int, int]] = Counter()
    for key, chat in chats.items():
        for session in chat.sessions.values():
            for contribution in session.contributions:
                if contribution.ref is not None:
                    counts[(int(key), int(contribution.ref))] += 1
    return counts


# ----------------------------------------------------------------------------- the run


class Lane:
    """One bot (one database, one Bot API server) and its killer."""

    def __init__(self, work: Path, seed: int, *, groups: int, pace: float, log: Callable[[str], None]) -> None:
        self.work = work
        self.rng = random.Random(seed)
        self.report = CrashReport(seed=seed)
        self.oracle = Oracle()
        self.added = 0
        self.rooms = rooms(groups)
        for room in self.rooms:
            room.rng.seed(self.rng.random())
        self.pace = pace
        self.log = log
        self.api: FakeBotApi | None = None
        self.counter = iter(range(1, 10**9))
        self.answers: set[tuple[int, int]] = set()
        self.edited: set[tuple[int, int]] = set()  # an edit is acknowledged again, rightly
        self.starts: list[int] = []  # where in the server's calls each bot process began
        self.pushing = True
        self.home = work / "home"

    def env(self, api: FakeBotApi) -> dict[str, str]:
        (self.work / "kennis").mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "KOMPAS_HOME": str(self.home),
            "KOMPAS_EMBEDDINGS": "none",
            "KOMPAS_KNOWLEDGE_DIRS": str(self.work / "kennis"),
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": api.base_url,
            "KOMPAS_TELEGRAM_POLL_TIMEOUT": "1",
            "KOMPAS_TELEGRAM_RATE_LIMIT": "false",
        }
        for name in ("KOMPAS_DATABASE_URL", "KOMPAS_LLM", "KOMPAS_RETENTION_DAYS"):
            env.pop(name, None)
        return env

    async def push(self, api: FakeBotApi, deadline: float) -> None:
        """The script at a steady pace; pauses while much is waiting (the bot is down)."""
        while self.pushing and time.monotonic() < deadline:
            if len(api.updates) < 250:
                room = self.rng.choice(self.rooms)
                update_id, is_answer = next_item(api, room, self.counter)
                for uid in sorted(u for u in api.history if u > self.added):
                    self.oracle.add(api.history[uid])
                    edit = api.history[uid].get("edited_message")
                    if edit is not None:
                        self.edited.add((edit["chat"]["id"], edit["message_id"]))
                self.added = update_id
                if is_answer:
                    message = api.history[update_id]["message"]
                    self.answers.add((message["chat"]["id"], message["message_id"]))
            await asyncio.sleep(self.rng.expovariate(1 / self.pace))

    async def start(
        self, api: FakeBotApi, env: dict[str, str], log_file: Any
    ) -> tuple[asyncio.subprocess.Process, float]:
        started = time.monotonic()
        self.starts.append(len(api.calls))
        process = await asyncio.create_subprocess_exec(
            *kompas_command(), env=env, stdout=asyncio.subprocess.DEVNULL, stderr=log_file
        )
        self.report.starts += 1
        return process, started

    async def ready(self, api: FakeBotApi, since: int, started: float, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(c.method == "getUpdates" for c in api.calls[since:]):
                self.report.start_seconds.append(time.monotonic() - started)
                return True
            await asyncio.sleep(0.01)
        return False

    async def kill_once(self, api: FakeBotApi, process: asyncio.subprocess.Process, started: float) -> str:
        kind = self.rng.choices([k for k, _ in KILL_KINDS], [w for _, w in KILL_KINDS])[0]
        since = len(api.calls)
        if kind == "opstart":
            await asyncio.sleep(self.rng.uniform(0.05, 1.5))
        elif kind == "verwerking":
            if not await self.ready(api, since, started):
                self.report.problems.append("the bot did not start within 30 s")
            await asyncio.sleep(self.rng.uniform(0.0, 1.2))
        else:
            if not await self.ready(api, since, started):
                self.report.problems.append("the bot did not start within 30 s")
            target = self.rng.randint(1, 15)
            seen = 0
            fired = asyncio.Event()

            def on_receive(call: Call) -> None:
                nonlocal seen
                if call.method in REPLY_CALLS and not fired.is_set():
                    seen += 1
                    if seen >= target:
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(process.pid, signal.SIGKILL)  # before the server answers
                        fired.set()

            api.on_receive = on_receive
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(fired.wait(), 3.0)
            api.on_receive = None
            if not fired.is_set():
                kind = "verwerking"  # nothing to deliver in time: killed while it waited
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGKILL)
        await process.wait()
        self.report.kinds[kind] += 1
        self.report.kills += 1
        return kind

    async def run(self, kills: int, max_seconds: float) -> CrashReport:
        report = self.report
        began = time.monotonic()
        deadline = began + max_seconds
        api = await FakeBotApi(username=BOT_USERNAME).start()
        self.api = api
        env = self.env(api)
        database = self.home / "kompas.db"
        log_path = self.work / "bot.log"
        pusher = asyncio.create_task(self.push(api, deadline))
        checks: list[asyncio.Task[None]] = []
        try:
            with log_path.open("ab") as log_file:
                while report.kills < kills and time.monotonic() < deadline:
                    process, started = await self.start(api, env, log_file)
                    try:
                        await self.kill_once(api, process, started)
                    finally:
                        if process.returncode is None:
                            process.kill()
                            await process.wait()
                    copy = snapshot(database, self.work / f"kill{report.kills:04d}") if database.exists() else None
                    if copy is not None:
                        moment = f"kill {report.kills}"
                        acked = acknowledged(api.calls)
                        checks.append(asyncio.create_task(self._check(copy, moment, acked)))
                # The last start: no more kills, everything queued must be processed.
                self.pushing = False
                await pusher
                process, started = await self.start(api, env, log_file)
                try:
                    if api.history:
                        await api.wait_confirmed(max(api.history), timeout=120)
                    if not await outbox_drained(database, timeout=60):
                        report.problems.append("the outbox did not drain after the last start")
                    process.send_signal(signal.SIGTERM)
                    await asyncio.wait_for(process.wait(), 30)
                    if process.returncode != 0:
                        report.problems.append(f"the last bot exited with {process.returncode}")
                finally:
                    if process.returncode is None:
                        process.kill()
                        await process.wait()
            await asyncio.gather(*checks)
            compare(self.oracle, database, report, "end")
            unprocessed = [key for key, ids in self.oracle.order.items() if self.oracle.applied[key] != len(ids)]
            if unprocessed:
                report.lost += len(unprocessed)
                report.problems.append(f"chats with unprocessed updates at the end: {unprocessed}")
            acknowledgements(api, database, self.oracle, report, self.answers, self.edited, self.starts)
            report.pushed = len(api.history)
            report.answers = len(self.answers)
            text = log_path.read_text(errors="replace")
            report.tracebacks = text.count("Traceback")
            if report.tracebacks:
                report.problems.append("tracebacks in the bot's log: " + text[text.index("Traceback") :][:1500])
        finally:
            self.pushing = False
            pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pusher
            await api.stop()
        report.duration = time.monotonic() - began
        return report

    async def _check(self, copy: Path, moment: str, acked: Counter[tuple[int, int]]) -> None:
        await asyncio.sleep(0)
        compare(self.oracle, copy, self.report, moment)
        self.report.pending_at_kills |= unacknowledged(copy, self.oracle, self.answers, acked)
        shutil.rmtree(copy.parent, ignore_errors=True)


def merge(reports: list[CrashReport]) -> CrashReport:
    total = CrashReport(seed=reports[0].seed)
    for r in reports:
        total.kills += r.kills
        total.starts += r.starts
        total.kinds.update(r.kinds)
        total.pushed += r.pushed
        total.answers += r.answers
        total.acknowledged += r.acknowledged
        total.unacknowledged_at_kill += r.unacknowledged_at_kill
        total.acknowledged_after_restart += r.acknowledged_after_restart
        total.never_answered += r.never_answered
        total.acknowledged_twice += r.acknowledged_twice
        total.lost += r.lost
        total.duplicated += r.duplicated
        total.checks += r.checks
        total.wrong_state += r.wrong_state
        total.tracebacks += r.tracebacks
        total.start_seconds += r.start_seconds
        total.duration = max(total.duration, r.duration)
        total.problems += r.problems
    return total


async def run_crash_harness(
    work: Path,
    *,
    kills: int,
    seed: int,
    lanes: int = 2,
    groups: int = 5,
    pace: float = 0.03,
    max_seconds: float = 600.0,
    log: Callable[[str], None] = print,
) -> CrashReport:
    """`kills` kills spread over `lanes` bots running side by side (each its own database and server)."""
    per_lane = [kills // lanes + (1 if n < kills % lanes else 0) for n in range(lanes)]
    runs = [
        Lane(work / f"lane{n}", seed + n, groups=groups, pace=pace, log=log).run(count, max_seconds)
        for n, count in enumerate(per_lane)
    ]
    return merge(list(await asyncio.gather(*runs)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--lanes", type=int, default=2)
    parser.add_argument("--groups", type=int, default=5)
    parser.add_argument("--max-seconds", type=float, default=1800.0)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    print(f"seed {seed}", flush=True)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="kompas-crash-") as folder:
        report = asyncio.run(
            run_crash_harness(
                Path(folder),
                kills=args.kills,
                seed=seed,
                lanes=args.lanes,
                groups=args.groups,
                max_seconds=args.max_seconds,
            )
        )
    print(report.summary())
    for problem in report.problems[:20]:
        print("  " + problem)
    failed = report.problems or report.lost or report.duplicated or report.wrong_state or report.never_answered
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
