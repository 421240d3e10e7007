"""Optional help from a language model: draft a formulation, cluster answers, summarise a step,
answer a question from the knowledge base.

Off unless `KOMPAS_LLM` names a chat model. Every operation returns a checked proposal that the
facilitator confirms or edits, or raises `LLMUnavailable`, which the caller turns into the
plain flow without a model. What participants typed is passed to the model as data between
tags (escaped, so it cannot close them), never as instructions; whatever the model returns
is validated against a schema, stripped of markup, bounded in length and never acted upon.

The prompts are editable files in `prompts/` (see `prompts/README.md`), checked at start-up.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError

from bot.config import Settings
from bot.content import content_dir
from bot.flows import FlowError, read_content_file
from bot.knowledge.search import SearchHit

if TYPE_CHECKING:  # langchain is imported only when a model is used: it costs ~1 s of start-up
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage

Reason = Literal["configuratie", "timeout", "fout", "ongeldig", "geen_bron"]

MAX_ANSWERS = 100
MAX_ANSWER_CHARS = 600
MAX_FRAGMENT_CHARS = 1500
MAX_MODEL_CHARS = 20_000
MAX_GROUPS = 10

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
_CITATION = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
_LINK = re.compile(r"https?://|www\.", re.IGNORECASE)


class LLMUnavailable(Exception):
    """No usable proposal: the model is off, too slow, failed, or answered outside the rules.

    `reason` says which, for logs and for choosing the fallback message.
    """

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason: Reason = reason
        self.detail = detail


# ----------------------------------------------------------------------------- prompts


@dataclass(frozen=True)
class PromptSpec:
    """What a prompt file must offer: its placeholders, and which of them carry user data."""

    placeholders: frozenset[str]
    data: frozenset[str]


PROMPT_SPECS: Mapping[str, PromptSpec] = {
    "formulering": PromptSpec(frozenset({"vraag", "vraagstuk", "antwoorden"}), frozenset({"vraagstuk", "antwoorden"})),
    "clusteren": PromptSpec(frozenset({"max_groepen", "antwoorden"}), frozenset({"antwoorden"})),
    "samenvatten": PromptSpec(frozenset({"stap", "antwoorden"}), frozenset({"antwoorden"})),
    "vraag_beantwoorden": PromptSpec(frozenset({"vraag", "bronnen"}), frozenset({"vraag", "bronnen"})),
}


@dataclass(frozen=True)
class Prompt:
    naam: str
    versie: int
    system: str
    message: str

    def render(self, values: Mapping[str, str]) -> list[BaseMessage]:
        """The messages for the model; `values` must already be escaped where they hold user data."""
        from langchain_core.messages import HumanMessage, SystemMessage

        text = _PLACEHOLDER.sub(lambda m: values[m.group(1)], self.message)
        return [SystemMessage(content=self.system), HumanMessage(content=text)]


class _FrontMatter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    naam: str
    versie: int = Field(ge=1)
    beschrijving: str = ""


def _parse_prompt(path: Path) -> Prompt:
    raw = read_content_file(path)
    match = re.match(r"\A---\n(.*?)\n---\n(.*)\Z", raw, re.DOTALL)
    if not match:
        raise FlowError(f"{path}: begin met een kop tussen twee regels '---' (naam, versie)")
    try:
        front = _FrontMatter.model_validate(yaml.safe_load(match.group(1)) or {})
    except (yaml.YAMLError, ValidationError) as exc:
        raise FlowError(f"{path}: de kop klopt niet: {exc}") from None
    parts = re.split(r"^# (Systeem|Bericht)[ \t]*$", match.group(2), flags=re.MULTILINE)
    sections = dict(zip(parts[1::2], (p.strip() for p in parts[2::2]), strict=True))
    if set(sections) != {"Systeem", "Bericht"} or len(parts) != 5:
        raise FlowError(f"{path}: verwacht precies twee delen: '# Systeem' en daarna '# Bericht'")
    if not sections["Systeem"] or not sections["Bericht"]:
        raise FlowError(f"{path}: '# Systeem' en '# Bericht' mogen niet leeg zijn")
    return Prompt(front.naam, front.versie, sections["Systeem"], sections["Bericht"])


def _check_prompt(path: Path, prompt: Prompt, spec: PromptSpec) -> None:
    if prompt.naam != path.stem:
        raise FlowError(f"{path}: 'naam' is '{prompt.naam}', maar moet gelijk zijn aan de bestandsnaam '{path.stem}'")
    if _PLACEHOLDER.search(prompt.system):
        raise FlowError(f"{path}: zet geen {{{{invulplekken}}}} in '# Systeem'; die horen in '# Bericht'")
    found = set(_PLACEHOLDER.findall(prompt.message))
    missing, unknown = spec.placeholders - found, found - spec.placeholders
    if missing or unknown:
        raise FlowError(
            f"{path}: invulplekken kloppen niet; ontbreekt: {', '.join(sorted(missing)) or '-'}; "
            f"onbekend: {', '.join(sorted(unknown)) or '-'}; nodig: {', '.join(sorted(spec.placeholders))}"
        )
    for name in sorted(spec.data):
        if not re.search(rf"<([a-z_]+)>\s*\{{\{{\s*{name}\s*\}}\}}\s*</\1>", prompt.message):
            raise FlowError(
                f"{path}: {{{{{name}}}}} bevat tekst van deelnemers en moet alleen tussen een open- en sluittag "
                f"staan, bijvoorbeeld <gegevens>{{{{{name}}}}}</gegevens>"
            )


def load_prompts(directory: Path | None = None) -> dict[str, Prompt]:
    """Load and check every prompt in `prompts/`; a problem raises `FlowError` naming the file."""
    directory = directory or content_dir("prompts")
    prompts = {}
    for name, spec in PROMPT_SPECS.items():
        path = directory / f"{name}.md"
        prompt = _parse_prompt(path)
        _check_prompt(path, prompt, spec)
        prompts[name] = prompt
    return prompts


# ----------------------------------------------------------------------------- model output


def _strip_markup(value: object) -> object:
    """Plain text only: no HTML tags, no Markdown emphasis, headings, code or bullets."""
    if not isinstance(value, str):
        return value
    text = re.sub(r"<[^>\n]{0,200}>", "", value)
    text = re.sub(r"```[a-z]*", "", text)
    text = re.sub(r"(\*\*|__|`|~~)", "", text)
    text = re.sub(r"^\s{0,3}(#{1,6}|[-*•]|>)\s+", "", text, flags=re.MULTILINE)
    text = "".join(c for c in text if c in "\n\t" or c.isprintable())
    text = re.sub(r"[ \t]+", " ", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _no_links(value: str) -> str:
    if _LINK.search(value):
        raise ValueError("links zijn niet toegestaan")
    return value


_Plain = BeforeValidator(_strip_markup)
_NoLinks = AfterValidator(_no_links)
Sentence = Annotated[str, _Plain, StringConstraints(min_length=1, max_length=300), _NoLinks]
Label = Annotated[str, _Plain, StringConstraints(min_length=1, max_length=100), _NoLinks]
Summary = Annotated[str, _Plain, StringConstraints(min_length=1, max_length=1200), _NoLinks]
AnswerText = Annotated[str, _Plain, StringConstraints(max_length=1500), _NoLinks]


class _Output(BaseModel):
    model_config = ConfigDict(extra="ignore")


class DraftOutput(_Output):
    """Een voorstel voor één formulering."""

    text: Sentence


class ClusterGroup(_Output):
    label: Label
    members: list[int] = Field(min_length=1)


class ClusterOutput(_Output):
    """De antwoorden verdeeld over een paar thema's."""

    groups: list[ClusterGroup] = Field(min_length=2, max_length=MAX_GROUPS)


