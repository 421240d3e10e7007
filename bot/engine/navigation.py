"""Navigation: starting and resuming a compass, asking the open question, and moving on.

Solo and group move on the same way: answers are collected at the open question until someone
who steers types /volgende (or presses its button); nothing moves on by itself.
"""

from __future__ import annotations

from bot.compass import Participant, Pending, Role, Session, slugify
from bot.engine import answers, choosing, knowledge, measuring
from bot.engine.context import (
    MAX_POLL_OPTIONS,
    Context,
    Turn,
    distinct,
    esc,
    give_advice,
    may_steer,
    progress,
)
from bot.events import Button
from bot.flows import ROLES

ISSUE_LENGTH = 120  # characters: an issue is a name, not a paragraph


def question_buttons(ctx: Context) -> tuple[Button, ...]:
    return (
        Button(ctx.t("knop_volgende"), "/volgende"),
        Button(ctx.t("knop_terug"), "/terug"),
        Button(ctx.t("knop_overslaan"), "/overslaan"),
        Button(ctx.t("knop_uitleg"), "/uitleg"),
    )


def ask(ctx: Context, turn: Turn, *, intro: bool = False) -> None:
    session = turn.session
    assert session is not None
    if session.phase == "klaar":
        turn.say(ctx.t("klaar", vraagstuk=session.vraagstuk))
        return
    step = ctx.flow.step(session.step)
    if intro:
        turn.say(ctx.raw("begin_stap", nummer=str(step.nummer), titel=esc(step.titel), doel=esc(step.doel)))
    question = ctx.question(session)
    if ctx.coach is not None:
        give_advice(ctx, turn, ctx.coach.review_question(session, question.sleutel))
    if question.toon_metingen:  # recognise the figures before judging them
        measuring.show_status(ctx, turn)
    themes = tuple(session.themas)
    lines = [
        "<b>" + ctx.t("vraag_kop", stap=step.nummer, nummer=session.question_index + 1, van=len(step.vragen)) + "</b>",
        ctx.fill(question.text_for(themes), session),
    ]
    example = question.example(themes)
    if example:
        lines.append("<i>" + ctx.raw("bijvoorbeeld", tekst=ctx.fill(example, session)) + "</i>")
    turn.say("\n".join(lines), buttons=question_buttons(ctx), asks=True)
    if question.suggesties:
        context = [c.text for key in ("resultaten", "activiteiten") for c in session.live(key)][:4]
        knowledge.suggest(ctx, turn, question.suggesties, " ".join([session.vraagstuk, *context]))
    draft = session.draft_of(turn.actor_id, question.sleutel)
    if draft is not None:  # back at a question where this person's item is unfinished
        answers.continue_draft(ctx, turn, draft)


def _moved(turn: Turn) -> None:
    """The open question changed: suggestions offered for the previous one no longer apply."""
    session = turn.session
    assert session is not None
    session.pending = Pending()
    if turn.chat.offered_for is not None:
        turn.chat.offered = []
        turn.chat.offered_for = None
    turn.changed = True


def advance(ctx: Context, turn: Turn) -> None:
    """Move to the next question (or step), or finish the compass."""
    session = turn.session
    assert session is not None
    left = ctx.question(session).sleutel
    unfinished = answers.unfinished(ctx, turn, left)
    if unfinished:
        turn.say(unfinished)
    session.phase = "vragen"
    _moved(turn)
    step = ctx.flow.step(session.step)
    if session.question_index + 1 < len(step.vragen):
        session.question_index += 1
        ask(ctx, turn)
    elif session.step < 6:
        leave_step(ctx, turn)
        session.step += 1
        session.question_index = 0
        ask(ctx, turn, intro=True)
    else:
        leave_step(ctx, turn)
        session.phase = "klaar"
        ask(ctx, turn)


def leave_step(ctx: Context, turn: Turn) -> None:
    session = turn.session
    if ctx.coach is not None and session is not None:
        give_advice(ctx, turn, ctx.coach.review_step(session, session.step, turn.chat.roles))


def require_session(ctx: Context, turn: Turn) -> Session | None:
    if turn.session is None:
        turn.say(ctx.t("geen_kompas"))
    return turn.session


# ----------------------------------------------------------------------------- commands


def cmd_start(ctx: Context, turn: Turn, _: str) -> None:
    turn.say(ctx.t("welkom"))
    if turn.session is not None:
        ask(ctx, turn)


def cmd_help(ctx: Context, turn: Turn, _: str) -> None:
    lines = "\n".join(f"/{name} – {esc(text)}" for name, text in ctx.texts.commandos.items())
    turn.say(ctx.raw("help", commandos=lines))


