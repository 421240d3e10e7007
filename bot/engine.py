"""The facilitation engine: `(chat state, event) -> (new chat state, replies)`.

Pure by design: no I/O, no clock, no platform types. Transports turn platform updates into
`Event`s, persist the returned `Chat` before they send the returned `Reply`s, and render the
replies. Reply text is a small HTML subset (<b>, <i>, <code>) in which every piece of user
text has already been escaped, so a transport can show it as Telegram HTML or convert it for
a terminal.
"""

from __future__ import annotations

import difflib
import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from bot.coach import Advice, Coach
from bot.compass import Chat, Contribution, Participant, Pending, Role, Session, Suggestion, slugify
from bot.events import (
    Actor,
    Button,
    Command,
    Edit,
    Event,
    Joined,
    LLMRequest,
    Outcome,
    PollSpec,
    Proposal,
    ProposalFailed,
    Reply,
    Text,
    Vote,
    clean_text,
    parse_command,
)
from bot.flows import ROLES, Flow, ItemField, Question, SuggestionKind, Texts, Themes
from bot.knowledge.search import KnowledgeSearch, SearchHit

MAX_ANSWER_CHARS = 2000
MAX_POLL_OPTIONS = 10
SEARCH_PAGE = 5
SUGGESTIONS_PER_KIND = 3
KIND_TO_SOORT: dict[SuggestionKind, str] = {
    "interventies": "interventie",
    "werkzame-factoren": "werkzame-factor",
    "meetinstrumenten": "meetinstrument",
}

NAVIGATION = frozenset({"volgende", "terug", "overslaan", "stap", "stop", "document", "plaatje", "voorstel"})
ACK_REACTION = "✍"


QUESTION_BUTTONS = (
    Button("Volgende", "/volgende"),
    Button("Terug", "/terug"),
    Button("Overslaan", "/overslaan"),
    Button("Uitleg", "/uitleg"),
)


_UNSENDABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")


def _esc(value: object) -> str:
    """HTML-escape for Telegram, dropping control characters and lone surrogates it would refuse.

    Knowledge fragments and ingested documents can hold such bytes even though user text is cleaned on entry.
    """
    return html.escape(_UNSENDABLE.sub("", str(value)), quote=False)


@dataclass
class _Turn:
    """Mutable scratchpad for one event: the chat copy being changed and the replies so far."""

    chat: Chat
    actor: Actor | None
    at: datetime
    replies: list[Reply] = field(default_factory=list)
    changed: bool = False
    erased: bool = False

    @property
    def session(self) -> Session | None:
        return self.chat.session

    def say(self, text: str, **kwargs: object) -> None:
        self.replies.append(Reply(text=text, **kwargs))  # type: ignore[arg-type]


