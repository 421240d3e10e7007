"""Hostile and odd input, generated (hypothesis): emoji, right-to-left text, zero-width and control
characters, NUL bytes, 10,000-character messages, HTML and Markdown specials, unknown and malformed
commands, commands for another bot, media, edits, callback data the bot never sent, votes in
unknown polls.

Two levels:

* the engine, fast, many examples: no exception, every reply is HTML that Telegram accepts once
  planned into messages (within its limits), and nothing is stored from a message that was
  refused;
* the real Telegram stack (fewer examples, each a fresh bot): no unhandled exception, no call that
  Telegram would refuse (parse errors included: the local server validates HTML like Telegram),
  every update confirmed, and no refused message in the store.
"""

from __future__ import annotations

import asyncio
import functools
import os
import tempfile
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.compass import Chat, Session
from bot.config import Settings
from bot.engine import MAX_ANSWER_CHARS, Engine
from bot.events import (
    Actor,
    Edit,
    Event,
    Joined,
    LLMRequest,
    Outcome,
    Proposal,
    ProposalFailed,
    Text,
    Vote,
    clean_text,
    parse_command,
)
from bot.flows import load_flow, load_texts
from bot.knowledge.search import SearchHit
from bot.telegram.runner import TelegramBot
from bot.telegram.settings import TelegramOptions
from bot.telegram.translate import (
    MAX_CALLBACK_DATA,
    MAX_MESSAGE,
    MAX_PLACEHOLDER,
    MAX_TOAST,
    Origin,
    SendPoll,
    SendText,
    Toast,
    plan,
    units,
)

from .telegram_fake import TOKEN, FakeBotApi, check_html, group, private, user
from .telegram_harness import fake_exporter

ENGINE_EXAMPLES = int(os.environ.get("KOMPAS_FUZZ_ENGINE_EXAMPLES", "300"))
STACK_EXAMPLES = int(os.environ.get("KOMPAS_FUZZ_STACK_EXAMPLES", "20"))
BOT = "kompas_testbot"
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

ODD = [
    "😀👍🏽👨‍👩‍👧",
    "שלום עולם",
    "مرحبا بالعالم",
    "\u202eesrever\u202c",
    "\u200f\u200e",
    "a\u200bb\u200c\u200d\ufeffc",
    "\x00",
    "\x00\x00NUL",
    "\x1b[31mrood\x1b[0m",
    "\r\n\t",
    "<b>vet</b>",
    "</i>",
    "<script>alert(1)</script>",
    "<a href='x'>link</a>",
    "&amp;",
    "&",
    "&lt;",
    "&#0;",
    "< > & \" '",
    "*vet* _schuin_ `code` ```blok``` [link](https://x.nl) ~doorgestreept~ ||spoiler||",
    "\\",
    "%s {naam} {0} $x",
    "x" * 10_000,
    "😀" * 5_000,
    ("woord " * 2_000).strip(),
    "a\n" * 3_000,
    "1",
    "1 2 3 99",
    "0",
    "-1",
    "   ",
    "",
]
# Every command the engine knows, plus near misses.
ODD_COMMANDS = ("onbekend", "VOLGENDE", "kompas_")


def free_text(max_size: int = 40) -> st.SearchStrategy[str]:
    """Any text Telegram can carry (no lone surrogates), mixed with the odd cases above."""
    plain = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=max_size)
    return st.one_of(
        plain, st.sampled_from(ODD), st.lists(st.one_of(plain, st.sampled_from(ODD[:22])), max_size=4).map("".join)
    )


def command_text() -> st.SearchStrategy[str]:
    target = st.sampled_from(["", f"@{BOT}", "@anderebot", "@", "@KOMPAS_TESTBOT"])
    arg = st.one_of(
        st.just(""), free_text(30).map(lambda t: " " + t), st.sampled_from([" ja", " 1", " 3", " 99", " gemeente"])
    )
    names = st.sampled_from(sorted({*engine().commands, *ODD_COMMANDS}))
    well_formed = st.tuples(names, target, arg).map(lambda p: f"/{p[0]}{p[1]}{p[2]}")
    malformed = st.sampled_from(
        ["/", "//volgende", "/ volgende", "/volgende@", "/@anderebot", "/" + "x" * 300, "/kompas\x00"]
    )
    return st.one_of(well_formed, malformed)