def cmd_compass(ctx: Context, turn: Turn, arg: str) -> None:
    chat = turn.chat
    if not arg:
        if not chat.sessions:
            turn.say(ctx.t("kompas_naam_nodig"))
            return
        turn.say(ctx.raw("kompassen_lijst", lijst=sessions_list(ctx, turn)))
        return
    sessions = list(chat.sessions.values())
    target = None
    if arg.isdigit() and 1 <= int(arg) <= len(sessions):
        target = sessions[int(arg) - 1]
    else:
        target = chat.sessions.get(slugify(arg))
    if target is not None:
        chat.active = target.id
        turn.changed = True
        turn.say(ctx.t("kompas_hervat", vraagstuk=target.vraagstuk, voortgang=progress(ctx.flow, target)))
        ask(ctx, turn)
        return
    if len(arg) > ISSUE_LENGTH:
        turn.say(ctx.t("te_lang", lengte=len(arg), grens=ISSUE_LENGTH))
        return
    new_session(ctx, turn, arg)


def offer_compass(ctx: Context, turn: Turn, text: str) -> None:
    """Without a compass, someone typing in their own chat most likely typed their issue: offer to
    start a compass on it (kept until they say yes), rather than dropping what they wrote."""
    chat = turn.chat
    if chat.proposed_issue is not None and is_yes(ctx, text):
        vraagstuk, chat.proposed_issue = chat.proposed_issue, None
        cmd_compass(ctx, turn, vraagstuk)
        return
    if chat.is_group or len(text) > ISSUE_LENGTH or is_yes(ctx, text):
        turn.say(ctx.t("geen_kompas"))
        return
    chat.proposed_issue = text.strip()
    turn.changed = True
    turn.say(ctx.t("kompas_voorstel", vraagstuk=chat.proposed_issue))


def is_yes(ctx: Context, text: str) -> bool:
    words = {word.strip().lower() for word in ctx.t("ja_woorden").split(",")}
    return text.strip().strip("!.").lower() in words


def sessions_list(ctx: Context, turn: Turn) -> str:
    lines = []
    for n, session in enumerate(turn.chat.sessions.values(), start=1):
        marker = " ◀" if session.id == turn.chat.active else ""
        lines.append(f"{n}. {esc(session.vraagstuk)} ({progress(ctx.flow, session)}%){marker}")
    return "\n".join(lines)


def new_session(ctx: Context, turn: Turn, vraagstuk: str) -> None:
    actor = turn.actor
    assert actor is not None
    session_id = slugify(vraagstuk)
    session = Session(
        id=session_id,
        chat_id=turn.chat.id,
        vraagstuk=vraagstuk,
        created_at=turn.at,
        updated_at=turn.at,
        created_by=actor.id,
        facilitators=[actor.id],
        themas=list(ctx.themes.detect(vraagstuk)) if ctx.themes else [],
    )
    role = turn.chat.roles.get(actor.id)
    session.participants[actor.id] = Participant(id=actor.id, name=actor.name, role=role)
    turn.chat.sessions[session_id] = session
    turn.chat.active = session_id
    turn.changed = True
    if turn.chat.is_group:
        turn.say(ctx.t("kompas_gestart", vraagstuk=vraagstuk, facilitator=actor.name or ctx.t("wie_dit_startte")))
    else:
        turn.say(ctx.t("kompas_gestart_solo", vraagstuk=vraagstuk))
    if ctx.coach is not None:
        give_advice(ctx, turn, ctx.coach.review_issue(vraagstuk))
    ask(ctx, turn, intro=True)


def cmd_next(ctx: Context, turn: Turn, _: str) -> None:
    session = require_session(ctx, turn)
    if session is None:
        return
    if session.phase == "klaar":
        turn.say(ctx.t("klaar", vraagstuk=session.vraagstuk))
        return
    if session.phase == "stemmen":
        choosing.close_vote(ctx, turn)
        advance(ctx, turn)
        return
    if session.phase == "shortlist":
        choosing.start_vote(ctx, turn, session.pending.options[:MAX_POLL_OPTIONS])
        return
    question = ctx.question(session)
    live = session.live(question.sleutel)
    answer = session.answer(question.sleutel)
    if session.phase == "vragen" and question.soort == "formulering" and not answer.agreed:
        proposals = distinct(live)
        if len(proposals) >= 2 and turn.chat.is_group:
            session.phase = "kiezen"
            session.pending = Pending(options=[c.id for c in proposals])
            lijst = choosing.options_list(session, session.pending.options)
            turn.say(ctx.raw("kies_formulering", aantal=str(len(proposals)), lijst=lijst), asks=True)
            turn.changed = True
            return
        if proposals:  # alone, the latest version is the one meant
            latest = proposals[-1] if turn.chat.is_group else live[-1]
            answers.agree(ctx, turn, question.sleutel, latest.text, [latest.id])
    if question.kiezen and turn.chat.is_group and len(live) >= 2 and not answer.chosen:
        if len(live) > MAX_POLL_OPTIONS:
            session.phase = "shortlist"
            session.pending = Pending(options=[c.id for c in live])
            lijst = choosing.options_list(session, session.pending.options)
            text = ctx.raw("shortlist_vragen", aantal=str(len(live)), lijst=lijst)
            if ctx.llm_enabled:
                text += "\n" + ctx.t("shortlist_taalmodel")
            turn.say(text, asks=True)
            turn.changed = True
            return
        choosing.start_vote(ctx, turn, [c.id for c in live])
        return
    if live or answer.agreed:
        session.answers[question.sleutel] = session.answer(question.sleutel).model_copy(update={"closed": True})
    advance(ctx, turn)


