"""Answers and drafts: where what people type goes, and each participant's own item dialog.

Every text that is not a command lands somewhere, attributed to its author: as a contribution
to the open question, as a field of the author's own draft, or (when it fits no choice) as the
author's next item or a note on the item. A draft belongs to its author alone: other people's
messages never touch it. Corrections (`/wijzig`, `/verwijder`, message edits) keep a history.
"""

from __future__ import annotations

from bot.compass import Contribution, Draft, FieldValue, Participant, Revision, Session
from bot.engine import choosing, knowledge, measuring
from bot.engine.context import (
    Context,
    Turn,
    esc,
    is_bare_number,
    may_steer,
    numbers,
    review,
    short,
)
from bot.engine.understand import LEFT_OPEN, resolve_numbers
from bot.events import Button
from bot.flows import ItemField, Question

LABEL_LENGTH = 40


# ----------------------------------------------------------------------------- where a text goes


def on_answer(ctx: Context, turn: Turn, text: str) -> None:
    session = turn.session
    if session is None:
        turn.say(ctx.t("geen_kompas"))
        return
    if session.phase == "klaar":
        turn.say(ctx.t("kompas_af"))
        return
    measuring_draft = next((d for d in session.measuring if d.author_id == turn.actor_id), None)
    if measuring_draft is not None:
        measuring.answer(ctx, turn, measuring_draft, text)
        return
    question = ctx.question(session)
    draft = session.draft_of(turn.actor_id, question.sleutel)
    if draft is not None:
        answer_field(ctx, turn, draft, text)
        return
    if session.phase == "kiezen":
        choosing.answer_choice(ctx, turn, text)
        return
    if session.phase in ("shortlist", "stemmen"):
        choosing.answer_during_vote(ctx, turn, text)
        return
    if is_bare_number(text):
        # A bare number answers only a prompt open for this person; adopting is /neem.
        number = text.strip()
        turn.say(ctx.t("los_nummer_neem", nummer=number) if turn.chat.offered else ctx.t("los_nummer"))
        return
    if question.soort == "items":
        start_item(ctx, turn, question, text)
        return
    if question.soort == "lijst" and not turn.chat.is_group:
        for line in [part.strip() for part in text.splitlines() if part.strip()]:
            review(ctx, turn, add(ctx, turn, question.sleutel, line))
        turn.say(ctx.t("genoteerd_solo"))
        return
    contribution = add(ctx, turn, question.sleutel, text)
    review(ctx, turn, contribution)
    if question.soort == "formulering" and not turn.chat.is_group:
        turn.say(ctx.t("formulering_genoteerd_solo"))
        return
    turn.ack(ctx.t("genoteerd", aantal=len(session.live(question.sleutel))))


def add(ctx: Context, turn: Turn, question: str, text: str, *, source: str | None = None) -> Contribution:
    session = turn.session
    actor = turn.actor
    assert session is not None and actor is not None
    role = turn.chat.roles.get(actor.id)
    contribution = Contribution(
        id=session.next_id,
        question=question,
        text=text,
        author_id=actor.id,
        author_name=actor.name,
        role=role,
        at=turn.at,
        ref=turn.ref,
        source=source,
    )
    session.next_id += 1
    session.contributions.append(contribution)
    session.participants.setdefault(actor.id, Participant(id=actor.id, name=actor.name, role=role))
    turn.changed = True
    return contribution


def agree(ctx: Context, turn: Turn, question: str, text: str, sources: list[int]) -> None:
    session = turn.session
    assert session is not None
    answer = session.answer(question).model_copy(update={"agreed": text, "agreed_from": sources, "closed": True})
    session.answers[question] = answer
    turn.say(ctx.t("formulering_vastgesteld", tekst=text))
    turn.changed = True


# ----------------------------------------------------------------------------- items and their drafts


def item_label(contribution: Contribution) -> str:
    """How the bot refers to an item: its number and the start of its text."""
    return f"nr. {contribution.id} ({short(contribution.text, LABEL_LENGTH)})"


def reference_options(session: Session, target: str) -> list[Contribution]:
    """The items a reference field may point at: the chosen ones if the group voted, else all."""
    chosen = session.answer(target).chosen
    live = session.live(target)
    if chosen:
        preferred = [c for c in live if c.id in chosen]
        return preferred + [c for c in live if c.id not in chosen]
    return live