class SummaryOutput(_Output):
    """Een korte samenvatting."""

    summary: Summary


class AnswerOutput(_Output):
    """Een antwoord op basis van de bronnen, met bronnummers tussen blokhaken."""

    found: bool
    answer: AnswerText


Schema = TypeVar("Schema", bound=_Output)


def _content_text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(part if isinstance(part, str) else str(part.get("text", "")) for part in content)


def parse_json_output(text: str, schema: type[Schema]) -> Schema:
    """The first JSON object in a model's text, validated against `schema`."""
    text = text[:MAX_MODEL_CHARS]
    decoder = json.JSONDecoder()
    for start in [m.start() for m in re.finditer(r"\{", text)][:20]:
        try:
            data, _ = decoder.raw_decode(text[start:])
        except ValueError:
            continue
        return schema.model_validate(data)
    raise ValueError("geen JSON-object in het antwoord")


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Cluster:
    """One theme; `members` are 0-based positions in the answers that were clustered."""

    label: str
    members: list[int]


@dataclass(frozen=True)
class GroundedAnswer:
    """An answer from the sources. `citations` are 1-based positions in the hits given.

    Sentences without a valid citation are dropped (`uncited` counts them) and citation
    numbers that match no hit are removed (`invalid` lists them).
    """

    text: str
    citations: list[int]
    uncited: int = 0
    invalid: list[int] = field(default_factory=list)


