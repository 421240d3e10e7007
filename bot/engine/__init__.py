"""The facilitation engine: `(chat state, event) -> (new chat state, replies)`.

Pure by design: no I/O, no clock, no platform types. Transports turn platform updates into
`Event`s; the service (`bot.service`) persists the returned `Chat` before the returned `Reply`s
are sent. The engine is split by concern:

- `navigation` – starting a compass, asking the open question, moving on;
- `answers` – where each text goes, and every participant's own item draft; corrections;
- `understand` – reading an item's fields from what people type;
- `choosing` – formulations, shortlists and polls;
- `knowledge` – suggestions, `/watwerkt`, adopting with `/neem`;
- `language_model` – the optional model's requests and proposals;
- `privacy` – `/mijngegevens` and `/vergeet`;
- `overview` – `/overzicht` and `/wie`.

The one command registry lives here: transports ask it which commands there are and whether a
message may need facilitator rights; no rule is written twice.
"""

from __future__ import annotations

import difflib
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace

from bot.coach import Coach
from bot.compass import Chat, Draft
from bot.engine import answers, choosing, language_model, measuring, navigation, overview, privacy
from bot.engine import knowledge as knowledge_commands
from bot.engine.context import MAX_ANSWER_CHARS, MAX_POLL_OPTIONS, Context, Turn, may_steer, progress
from bot.engine.knowledge import format_hit
from bot.engine.understand import FieldReader
from bot.events import (
    Actor,
    Command,
    Edit,
    Event,
    Joined,
    Outcome,
    Proposal,
    ProposalFailed,
    Reply,
    Text,
    Vote,
    clean_text,
    parse_command,
)
from bot.flows import Flow, Texts, Themes
from bot.knowledge.search import KnowledgeSearch

__all__ = [
    "MAX_ANSWER_CHARS",
    "MAX_POLL_OPTIONS",
    "Actor",
    "CommandSpec",
    "Engine",
    "Outcome",
    "Reply",
    "Text",
    "format_hit",
    "progress",
]

Handler = Callable[[Context, Turn, str], None]
# Whether a command, given as `arg` by `actor_id` in this chat, needs facilitator rights.
Steering = Callable[[Chat, str, str], bool]
STEERING_PHASES = ("kiezen", "shortlist")


def _always(chat: Chat, actor_id: str, arg: str) -> bool:
    return True


