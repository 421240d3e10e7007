"""`/overzicht` and `/wie`: what the compass holds, under whose name, and what is still open."""

from __future__ import annotations

from datetime import timedelta

from bot.compass import Contribution, Session
from bot.engine import measuring
from bot.engine.answers import field_text, open_field
from bot.engine.context import Context, Turn, esc, progress, short
from bot.engine.navigation import require_session
from bot.flows import Question

FIELD_LENGTH = 60


LATEST_IN_GROUP = 2
OVERVIEW_PAUSE = timedelta(minutes=1)


def cmd_overview(ctx: Context, turn: Turn, _: str) -> None:
    """The whole compass in a private chat or the terminal; in a group a short version (counts and the
    latest answers) with the whole one as a document, at most once a minute per person, so a big
    compass cannot flood the group past Telegram's limits."""
    session = require_session(ctx, turn)
    if session is None:
        return
    if not turn.chat.is_group:
        turn.say(overview(ctx, turn, session))
        return
    last = turn.chat.overview_at.get(turn.actor_id)
    if last is not None and turn.at - last < OVERVIEW_PAUSE:
        turn.say(ctx.t("overzicht_net_gevraagd"))
        return
    turn.chat.overview_at[turn.actor_id] = turn.at
    turn.changed = True
    turn.say(short_overview(ctx, session), export=("md",))


def short_overview(ctx: Context, session: Session) -> str:
    lines = [ctx.t("overzicht_kop", vraagstuk=session.vraagstuk, voortgang=progress(ctx.flow, session))]
    for step in ctx.flow.stappen:
        lines.append(f"\n<b>{step.nummer}. {esc(step.titel)}</b>")
        for question in step.vragen:
            answer = session.answer(question.sleutel)
            live = session.live(question.sleutel)
            if answer.agreed:
                lines.append(f"• {esc(question.kort)} → {esc(short(answer.agreed, 120))}")
            elif live:
                latest = "; ".join(esc(short(c.text, 60)) for c in live[-LATEST_IN_GROUP:])
                lines.append(f"• {esc(question.kort)}: " + ctx.t("overzicht_aantal", aantal=len(live)) + f" – {latest}")
            else:
                lines.append(f"• {esc(question.kort)}: <i>{ctx.t('nog_in_te_vullen')}</i>")
    lines.append(ctx.t("overzicht_volledig"))
    return "\n".join(lines)


def overview(ctx: Context, turn: Turn, session: Session) -> str:
    """The compass as text: per step every answer with its number and author, and what is still empty."""
    codes = {ref.id: ref.code for ref in measuring.indicators(ctx, session)}
    lines = [ctx.t("overzicht_kop", vraagstuk=session.vraagstuk, voortgang=progress(ctx.flow, session))]
    empty = f"<i>{ctx.t('nog_in_te_vullen')}</i>"
    for step in ctx.flow.stappen:
        lines.append("")
        lines.append(f"<b>{step.nummer}. {esc(step.titel)}</b>")
        for question in step.vragen:
            label = esc(question.kort)
            answer = session.answer(question.sleutel)
            live = session.live(question.sleutel)
            if answer.agreed:
                lines.append(f"• {label}\n  → {esc(answer.agreed)}")
            elif live:
                lines.append(f"• {label}")
            else:
                lines.append(f"• {label}: {empty}")
            if answer.agreed and question.soort == "formulering":
                continue
            for contribution in live:
                star = " ★" if contribution.id in answer.chosen else ""
                code = f" [{esc(codes[contribution.id])}]" if contribution.id in codes else ""
                lines.append(
                    f"  {contribution.id}.{code} {esc(contribution.text)}{star}"
                    f"{_fields(ctx, session, question, contribution)}{_author(turn, contribution)}"
                )
    return "\n".join(lines)


def _author(turn: Turn, contribution: Contribution) -> str:
    if not turn.chat.is_group:
        return ""
    name = turn.name_of(contribution.author_id, contribution.author_name)
    return f" — {esc(name)}" if name else ""


def _fields(ctx: Context, session: Session, question: Question, contribution: Contribution) -> str:
    parts = []
    for item_field in question.velden:
        value = contribution.fields.get(item_field.sleutel)
        if value:
            parts.append(f"{esc(item_field.label)}: {esc(short(field_text(session, value), FIELD_LENGTH))}")
    parts += [esc(short(note, FIELD_LENGTH)) for note in contribution.notes]
    draft = next((d for d in session.drafts if d.item_id == contribution.id), None)
    if draft is not None:
        missing = open_field(ctx, session, draft)
        if missing is not None:
            parts.append(ctx.t("nog_open_veld", veld=missing.label))
    return f" <i>({', '.join(parts)})</i>" if parts else ""


def cmd_who(ctx: Context, turn: Turn, _: str) -> None:
    session = require_session(ctx, turn)
    if session is None:
        return
    if session.phase == "klaar":
        turn.say(ctx.t("geen_open_vraag"))
        return
    live = session.live(ctx.question(session).sleutel)
    if not live:
        turn.say(ctx.t("wie_niemand"))
        return
    by_role: dict[str, list[str]] = {}
    for contribution in live:
        role = turn.chat.roles.get(contribution.author_id) or contribution.role or ctx.t("rol_onbekend")
        name = turn.name_of(contribution.author_id, contribution.author_name) or ctx.t("iemand")
        names = by_role.setdefault(role, [])
        if name not in names:
            names.append(name)
    lines = [ctx.t("wie_kop")]
    lines += [f"{esc(role)}: {esc(', '.join(names))}" for role, names in by_role.items()]
    step_roles = {
        turn.chat.roles.get(c.author_id) or c.role
        for c in session.contributions
        if not c.removed and ctx.flow.step_of(c.question) == session.step
    }
    if turn.chat.is_group and "doelgroep" not in step_roles:
        lines.append(ctx.t("doelgroep_ontbreekt"))
    turn.say("\n".join(lines))
