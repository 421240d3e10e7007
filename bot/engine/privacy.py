"""Privacy: `/mijngegevens` shows a participant what is kept about them; `/vergeet ja` removes it.

Erasing reaches every place the engine keeps a person's words: contributions and their history,
notes and fields, drafts, votes, formulations agreed from their text, proposals and search
results on screen (which may quote them), names and roles.
"""

from __future__ import annotations

from bot.engine.context import Context, Turn, esc


def cmd_forget(ctx: Context, turn: Turn, arg: str) -> None:
    """`/vergeet` explains, `/vergeet ja` removes the asker's contributions and personal data in this chat."""
    actor = turn.actor
    assert actor is not None
    if arg.strip().lower() != "ja":
        turn.say(ctx.t("vergeet_bevestig"))
        return
    removed = 0
    chat = turn.chat
    for session in chat.sessions.values():
        forgotten: dict[int, str] = {}
        for contribution in session.contributions:
            if contribution.author_id == actor.id and not contribution.removed:
                removed += 1
            if contribution.author_id == actor.id:
                forgotten[contribution.id] = contribution.text
                contribution.text = ""
                contribution.fields = {}
                contribution.field_sources = {}
                contribution.notes = []
                contribution.history = []
                contribution.author_name = ""
                contribution.author_id = ""
                contribution.ref = None
                contribution.removed = True
            for revision in contribution.history:
                if revision.by == actor.id:
                    revision.by = ""
        session.drafts = [d for d in session.drafts if d.author_id != actor.id]
        session.measuring = [d for d in session.measuring if d.author_id != actor.id]
        # The figures stay (they are the municipality's); who entered them, and their notes, go.
        session.measurements = [
            m.model_copy(update={"entered_by": "", "note": ""}) if m.entered_by == actor.id else m
            for m in session.measurements
        ]
        for snapshot in session.previous:
            for contribution in snapshot.contributions:
                if contribution.author_id == actor.id:
                    contribution.text, contribution.fields, contribution.notes = "", {}, []
                    contribution.history, contribution.author_id, contribution.author_name = [], "", ""
                    contribution.removed = True
        session.participants.pop(actor.id, None)
        session.facilitators = [f for f in session.facilitators if f != actor.id]
        for answer in session.answers.values():
            answer.votes.pop(actor.id, None)
            # An agreed formulation that is word for word the asker's contribution goes too
            # (in a private chat every formulation is agreed from the one person's answer).
            own = [forgotten[i] for i in answer.agreed_from if i in forgotten]
            if answer.agreed is not None and answer.agreed in own:
                answer.agreed = None
                answer.agreed_from = []
        if session.created_by == actor.id:
            session.created_by = ""
    # What is on screen may quote them (a model's proposal, a search): it goes, the group can ask again.
    chat.offered = []
    chat.offered_for = None
    chat.last_query = None
    chat.proposed_issue = None
    chat.last_offset = 0
    chat.names.pop(actor.id, None)
    chat.roles.pop(actor.id, None)
    turn.changed = True
    turn.erased = True
    turn.say(ctx.t("vergeten", aantal=removed))


def cmd_my_data(ctx: Context, turn: Turn, _: str) -> None:
    """Everything this chat stores about the asker, sent privately where the transport can."""
    actor = turn.actor
    assert actor is not None
    chat = turn.chat
    lines = [ctx.t("mijngegevens_kop")]
    lines.append(ctx.t("mijngegevens_naam", naam=chat.names.get(actor.id) or actor.name or "-"))
    lines.append(ctx.t("mijngegevens_rol", rol=chat.roles.get(actor.id) or "-"))
    for session in chat.sessions.values():
        own = [c for c in session.contributions if c.author_id == actor.id and not c.removed]
        role = ctx.t("facilitator") if actor.id in session.facilitators else ctx.t("deelnemer")
        lines.append(
            "\n<b>" + esc(session.vraagstuk) + "</b> " + ctx.t("mijngegevens_kompas", rol=role, aantal=len(own))
        )
        for contribution in own:
            when = contribution.at.strftime("%d-%m-%Y %H:%M")
            key = ctx.flow.question(contribution.question).kort
            lines.append(f"– {when} · {esc(key)}: {esc(contribution.text)}")
            for name, value in contribution.fields.items():
                lines.append(f"   {esc(name)}: {esc(value)}")
            for note in contribution.notes:
                lines.append(f"   {esc(note)}")
            for revision in contribution.history:
                lines.append("   " + ctx.t("mijngegevens_eerder", wat=revision.what, tekst=revision.before))
        changed_by_me = [
            c for c in session.contributions if c.author_id != actor.id and any(r.by == actor.id for r in c.history)
        ]
        for contribution in changed_by_me:
            lines.append(ctx.t("mijngegevens_aangepast", nummer=contribution.id))
        for measurement in session.measurements:
            if measurement.entered_by == actor.id:
                lines.append(
                    ctx.t(
                        "mijngegevens_meting",
                        indicator=measurement.indicator,
                        waarde=measurement.value,
                        periode=measurement.period,
                    )
                )
    lines.append(ctx.t("mijngegevens_voet"))
    turn.say("\n".join(lines), private=True)