@dataclass(frozen=True)
class CommandSpec:
    """One command. `steers`: when it needs facilitator rights in a group. `enforced`: the engine
    refuses it then; otherwise the handler decides case by case (and a transport should still find
    out whether the sender is a chat admin). `position`: a button for it only depends on the open
    question, not on a pending choice."""

    name: str
    handler: Handler
    steers: Steering | None = None
    enforced: bool = True
    position: bool = False


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
        self.ctx = Context(
            flow=flow,
            texts=texts,
            reader=FieldReader(flow, coach),
            knowledge=knowledge,
            themes=themes,
            coach=coach,
            llm_enabled=llm_enabled,
            bot_username=bot_username,
        )
        specs = [
            CommandSpec("start", navigation.cmd_start),
            CommandSpec("help", navigation.cmd_help),
            CommandSpec("kompas", navigation.cmd_compass, steers=self._switching_compass),
            CommandSpec("volgende", navigation.cmd_next, steers=_always, position=True),
            CommandSpec("terug", navigation.cmd_back, steers=_always, position=True),
            CommandSpec("overslaan", navigation.cmd_skip, steers=self._skipping_question, position=True),
            CommandSpec("stap", navigation.cmd_step, steers=_always, position=True),
            CommandSpec("overzicht", overview.cmd_overview),
            CommandSpec("uitleg", navigation.cmd_explain, position=True),
            CommandSpec("rol", navigation.cmd_role),
            CommandSpec("wie", overview.cmd_who),
            CommandSpec("kies", choosing.cmd_choose, steers=self._group_choice, enforced=False),
            CommandSpec("neem", knowledge_commands.cmd_adopt, steers=_always, enforced=False),
            CommandSpec("wijzig", answers.cmd_change, steers=_always, enforced=False),
            CommandSpec("verwijder", answers.cmd_remove, steers=_always, enforced=False),
            CommandSpec("watwerkt", knowledge_commands.cmd_what_works),
            CommandSpec("meer", knowledge_commands.cmd_more),
            CommandSpec("vraag", language_model.cmd_ask_sources),
            CommandSpec("voorstel", language_model.cmd_propose, steers=_always, position=True),
            CommandSpec("samenvatting", language_model.cmd_summary),
            CommandSpec("document", navigation.cmd_document, steers=_always, position=True),
            CommandSpec("plaatje", navigation.cmd_picture, steers=_always, position=True),
            CommandSpec("meting", measuring.cmd_measure),
            CommandSpec("ronde", measuring.cmd_round, steers=_always),
            CommandSpec("mijngegevens", privacy.cmd_my_data),
            CommandSpec("vergeet", privacy.cmd_forget),
            CommandSpec("stop", navigation.cmd_stop, steers=_always, position=True),
        ]
        self.registry: dict[str, CommandSpec] = {spec.name: spec for spec in specs}

    @property
    def commands(self) -> tuple[str, ...]:
        """The names of the commands the engine understands (without the slash)."""
        return tuple(self.registry)

    def enable_llm(self, enabled: bool) -> None:
        self.ctx = replace(self.ctx, llm_enabled=enabled)

    @property
    def steering_commands(self) -> frozenset[str]:
        """Commands that always need facilitator rights in a group (for menus)."""
        return frozenset(name for name, spec in self.registry.items() if spec.steers is _always and spec.enforced)

    @property
    def knowledge(self) -> KnowledgeSearch | None:
        return self.ctx.knowledge

    # ----------------------------------------------------------------- questions transports ask

    def needs_steering(self, chat: Chat, actor_id: str, text: str) -> bool:
        """Whether this message may need facilitator rights (so a transport checks chat admins first)."""
        command = parse_command(text.strip(), self.ctx.bot_username)
        if command is not None:
            spec = self.registry.get(command.name)
            return spec is not None and spec.steers is not None and spec.steers(chat, actor_id, command.arg)
        return self._group_choice(chat, actor_id, "")

    def is_listening(self, chat: Chat | None) -> bool:
        """Whether plain messages count now: a compass is open at a question."""
        return chat is not None and chat.session is not None and chat.session.phase != "klaar"

    def stamp(self, chat: Chat, command: str, actor_id: str) -> str:
        """Where the compass stands, as far as a button with this command cares.

        Buttons that move the group only depend on the open question; others (`/kies 2` under a
        field or a list of proposals) also on the pending choice and the presser's own draft, so
        they cannot answer a later field."""
        session = chat.session
        if session is None:
            return _short_hash("-")
        parsed = parse_command(command.strip(), self.ctx.bot_username)
        spec = self.registry.get(parsed.name) if parsed is not None else None
        position = f"{session.id}|{session.step}|{session.question_index}"
        if spec is not None and spec.position:
            return _short_hash(position)
        draft = self._own_draft(chat, actor_id)
        mine = f"{draft.item_id}|{draft.field}" if draft is not None else "-"
        return _short_hash(f"{position}|{session.phase}|{session.pending.options}|{mine}")

    def overview(self, chat: Chat) -> str:
        """The compass of the chat's active session as text (for transports and tests)."""
        assert chat.session is not None
        return overview.overview(self.ctx, Turn(chat=chat, actor=None, at=chat.session.updated_at), chat.session)

    # ----------------------------------------------------------------- steering predicates

    def _open_key(self, chat: Chat) -> str | None:
        session = chat.session
        if session is None or session.phase == "klaar":
            return None
        return self.ctx.question(session).sleutel

    def _own_draft(self, chat: Chat, actor_id: str) -> Draft | None:
        key = self._open_key(chat)
        return chat.session.draft_of(actor_id, key) if key is not None and chat.session is not None else None

    def _switching_compass(self, chat: Chat, actor_id: str, arg: str) -> bool:
        """Switching away from (or replacing) the running compass is steering it."""
        return chat.session is not None and bool(arg)

    def _skipping_question(self, chat: Chat, actor_id: str, arg: str) -> bool:
        """`/overslaan` with an own open field skips that field: anyone may."""
        return self._own_draft(chat, actor_id) is None

    def _group_choice(self, chat: Chat, actor_id: str, arg: str) -> bool:
        session = chat.session
        return session is not None and session.phase in STEERING_PHASES and self._own_draft(chat, actor_id) is None

    # ----------------------------------------------------------------- entry point

    def handle(self, chat: Chat, event: Event) -> Outcome:
        turn = Turn(
            # A deep copy the engine may change freely (through pydantic-core: ~5x faster than copy.deepcopy).
            chat=Chat.model_validate(chat.model_dump()),
            actor=getattr(event, "actor", None),
            at=event.at,
            ref=getattr(event, "ref", None),
        )
        if isinstance(event, Joined):
            turn.say(self.ctx.t("welkom"))
        elif isinstance(event, Edit):
            text = clean_text(event.text)
            if text and len(text) <= MAX_ANSWER_CHARS:
                answers.on_edit(self.ctx, turn, event.ref, text)
        elif isinstance(event, Vote):
            choosing.on_vote(self.ctx, turn, event)
            self._remember_name(turn, event.actor)
        elif isinstance(event, Proposal):
            language_model.on_proposal(self.ctx, turn, event)
        elif isinstance(event, ProposalFailed):
            language_model.on_proposal_failed(self.ctx, turn, event)
        else:
            self._on_text(turn, event)
        if turn.changed and turn.session is not None:
            turn.session.updated_at = turn.at
        return Outcome(chat=turn.chat, replies=tuple(turn.replies), changed=turn.changed, erased=turn.erased)

    def _on_text(self, turn: Turn, event: Text) -> None:
        # Nothing of a refused message is kept, not even the sender's name.
        ctx = self.ctx
        text = clean_text(event.text)
        if not text:
            turn.say(ctx.t("stuurtekens") if event.text.strip() else ctx.t("leeg_antwoord"))
            return
        command = parse_command(text, ctx.bot_username)
        if command is not None:
            if command.name:  # a command for another bot has no name: not ours
                self._remember_name(turn, event.actor)
                self._on_command(turn, command)
            return
        if len(text) > MAX_ANSWER_CHARS:
            turn.say(ctx.t("te_lang", lengte=len(text), grens=MAX_ANSWER_CHARS))
            return
        self._remember_name(turn, event.actor)
        if turn.session is None:
            navigation.offer_compass(ctx, turn, text)
        else:
            answers.on_answer(ctx, turn, text)

    def _on_command(self, turn: Turn, command: Command) -> None:
        spec = self.registry.get(command.name)
        if spec is None:
            close = difflib.get_close_matches(command.name, self.commands, n=1, cutoff=0.5)
            if close:
                turn.say(self.ctx.t("onbekend_commando", commando="/" + command.name, suggestie="/" + close[0]))
            else:
                turn.say(self.ctx.t("onbekend_zonder_suggestie", commando="/" + command.name))
            return
        if (
            spec.enforced
            and spec.steers is not None
            and spec.steers(turn.chat, turn.actor_id, command.arg)
            and not may_steer(turn)
        ):
            turn.say(self.ctx.t("alleen_facilitator", actie="/" + command.name))
            return
        spec.handler(self.ctx, turn, command.arg)

    @staticmethod
    def _remember_name(turn: Turn, actor: Actor) -> None:
        if actor.name and turn.chat.names.get(actor.id) != actor.name:
            turn.chat.names[actor.id] = actor.name
            turn.changed = True


def _short_hash(text: str) -> str:
    number = zlib.crc32(text.encode())
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out