def _data(text: str, limit: int) -> str:
    """User text as inert data: bounded, and escaped so it cannot open or close a tag."""
    text = text.strip()
    if len(text) > limit:
        text = text[:limit].rstrip() + " …"
    return html.escape(text, quote=True)


def _numbered(answers: Sequence[str], tag: str = "antwoord") -> str:
    return "\n".join(
        f'<{tag} nummer="{n}">{_data(answer, MAX_ANSWER_CHARS)}</{tag}>' for n, answer in enumerate(answers, start=1)
    )


def _check_answers(answers: Sequence[str], minimum: int) -> list[str]:
    kept = [a for a in answers if a.strip()]
    if len(kept) < minimum:
        raise ValueError(f"minstens {minimum} antwoord(en) nodig")
    if len(kept) > MAX_ANSWERS:
        raise ValueError(f"hoogstens {MAX_ANSWERS} antwoorden tegelijk")
    return kept


def _ground(answer: str, hits: int) -> GroundedAnswer:
    text = _CITATION.sub(lambda m: "".join(f"[{n.strip()}]" for n in m.group(1).split(",")), answer)
    text = re.sub(r"([.!?])\s*((?:\[\d+\]\s*)+)", lambda m: " " + m.group(2).strip() + m.group(1) + " ", text)
    invalid = sorted({int(n) for n in re.findall(r"\[(\d+)\]", text) if not 1 <= int(n) <= hits})
    text = re.sub(r"\s*\[(\d+)\]", lambda m: m.group(0) if 1 <= int(m.group(1)) <= hits else "", text)
    kept: list[str] = []
    uncited = 0
    for paragraph in text.split("\n"):
        sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", paragraph) if s.strip()]
        cited = [s for s in sentences if re.search(r"\[\d+\]", s)]
        uncited += len(sentences) - len(cited)
        if cited:
            kept.append(" ".join(cited))
    final = "\n".join(kept).strip()
    citations = list(dict.fromkeys(int(n) for n in re.findall(r"\[(\d+)\]", final)))
    if not citations:
        raise LLMUnavailable("geen_bron", "geen zin met een geldige bronverwijzing")
    return GroundedAnswer(final, citations, uncited, invalid)


# ----------------------------------------------------------------------------- the service


class LLMService:
    """The model operations. Inject any langchain chat model (a fake one in tests)."""

    def __init__(
        self, model: BaseChatModel, prompts: Mapping[str, Prompt] | None = None, timeout: float = 30.0
    ) -> None:
        self._model = model
        self._prompts = dict(prompts) if prompts is not None else load_prompts()
        self._timeout = timeout
        self._structured = True

    async def draft_formulation(self, question_text: str, vraagstuk: str, answers: Sequence[str]) -> str:
        """One proposed sentence for a 'formulering' question, built from the group's answers."""
        kept = _check_answers(answers, 1)
        values = {
            "vraag": _data(question_text, 500),
            "vraagstuk": _data(vraagstuk, 200),
            "antwoorden": _numbered(kept),
        }
        result = await self._ask("formulering", DraftOutput, values)
        return " ".join(result.text.split())

    async def cluster(self, answers: Sequence[str], max_groups: int) -> list[Cluster]:
        """Group many answers into 2..`max_groups` themes, every answer in exactly one theme."""
        if not 2 <= max_groups <= MAX_GROUPS:
            raise ValueError(f"max_groups moet tussen 2 en {MAX_GROUPS} liggen")
        if len(answers) < 2 or len(answers) > MAX_ANSWERS:
            raise ValueError(f"clusteren kan met 2 tot {MAX_ANSWERS} antwoorden")
        values = {"max_groepen": str(max_groups), "antwoorden": _numbered(answers)}
        result = await self._ask("clusteren", ClusterOutput, values)
        return _checked_clusters(result, len(answers), max_groups)

    async def summarize_step(self, step_title: str, items: Sequence[str]) -> str:
        """A short plain-text summary of what the group wrote in one step."""
        kept = _check_answers(items, 1)
        result = await self._ask(
            "samenvatten", SummaryOutput, {"stap": _data(step_title, 200), "antwoorden": _numbered(kept)}
        )
        return result.summary

    async def answer_question(self, question: str, hits: Sequence[SearchHit]) -> GroundedAnswer:
        """Answer only from `hits`, citing them as [1], [2], ...; nothing grounded -> `LLMUnavailable`."""
        if not hits:
            raise LLMUnavailable("geen_bron", "geen bronnen gevonden")
        sources = "\n".join(
            f'<bron nummer="{n}" titel="{_data(hit.titel, 200)}" soort="{_data(hit.soort, 50)}">'
            f"{_data(hit.fragment, MAX_FRAGMENT_CHARS)}</bron>"
            for n, hit in enumerate(hits, start=1)
        )
        result = await self._ask(
            "vraag_beantwoorden", AnswerOutput, {"vraag": _data(question, 500), "bronnen": sources}
        )
        if not result.found or not result.answer.strip():
            raise LLMUnavailable("geen_bron", "het model vond het antwoord niet in de bronnen")
        return _ground(result.answer, len(hits))

    async def _ask(self, name: str, schema: type[Schema], values: Mapping[str, str]) -> Schema:
        messages = self._prompts[name].render(values)
        try:
            return await asyncio.wait_for(self._invoke(messages, schema), self._timeout)
        except TimeoutError:
            raise LLMUnavailable("timeout", f"geen antwoord binnen {self._timeout:g} s") from None
        except LLMUnavailable:
            raise
        except (ValidationError, ValueError) as exc:
            raise LLMUnavailable("ongeldig", str(exc)[:300]) from None
        except Exception as exc:
            raise LLMUnavailable("fout", f"{type(exc).__name__}: {exc}"[:300]) from None

    async def _invoke(self, messages: list[BaseMessage], schema: type[Schema]) -> Schema:
        """Structured output where the model supports it; otherwise JSON parsed from the text.

        A model that claims tool support but fails with it is asked again without, once, and
        from then on always without.
        """
        if not self._structured:
            return await self._invoke_text(messages, schema)
        try:
            structured = self._model.with_structured_output(schema)
        except NotImplementedError:
            self._structured = False
            return await self._invoke_text(messages, schema)
        try:
            result = await structured.ainvoke(messages)
        except (ValidationError, ValueError):
            raise
        except Exception:
            output = await self._invoke_text(messages, schema)
            self._structured = False
            return output
        return result if isinstance(result, schema) else schema.model_validate(result)

    async def _invoke_text(self, messages: list[BaseMessage], schema: type[Schema]) -> Schema:
        message = await self._model.ainvoke(messages)
        return parse_json_output(_content_text(message), schema)


