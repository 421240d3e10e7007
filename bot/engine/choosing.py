"""Choosing and voting: a formulation the facilitator picks, a shortlist, and the group's poll.

While the facilitator chooses, everyone else keeps talking: their messages are stored as
contributions (a new formulation joins the options), never discarded.
"""

from __future__ import annotations

import re

from bot.compass import Pending, Session
from bot.engine import answers, navigation
from bot.engine.context import (
    MAX_POLL_OPTIONS,
    Context,
    Turn,
    esc,
    may_steer,
    numbers,
    poll_label,
)
from bot.events import PollSpec, Vote

_NUMBERS_ONLY = re.compile(r"[\d\s,;en]+")


def options_list(session: Session, ids: list[int]) -> str:
    lines = []
    for n, contribution_id in enumerate(ids, start=1):
        contribution = session.contribution(contribution_id)
        if contribution is not None:
            lines.append(f"{n}. {esc(contribution.text)}")
    return "\n".join(lines)


def answer_choice(ctx: Context, turn: Turn, text: str) -> None:
    """While the group picks one formulation: the facilitator's number or own text settles it;
    anyone else's text is a new option."""
    session = turn.session
    assert session is not None
    question = ctx.question(session)
    if not may_steer(turn):
        contribution = answers.add(ctx, turn, question.sleutel, text)
        session.pending.options.append(contribution.id)
        turn.ack(ctx.t("genoteerd", aantal=len(session.pending.options)))
        return
    if text.strip().isdigit():
        choose_formulation(ctx, turn, int(text.strip()))
        return
    contribution = answers.add(ctx, turn, question.sleutel, text)
    answers.agree(ctx, turn, question.sleutel, text, [contribution.id])
    navigation.advance(ctx, turn)


def choose_formulation(ctx: Context, turn: Turn, number: int) -> None:
    session = turn.session
    assert session is not None
    options = session.pending.options
    if not 1 <= number <= len(options):
        turn.say(ctx.t("kies_ongeldig", max=len(options)))
        return
    chosen = session.contribution(options[number - 1])
    assert chosen is not None
    answers.agree(ctx, turn, chosen.question, chosen.text, [chosen.id])
    navigation.advance(ctx, turn)


def answer_during_vote(ctx: Context, turn: Turn, text: str) -> None:
    """Numbers pick or vote; any other text is stored as a contribution while the vote goes on."""
    session = turn.session
    assert session is not None
    if numbers(text) and _NUMBERS_ONLY.fullmatch(text):
        cmd_choose(ctx, turn, text)
        return
    question = ctx.question(session)
    answers.add(ctx, turn, question.sleutel, text)
    turn.ack(ctx.t("bewaard_tijdens_stemming"))


def start_vote(ctx: Context, turn: Turn, ids: list[int]) -> None:
    session = turn.session
    assert session is not None
    question = ctx.question(session)
    session.phase = "stemmen"
    session.pending = Pending(options=ids)
    session.answers[question.sleutel] = session.answer(question.sleutel).model_copy(update={"votes": {}})
    labels = tuple(poll_label(c.text) for c in (session.contribution(i) for i in ids) if c is not None)
    title = ctx.t("peiling_vraag", stap=ctx.flow.step(session.step).titel)
    turn.say(
        ctx.raw("stemming_gestart") + "\n" + options_list(session, ids),
        poll=PollSpec(question=poll_label(title, 300), options=labels),
    )
    turn.changed = True


def close_vote(ctx: Context, turn: Turn) -> None:
    session = turn.session
    assert session is not None
    question = ctx.question(session)
    answer = session.answer(question.sleutel)
    tally = {option: 0 for option in session.pending.options}
    for picked in answer.votes.values():
        for option in picked:
            if option in tally:
                tally[option] += 1
    ranked = sorted((i for i in tally if tally[i] > 0), key=lambda i: -tally[i])
    session.answers[question.sleutel] = answer.model_copy(update={"chosen": ranked, "closed": True})
    if ranked:
        lines = []
        for option in ranked:
            contribution = session.contribution(option)
            if contribution is not None:
                lines.append(f"{tally[option]}× {esc(contribution.text)}")
        turn.say(ctx.raw("stemming_uitslag", lijst="\n".join(lines)), close_poll=True)
    else:
        turn.say(ctx.t("stemming_geen_stemmen"), close_poll=True)
    turn.changed = True


def on_vote(ctx: Context, turn: Turn, event: Vote) -> None:
    session = turn.session
    if session is None or session.phase != "stemmen":
        return
    options = session.pending.options
    picked = [options[i] for i in event.options if 0 <= i < len(options)]
    key = ctx.question(session).sleutel
    answer = session.answer(key)
    session.answers[key] = answer.model_copy(update={"votes": {**answer.votes, event.actor.id: picked}})
    turn.changed = True


def cmd_choose(ctx: Context, turn: Turn, arg: str) -> None:
    """`/kies N`: answers the prompt open for this person: their own field, else the group's choice."""
    session = turn.session
    if session is None:
        turn.say(ctx.t("geen_kompas"))
        return
    picked = numbers(arg)
    if session.phase != "klaar":
        draft = session.draft_of(turn.actor_id, ctx.question(session).sleutel)
        if draft is not None:
            answers.answer_field(ctx, turn, draft, arg)
            return
    if not picked:
        turn.say(ctx.t("kies_nummer"))
        return
    if session.phase == "kiezen":
        if not may_steer(turn):
            turn.say(ctx.t("alleen_facilitator", actie="/kies"))
            return
        choose_formulation(ctx, turn, picked[0])
        return
    if session.phase == "shortlist":
        if not may_steer(turn):
            turn.say(ctx.t("alleen_facilitator", actie="/kies"))
            return
        options = session.pending.options
        if any(not 1 <= n <= len(options) for n in picked):
            turn.say(ctx.t("kies_ongeldig", max=len(options)))
            return
        chosen = list(dict.fromkeys(options[n - 1] for n in picked))[:MAX_POLL_OPTIONS]
        if len(chosen) < 2:
            turn.say(ctx.t("kies_ongeldig", max=len(options)))
            return
        start_vote(ctx, turn, chosen)
        return
    if session.phase == "stemmen":
        options = session.pending.options
        if any(not 1 <= n <= len(options) for n in picked):
            turn.say(ctx.t("kies_ongeldig", max=len(options)))
            return
        assert turn.actor is not None
        on_vote(ctx, turn, Vote(actor=turn.actor, options=tuple(n - 1 for n in picked), at=turn.at))
        turn.ack(ctx.t("genoteerd", aantal=len(picked)))
        return
    turn.say(ctx.t("geen_keuze_open"))