def message_text() -> st.SearchStrategy[str]:
    return st.one_of(free_text(), command_text())


@functools.cache
def engine() -> Engine:
    return Engine(load_flow(), load_texts(), Knowledge(), bot_username=BOT, llm_enabled=True)


class Knowledge:
    """Returns hits with odd text for some queries and fails for others, like a real index may."""

    def search(self, query: str, k: int = 5, **_: Any) -> list[SearchHit]:
        if "x" in query[:3]:
            raise RuntimeError("index kapot")
        return [
            SearchHit(
                rank=n,
                titel=f"Titel <{n}> & {query[:20]}",
                bron="https://example.org/?a=1&b=<2>",
                score=1.0,
                soort="interventie",
                beoordeling="goed onderbouwd",
                fragment=query[:300] + " \x00 <i>",
            )
            for n in range(1, min(k, 3) + 1)
        ]


ACTORS = [Actor("1", "Fatima"), Actor("2", "Pi<e>ter & co"), Actor("3", ""), Actor("4", "😀" * 40)]


@st.composite
def events(draw: st.DrawFn) -> list[Event]:
    count = draw(st.integers(min_value=1, max_value=25))
    made: list[Event] = [Text(ACTORS[0], draw(st.sampled_from(["/kompas eenzaamheid", "/kompas x", "/start"])), START)]
    for n in range(count):
        at = START + timedelta(seconds=n + 1)
        actor = draw(st.sampled_from(ACTORS))
        if draw(st.booleans()):
            actor = Actor(actor.id, actor.name, is_admin=True)
        kind = draw(st.sampled_from(["text", "text", "text", "text", "edit", "vote", "joined", "proposal"]))
        if kind == "text":
            made.append(Text(actor, draw(message_text()), at, ref=str(n)))
        elif kind == "edit":
            made.append(Edit(actor, str(draw(st.integers(-1, count))), draw(free_text()), at))
        elif kind == "vote":
            made.append(Vote(actor, tuple(draw(st.lists(st.integers(-3, 12), max_size=5))), at))
        elif kind == "joined":
            made.append(Joined(at))
        else:
            request = LLMRequest(
                kind=draw(st.sampled_from(["formulering", "samenvatting", "antwoord"])),
                session_id=draw(st.sampled_from([None, "eenzaamheid", "x", "anders"])),
                question=draw(st.sampled_from([None, "betekenis", "signalen", "geen"])),
                context=draw(free_text()),
                hits=tuple(Knowledge().search("vraag <b>")),
            )
            if draw(st.booleans()):
                citations = tuple(draw(st.lists(st.integers(0, 5), max_size=3)))
                made.append(Proposal(request, draw(free_text()), at, citations))
            else:
                made.append(ProposalFailed(request, at))
    return made


def check_outcome(outcome: Outcome, *, group: bool, callback: bool) -> None:
    """Every reply, planned into Telegram actions, is something Telegram accepts."""
    for reply in outcome.replies:
        if reply.text:
            check_html(reply.text)
    origin = Origin(callback=True, user_id=1) if callback else Origin(message_id=7, user_id=1)
    for action in plan(outcome, group=group, origin=origin, placeholder=engine().texts("antwoord_plaatshouder")):
        if isinstance(action, SendText):
            check_html(action.text)
            assert 0 < units(action.text) <= MAX_MESSAGE
            markup = action.markup
            if markup is not None and hasattr(markup, "inline_keyboard"):
                for row in markup.inline_keyboard:
                    for button in row:
                        assert len((button.callback_data or "").encode()) <= MAX_CALLBACK_DATA
            if markup is not None and hasattr(markup, "input_field_placeholder"):
                assert len(markup.input_field_placeholder or "") <= MAX_PLACEHOLDER
        elif isinstance(action, Toast):
            assert len(action.text) <= MAX_TOAST  # plain text: Telegram shows it as it is
        elif isinstance(action, SendPoll):
            assert 2 <= len(action.options) <= 10 and all(1 <= len(o) <= 100 for o in action.options)
            assert 1 <= len(action.question) <= 300


def position(chat: Chat) -> tuple[Any, ...]:
    session = chat.session
    if session is None:
        return (chat.active,)
    return (chat.active, session.step, session.question_index, session.phase, session.pending)