def _checked_clusters(result: ClusterOutput, count: int, max_groups: int) -> list[Cluster]:
    if len(result.groups) > max_groups:
        raise LLMUnavailable("ongeldig", f"{len(result.groups)} groepen, hoogstens {max_groups}")
    labels = [group.label.casefold() for group in result.groups]
    if len(set(labels)) != len(labels):
        raise LLMUnavailable("ongeldig", "twee groepen hebben hetzelfde label")
    seen: set[int] = set()
    clusters = []
    for group in result.groups:
        wrong = [n for n in group.members if not 1 <= n <= count]
        if wrong:
            raise LLMUnavailable("ongeldig", f"antwoordnummers bestaan niet: {wrong}")
        members = [n - 1 for n in dict.fromkeys(group.members) if n - 1 not in seen]
        seen.update(members)
        if members:
            clusters.append(Cluster(group.label, members))
    if len(seen) != count:
        missing = sorted(set(range(1, count + 1)) - {n + 1 for n in seen})
        raise LLMUnavailable("ongeldig", f"niet ingedeeld: antwoord {missing}")
    if len(clusters) < 2:
        raise LLMUnavailable("ongeldig", "minder dan twee groepen over")
    return clusters


def make_chat_model(settings: Settings) -> BaseChatModel | None:
    """The chat model `KOMPAS_LLM` names (e.g. 'ollama:llama3.1'), or None when it is not set.

    The provider's package (langchain-ollama, langchain-openai, ...) must be installed; it is
    not a dependency of Kompasbot. A missing package, an unknown provider or a provider that
    refuses its settings (e.g. no API key) raises `LLMUnavailable('configuratie')` with a
    message for the operator.
    """
    if not settings.llm:
        return None
    from langchain.chat_models import init_chat_model
    from langchain_core.language_models import BaseChatModel

    options: dict[str, Any] = {"temperature": 0.2}
    if settings.llm_base_url:
        options["base_url"] = settings.llm_base_url
    try:
        model = init_chat_model(settings.llm, **options)
    except ImportError as exc:
        raise LLMUnavailable(
            "configuratie", f"KOMPAS_LLM={settings.llm}: het pakket voor deze aanbieder ontbreekt ({exc})"
        ) from None
    except Exception as exc:
        raise LLMUnavailable("configuratie", f"KOMPAS_LLM={settings.llm}: {type(exc).__name__}: {exc}") from None
    if not isinstance(model, BaseChatModel):
        raise LLMUnavailable("configuratie", f"KOMPAS_LLM={settings.llm}: geen chatmodel")
    return model