def cmd_back(ctx: Context, turn: Turn, _: str) -> None:
    session = require_session(ctx, turn)
    if session is None:
        return
    if session.phase not in ("vragen", "klaar"):
        session.phase = "vragen"
        _moved(turn)
        ask(ctx, turn)
        return
    if session.phase == "klaar":
        session.phase = "vragen"
    elif session.question_index > 0:
        session.question_index -= 1
    elif session.step > 0:
        session.step -= 1
        session.question_index = len(ctx.flow.step(session.step).vragen) - 1
    else:
        turn.say(ctx.t("al_bij_begin"))
        return
    _moved(turn)
    ask(ctx, turn)


def cmd_skip(ctx: Context, turn: Turn, _: str) -> None:
    """`/overslaan`: one's own open field, else (for whoever steers) the whole question."""
    session = require_session(ctx, turn)
    if session is None:
        return
    if session.phase == "klaar":
        turn.say(ctx.t("geen_open_vraag"))
        return
    question = ctx.question(session)
    draft = session.draft_of(turn.actor_id, question.sleutel)
    if draft is not None:
        answers.skip_field(ctx, turn, draft)
        return
    if not may_steer(turn):
        turn.say(ctx.t("alleen_facilitator", actie="/overslaan"))
        return
    if not session.live(question.sleutel) and not session.answer(question.sleutel).agreed:
        session.answers[question.sleutel] = session.answer(question.sleutel).model_copy(update={"skipped": True})
    turn.say(ctx.t("overgeslagen"))
    advance(ctx, turn)


def cmd_step(ctx: Context, turn: Turn, arg: str) -> None:
    session = require_session(ctx, turn)
    if session is None:
        return
    if not arg.strip().isdigit() or not 0 <= int(arg) <= 6:
        turn.say(ctx.t("stap_bereik"))
        return
    number = int(arg)
    questions = ctx.flow.step(number).vragen
    open_index = next(
        (i for i, q in enumerate(questions) if not session.answer(q.sleutel).closed and not session.live(q.sleutel)),
        0,
    )
    if number != session.step:
        leave_step(ctx, turn)
    session.step = number
    session.question_index = open_index
    session.phase = "vragen"
    _moved(turn)
    ask(ctx, turn, intro=True)


def cmd_stop(ctx: Context, turn: Turn, _: str) -> None:
    session = require_session(ctx, turn)
    if session is None:
        return
    turn.chat.active = None
    turn.changed = True
    turn.say(ctx.t("gestopt", vraagstuk=session.vraagstuk))


def cmd_role(ctx: Context, turn: Turn, arg: str) -> None:
    actor = turn.actor
    assert actor is not None
    wanted = arg.strip().lower()
    if not wanted:
        turn.say(ctx.t("rol_uitleg", rol=turn.chat.roles.get(actor.id) or ctx.t("rol_niet_gekozen")))
        return
    if wanted not in ROLES:
        turn.say(ctx.t("rol_ongeldig"))
        return
    role: Role = wanted  # type: ignore[assignment]
    turn.chat.roles[actor.id] = role
    for session in turn.chat.sessions.values():
        if actor.id in session.participants:
            session.participants[actor.id].role = role
    if turn.session is not None:
        turn.session.participants[actor.id] = Participant(id=actor.id, name=actor.name, role=role)
    turn.changed = True
    turn.say(ctx.t("rol_gezet", naam=actor.name or ctx.t("jij"), rol=role))


def cmd_explain(ctx: Context, turn: Turn, _: str) -> None:
    session = turn.session
    if session is None:
        turn.say(ctx.t("uitleg_geen_kompas"))
        return
    step = ctx.flow.step(session.step)
    lines = [f"<b>{ctx.t('stap_kop', nummer=step.nummer, titel=step.titel)}</b>", ctx.fill(step.doel, session)]
    if step.uitleg:
        lines.append(ctx.fill(step.uitleg, session))
    if session.phase != "klaar":
        question = ctx.question(session)
        if question.hulp:
            lines.append(f"\n<b>{ctx.t('bij_deze_vraag')}</b>\n{ctx.fill(question.hulp, session)}")
        for probe in question.doorvragen:
            lines.append(f"• {ctx.fill(probe, session)}")
        example = question.example(tuple(session.themas))
        if example:
            lines.append("<i>" + ctx.raw("bijvoorbeeld", tekst=ctx.fill(example, session)) + "</i>")
    turn.say("\n".join(lines))


def cmd_document(ctx: Context, turn: Turn, _: str) -> None:
    if require_session(ctx, turn) is not None:
        turn.say(ctx.t("document_klaar"), export=("pdf", "docx"))


def cmd_picture(ctx: Context, turn: Turn, _: str) -> None:
    if require_session(ctx, turn) is not None:
        turn.say(ctx.t("plaatje_klaar"), export=("png",))