def start_item(ctx: Context, turn: Turn, question: Question, text: str, *, source: str | None = None) -> None:
    """A new item: read what its text already says, then ask its author only what is missing."""
    session = turn.session
    assert session is not None
    reading = ctx.reader.read_item(question, text)
    item = add(ctx, turn, question.sleutel, reading.text, source=source)
    understood = []
    for item_field in question.velden:
        value = reading.values.get(item_field.sleutel)
        if value is None:
            continue
        if item_field.verwijst_naar:
            value = resolve_numbers(value, item_field, reference_options(session, item_field.verwijst_naar))
            if value is None:
                continue
        item.fields[item_field.sleutel] = value
        understood.append(f"{esc(item_field.label)}: <i>{esc(field_text(session, value))}</i>")
    item.notes.extend(reading.notes)
    if understood:
        turn.say(ctx.raw("begrepen", velden=", ".join(understood)))
    draft = Draft(author_id=turn.actor_id, item_id=item.id, question=question.sleutel, skipped=reading.skipped)
    session.drafts.append(draft)
    continue_draft(ctx, turn, draft)


def field_text(session: Session, value: FieldValue) -> str:
    if isinstance(value, list):
        return "; ".join(c.text for c in (session.contribution(i) for i in value) if c is not None)
    return value


def open_field(ctx: Context, session: Session, draft: Draft) -> ItemField | None:
    """The field the draft asks now: its current one, else the first without a value."""
    question = ctx.flow.question(draft.question)
    item = session.contribution(draft.item_id)
    if item is None:
        return None
    if draft.field and draft.field not in item.fields and draft.field not in draft.skipped:
        current = next((f for f in question.velden if f.sleutel == draft.field), None)
        if current is not None:
            return current
    return next(
        (f for f in question.velden if f.sleutel not in item.fields and f.sleutel not in draft.skipped),
        None,
    )


def continue_draft(ctx: Context, turn: Turn, draft: Draft) -> None:
    """Ask the draft's next open field, or finish the item."""
    session = turn.session
    assert session is not None
    item_field = open_field(ctx, session, draft)
    if item_field is None:
        finish_item(ctx, turn, draft)
        return
    draft.field = item_field.sleutel
    turn.changed = True
    ask_field(ctx, turn, draft, item_field)


def finish_item(ctx: Context, turn: Turn, draft: Draft) -> None:
    session = turn.session
    assert session is not None
    session.drafts = [d for d in session.drafts if d is not draft]
    turn.changed = True
    item = session.contribution(draft.item_id)
    for earlier in [d for d in session.drafts if d.author_id == draft.author_id and d.question == draft.question]:
        if open_field(ctx, session, earlier) is None:  # completed meanwhile (/wijzig): nothing to ask
            session.drafts.remove(earlier)
    older = session.draft_of(draft.author_id, draft.question)
    text = ctx.t("item_klaar", nummer=draft.item_id)
    if turn.chat.is_group and older is None:
        turn.ack(text)  # a reaction on their message; a follow-up prompt would answer that message itself
    else:
        turn.say(text)
    if item is not None:
        review(ctx, turn, item)
    if older is not None:  # an earlier item of this person still has open fields: back to it
        continue_draft(ctx, turn, older)


def ask_field(ctx: Context, turn: Turn, draft: Draft, item_field: ItemField) -> None:
    session = turn.session
    assert session is not None
    item = session.contribution(draft.item_id)
    if item is None:
        return
    header = f"<b>{esc(item_label(item))}</b>"
    if turn.chat.is_group:
        header += " · " + esc(turn.name_of(draft.author_id, item.author_name) or ctx.t("iemand"))
    lines = [header, ctx.fill(item_field.vraag, session, item=item_label(item))]
    if item_field.keuzes:
        lines += [f"{n}. {esc(choice)}" for n, choice in enumerate(item_field.keuzes, start=1)]
    if item_field.verwijst_naar:
        options = reference_options(session, item_field.verwijst_naar)
        if options:
            lines += [f"{n}. {esc(short(c.text, 120))}" for n, c in enumerate(options, start=1)]
        else:
            lines.append(f"<i>{ctx.t('verwijzing_leeg')}</i>")
    if item_field.hulp:
        lines.append(f"<i>{ctx.fill(item_field.hulp, session)}</i>")
    if not item_field.verplicht:
        lines.append(f"<i>{ctx.t('veld_overslaan')}</i>")
    buttons = tuple(Button(choice, f"/kies {n}") for n, choice in enumerate(item_field.keuzes, start=1))
    turn.say("\n".join(lines), buttons=buttons, asks=True, for_author=True)
    if item_field.suggesties:
        knowledge.suggest(ctx, turn, (item_field.suggesties,), f"{item.text} {session.vraagstuk}")


