"""What works: suggestions inside the flow, `/watwerkt` and `/meer`, and adopting one with `/neem N`.

The bot never suggests from thin air: only what the retriever finds, always with its source.
Whatever list was shown last (in-flow suggestions, search results or a model's proposal) is what
`/neem N` adopts from, by the number it was shown with.
"""

from __future__ import annotations

from dataclasses import replace

from bot.compass import Session, Suggestion
from bot.engine import answers, choosing
from bot.engine.context import (
    SEARCH_PAGE,
    SUGGESTIONS_PER_KIND,
    Context,
    KnowledgeUnavailable,
    Turn,
    esc,
    may_steer,
    numbers,
    short,
)
from bot.events import Button
from bot.flows import SuggestionKind
from bot.knowledge.search import SearchHit

KIND_TO_SOORT: dict[SuggestionKind, str] = {
    "interventies": "interventie",
    "werkzame-factoren": "werkzame-factor",
    "meetinstrumenten": "meetinstrument",
}
SOORT_LABELS = {"werkzame-factor": "werkzame factor", "eigen-document": "eigen document"}


def format_hit(ctx: Context, hit: SearchHit) -> str:
    """One search result as safe HTML: title, kind, a recognised level up front, its own summary, source.

    A level is shown only as a level of the recognition ladder; a note (`toelichting`) is context."""
    kind = SOORT_LABELS.get(hit.soort, hit.soort)
    line = f"{hit.rank}. <b>{esc(hit.titel)}</b> ({esc(kind)})"
    if hit.erkend:
        year = f" ({hit.beoordeling_jaar})" if hit.beoordeling_jaar else ""
        line += "\n<b>" + ctx.t("hit_erkend", niveau=hit.beoordeling, jaar=year) + "</b>"
    if hit.fragment:
        line += f"\n{esc(short(hit.fragment, 220))}"
    if hit.toelichting:
        line += "\n<i>" + ctx.t("hit_toelichting", tekst=hit.toelichting) + "</i>"
    source = ctx.t("hit_bron", bron=hit.bron)
    if hit.secundair:
        source += " " + ctx.t("hit_secundair")
    return line + "\n" + source


def _offer(turn: Turn, hits: list[SearchHit], question: str | None) -> None:
    turn.chat.offered = [
        Suggestion(nummer=h.rank, titel=h.titel, bron=h.bron, soort=h.soort, beoordeling=h.beoordeling) for h in hits
    ]
    turn.chat.offered_for = question
    turn.changed = True


def suggest(ctx: Context, turn: Turn, kinds: tuple[SuggestionKind, ...], query: str) -> None:
    """Offer fitting knowledge items at the open question (or field)."""
    session = turn.session
    assert session is not None
    found = [hit for kind in kinds for hit in _search_kind(ctx, session, KIND_TO_SOORT[kind], query)]
    if not found:
        return
    hits = [replace(hit, rank=n) for n, hit in enumerate(found, start=1)]
    _offer(turn, hits, ctx.question(session).sleutel)
    lines = [ctx.t("suggesties_kop"), *(format_hit(ctx, hit) for hit in hits), ctx.t("suggesties_neem")]
    buttons = tuple(Button(ctx.t("knop_neem", nummer=h.rank), f"/neem {h.rank}") for h in hits)
    turn.say("\n\n".join(lines), buttons=buttons)


def _search_kind(ctx: Context, session: Session, soort: str, query: str) -> list[SearchHit]:
    """Search one kind, narrowing by the issue's theme and the current step where that still finds something."""
    theme = session.themas[0] if session.themas else None
    attempts = [(theme, session.step), (theme, None), (None, session.step), (None, None)]
    try:
        for thema, stap in dict.fromkeys(attempts):
            hits = ctx.search(query, SUGGESTIONS_PER_KIND, thema=thema, soort=soort, stap=stap)
            if hits:
                return hits
    except KnowledgeUnavailable:
        return []
    return []


def cmd_what_works(ctx: Context, turn: Turn, arg: str) -> None:
    """`/watwerkt vraag`, or `/watwerkt erkend vraag` for recognised interventions only."""
    recognised, query = _recognised_only(arg)
    if not query:
        turn.say(ctx.t("watwerkt_geen_vraag"))
        return
    turn.chat.last_query = query
    turn.chat.last_recognised = recognised
    turn.chat.last_offset = 0
    turn.changed = True
    search_page(ctx, turn)


