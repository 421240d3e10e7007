"""The pure Telegram translation: message splitting, keyboards, ForceReply design, callback stamps."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telegram import ForceReply, InlineKeyboardMarkup

from bot.compass import Chat
from bot.engine import Actor, Engine, Outcome, Reply, Text
from bot.engine.navigation import question_buttons
from bot.telegram.translate import (
    MAX_CALLBACK_DATA,
    MAX_MESSAGE,
    Origin,
    React,
    SendPoll,
    SendText,
    StopPoll,
    Toast,
    callback_data,
    parse_callback_data,
    plan,
    split_first_line,
    split_html,
    units,
)

from .telegram_fake import BadRequest, check_html, visible_length

AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
FATIMA = Actor("1", "Fatima")


def _visible(text: str) -> str:
    return html.unescape(re.sub(r"</?(?:b|i|code)>", "", text))


def _engine_html() -> st.SearchStrategy[str]:
    words = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=40).map(
        lambda w: html.escape(w, quote=False)
    )
    tagged = st.tuples(st.sampled_from(["b", "i", "code"]), words).map(lambda p: f"<{p[0]}>{p[1]}</{p[0]}>")
    piece = st.one_of(words, tagged, st.just("\n"), st.just("&amp;"), st.just("é€😀"))
    return st.lists(piece, min_size=0, max_size=400).map("".join)


@settings(max_examples=200, deadline=None)
@given(_engine_html(), st.sampled_from([40, 64, 200, 4096]))
def test_split_html_keeps_tags_entities_and_limit(text: str, limit: int) -> None:
    chunks = split_html(text, limit)
    for chunk in chunks:
        assert units(chunk) <= limit
        check_html(chunk)  # balanced tags, no broken entity: Telegram would accept it
    joined = re.sub(r"\s+", "", "".join(_visible(c) for c in chunks))
    assert joined == re.sub(r"\s+", "", _visible(text))


def test_split_html_prefers_line_boundaries_and_reopens_tags() -> None:
    lines = [f"<b>Regel {n}</b> " + "woord " * 30 for n in range(300)]
    text = "<i>" + "\n".join(lines) + "</i>"
    chunks = split_html(text)
    assert len(chunks) >= 3
    for chunk in chunks:
        assert visible_length(chunk) <= 4096
        assert chunk.startswith("<i>") and chunk.endswith("</i>")
        check_html(chunk)
    for chunk in chunks:  # split between lines: every chunk starts at the beginning of a line
        assert chunk.removeprefix("<i>").startswith("<b>Regel ")
    assert "".join(chunks).count("Regel") == 300


def test_split_one_huge_word() -> None:
    chunks = split_html("x" * 10000 + " &amp; " + "y" * 5000)
    assert all(units(c) <= 4096 for c in chunks)
    assert "".join(chunks).replace(" ", "").replace("&amp;", "&") == "x" * 10000 + "&" + "y" * 5000


def test_check_html_refuses_what_telegram_refuses() -> None:
    for bad in ["<b>open", "a < b", "AT&T", "<u>x</b>", "&nbsp;"]:
        with pytest.raises(BadRequest):
            check_html(bad)


def test_split_first_line_balances_tags() -> None:
    head, rest = split_first_line("<i>Eerste regel\nen tweede</i>\nderde")
    assert head == "<i>Eerste regel</i>"
    assert rest == "<i>en tweede</i>\nderde"
    check_html(head)
    check_html(rest)


def _asked(engine: Engine, group: bool) -> Outcome:
    chat = Chat(id="-1" if group else "1", is_group=group)
    return engine.handle(chat, Text(actor=FATIMA, text="/kompas eenzaamheid", at=AT))


def test_group_question_has_keyboard_header_and_force_reply(engine: Engine) -> None:
    actions = plan(_asked(engine, group=True), group=True, origin=Origin(message_id=5), placeholder="Jouw antwoord…")
    texts = [a for a in actions if isinstance(a, SendText)]
    assert len(texts) == 2  # intro + header with keyboard, then the question itself
    header, question = texts
    assert isinstance(header.markup, InlineKeyboardMarkup)
    assert "Stap 0 · vraag 1 van" in header.text and "Nieuw kompas gestart" in header.text
    labels = [b.text for row in header.markup.inline_keyboard for b in row]
    assert labels == ["Volgende", "Terug", "Overslaan", "Uitleg"]
    assert isinstance(question.markup, ForceReply) and question.markup.input_field_placeholder == "Jouw antwoord…"
    assert "Wat bedoelen jullie met eenzaamheid" in question.text


def test_private_question_is_one_message_with_keyboard(engine: Engine) -> None:
    actions = plan(_asked(engine, group=False), group=False, origin=Origin(message_id=5))
    assert len(actions) == 1
    only = actions[0]
    assert isinstance(only, SendText) and isinstance(only.markup, InlineKeyboardMarkup)
    assert "Wat bedoelen jullie met eenzaamheid" in only.text


def test_callback_data_fits_and_goes_stale(engine: Engine) -> None:
    outcome = _asked(engine, group=True)
    data = callback_data("/volgende", lambda command: engine.stamp(outcome.chat, command, FATIMA.id))
    assert data is not None and len(data.encode()) <= MAX_CALLBACK_DATA
    command, stamp = parse_callback_data(data)
    assert command == "/volgende" and stamp == engine.stamp(outcome.chat, command, FATIMA.id)
    moved = engine.handle(outcome.chat, Text(actor=FATIMA, text="/volgende", at=AT)).chat
    assert stamp != engine.stamp(moved, command, FATIMA.id)
    assert callback_data("/kies " + "9" * 80, lambda command: engine.stamp(outcome.chat, command, "x")) is None


def test_acknowledgements_are_reactions_and_refusals_are_toasts(engine: Engine) -> None:
    chat = _asked(engine, group=True).chat
    answered = engine.handle(chat, Text(actor=FATIMA, text="Alleen zijn zonder het te willen", at=AT, ref="7"))
    actions = plan(answered, group=True, origin=Origin(message_id=7))
    assert any(isinstance(a, React) and a.message_id == 7 and a.emoji == "✍" for a in actions)
    refused = engine.handle(chat, Text(actor=Actor("2", "Dewi"), text="/volgende", at=AT))
    assert plan(refused, group=True, origin=Origin(callback=True)) == [Toast(_visible(refused.replies[0].text))]
    typed = plan(refused, group=True, origin=Origin(message_id=9))
    assert isinstance(typed[0], SendText) and typed[0].reply_to == 9


def test_poll_and_close_poll_become_poll_actions() -> None:
    from bot.events import PollSpec

    chat = Chat(id="-1", is_group=True)
    outcome = Outcome(
        chat, (Reply("Stem", poll=PollSpec("Welke?", ("a", "b"))), Reply("Uitslag", close_poll=True)), True
    )
    actions = plan(outcome, group=True, origin=Origin())
    assert [type(a) for a in actions] == [SendText, SendPoll, StopPoll, SendText]
    too_many = Outcome(chat, (Reply("Stem", poll=PollSpec("Welke?", tuple("abcdefghijk"))),), True)
    assert not any(isinstance(a, SendPoll) for a in plan(too_many, group=True, origin=Origin()))


def test_question_buttons_are_two_per_row(engine: Engine) -> None:
    from bot.telegram.translate import keyboard

    markup = keyboard(question_buttons(engine.ctx), lambda command: "s")
    assert markup is not None and [len(row) for row in markup.inline_keyboard] == [2, 2]


def test_model_request_becomes_an_ask_model_action() -> None:
    from bot.events import LLMRequest
    from bot.telegram.translate import AskModel, Origin, plan

    request = LLMRequest(kind="samenvatting", session_id="s", question=None, context="Stap 1", texts=("a",))
    outcome = Outcome(
        chat=Chat(id="1", is_group=True), replies=(Reply(text="Even denken", llm=request),), changed=False
    )
    actions = plan(outcome, group=True, origin=Origin(message_id=5))
    assert actions[-1] == AskModel(request)
    assert any(isinstance(a, SendText) and "Even denken" in a.text for a in actions)


@pytest.mark.parametrize("char", ["😀", "é", "x", "👨‍👩‍👧"])
def test_split_html_counts_utf16_units_in_one_long_word(char: str) -> None:
    text = "<b>" + char * 5000 + "</b>"
    chunks = split_html(text)
    assert len(chunks) >= 2
    for chunk in chunks:
        assert units(chunk) <= MAX_MESSAGE
        check_html(chunk)
    assert "".join(_visible(c) for c in chunks) == char * 5000