def answer_field(ctx: Context, turn: Turn, draft: Draft, text: str) -> None:
    """The author answers their own draft's open field. A value that fits no choice is kept:
    as the author's next item (someone typed the next organisation), never dropped."""
    session = turn.session
    assert session is not None
    item = session.contribution(draft.item_id)
    item_field = open_field(ctx, session, draft)
    if item is None or item_field is None:
        session.drafts = [d for d in session.drafts if d is not draft]
        on_answer(ctx, turn, text)
        return
    question = ctx.flow.question(draft.question)
    if text.strip().lower() in LEFT_OPEN:  # "-", "weet niet": this field stays open
        skip_field(ctx, turn, draft)
        return
    if len(ctx.reader.parts(text)) >= 3:  # a whole new item in one message, not an answer to this field
        start_item(ctx, turn, question, text)
        return
    options = reference_options(session, item_field.verwijst_naar) if item_field.verwijst_naar else []
    value = ctx.reader.read_field(question, item_field, text, options)
    if value is None:
        if is_bare_number(text) or (item_field.verwijst_naar and numbers(text)):
            turn.say(ctx.t("kies_ongeldig", max=len(item_field.keuzes) or len(options)))
            return
        if _fill_others(ctx, turn, question, item, item_field, text):
            continue_draft(ctx, turn, draft)
            return
        turn.say(ctx.t("past_niet_nieuw_item", veld=item_field.label, item=item_label(item)))
        start_item(ctx, turn, question, text)
        return
    item.fields[item_field.sleutel] = value
    if isinstance(value, str) and not item_field.keuzes and "," in value:
        # The answer may make other fields clear too ("het wijkteam, formeel, bestaat al").
        for piece in value.split(",")[1:]:
            _fill_others(ctx, turn, question, item, item_field, piece)
    turn.changed = True
    continue_draft(ctx, turn, draft)


def _fill_others(ctx: Context, turn: Turn, question: Question, item: Contribution, asked: ItemField, text: str) -> bool:
    """An answer that does not fit the asked field may still answer another open one ("bestaat al")."""
    session = turn.session
    assert session is not None
    understood = []
    for other in question.velden:
        if other.sleutel in item.fields or other.sleutel == asked.sleutel or not other.keuzes:
            continue
        found = ctx.reader.choice(question, other, text, exact=True, coverage=0.5)
        if found is not None:
            item.fields[other.sleutel] = found
            understood.append(f"{esc(other.label)}: <i>{esc(field_text(session, found))}</i>")
    if understood:
        turn.changed = True
        turn.say(ctx.raw("begrepen", velden=", ".join(understood)))
    return bool(understood)


def skip_field(ctx: Context, turn: Turn, draft: Draft) -> None:
    session = turn.session
    assert session is not None
    item_field = open_field(ctx, session, draft)
    if item_field is not None:
        draft.skipped.append(item_field.sleutel)
    turn.changed = True
    continue_draft(ctx, turn, draft)


def adopt_into_field(ctx: Context, turn: Turn, draft: Draft, titel: str, bron: str) -> bool:
    """`/neem N` while one's own draft asks a field that offers suggestions: the suggestion fills it."""
    session = turn.session
    assert session is not None
    item = session.contribution(draft.item_id)
    item_field = open_field(ctx, session, draft)
    if item is None or item_field is None or not item_field.suggesties:
        return False
    item.fields[item_field.sleutel] = titel
    item.field_sources[item_field.sleutel] = bron
    turn.say(ctx.t("suggestie_overgenomen", titel=titel))
    turn.changed = True
    continue_draft(ctx, turn, draft)
    return True