def refused(event: Event, before: Chat) -> str | None:
    """Why the engine must not store anything from this message (None: it may)."""
    if not isinstance(event, Text):
        return None
    text = clean_text(event.text)
    if not text:
        return "leeg"
    command = parse_command(text, BOT)
    if command is not None and not command.name:
        return "ander"
    if command is None and len(text) > MAX_ANSWER_CHARS:
        return "te lang"
    return None


def stored_texts(chat: Chat) -> list[tuple[Any, ...]]:
    return [(s.id, c.id, c.text, c.fields) for s in chat.sessions.values() for c in s.contributions]


def check_state(chat: Chat) -> None:
    for session in chat.sessions.values():
        for contribution in session.contributions:
            assert len(contribution.text) <= MAX_ANSWER_CHARS
            for char in contribution.text:
                category = unicodedata.category(char)
                assert char in "\n\t\u200d" or category not in ("Cc", "Cf"), repr(contribution.text)


@settings(max_examples=ENGINE_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events(), st.booleans(), st.booleans())
def test_engine_survives_anything_and_stores_nothing_refused(script: list[Event], group: bool, callback: bool) -> None:
    chat = Chat(id="-1" if group else "1", is_group=group)
    for event in script:
        before = chat
        outcome = engine().handle(before, event)
        check_outcome(outcome, group=group, callback=callback)
        why = refused(event, before)
        if why is not None:
            assert outcome.chat == before and not outcome.changed, why  # not even the sender's name
            if why == "ander":
                assert outcome.replies == ()
        if isinstance(event, Text) and group and not event.actor.is_admin:
            command = parse_command(clean_text(event.text), BOT)
            session = before.session
            facilitator = session is not None and event.actor.id in session.facilitators
            steering = engine().steering_commands
            if command is not None and command.name in steering and not facilitator:
                assert position(outcome.chat) == position(before), event.text
        chat = outcome.chat if outcome.changed else before
        check_state(chat)
        Chat.model_validate_json(chat.model_dump_json())  # what the store writes, it can read back
        for session in chat.sessions.values():
            Session.model_validate(session.model_dump())


# ----------------------------------------------------------------------------- the real stack


@st.composite
def updates(draw: st.DrawFn) -> list[tuple[str, Any]]:
    """A list of (kind, payload) to push after a compass was started in a group and a private chat."""
    kinds = ["text", "text", "reply", "reply", "media", "edit", "button", "poll", "odd"]
    made = []
    for _ in range(draw(st.integers(3, 12))):
        kind = draw(st.sampled_from(kinds))
        made.append(
            (
                kind,
                {
                    "text": draw(message_text()),
                    "group": draw(st.booleans()),
                    "person": draw(st.integers(0, 2)),
                    "media": draw(
                        st.sampled_from(["photo", "sticker", "voice", "document", "video", "contact", "dice"])
                    ),
                    "data": draw(
                        st.one_of(
                            st.text(max_size=64).filter(lambda d: len(d.encode()) <= 64),
                            st.sampled_from(
                                ["/volgende#", "/volgende#zzz", "#", "/vergeet ja", "/kies 99#1", "/stap 6"]
                            ),
                        )
                    ),
                    "poll": draw(st.sampled_from(["onbekend", "", "9" * 60])),
                    "options": draw(st.lists(st.integers(-1, 20), max_size=4)),
                },
            )
        )
    return made


PEOPLE = [user(1001, "Fatima"), user(1002, "Pi<e>ter"), user(1003, "😀")]
TEAM = group(-4242, "Fuzz & <co>")


