"""The optional language model: requests the engine makes, and the proposals that come back.

The model only ever proposes: a formulation, themes to vote on, a summary, an answer with sources.
The group adopts (or ignores) it; a late or broken proposal changes nothing.
"""

from __future__ import annotations

import html

from bot.compass import Session, Suggestion
from bot.engine import knowledge
from bot.engine.context import MAX_POLL_OPTIONS, SEARCH_PAGE, Context, KnowledgeUnavailable, Turn, esc, poll_label
from bot.engine.navigation import require_session
from bot.events import Button, LLMRequest, Proposal, ProposalFailed, clean_text
from bot.knowledge.search import SearchHit


def _off(ctx: Context, turn: Turn) -> bool:
    if not ctx.llm_enabled:
        turn.say(ctx.t("llm_uit"))
    return not ctx.llm_enabled


def cmd_propose(ctx: Context, turn: Turn, _: str) -> None:
    """Ask the model for a draft formulation from the answers so far (this question, else the one before)."""
    session = require_session(ctx, turn)
    if session is None or _off(ctx, turn):
        return
    if session.phase == "klaar":
        turn.say(ctx.t("geen_open_vraag"))
        return
    if session.phase == "shortlist":
        _propose_themes(ctx, turn, session)
        return
    question = ctx.question(session)
    keys = ctx.flow.question_keys()
    position = keys.index(question.sleutel)
    texts = [c.text for c in session.live(question.sleutel)]
    if not texts and position > 0:
        texts = [c.text for c in session.live(keys[position - 1])]
    if not texts:
        turn.say(ctx.t("voorstel_geen_antwoorden"))
        return
    request = LLMRequest(
        kind="formulering",
        session_id=session.id,
        question=question.sleutel,
        context=ctx.fill(question.text_for(tuple(session.themas)), session),
        texts=tuple(texts),
        vraagstuk=session.vraagstuk,
    )
    turn.say(ctx.t("llm_bezig"), llm=request)


def _propose_themes(ctx: Context, turn: Turn, session: Session) -> None:
    """Too many answers for one poll: ask the model to group them into a few themes to vote on."""
    options = [c for c in (session.contribution(i) for i in session.pending.options) if c is not None]
    question = ctx.question(session)
    request = LLMRequest(
        kind="thema",
        session_id=session.id,
        question=question.sleutel,
        context=ctx.fill(question.text_for(tuple(session.themas)), session),
        texts=tuple(c.text for c in options),
        vraagstuk=session.vraagstuk,
        options=tuple(c.id for c in options),
    )
    turn.say(ctx.t("llm_bezig"), llm=request)


def cmd_summary(ctx: Context, turn: Turn, _: str) -> None:
    session = require_session(ctx, turn)
    if session is None or _off(ctx, turn):
        return
    step = ctx.flow.step(session.step)
    keys = {q.sleutel for q in step.vragen}
    texts = [c.text for c in session.contributions if c.question in keys and not c.removed]
    if not texts:
        turn.say(ctx.t("voorstel_geen_antwoorden"))
        return
    request = LLMRequest(
        kind="samenvatting", session_id=session.id, question=None, context=step.titel, texts=tuple(texts)
    )
    turn.say(ctx.t("llm_bezig"), llm=request)


def cmd_ask_sources(ctx: Context, turn: Turn, arg: str) -> None:
    """A free question answered from the knowledge base: by the model with citations, else as search results."""
    if not arg:
        turn.say(ctx.t("watwerkt_geen_vraag"))
        return
    if not ctx.llm_enabled:
        knowledge.cmd_what_works(ctx, turn, arg)
        return
    hits: list[SearchHit] = []
    try:
        hits = ctx.search(arg, SEARCH_PAGE)
    except KnowledgeUnavailable:
        turn.say(ctx.t("watwerkt_uit"))
        return
    if not hits:
        turn.say(ctx.t("watwerkt_niets"))
        return
    session = turn.session
    request = LLMRequest(
        kind="antwoord", session_id=session.id if session else None, question=None, context=arg, hits=tuple(hits)
    )
    turn.say(ctx.t("llm_bezig"), llm=request)


def on_proposal(ctx: Context, turn: Turn, event: Proposal) -> None:
    request = event.request
    # Model text is plain text (a model may still write "&amp;"): decode it, clean it, escape it once.
    text = clean_text(html.unescape(event.text))
    if request.kind == "antwoord":
        lines = [esc(text), "", ctx.t("bronnen_kop")]
        lines += [
            f"[{n}] {esc(hit.titel)} – {esc(hit.bron)}"
            for n, hit in enumerate(request.hits, start=1)
            if n in event.citations
        ]
        turn.say("\n".join(lines))
        return
    if request.kind == "samenvatting":
        turn.say(ctx.t("samenvatting", stap=request.context, tekst=text))
        return
    session = turn.session
    if session is None or session.id != request.session_id or session.phase == "klaar":
        return
    if ctx.question(session).sleutel != request.question:
        return
    if request.kind == "thema":
        _show_themes(ctx, turn, session, event)
        return
    turn.chat.offered = [Suggestion(nummer=1, titel=text, bron="taalmodel", soort="voorstel")]
    turn.chat.offered_for = request.question
    turn.changed = True
    turn.say(ctx.t("voorstel", tekst=text), buttons=(Button(ctx.t("knop_neem_voorstel"), "/neem 1"),))


def _show_themes(ctx: Context, turn: Turn, session: Session, event: Proposal) -> None:
    options = event.request.options
    if session.phase != "shortlist" or not set(options) <= set(session.pending.options):
        return  # the group moved on (or answers were removed) while the model was thinking
    position = {cid: n for n, cid in enumerate(session.pending.options, start=1)}
    themes: list[Suggestion] = []
    lines = []
    for label, members in event.groups[:MAX_POLL_OPTIONS]:
        ids = [options[m] for m in members if 0 <= m < len(options)]
        title = poll_label(clean_text(label))
        if not ids or not title:
            continue
        themes.append(Suggestion(nummer=len(themes) + 1, titel=title, bron="taalmodel", soort="thema", leden=ids))
        numbers = ", ".join(str(position[i]) for i in ids)
        lines.append(f"{len(themes)}. {esc(title)} <i>({ctx.t('antwoord_nummers', nummers=numbers)})</i>")
    if len(themes) < 2:
        turn.say(ctx.t("llm_mislukt"))
        return
    turn.chat.offered = themes
    turn.chat.offered_for = ctx.question(session).sleutel
    turn.changed = True
    turn.say(
        ctx.raw("themas_voorstel", lijst="\n".join(lines)), buttons=(Button(ctx.t("knop_stem_themas"), "/neem 1"),)
    )


def on_proposal_failed(ctx: Context, turn: Turn, event: ProposalFailed) -> None:
    turn.say(ctx.t("llm_mislukt"))
    if event.request.kind == "antwoord":
        knowledge.cmd_what_works(ctx, turn, event.request.context)