def unfinished(ctx: Context, turn: Turn, question_key: str) -> str:
    """Whose items at this question still have open fields, as a line for the group; '' if none."""
    session = turn.session
    assert session is not None
    parts = []
    for draft in session.drafts:
        item = session.contribution(draft.item_id)
        if draft.question != question_key or item is None or item.removed:
            continue
        missing = open_field(ctx, session, draft)
        name = turn.name_of(draft.author_id, item.author_name) or ctx.t("iemand")
        label = missing.label if missing is not None else "?"
        parts.append(f"{esc(item_label(item))} van {esc(name)} ({esc(label)})")
    return ctx.raw("nog_niet_af", lijst="; ".join(parts)) if parts else ""


# ----------------------------------------------------------------------------- corrections


def _own_or_steering(turn: Turn, contribution: Contribution) -> bool:
    return contribution.author_id == turn.actor_id or (turn.chat.is_group and may_steer(turn))


def _target(ctx: Context, turn: Turn, arg: str, usage: str) -> tuple[Contribution, str] | None:
    session = turn.session
    if session is None:
        turn.say(ctx.t("geen_kompas"))
        return None
    head, _, rest = arg.strip().partition(" ")
    if not head.isdigit():
        turn.say(ctx.t(usage))
        return None
    contribution = session.contribution(int(head))
    if contribution is None or contribution.removed:
        turn.say(ctx.t("nummer_onbekend", nummer=head))
        return None
    if not _own_or_steering(turn, contribution):
        turn.say(ctx.t("alleen_eigen"))
        return None
    return contribution, rest.strip()


def cmd_change(ctx: Context, turn: Turn, arg: str) -> None:
    """`/wijzig N nieuwe tekst`, or `/wijzig N veld waarde` for a field of an item."""
    found = _target(ctx, turn, arg, "wijzig_uitleg")
    if found is None:
        return
    contribution, rest = found
    session = turn.session
    assert session is not None
    if not rest:
        turn.say(ctx.t("wijzig_uitleg"))
        return
    question = ctx.flow.question(contribution.question)
    word, _, value = rest.partition(" ")
    item_field = next(
        (f for f in question.velden if word.lower() in (f.sleutel, f.label.lower().replace(" ", "_"))), None
    )
    if item_field is not None and value.strip():
        options = reference_options(session, item_field.verwijst_naar) if item_field.verwijst_naar else []
        parsed = ctx.reader.read_field(question, item_field, value.strip(), options)
        if parsed is None:
            turn.say(ctx.t("wijzig_veld_past_niet", veld=item_field.label, keuzes=", ".join(item_field.keuzes)))
            return
        before = contribution.fields.get(item_field.sleutel)
        contribution.history.append(
            Revision(at=turn.at, by=turn.actor_id, what=item_field.sleutel, before=field_text(session, before or ""))
        )
        contribution.fields[item_field.sleutel] = parsed
        contribution.field_sources.pop(item_field.sleutel, None)
        for draft in session.drafts:
            if draft.item_id == contribution.id and draft.field == item_field.sleutel:
                draft.field = ""
        turn.changed = True
        turn.say(
            ctx.t("veld_aangepast", nummer=contribution.id, veld=item_field.label, waarde=field_text(session, parsed))
        )
        return
    contribution.history.append(Revision(at=turn.at, by=turn.actor_id, what="tekst", before=contribution.text))
    contribution.text = rest
    contribution.edited_at = turn.at
    turn.changed = True
    turn.say(ctx.t("aangepast", nummer=contribution.id))


def cmd_remove(ctx: Context, turn: Turn, arg: str) -> None:
    found = _target(ctx, turn, arg, "verwijder_uitleg")
    if found is None:
        return
    contribution, _ = found
    session = turn.session
    assert session is not None
    contribution.history.append(Revision(at=turn.at, by=turn.actor_id, what="verwijderd", before=contribution.text))
    contribution.removed = True
    session.drafts = [d for d in session.drafts if d.item_id != contribution.id]
    turn.changed = True
    turn.say(ctx.t("verwijderd", nummer=contribution.id))


def on_edit(ctx: Context, turn: Turn, ref: str, text: str) -> None:
    """A participant edited an earlier message: their contribution follows, with its history."""
    for session in turn.chat.sessions.values():
        for contribution in session.contributions:
            if contribution.ref == ref and contribution.author_id == turn.actor_id and not contribution.removed:
                contribution.history.append(
                    Revision(at=turn.at, by=turn.actor_id, what="tekst", before=contribution.text)
                )
                contribution.text = text
                contribution.edited_at = turn.at
                session.updated_at = turn.at
                turn.changed = True
                turn.ack(ctx.t("bewerkt"))
                return