class Engine:
    def __init__(
        self,
        flow: Flow,
        texts: Texts,
        knowledge: KnowledgeSearch | None = None,
        bot_username: str | None = None,
        themes: Themes | None = None,
        coach: Coach | None = None,
        llm_enabled: bool = False,
    ) -> None:
        self.flow = flow
        self.texts = texts
        self.themes = themes
        self.coach = coach
        self.llm_enabled = llm_enabled
        self.knowledge = knowledge
        self.bot_username = bot_username
        self._handlers: dict[str, Callable[[_Turn, str], None]] = {
            "start": self._cmd_start,
            "help": self._cmd_help,
            "kompas": self._cmd_kompas,
            "volgende": self._cmd_next,
            "terug": self._cmd_back,
            "overslaan": self._cmd_skip,
            "stap": self._cmd_step,
            "overzicht": self._cmd_overview,
            "uitleg": self._cmd_explain,
            "rol": self._cmd_role,
            "wie": self._cmd_who,
            "kies": self._cmd_choose,
            "neem": self._cmd_adopt,
            "vergeet": self._cmd_forget,
            "mijngegevens": self._cmd_my_data,
            "voorstel": self._cmd_propose,
            "samenvatting": self._cmd_summary,
            "vraag": self._cmd_ask_sources,
            "watwerkt": self._cmd_what_works,
            "meer": self._cmd_more,
            "stop": self._cmd_stop,
            "document": self._cmd_document,
            "plaatje": self._cmd_picture,
        }

    @property
    def commands(self) -> tuple[str, ...]:
        """The names of the commands the engine understands (without the slash)."""
        return tuple(self._handlers)

    # ----------------------------------------------------------------- entry point

    def handle(self, chat: Chat, event: Event) -> Outcome:
        turn = _Turn(chat=chat.model_copy(deep=True), actor=getattr(event, "actor", None), at=event.at)
        if isinstance(event, Joined):
            turn.say(self._t("welkom"))
        elif isinstance(event, Edit):
            self._on_edit(turn, event)
        elif isinstance(event, Vote):
            self._on_vote(turn, event)
        elif isinstance(event, Proposal):
            self._on_proposal(turn, event)
        elif isinstance(event, ProposalFailed):
            self._on_proposal_failed(turn, event)
        else:
            self._on_text(turn, event)
        if turn.changed and turn.session is not None:
            turn.session.updated_at = turn.at
        return Outcome(chat=turn.chat, replies=tuple(turn.replies), changed=turn.changed, erased=turn.erased)

    def _t(self, key: str, **values: object) -> str:
        return self.texts(key, **{name: _esc(value) for name, value in values.items()})

    def _raw(self, key: str, **values: str) -> str:
        """Like `_t`, for values that are already safe HTML built by the engine."""
        return self.texts(key, **values)

    # ----------------------------------------------------------------- text and commands

    def _on_text(self, turn: _Turn, event: Text) -> None:
        # Nothing of a refused message is kept, not even the sender's name.
        text = clean_text(event.text)
        if not text:
            turn.say(self._t("stuurtekens" if event.text.strip() else "leeg_antwoord"))
            return
        command = parse_command(text, self.bot_username)
        if command is not None:
            if command.name:  # a command for another bot has no name: not ours
                self._remember_name(turn, event.actor)
                self._on_command(turn, command)
            return
        if len(text) > MAX_ANSWER_CHARS:
            turn.say(self._t("te_lang", lengte=len(text), grens=MAX_ANSWER_CHARS))
            return
        self._remember_name(turn, event.actor)
        self._on_answer(turn, text, event.ref)

    def _on_command(self, turn: _Turn, command: Command) -> None:
        handler = self._handlers.get(command.name)
        if handler is None:
            self._unknown_command(turn, command.name)
            return
        if command.name in NAVIGATION and not self._may_steer(turn):
            turn.say(self._t("alleen_facilitator", actie="/" + command.name))
            return
        handler(turn, command.arg)

    def _unknown_command(self, turn: _Turn, name: str) -> None:
        close = difflib.get_close_matches(name, self.commands, n=1, cutoff=0.5)
        if close:
            turn.say(self._t("onbekend_commando", commando="/" + name, suggestie="/" + close[0]))
        else:
            turn.say(self._t("onbekend_zonder_suggestie", commando="/" + name))

    def _may_steer(self, turn: _Turn) -> bool:
        session = turn.session
        actor = turn.actor
        if session is None or actor is None or not turn.chat.is_group:
            return True
        return actor.is_admin or actor.id in session.facilitators

    def _remember_name(self, turn: _Turn, actor: Actor) -> None:
        if actor.name and turn.chat.names.get(actor.id) != actor.name:
            turn.chat.names[actor.id] = actor.name
            turn.changed = True

    # ----------------------------------------------------------------- asking

    def _question(self, session: Session) -> Question:
        return self.flow.step(session.step).vragen[session.question_index]

    def _fill(self, template: str, session: Session, **extra: str) -> str:
        values = {"vraagstuk": _esc(session.vraagstuk), **{k: _esc(v) for k, v in extra.items()}}
        return template.format(**values)

    def _ask(self, turn: _Turn, *, intro: bool = False) -> None:
        session = turn.session
        assert session is not None
        if session.phase == "klaar":
            turn.say(self._t("klaar", vraagstuk=session.vraagstuk))
            return
        step = self.flow.step(session.step)
        if intro:
            turn.say(self._raw("begin_stap", nummer=str(step.nummer), titel=_esc(step.titel), doel=_esc(step.doel)))
        if session.phase == "item":
            self._ask_field(turn)
            return
        question = self._question(session)
        if self.coach is not None:
            self._give_advice(turn, self.coach.review_question(session, question.sleutel))
        header = f"<b>Stap {step.nummer} · vraag {session.question_index + 1} van {len(step.vragen)}</b>"
        body = self._fill(question.tekst, session)
        lines = [header, body]
        example = question.example(tuple(session.themas))
        if example:
            lines.append(f"<i>Bijvoorbeeld: {self._fill(example, session)}</i>")
        turn.say("\n".join(lines), buttons=QUESTION_BUTTONS, asks=True)
        if question.suggesties:
            context = [c.text for key in ("resultaten", "activiteiten") for c in session.live(key)][:4]
            self._suggest(turn, question.suggesties, " ".join([session.vraagstuk, *context]))

    def _advance(self, turn: _Turn) -> None:
        """Move to the next question (or step), or finish the compass."""
        session = turn.session
        assert session is not None
        session.phase = "vragen"
        session.pending = Pending()
        step = self.flow.step(session.step)
        if session.question_index + 1 < len(step.vragen):
            session.question_index += 1
            self._ask(turn)
        elif session.step < 6:
            self._leave_step(turn)
            session.step += 1
            session.question_index = 0
            self._ask(turn, intro=True)
        else:
            self._leave_step(turn)
            session.phase = "klaar"
            self._ask(turn)
        turn.changed = True

    def _leave_step(self, turn: _Turn) -> None:
        session = turn.session
        if self.coach is not None and session is not None:
            self._give_advice(turn, self.coach.review_step(session, session.step, turn.chat.roles))

    def _give_advice(self, turn: _Turn, advice: list[Advice]) -> None:
        """Coaching is a gentle question back, never a block; once-only advice is remembered."""
        session = turn.session
        assert session is not None
        for item in advice:
            if item.once_key:
                if item.once_key in session.nudged:
                    continue
                session.nudged.append(item.once_key)
                turn.changed = True
            turn.say(f"💡 <i>{_esc(item.text)}</i>")

    def _review(self, turn: _Turn, contribution: Contribution) -> None:
        session = turn.session
        if self.coach is not None and session is not None:
            self._give_advice(turn, self.coach.review_answer(session, contribution.question, contribution))

    # ----------------------------------------------------------------- answers

    def _on_answer(self, turn: _Turn, text: str, ref: str | None) -> None:
        session = turn.session
        if session is None:
            turn.say(self._t("geen_kompas"))
            return
        if session.phase == "klaar":
            turn.say(self._t("geen_open_vraag"))
            return
        if session.phase == "item":
            self._answer_field(turn, text)
            return
        if session.phase == "kiezen":
            self._answer_choice(turn, text, ref)
            return
        if session.phase in ("shortlist", "stemmen"):
            self._answer_choose_numbers(turn, text)
            return
        question = self._question(session)
        if question.suggesties and text.strip().isdigit() and session.pending.suggestions:
            self._cmd_adopt(turn, text)
            return
        if question.soort == "items":
            item = self._add(turn, question.sleutel, text, ref)
            session.phase = "item"
            session.pending = Pending(item_id=item.id, field_index=0)
            self._ask_field(turn)
            return
        if question.soort == "lijst" and not turn.chat.is_group:
            for line in [part.strip() for part in text.splitlines() if part.strip()]:
                self._review(turn, self._add(turn, question.sleutel, line, ref))
            turn.say(self._t("genoteerd_solo"))
            return
        self._review(turn, self._add(turn, question.sleutel, text, ref))
        if question.soort == "formulering" and not turn.chat.is_group:
            self._agree(turn, question.sleutel, text, [session.next_id - 1])
            self._advance(turn)
            return
        count = len(session.live(question.sleutel))
        turn.replies.append(Reply(text=self._t("genoteerd", aantal=count), reaction=ACK_REACTION))

    def _add(self, turn: _Turn, question: str, text: str, ref: str | None) -> Contribution:
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
            ref=ref,
        )
        session.next_id += 1
        session.contributions.append(contribution)
        session.participants.setdefault(actor.id, Participant(id=actor.id, name=actor.name, role=role))
        turn.changed = True
        return contribution

    def _agree(self, turn: _Turn, question: str, text: str, sources: list[int]) -> None:
        session = turn.session
        assert session is not None
        answer = session.answer(question).model_copy(update={"agreed": text, "agreed_from": sources, "closed": True})
        session.answers[question] = answer
        turn.say(self._t("formulering_vastgesteld", tekst=text))
        turn.changed = True

    # ----------------------------------------------------------------- structured items

    def _current_field(self, session: Session) -> ItemField:
        return self._question(session).velden[session.pending.field_index]

    def _reference_options(self, session: Session, target: str) -> list[Contribution]:
        """The items a reference field may point at: the chosen ones if the group voted, else all."""
        chosen = session.answer(target).chosen
        live = session.live(target)
        if chosen:
            preferred = [c for c in live if c.id in chosen]
            return preferred + [c for c in live if c.id not in chosen]
        return live

    def _ask_field(self, turn: _Turn) -> None:
        session = turn.session
        assert session is not None and session.pending.item_id is not None
        item = session.contribution(session.pending.item_id)
        item_field = self._current_field(session)
        lines = [self._fill(item_field.vraag, session, item=item.text if item else "")]
        if item_field.keuzes:
            lines += [f"{n}. {_esc(choice)}" for n, choice in enumerate(item_field.keuzes, start=1)]
        if item_field.verwijst_naar:
            options = self._reference_options(session, item_field.verwijst_naar)
            if options:
                lines += [f"{n}. {_esc(c.text)}" for n, c in enumerate(options, start=1)]
            else:
                lines.append(f"<i>({self._t('nog_in_te_vullen')}; typ een korte omschrijving)</i>")
        if item_field.hulp:
            lines.append(f"<i>{self._fill(item_field.hulp, session)}</i>")
        if not item_field.verplicht:
            lines.append("<i>Weet je het niet? Typ /overslaan.</i>")
        buttons = tuple(Button(choice, f"/kies {n}") for n, choice in enumerate(item_field.keuzes, start=1))
        turn.say("\n".join(lines), buttons=buttons, asks=True)
        if item_field.suggesties and item is not None:
            self._suggest(turn, (item_field.suggesties,), f"{item.text} {session.vraagstuk}")

    def _answer_field(self, turn: _Turn, text: str) -> None:
        session = turn.session
        assert session is not None and session.pending.item_id is not None
        item_field = self._current_field(session)
        if item_field.suggesties and text.strip().isdigit() and session.pending.suggestions:
            self._cmd_adopt(turn, text)
            return
        value = self._parse_field(session, item_field, text)
        if value is None:
            turn.say(self._t("veld_keuze_ongeldig"))
            return
        item = session.contribution(session.pending.item_id)
        if item is not None:
            item.fields[item_field.sleutel] = value
        turn.changed = True
        self._next_field(turn)

    def _parse_field(self, session: Session, item_field: ItemField, text: str) -> str | list[int] | None:
        if item_field.keuzes:
            return _match_choice(text, item_field.keuzes)
        if item_field.verwijst_naar:
            options = self._reference_options(session, item_field.verwijst_naar)
            numbers = _numbers(text)
            if options and numbers:
                if any(not 1 <= n <= len(options) for n in numbers):
                    return None
                picked = [options[n - 1].id for n in numbers]
                return picked if item_field.meerdere else picked[:1]
            return text
        return text

    def _next_field(self, turn: _Turn) -> None:
        session = turn.session
        assert session is not None
        question = self._question(session)
        if session.pending.field_index + 1 < len(question.velden):
            session.pending = session.pending.model_copy(update={"field_index": session.pending.field_index + 1})
            self._ask_field(turn)
            return
        number = len(session.live(question.sleutel))
        item = session.contribution(session.pending.item_id) if session.pending.item_id is not None else None
        session.phase = "vragen"
        session.pending = Pending()
        if turn.chat.is_group:
            turn.replies.append(Reply(text=self._t("item_klaar", nummer=number), reaction=ACK_REACTION))
        else:
            turn.say(self._t("item_klaar", nummer=number))
        if item is not None:
            self._review(turn, item)

    # ----------------------------------------------------------------- choosing and voting

    def _options_list(self, session: Session, ids: list[int]) -> str:
        lines = []
        for n, contribution_id in enumerate(ids, start=1):
            contribution = session.contribution(contribution_id)
            if contribution is not None:
                lines.append(f"{n}. {_esc(contribution.text)}")
        return "\n".join(lines)

    def _answer_choice(self, turn: _Turn, text: str, ref: str | None) -> None:
        """While the group picks one formulation: the facilitator's number or own text settles it."""
        session = turn.session
        assert session is not None
        question = self._question(session)
        if not self._may_steer(turn):
            contribution = self._add(turn, question.sleutel, text, ref)
            session.pending.options.append(contribution.id)
            count = len(session.pending.options)
            turn.replies.append(Reply(text=self._t("genoteerd", aantal=count), reaction=ACK_REACTION))
            return
        numbers = _numbers(text)
        if numbers and text.strip().isdigit():
            self._choose_formulation(turn, numbers[0])
            return
        contribution = self._add(turn, question.sleutel, text, ref)
        self._agree(turn, question.sleutel, text, [contribution.id])
        self._advance(turn)

    def _choose_formulation(self, turn: _Turn, number: int) -> None:
        session = turn.session
        assert session is not None
        options = session.pending.options
        if not 1 <= number <= len(options):
            turn.say(self._t("kies_ongeldig", max=len(options)))
            return
        chosen = session.contribution(options[number - 1])
        assert chosen is not None
        self._agree(turn, chosen.question, chosen.text, [chosen.id])
        self._advance(turn)

    def _answer_choose_numbers(self, turn: _Turn, text: str) -> None:
        numbers = _numbers(text)
        if numbers and re.fullmatch(r"[\d\s,;en]+", text):
            self._cmd_choose(turn, text)
        else:
            turn.say(self._t("stemming_gestart"))

    def _start_vote(self, turn: _Turn, ids: list[int]) -> None:
        session = turn.session
        assert session is not None
        question = self._question(session)
        session.phase = "stemmen"
        session.pending = Pending(options=ids)
        session.answers[question.sleutel] = session.answer(question.sleutel).model_copy(update={"votes": {}})
        labels = tuple(_poll_label(c.text) for c in (session.contribution(i) for i in ids) if c is not None)
        poll_question = _poll_label(f"{self.flow.step(session.step).titel}: welke nemen jullie mee?", 300)
        turn.say(
            self._raw("stemming_gestart") + "\n" + self._options_list(session, ids),
            poll=PollSpec(question=poll_question, options=labels),
        )
        turn.changed = True

    def _close_vote(self, turn: _Turn) -> None:
        session = turn.session
        assert session is not None
        question = self._question(session)
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
                    lines.append(f"{tally[option]}× {_esc(contribution.text)}")
            turn.say(self._raw("stemming_uitslag", lijst="\n".join(lines)), close_poll=True)
        else:
            turn.say(self._t("stemming_geen_stemmen"), close_poll=True)
        turn.changed = True

    def _on_vote(self, turn: _Turn, event: Vote) -> None:
        session = turn.session
        if session is None or session.phase != "stemmen":
            return
        options = session.pending.options
        picked = [options[i] for i in event.options if 0 <= i < len(options)]
        answer = session.answer(self._question(session).sleutel)
        votes = dict(answer.votes)
        votes[event.actor.id] = picked
        session.answers[self._question(session).sleutel] = answer.model_copy(update={"votes": votes})
        self._remember_name(turn, event.actor)
        turn.changed = True

    # ----------------------------------------------------------------- edits

    def _on_edit(self, turn: _Turn, event: Edit) -> None:
        text = clean_text(event.text)
        if not text or len(text) > MAX_ANSWER_CHARS:
            return
        for session in turn.chat.sessions.values():
            for contribution in session.contributions:
                if contribution.ref == event.ref and contribution.author_id == event.actor.id:
                    contribution.text = text
                    contribution.edited_at = event.at
                    session.updated_at = event.at
                    turn.changed = True
                    turn.replies.append(Reply(text=self._t("bewerkt"), reaction=ACK_REACTION))
                    return

    # ----------------------------------------------------------------- commands

    def _cmd_start(self, turn: _Turn, _: str) -> None:
        turn.say(self._t("welkom"))
        if turn.session is not None:
            self._ask(turn)

    def _cmd_help(self, turn: _Turn, _: str) -> None:
        lines = "\n".join(f"/{name} – {_esc(text)}" for name, text in self.texts.commandos.items())
        turn.say(self._raw("help", commandos=lines))

    def _progress(self, session: Session) -> int:
        return progress(self.flow, session)

    def _cmd_kompas(self, turn: _Turn, arg: str) -> None:
        chat = turn.chat
        if not arg:
            if not chat.sessions:
                turn.say(self._t("kompas_naam_nodig"))
                return
            turn.say(self._raw("kompassen_lijst", lijst=self._sessions_list(chat)))
            return
        if chat.session is not None and not self._may_steer(turn):
            # Switching away from (or replacing) the running compass is steering it.
            turn.say(self._t("alleen_facilitator", actie="/kompas"))
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
            turn.say(self._t("kompas_hervat", vraagstuk=target.vraagstuk, voortgang=self._progress(target)))
            self._ask(turn)
            return
        if len(arg) > 120:
            turn.say(self._t("te_lang", lengte=len(arg), grens=120))
            return
        self._new_session(turn, arg)

    def _sessions_list(self, chat: Chat) -> str:
        lines = []
        for n, session in enumerate(chat.sessions.values(), start=1):
            marker = " ◀" if session.id == chat.active else ""
            lines.append(f"{n}. {_esc(session.vraagstuk)} ({self._progress(session)}%){marker}")
        return "\n".join(lines)

    def _new_session(self, turn: _Turn, vraagstuk: str) -> None:
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
            themas=list(self.themes.detect(vraagstuk)) if self.themes else [],
        )
        role = turn.chat.roles.get(actor.id)
        session.participants[actor.id] = Participant(id=actor.id, name=actor.name, role=role)
        turn.chat.sessions[session_id] = session
        turn.chat.active = session_id
        turn.changed = True
        if turn.chat.is_group:
            turn.say(self._t("kompas_gestart", vraagstuk=vraagstuk, facilitator=actor.name or "Wie dit startte"))
        else:
            turn.say(self._t("kompas_gestart_solo", vraagstuk=vraagstuk))
        if self.coach is not None:
            self._give_advice(turn, self.coach.review_issue(vraagstuk))
        self._ask(turn, intro=True)

    def _require_session(self, turn: _Turn) -> Session | None:
        if turn.session is None:
            turn.say(self._t("geen_kompas"))
        return turn.session

    def _cmd_next(self, turn: _Turn, _: str) -> None:
        session = self._require_session(turn)
        if session is None:
            return
        if session.phase == "klaar":
            turn.say(self._t("klaar", vraagstuk=session.vraagstuk))
            return
        if session.phase == "stemmen":
            self._close_vote(turn)
            self._advance(turn)
            return
        if session.phase == "shortlist":
            self._start_vote(turn, session.pending.options[:MAX_POLL_OPTIONS])
            return
        question = self._question(session)
        live = session.live(question.sleutel)
        answer = session.answer(question.sleutel)
        if session.phase == "vragen" and question.soort == "formulering" and not answer.agreed:
            proposals = _distinct(live)
            if len(proposals) >= 2:
                session.phase = "kiezen"
                session.pending = Pending(options=[c.id for c in proposals])
                lijst = self._options_list(session, session.pending.options)
                turn.say(self._raw("kies_formulering", aantal=str(len(proposals)), lijst=lijst), asks=True)
                turn.changed = True
                return
            if len(proposals) == 1:
                self._agree(turn, question.sleutel, proposals[0].text, [proposals[0].id])
        if question.kiezen and turn.chat.is_group and len(live) >= 2 and not answer.chosen:
            if len(live) > MAX_POLL_OPTIONS:
                session.phase = "shortlist"
                session.pending = Pending(options=[c.id for c in live])
                lijst = self._options_list(session, session.pending.options)
                text = self._raw("shortlist_vragen", aantal=str(len(live)), lijst=lijst)
                if self.llm_enabled:
                    text += "\n" + self._t("shortlist_taalmodel")
                turn.say(text, asks=True)
                turn.changed = True
                return
            self._start_vote(turn, [c.id for c in live])
            return
        if live or answer.agreed:
            session.answers[question.sleutel] = session.answer(question.sleutel).model_copy(update={"closed": True})
        self._advance(turn)

    def _cmd_back(self, turn: _Turn, _: str) -> None:
        session = self._require_session(turn)
        if session is None:
            return
        if session.phase not in ("vragen", "klaar"):
            session.phase = "vragen"
            session.pending = Pending()
            turn.changed = True
            self._ask(turn)
            return
        if session.phase == "klaar":
            session.phase = "vragen"
        elif session.question_index > 0:
            session.question_index -= 1
        elif session.step > 0:
            session.step -= 1
            session.question_index = len(self.flow.step(session.step).vragen) - 1
        else:
            turn.say(self._t("al_bij_begin"))
            return
        turn.changed = True
        self._ask(turn)

    def _cmd_skip(self, turn: _Turn, _: str) -> None:
        session = self._require_session(turn)
        if session is None:
            return
        if session.phase == "item":
            self._next_field(turn)
            turn.changed = True
            return
        if session.phase == "klaar":
            turn.say(self._t("geen_open_vraag"))
            return
        question = self._question(session)
        if not session.live(question.sleutel) and not session.answer(question.sleutel).agreed:
            session.answers[question.sleutel] = session.answer(question.sleutel).model_copy(update={"skipped": True})
        turn.say(self._t("overgeslagen"))
        self._advance(turn)

    def _cmd_step(self, turn: _Turn, arg: str) -> None:
        session = self._require_session(turn)
        if session is None:
            return
        if not arg.strip().isdigit() or not 0 <= int(arg) <= 6:
            turn.say(self._t("stap_bereik"))
            return
        number = int(arg)
        questions = self.flow.step(number).vragen
        open_index = next(
            (
                i
                for i, q in enumerate(questions)
                if not session.answer(q.sleutel).closed and not session.live(q.sleutel)
            ),
            0,
        )
        if number != session.step:
            self._leave_step(turn)
        session.step = number
        session.question_index = open_index
        session.phase = "vragen"
        session.pending = Pending()
        turn.changed = True
        self._ask(turn, intro=True)

    def _cmd_stop(self, turn: _Turn, _: str) -> None:
        session = self._require_session(turn)
        if session is None:
            return
        turn.chat.active = None
        turn.changed = True
        turn.say(self._t("gestopt", vraagstuk=session.vraagstuk))

    def _cmd_role(self, turn: _Turn, arg: str) -> None:
        actor = turn.actor
        assert actor is not None
        wanted = arg.strip().lower()
        if not wanted:
            current = turn.chat.roles.get(actor.id, "nog niet gekozen")
            turn.say(self._t("rol_uitleg", rol=current))
            return
        if wanted not in ROLES:
            turn.say(self._t("rol_ongeldig"))
            return
        role: Role = wanted  # type: ignore[assignment]
        turn.chat.roles[actor.id] = role
        for session in turn.chat.sessions.values():
            if actor.id in session.participants:
                session.participants[actor.id].role = role
        if turn.session is not None:
            turn.session.participants[actor.id] = Participant(id=actor.id, name=actor.name, role=role)
        turn.changed = True
        turn.say(self._t("rol_gezet", naam=actor.name or "Jij", rol=role))

    def _cmd_overview(self, turn: _Turn, _: str) -> None:
        session = self._require_session(turn)
        if session is None:
            return
        turn.say(self.overview(session))

    def overview(self, session: Session) -> str:
        """A compact text version of the compass: per step what is filled in and what is still empty."""
        lines = [self._t("overzicht_kop", vraagstuk=session.vraagstuk, voortgang=self._progress(session))]
        empty = f"<i>{self._t('nog_in_te_vullen')}</i>"
        for step in self.flow.stappen:
            lines.append("")
            lines.append(f"<b>{step.nummer}. {_esc(step.titel)}</b>")
            for question in step.vragen:
                label = _esc(question.kort)
                answer = session.answer(question.sleutel)
                live = session.live(question.sleutel)
                if answer.agreed:
                    lines.append(f"• {label}\n  → {_esc(answer.agreed)}")
                elif live:
                    lines.append(f"• {label}")
                    for contribution in live:
                        star = " ★" if contribution.id in answer.chosen else ""
                        lines.append(
                            f"  – {_esc(contribution.text)}{star}{self._fields_text(session, question, contribution)}"
                        )
                else:
                    lines.append(f"• {label}: {empty}")
        return "\n".join(lines)

    def _fields_text(self, session: Session, question: Question, contribution: Contribution) -> str:
        parts = []
        for item_field in question.velden:
            value = contribution.fields.get(item_field.sleutel)
            if isinstance(value, list):
                names = [c.text for c in (session.contribution(i) for i in value) if c is not None]
                value = "; ".join(names)
            if value:
                parts.append(f"{item_field.sleutel}: {_esc(_short(str(value), 60))}")
        return f" <i>({', '.join(parts)})</i>" if parts else ""

    def _cmd_explain(self, turn: _Turn, _: str) -> None:
        session = turn.session
        if session is None:
            turn.say(self._t("uitleg_geen_kompas"))
            return
        step = self.flow.step(session.step)
        lines = [f"<b>Stap {step.nummer}: {_esc(step.titel)}</b>", self._fill(step.doel, session)]
        if step.uitleg:
            lines.append(self._fill(step.uitleg, session))
        if session.phase != "klaar":
            question = self._question(session)
            if question.hulp:
                lines.append(f"\n<b>Bij deze vraag</b>\n{self._fill(question.hulp, session)}")
            for probe in question.doorvragen:
                lines.append(f"• {self._fill(probe, session)}")
            example = question.example(tuple(session.themas))
            if example:
                lines.append(f"<i>Bijvoorbeeld: {self._fill(example, session)}</i>")
        turn.say("\n".join(lines))

    def _cmd_who(self, turn: _Turn, _: str) -> None:
        session = self._require_session(turn)
        if session is None:
            return
        if session.phase == "klaar":
            turn.say(self._t("geen_open_vraag"))
            return
        live = session.live(self._question(session).sleutel)
        if not live:
            turn.say(self._t("wie_niemand"))
            return
        by_role: dict[str, list[str]] = {}
        for contribution in live:
            role = turn.chat.roles.get(contribution.author_id) or contribution.role or "rol onbekend"
            name = turn.chat.names.get(contribution.author_id) or contribution.author_name or "iemand"
            names = by_role.setdefault(role, [])
            if name not in names:
                names.append(name)
        lines = [self._t("wie_kop")]
        lines += [f"{_esc(role)}: {_esc(', '.join(names))}" for role, names in by_role.items()]
        step_roles = {
            turn.chat.roles.get(c.author_id) or c.role
            for c in session.contributions
            if not c.removed and self.flow.step_of(c.question) == session.step
        }
        if turn.chat.is_group and "doelgroep" not in step_roles:
            lines.append(self._t("doelgroep_ontbreekt"))
        turn.say("\n".join(lines))

    def _cmd_choose(self, turn: _Turn, arg: str) -> None:
        session = self._require_session(turn)
        if session is None:
            return
        numbers = _numbers(arg)
        if session.phase == "item":
            item_field = self._current_field(session)
            if item_field.keuzes or item_field.verwijst_naar:
                self._answer_field(turn, arg)
                return
        if session.phase == "kiezen" and numbers:
            if not self._may_steer(turn):
                turn.say(self._t("alleen_facilitator", actie="/kies"))
                return
            self._choose_formulation(turn, numbers[0])
            return
        if session.phase == "shortlist" and numbers:
            if not self._may_steer(turn):
                turn.say(self._t("alleen_facilitator", actie="/kies"))
                return
            options = session.pending.options
            if any(not 1 <= n <= len(options) for n in numbers):
                turn.say(self._t("kies_ongeldig", max=len(options)))
                return
            picked = list(dict.fromkeys(options[n - 1] for n in numbers))[:MAX_POLL_OPTIONS]
            if len(picked) < 2:
                turn.say(self._t("kies_ongeldig", max=len(options)))
                return
            self._start_vote(turn, picked)
            return
        if session.phase == "stemmen" and numbers:
            options = session.pending.options
            if any(not 1 <= n <= len(options) for n in numbers):
                turn.say(self._t("kies_ongeldig", max=len(options)))
                return
            assert turn.actor is not None
            self._on_vote(turn, Vote(actor=turn.actor, options=tuple(n - 1 for n in numbers), at=turn.at))
            turn.replies.append(Reply(text=self._t("genoteerd", aantal=len(numbers)), reaction=ACK_REACTION))
            return
        turn.say(self._t("geen_open_vraag"))

    # ----------------------------------------------------------------- privacy

    def _cmd_forget(self, turn: _Turn, arg: str) -> None:
        """`/vergeet` explains, `/vergeet ja` removes the asker's contributions and personal data in this chat."""
        actor = turn.actor
        assert actor is not None
        if arg.strip().lower() != "ja":
            turn.say(self._t("vergeet_bevestig"))
            return
        removed = 0
        chat = turn.chat
        for session in chat.sessions.values():
            forgotten: dict[int, str] = {}
            for contribution in session.contributions:
                if contribution.author_id == actor.id and not contribution.removed:
                    forgotten[contribution.id] = contribution.text
                    contribution.text = ""
                    contribution.fields = {}
                    contribution.field_sources = {}
                    contribution.author_name = ""
                    contribution.author_id = ""
                    contribution.ref = None
                    contribution.removed = True
                    removed += 1
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
        chat.names.pop(actor.id, None)
        chat.roles.pop(actor.id, None)
        turn.changed = True
        turn.erased = True
        turn.say(self._t("vergeten", aantal=removed))

    def _cmd_my_data(self, turn: _Turn, _: str) -> None:
        """Everything this chat stores about the asker, sent privately where the transport can."""
        actor = turn.actor
        assert actor is not None
        chat = turn.chat
        lines = [self._t("mijngegevens_kop")]
        lines.append(f"Naam: {_esc(chat.names.get(actor.id) or actor.name or '-')}")
        lines.append(f"Rol: {_esc(chat.roles.get(actor.id) or '-')}")
        for session in chat.sessions.values():
            own = [c for c in session.contributions if c.author_id == actor.id and not c.removed]
            role = "facilitator" if actor.id in session.facilitators else "deelnemer"
            lines.append(f"\n<b>{_esc(session.vraagstuk)}</b> ({role}, {len(own)} bijdragen)")
            for contribution in own:
                when = contribution.at.strftime("%d-%m-%Y %H:%M")
                key = self.flow.question(contribution.question).kort
                lines.append(f"– {when} · {_esc(key)}: {_esc(contribution.text)}")
        lines.append(self._t("mijngegevens_voet"))
        turn.say("\n".join(lines), private=True)

    # ----------------------------------------------------------------- optional language model

    def _llm_off(self, turn: _Turn) -> bool:
        if not self.llm_enabled:
            turn.say(self._t("llm_uit"))
        return not self.llm_enabled

    def _cmd_propose(self, turn: _Turn, _: str) -> None:
        """Ask the model for a draft formulation from the answers so far (this question, else the one before)."""
        session = self._require_session(turn)
        if session is None or self._llm_off(turn):
            return
        if session.phase == "klaar":
            turn.say(self._t("geen_open_vraag"))
            return
        if session.phase == "shortlist":
            self._propose_themes(turn, session)
            return
        question = self._question(session)
        keys = self.flow.question_keys()
        position = keys.index(question.sleutel)
        texts = [c.text for c in session.live(question.sleutel)]
        if not texts and position > 0:
            texts = [c.text for c in session.live(keys[position - 1])]
        if not texts:
            turn.say(self._t("voorstel_geen_antwoorden"))
            return
        request = LLMRequest(
            kind="formulering",
            session_id=session.id,
            question=question.sleutel,
            context=self._fill(question.tekst, session),
            texts=tuple(texts),
            vraagstuk=session.vraagstuk,
        )
        turn.say(self._t("llm_bezig"), llm=request)

    def _propose_themes(self, turn: _Turn, session: Session) -> None:
        """Too many answers for one poll: ask the model to group them into a few themes to vote on."""
        options = [c for c in (session.contribution(i) for i in session.pending.options) if c is not None]
        request = LLMRequest(
            kind="thema",
            session_id=session.id,
            question=self._question(session).sleutel,
            context=self._fill(self._question(session).tekst, session),
            texts=tuple(c.text for c in options),
            vraagstuk=session.vraagstuk,
            options=tuple(c.id for c in options),
        )
        turn.say(self._t("llm_bezig"), llm=request)

    def _cmd_summary(self, turn: _Turn, _: str) -> None:
        session = self._require_session(turn)
        if session is None or self._llm_off(turn):
            return
        step = self.flow.step(session.step)
        keys = {q.sleutel for q in step.vragen}
        texts = [c.text for c in session.contributions if c.question in keys and not c.removed]
        if not texts:
            turn.say(self._t("voorstel_geen_antwoorden"))
            return
        request = LLMRequest(
            kind="samenvatting", session_id=session.id, question=None, context=step.titel, texts=tuple(texts)
        )
        turn.say(self._t("llm_bezig"), llm=request)

    def _cmd_ask_sources(self, turn: _Turn, arg: str) -> None:
        """A free question answered from the knowledge base: by the model with citations, else as search results."""
        if not arg:
            turn.say(self._t("watwerkt_geen_vraag"))
            return
        if not self.llm_enabled:
            self._cmd_what_works(turn, arg)
            return
        hits: list[SearchHit] = []
        if self.knowledge is not None:
            try:
                hits = self.knowledge.search(arg, SEARCH_PAGE)
            except Exception:
                hits = []
        if not hits:
            turn.say(self._t("watwerkt_niets"))
            return
        session = turn.session
        request = LLMRequest(
            kind="antwoord", session_id=session.id if session else None, question=None, context=arg, hits=tuple(hits)
        )
        turn.say(self._t("llm_bezig"), llm=request)

    def _on_proposal(self, turn: _Turn, event: Proposal) -> None:
        request = event.request
        text = clean_text(event.text)
        if request.kind == "antwoord":
            lines = [f"{_esc(text)}", "", self._t("bronnen_kop")]
            lines += [
                f"[{n}] {_esc(hit.titel)} – {_esc(hit.bron)}"
                for n, hit in enumerate(request.hits, start=1)
                if n in event.citations
            ]
            turn.say("\n".join(lines))
            return
        if request.kind == "samenvatting":
            turn.say(self._t("samenvatting", stap=request.context, tekst=text))
            return
        session = turn.session
        if session is None or session.id != request.session_id or session.phase == "klaar":
            return
        if self._question(session).sleutel != request.question:
            return
        if request.kind == "thema":
            self._show_themes(turn, session, event)
            return
        session.pending.suggestions = [Suggestion(titel=text, bron="taalmodel", soort="voorstel")]
        turn.changed = True
        turn.say(self._t("voorstel", tekst=text), buttons=(Button("Neem over", "/neem 1"),))

    def _show_themes(self, turn: _Turn, session: Session, event: Proposal) -> None:
        options = event.request.options
        if session.phase != "shortlist" or not set(options) <= set(session.pending.options):
            return  # the group moved on (or answers were removed) while the model was thinking
        position = {cid: n for n, cid in enumerate(session.pending.options, start=1)}
        themes: list[Suggestion] = []
        lines = []
        for label, members in event.groups[:MAX_POLL_OPTIONS]:
            ids = [options[m] for m in members if 0 <= m < len(options)]
            title = _poll_label(clean_text(label))
            if not ids or not title:
                continue
            themes.append(Suggestion(titel=title, bron="taalmodel", soort="thema", leden=ids))
            numbers = ", ".join(str(position[i]) for i in ids)
            lines.append(f"{len(themes)}. {_esc(title)} <i>(antwoord {numbers})</i>")
        if len(themes) < 2:
            turn.say(self._t("llm_mislukt"))
            return
        session.pending.suggestions = themes
        turn.changed = True
        turn.say(
            self._raw("themas_voorstel", lijst="\n".join(lines)), buttons=(Button("Stem over deze thema's", "/neem 1"),)
        )

    def _vote_on_themes(self, turn: _Turn, session: Session) -> None:
        """Adopt the proposed themes as the group's answers (with the model as source) and put them to a vote."""
        if not self._may_steer(turn):
            turn.say(self._t("alleen_facilitator", actie="/neem"))
            return
        question = self._question(session)
        ids = []
        for theme in session.pending.suggestions:
            contribution = self._add(turn, question.sleutel, theme.titel, None)
            contribution.source = theme.bron
            ids.append(contribution.id)
        self._start_vote(turn, ids)

    def _on_proposal_failed(self, turn: _Turn, event: ProposalFailed) -> None:
        turn.say(self._t("llm_mislukt"))
        if event.request.kind == "antwoord":
            self._cmd_what_works(turn, event.request.context)

    # ----------------------------------------------------------------- knowledge inside the flow

    def _suggest(self, turn: _Turn, kinds: tuple[SuggestionKind, ...], query: str) -> None:
        """Offer fitting knowledge items (never from thin air: only what the retriever finds)."""
        session = turn.session
        assert session is not None
        hits = [hit for kind in kinds for hit in self._search_kind(session, KIND_TO_SOORT[kind], query)]
        if not hits:
            return
        session.pending.suggestions = [
            Suggestion(titel=h.titel, bron=h.bron, soort=h.soort, beoordeling=h.beoordeling) for h in hits
        ]
        turn.changed = True
        lines = [self._t("suggesties_kop")]
        lines += [format_hit(replace(hit, rank=n)) for n, hit in enumerate(hits, start=1)]
        lines.append(self._t("suggesties_neem"))
        buttons = tuple(Button(f"Neem {n} over", f"/neem {n}") for n in range(1, len(hits) + 1))
        turn.say("\n\n".join(lines), buttons=buttons)

    def _search_kind(self, session: Session, soort: str, query: str) -> list[SearchHit]:
        """Search one kind, narrowing by the issue's theme and the current step where that still finds something."""
        if self.knowledge is None:
            return []
        theme = session.themas[0] if session.themas else None
        attempts = [(theme, session.step), (theme, None), (None, session.step), (None, None)]
        try:
            for thema, stap in dict.fromkeys(attempts):
                hits = self.knowledge.search(query, SUGGESTIONS_PER_KIND, thema=thema, soort=soort, stap=stap)
                if hits:
                    return hits
        except Exception:
            return []
        return []

    def _cmd_adopt(self, turn: _Turn, arg: str) -> None:
        """`/neem N`: take suggestion N into the compass, keeping its source."""
        session = self._require_session(turn)
        if session is None:
            return
        suggestions = session.pending.suggestions
        numbers = _numbers(arg)
        if not suggestions:
            turn.say(self._t("geen_suggesties"))
            return
        if not numbers or not 1 <= numbers[0] <= len(suggestions):
            turn.say(self._t("kies_ongeldig", max=len(suggestions)))
            return
        if session.phase == "shortlist" and suggestions[0].soort == "thema":
            self._vote_on_themes(turn, session)
            return
        chosen = suggestions[numbers[0] - 1]
        if session.phase == "item" and session.pending.item_id is not None:
            item = session.contribution(session.pending.item_id)
            item_field = self._current_field(session)
            if item is not None:
                item.fields[item_field.sleutel] = chosen.titel
                item.field_sources[item_field.sleutel] = chosen.bron
            turn.say(self._t("suggestie_overgenomen", titel=chosen.titel))
            turn.changed = True
            self._next_field(turn)
            return
        question = self._question(session)
        if question.soort == "formulering" and not self._may_steer(turn):
            turn.say(self._t("alleen_facilitator", actie="/neem"))
            return
        contribution = self._add(turn, question.sleutel, chosen.titel, None)
        contribution.source = chosen.bron
        turn.say(self._t("suggestie_overgenomen", titel=chosen.titel))
        if question.soort == "formulering":
            self._agree(turn, question.sleutel, chosen.titel, [contribution.id])
            self._advance(turn)
        elif question.soort == "items":
            session.phase = "item"
            session.pending = Pending(item_id=contribution.id, field_index=0)
            self._ask_field(turn)

    def _cmd_what_works(self, turn: _Turn, arg: str) -> None:
        if not arg:
            turn.say(self._t("watwerkt_geen_vraag"))
            return
        turn.chat.last_query = arg
        turn.chat.last_offset = 0
        turn.changed = True
        self._search_page(turn)

    def _cmd_more(self, turn: _Turn, _: str) -> None:
        if not turn.chat.last_query:
            turn.say(self._t("watwerkt_geen_vraag"))
            return
        turn.chat.last_offset += SEARCH_PAGE
        turn.changed = True
        self._search_page(turn)

    def _search_page(self, turn: _Turn) -> None:
        query = turn.chat.last_query or ""
        if self.knowledge is None:
            turn.say(self._t("watwerkt_uit"))
            return
        try:
            hits = self.knowledge.search(query, SEARCH_PAGE, offset=turn.chat.last_offset)
        except Exception:
            turn.say(self._t("watwerkt_uit"))
            return
        if not hits:
            turn.say(self._t("watwerkt_niets"))
            return
        lines = [self._t("watwerkt_kop", vraag=query)]
        lines += [format_hit(hit) for hit in hits]
        if len(hits) == SEARCH_PAGE:
            lines.append(self._t("watwerkt_meer"))
        turn.say("\n\n".join(lines))

    def _cmd_document(self, turn: _Turn, _: str) -> None:
        if self._require_session(turn) is not None:
            turn.say(self._t("document_klaar"), export=("pdf", "docx"))

    def _cmd_picture(self, turn: _Turn, _: str) -> None:
        if self._require_session(turn) is not None:
            turn.say(self._t("plaatje_klaar"), export=("png",))