async def run_stack(script: list[tuple[str, Any]], home: Path) -> None:
    api = await FakeBotApi(username=BOT).start()
    os.environ.update(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=api.base_url)
    options = TelegramOptions(rate_limit=False, poll_timeout=1)
    bot = await TelegramBot.open(Settings(home=home), options, knowledge=Knowledge(), exporter=fake_exporter)
    stop = asyncio.Event()
    task = asyncio.create_task(bot.run_polling(stop))
    refused_texts: list[str] = []
    try:
        await api.wait_confirmed(api.text(TEAM, PEOPLE[0], "/kompas eenzaamheid"))
        await api.wait_confirmed(api.text(private(PEOPLE[1]), PEOPLE[1], "/kompas armoede"))
        for kind, p in script:
            last = 0
            chat = TEAM if p["group"] else private(PEOPLE[p["person"]])
            person = PEOPLE[p["person"]]
            if not p["group"]:
                chat = private(person)
            bot_messages = api.bot_messages(chat["id"])
            if kind == "text":
                last = api.text(chat, person, p["text"])
            elif kind == "reply" and bot_messages:
                last = api.text(chat, person, p["text"], reply_to=bot_messages[-1]["message_id"])
            elif kind == "media":
                reply_to = bot_messages[-1]["message_id"] if bot_messages else None
                if p["media"] == "photo":
                    last = api.photo(chat, person, reply_to=reply_to)
                elif p["media"] == "sticker":
                    last = api.sticker(chat, person)
                else:
                    last = api.media(chat, person, p["media"], reply_to=reply_to)
            elif kind == "edit":
                own = [
                    m for (cid, _), m in api.messages.items() if cid == chat["id"] and m["from"]["id"] == person["id"]
                ]
                if own and "text" in own[-1]:
                    last = api.edit(chat, own[-1]["message_id"], p["text"])
            elif kind == "button" and bot_messages:
                last = api.press(chat, person, bot_messages[-1]["message_id"], p["data"] or "x")
            elif kind == "poll":
                last = api.vote(person, p["poll"] or "1", p["options"])
            elif kind == "odd":
                last = api.push(odd_update(p, chat, person))
            if not last:
                continue  # nothing to do for this one (no message to reply to or edit yet)
            payload = api.history[last].get("message") or {}
            text = payload.get("text")
            if text is not None and (
                not clean_text(text) or (len(clean_text(text)) > MAX_ANSWER_CHARS and not text.startswith("/"))
            ):
                refused_texts.append(text)
        if api.history:
            await api.wait_confirmed(max(api.history), timeout=30)
        await bot.bridge.idle(timeout=10)
        problems = [(c.method, c.error) for c in api.calls if c.status >= 400 and c.status != 403]
        assert problems == [], problems
        assert bot.bridge.errors == [], bot.bridge.errors
        for key in (str(TEAM["id"]), *(str(p["id"]) for p in PEOPLE)):
            state = await bot.kompas.store.load_chat(key)
            if state is None:
                continue
            check_state(state)
            stored = {c.text for s in state.sessions.values() for c in s.contributions}
            assert not stored & set(refused_texts)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await bot.close()
        await api.stop()


def odd_update(p: dict[str, Any], chat: dict[str, Any], person: dict[str, Any]) -> dict[str, Any]:
    """Updates that are valid JSON but rare or unexpected for this bot."""
    choice = len(p["text"]) % 5
    if choice == 0:  # a callback from a message too old to be shown (inaccessible message)
        return {
            "callback_query": {
                "id": "77",
                "from": person,
                "chat_instance": "1",
                "data": p["data"] or "x",
                "message": {"message_id": 1, "chat": chat, "date": 0},
            }
        }
    if choice == 1:  # an inline-mode button: no message at all
        return {
            "callback_query": {
                "id": "78",
                "from": person,
                "chat_instance": "1",
                "inline_message_id": "abc",
                "data": "x",
            }
        }
    if choice == 2:  # a channel post (the bot in a channel)
        channel = {"id": -100999, "type": "channel", "title": "Kanaal"}
        return {"channel_post": {"message_id": 5, "chat": channel, "date": 1, "text": p["text"] or "x"}}
    if choice == 3:  # a message from an anonymous group admin
        sender = {"id": TEAM["id"], "type": "group", "title": TEAM["title"]}
        return {
            "message": {
                "message_id": 9_000,
                "chat": TEAM,
                "sender_chat": sender,
                "date": 1,
                "text": p["text"] or "/wie",
            }
        }
    # a service message: someone joined
    return {"message": {"message_id": 9_001, "chat": TEAM, "from": person, "date": 1, "new_chat_members": [person]}}


@settings(
    max_examples=STACK_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(script=updates())
def test_the_telegram_stack_survives_odd_updates(
    script: list[tuple[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    with tempfile.TemporaryDirectory(prefix="kompas-fuzz-") as home, monkeypatch.context() as patch:
        patch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
        asyncio.run(run_stack(script, Path(home)))
