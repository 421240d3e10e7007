"""The compass over time: measurements of indicators, where each stands at step 6, and a next round.

`/meting I1 14,5% 2026-09 GGD-monitor` stores a measurement in one message; `/meting` alone asks
for it step by step, in a dialog of that person's own. Parsing and the (deterministic) status
against the target live in `bot.measure`; the indicators' codes come from the compass document.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from bot.compass import Contribution, MeasureDraft, Revision, RoundSnapshot, Session
from bot.engine import navigation
from bot.engine.context import Context, Turn, esc
from bot.flows import Flow
from bot.measure import IndicatorRef, MeasureError, parse_meting, resolve_indicator

if TYPE_CHECKING:
    from bot.document.model import CompassDocument

SKIP = ("-", "/overslaan", "geen", "nee")


def _document(ctx: Context, session: Session) -> CompassDocument:
    # Imported here: the document package also holds the exporters, which import the transports.
    from bot.document.model import compile_document

    return compile_document(session, ctx.flow)


def indicators(ctx: Context, session: Session) -> list[IndicatorRef]:
    return _document(ctx, session).indicator_refs()


def status_lines(ctx: Context, session: Session) -> list[str]:
    """Per indicator: the line so far against its target (on track, behind, no data, no target)."""
    return _document(ctx, session).recognise_lines()


def show_status(ctx: Context, turn: Turn) -> None:
    session = turn.session
    assert session is not None
    lines = status_lines(ctx, session)
    if lines:
        turn.say(ctx.raw("metingen_kop") + "\n" + "\n".join(f"• {esc(line)}" for line in lines))


def cmd_measure(ctx: Context, turn: Turn, arg: str) -> None:
    """`/meting <indicator> <waarde> <periode> [bron]`, or `/meting` to be asked step by step."""
    session = navigation.require_session(ctx, turn)
    if session is None:
        return
    refs = indicators(ctx, session)
    if not refs:
        turn.say(ctx.t("meting_geen_indicatoren"))
        return
    if not arg.strip():
        session.measuring = [d for d in session.measuring if d.author_id != turn.actor_id]
        session.measuring.append(MeasureDraft(author_id=turn.actor_id))
        turn.changed = True
        listing = "\n".join(f"{esc(r.code)}. {esc(r.text)}" for r in refs)
        turn.say(ctx.raw("meting_welke", lijst=listing), asks=True, for_author=True)
        return
    _store(ctx, turn, session, arg, refs)


def _store(ctx: Context, turn: Turn, session: Session, text: str, refs: list[IndicatorRef]) -> bool:
    try:
        given = parse_meting(text)
        indicator = resolve_indicator(given.indicator, refs)
    except MeasureError as exc:
        turn.say(ctx.t("meting_fout", uitleg=str(exc)))
        return False
    measurement = given.measurement(indicator_id=indicator.id, entered_by=turn.actor_id, entered_at=turn.at)
    session.measurements.append(measurement.model_copy(update={"indicator": indicator.code}))
    turn.changed = True
    turn.ack(ctx.t("meting_bewaard", begrepen=given.echo()))
    return True


def answer(ctx: Context, turn: Turn, draft: MeasureDraft, text: str) -> None:
    """The next answer in a person's own `/meting` dialog."""
    session = turn.session
    assert session is not None
    refs = indicators(ctx, session)
    if not draft.indicator:
        try:
            indicator = resolve_indicator(text.strip(), refs)
        except MeasureError as exc:
            turn.say(ctx.t("meting_fout", uitleg=str(exc)))
            return
        draft.indicator, draft.indicator_id = indicator.code, indicator.id
        turn.changed = True
        turn.say(ctx.t("meting_waarde", indicator=f"{indicator.code} {indicator.text}"), asks=True, for_author=True)
        return
    if not draft.value_text:
        try:
            parse_meting(f"{draft.indicator} {text}")
        except MeasureError as exc:
            turn.say(ctx.t("meting_fout", uitleg=str(exc)))
            return
        draft.value_text = text.strip()
        turn.changed = True
        turn.say(ctx.t("meting_bron"), asks=True, for_author=True)
        return
    source = "" if text.strip().lower() in SKIP else text.strip()
    session.measuring = [d for d in session.measuring if d is not draft]
    turn.changed = True
    _store(ctx, turn, session, " ".join(p for p in (draft.indicator, draft.value_text, source) if p), refs)


# ----------------------------------------------------------------------------- a next round


def new_round(flow: Flow, session: Session, at: datetime, by: str) -> list[Contribution]:
    """Close the round: keep it as history, let step 6 start afresh, and go back to step 1.

    Steps 0 to 5 carry over and stay editable; the measurements carry on. Returns the improvements
    of the closed round: the points the new round starts from."""
    session.previous.append(
        RoundSnapshot(
            number=session.round,
            closed_at=at,
            contributions=[c.model_copy(deep=True) for c in session.contributions],
            answers={k: v.model_copy(deep=True) for k, v in session.answers.items()},
        )
    )
    session.round += 1
    cycle = {q.sleutel for q in flow.step(6).vragen}
    improvements = [c for c in session.contributions if c.question == "verbeteren" and not c.removed]
    for contribution in session.contributions:
        if contribution.question in cycle and not contribution.removed:
            contribution.history.append(Revision(at=at, by=by, what="ronde", before=contribution.text))
            contribution.removed = True
    for key in cycle:
        session.answers.pop(key, None)
    session.drafts = [d for d in session.drafts if d.question not in cycle]
    session.step, session.question_index, session.phase = 1, 0, "vragen"
    return improvements


def cmd_round(ctx: Context, turn: Turn, _: str) -> None:
    session = navigation.require_session(ctx, turn)
    if session is None:
        return
    improvements = new_round(ctx.flow, session, turn.at, turn.actor_id)
    turn.changed = True
    points = "\n".join(
        f"• {esc(c.text)}" + (f" <i>({esc(c.fields['terug_naar'])})</i>" if c.fields.get("terug_naar") else "")
        for c in improvements
    )
    turn.say(ctx.raw("ronde_gestart", nummer=str(session.round), punten=points or ctx.t("ronde_geen_punten")))
    navigation.ask(ctx, turn, intro=True)