def format_hit(hit: SearchHit) -> str:
    """One search result as safe HTML: title, kind, one line, recognition and source."""
    line = f"{hit.rank}. <b>{_esc(hit.titel)}</b> ({_esc(hit.soort)})"
    if hit.fragment:
        line += f"\n{_esc(_short(hit.fragment, 220))}"
    line += f"\nBeoordeling: {_esc(hit.beoordeling)}\nBron: {_esc(hit.bron)}"
    return line


def _numbers(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", text)]


def _match_choice(text: str, choices: tuple[str, ...]) -> str | None:
    cleaned = text.strip().lower()
    if cleaned.isdigit() and 1 <= int(cleaned) <= len(choices):
        return choices[int(cleaned) - 1]
    for choice in choices:
        if choice.lower() == cleaned or (choice.lower().startswith(cleaned) and len(cleaned) >= 3):
            return choice
    return None


def _distinct(contributions: list[Contribution]) -> list[Contribution]:
    seen: set[str] = set()
    unique = []
    for contribution in contributions:
        key = " ".join(contribution.text.lower().split())
        if key not in seen:
            seen.add(key)
            unique.append(contribution)
    return unique


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _poll_label(text: str, limit: int = 100) -> str:
    return _short(" ".join(text.split()), limit)


def progress(flow: Flow, session: Session) -> int:
    keys = flow.question_keys()
    done = sum(1 for key in keys if session.live(key) or session.answer(key).agreed)
    return round(100 * done / len(keys))