def _recognised_only(arg: str) -> tuple[bool, str]:
    head, _, rest = arg.strip().partition(" ")
    if head.lower() in ("erkend", "--erkend"):
        return True, rest.strip()
    return False, arg.strip()


def cmd_more(ctx: Context, turn: Turn, _: str) -> None:
    if not turn.chat.last_query:
        turn.say(ctx.t("watwerkt_geen_vraag"))
        return
    turn.chat.last_offset += SEARCH_PAGE
    turn.changed = True
    search_page(ctx, turn)


def search_page(ctx: Context, turn: Turn) -> None:
    query = turn.chat.last_query or ""
    session = turn.session
    # Inside a compass its themes and step are a soft preference; outside it the search is general.
    preferences: dict[str, object] = (
        {"prefer_themes": tuple(session.themas), "prefer_step": session.step} if session is not None else {}
    )
    if turn.chat.last_recognised:
        preferences["erkend"] = True
    try:
        hits = ctx.search(query, SEARCH_PAGE, offset=turn.chat.last_offset, **preferences)
    except KnowledgeUnavailable as exc:
        turn.say(ctx.t("watwerkt_bezig") if exc.building else ctx.t("watwerkt_uit"))
        return
    if not hits:
        turn.say(ctx.t("watwerkt_niets"))
        return
    _offer(turn, hits, None)
    lines = [ctx.t("watwerkt_kop", vraag=query), *(format_hit(ctx, hit) for hit in hits)]
    if turn.session is not None:
        lines.append(ctx.t("watwerkt_neem"))
    if len(hits) == SEARCH_PAGE:
        lines.append(ctx.t("watwerkt_meer"))
    turn.say("\n\n".join(lines))


def cmd_adopt(ctx: Context, turn: Turn, arg: str) -> None:
    """`/neem N`: take item N of the list shown last into the compass, keeping its source."""
    session = turn.session
    offered = turn.chat.offered
    if not offered:
        turn.say(ctx.t("geen_suggesties"))
        return
    picked = numbers(arg)
    chosen = next((s for s in offered if picked and s.nummer == picked[0]), None)
    if chosen is None:
        turn.say(ctx.t("neem_ongeldig", van=offered[0].nummer, tot=offered[-1].nummer))
        return
    if session is None or session.phase == "klaar":
        turn.say(ctx.t("neem_geen_vraag"))
        return
    if chosen.soort == "thema":
        if session.phase == "shortlist":
            vote_on_themes(ctx, turn, session)
        else:
            turn.say(ctx.t("neem_verlopen"))
        return
    question = ctx.question(session)
    draft = session.draft_of(turn.actor_id, question.sleutel)
    if draft is not None and answers.adopt_into_field(ctx, turn, draft, chosen.titel, chosen.bron):
        return
    if question.soort == "formulering":
        if not may_steer(turn):
            turn.say(ctx.t("alleen_facilitator", actie="/neem"))
            return
        contribution = answers.add(ctx, turn, question.sleutel, chosen.titel, source=chosen.bron)
        answers.agree(ctx, turn, question.sleutel, chosen.titel, [contribution.id])
        turn.say(ctx.t("verder_met_volgende"))
        return
    turn.say(ctx.t("suggestie_overgenomen", titel=chosen.titel))
    if question.soort == "items":
        answers.start_item(ctx, turn, question, chosen.titel, source=chosen.bron)
        return
    answers.add(ctx, turn, question.sleutel, chosen.titel, source=chosen.bron)


def vote_on_themes(ctx: Context, turn: Turn, session: Session) -> None:
    """Adopt the proposed themes as the group's answers (with the model as source) and put them to a vote."""
    if not may_steer(turn):
        turn.say(ctx.t("alleen_facilitator", actie="/neem"))
        return
    question = ctx.question(session)
    ids = [
        answers.add(ctx, turn, question.sleutel, theme.titel, source=theme.bron).id
        for theme in turn.chat.offered
        if theme.soort == "thema"
    ]
    turn.chat.offered = []
    choosing.start_vote(ctx, turn, ids)
