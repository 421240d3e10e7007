"""The compass document: compiled from sessions driven through the real engine, in every format."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from docx import Document
from matplotlib.image import imread
from pypdf import PdfReader
from typer.testing import CliRunner

from bot.cli import app
from bot.compass import Chat, Session
from bot.document import CompassDocument, compile_document, render_export
from bot.document.model import SCHEMA_PATH, schema_text
from bot.document.outline import MARKER
from bot.engine import Actor, Engine, Text, Vote
from bot.flows import Flow, load_flow, load_texts

START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
ANNE = Actor("1", "Anne Jansen", is_admin=True)
BRAM = Actor("2", "Bram de Vries")
CARLA = Actor("3", "Carla Öztürk")
SPECIAL = "Café ‘De Ëik’ kost € 25 & meer <b>vet</b> 🎉👍"
ISSUE = "Schulden & armoede <test> 🎉 bij gezinnen met jonge kinderen in de wijken Noord, Oost en het centrum"
SIX_HEADINGS = (
    "Monitoring en ambities",
    "Maatschappelijk resultaat",
    "Activiteiten",
    "Input kwaliteit",
    "Outcome",
    "Verbetercyclus",
)


class Driver:
    """Feeds events to the real engine, one minute apart, and keeps the chat."""

    def __init__(self, flow: Flow, chat: Chat) -> None:
        self.engine = Engine(flow, load_texts())
        self.chat = chat
        self.clock = START

    def _tick(self) -> datetime:
        self.clock += timedelta(minutes=1)
        return self.clock

    def say(self, actor: Actor, *lines: str) -> None:
        for line in lines:
            self.chat = self.engine.handle(self.chat, Text(actor, line, self._tick())).chat

    def vote(self, actor: Actor, *options: int) -> None:
        self.chat = self.engine.handle(self.chat, Vote(actor, options, self._tick())).chat

    @property
    def session(self) -> Session:
        assert self.chat.session is not None
        return self.chat.session


@pytest.fixture(scope="module")
def flow() -> Flow:
    return load_flow()


def _rich_session(flow: Flow) -> Session:
    """A group completes the whole compass: proposals, votes, items with links, one gap on purpose."""
    d = Driver(flow, Chat(id="groep", is_group=True))
    d.say(ANNE, "/kompas Eenzaamheid onder ouderen", "/rol gemeente")
    d.say(BRAM, "/rol aanbieder")
    d.say(CARLA, "/rol doelgroep")
    # Step 0
    d.say(ANNE, "Eenzaamheid is het gemis aan contact dat iemand zelf als te weinig ervaart.")
    d.say(CARLA, "Eenzaam ben je als je niemand hebt om je verhaal aan kwijt te kunnen.")
    d.say(ANNE, "/volgende", "/kies 2")
    d.say(BRAM, "Ouderen groeten elkaar bij de bakker en maken een praatje.")
    d.say(CARLA, "Er zit iemand naast je in de wachtkamer die vraagt hoe het gaat.")
    d.say(ANNE, "/volgende", "Team Sociaal Domein van de gemeente; gemeente")
    d.say(BRAM, "Welzijn Zuid; aanbieder")
    d.say(CARLA, "Ouderenpanel Zuidhoven; doelgroep")
    d.say(ANNE, "/volgende")
    # Step 1
    d.say(ANNE, "Volgens de GGD-monitor voelt 12% van de 75-plussers zich sterk eenzaam (2022).")
    d.say(ANNE, "/volgende")
    d.say(BRAM, "Bij het café in de wijk komen vooral mannen die al een netwerk hebben.")
    d.say(ANNE, "/volgende", "Het beleid richt zich op ontmoeting, maar niet op de ouderen die thuis zitten.")
    d.say(ANNE, "/volgende")
    d.say(ANNE, "We willen dat ouderen zich gesteund voelen door mensen om hen heen.")
    d.say(BRAM, "We willen dat ouderen in de wijk elkaar kennen.")
    d.say(CARLA, "We willen dat ouderen meedoen aan wat er in het dorp gebeurt.")
    d.say(ANNE, "/volgende")
    d.vote(ANNE, 0, 1)
    d.vote(BRAM, 1)
    d.vote(CARLA, 0)
    d.say(ANNE, "/volgende")
    # Step 2 (the options list the chosen ambitions first: 1 = gesteund, 2 = kennen)
    d.say(ANNE, "Over vier jaar voelen 10% minder 75-plussers zich sterk eenzaam.; 1; over vier jaar; 10% minder")
    d.say(ANNE, "Over vier jaar kent 80% van de ouderen iemand in de buurt bij naam.; 2; in 2029; 80%")
    d.say(ANNE, "/volgende")
    d.vote(ANNE, 0, 1)
    d.say(ANNE, "/volgende")
    d.say(ANNE, "Aandeel 75-plussers dat zich sterk eenzaam voelt; 1; feiten; GGD-gezondheidsmonitor")
    d.say(
        CARLA,
        "Ouderen vertellen dat ze iemand hebben om op terug te vallen; 1; beleving; Gesprekken met het panel",
    )
    d.say(ANNE, "/volgende")
    # Step 3
    d.say(
        BRAM,
        "Huisbezoeken aan 75-plussers door vrijwilligers; Welzijn Zuid met vrijwilligers; informeel; nieuw; 1 2; "
        "Als vrijwilligers ouderen thuis bezoeken, dan komen eenzame ouderen eerder in beeld.",
    )
    d.say(
        BRAM,
        "Buurtkamer in de bibliotheek; Buurtvereniging; informeel; bestaand; 2; "
        "Als er een vaste plek is, dan ontmoeten buurtgenoten elkaar vaker.",
    )
    d.say(ANNE, "Cursus over je netwerk versterken; Welzijn Zuid; formeel; nieuw", "/overslaan", "/overslaan")
    d.say(ANNE, "/volgende", "Na het huisbezoek is er nog geen vaste plek om mensen naartoe te leiden.")
    d.say(ANNE, "/volgende", "De jaarlijkse kerstlunch met 400 gasten", "/volgende")
    # Step 4
    d.say(BRAM, "Aansluiten bij wat de oudere zelf belangrijk vindt; 1")
    d.say(ANNE, "/volgende")
    d.say(BRAM, "Vrijwilligers krijgen een training in het herkennen van eenzaamheid.")
    d.say(ANNE, "/volgende")
    d.say(ANNE, "Een budget van € 25.000 per jaar voor de coördinatie.", "/volgende")
    # Step 5
    d.say(BRAM, "Bezoekers van de buurtkamer hebben na drie maanden vaker contact; 2; beleving; Contactladder")
    d.say(ANNE, "/volgende")
    # Step 6
    d.say(ANNE, "Minder mensen komen naar de inloop, maar wie komt, komt vaker.", "/volgende")
    d.say(ANNE, "De inloop is verhuisd naar een plek die slecht bereikbaar is.", "/volgende")
    d.say(CARLA, "De huisbezoeken bereiken de juiste mensen.")
    d.say(ANNE, "/volgende")
    d.say(ANNE, "Na elk huisbezoek volgt een afspraak voor een tweede bezoek.; 2", "/volgende")
    session = d.session
    assert session.phase == "klaar"
    for contribution in session.contributions:  # as if adopted from the knowledge base
        if contribution.question == "wat_werkt":
            contribution.source = "Wat werkt bij eenzaamheid (Movisie)"
    return session


def _empty_session(flow: Flow) -> Session:
    d = Driver(flow, Chat(id="terminal"))
    d.say(Actor("terminal", ""), "/kompas Armoede")
    return d.session


def _stress_session(flow: Flow) -> Session:
    """Long answers, thirty activities and every awkward character, alone in the terminal."""
    me = Actor("terminal", "Dirk")
    d = Driver(flow, Chat(id="terminal"))
    long_text = (SPECIAL + " ") + ("Een heel lang antwoord met veel woorden over armoede en schulden. " * 40)
    long_text = long_text[:2000]
    d.say(me, f"/kompas {ISSUE}", long_text, "/volgende")
    d.say(me, "\n".join(f"Signaal {n}: {SPECIAL}" for n in range(12)), "/volgende", "/overslaan")
    d.say(me, "/stap 1", "Cijfer " + long_text[:500], "/volgende", "/volgende", long_text[:800], "/volgende")
    d.say(me, "\n".join(f"We willen dat ambitie {n} lukt, {SPECIAL}" for n in range(6)), "/volgende")
    for n in range(8):
        d.say(me, f"Resultaat {n}: {long_text[:300]}; {n % 6 + 1}; over vier jaar; 20%")
    d.say(me, "/volgende")
    for n in range(10):
        d.say(me, f"Indicator {n} {SPECIAL}; {n % 8 + 1}; feiten; Monitor & peiling")
    d.say(me, "/volgende")
    for n in range(30):
        d.say(
            me,
            f"Activiteit {n}: {long_text[:250]}; Wie <ook>; formeel; nieuw; {n % 8 + 1}; "
            f"Als we {n} doen, dan {long_text[:150]}",
        )
    d.say(me, "/volgende", long_text, long_text[:1500])
    d.say(me, "/stap 6", "/volgende", "/volgende", "/volgende")
    for n in range(12):
        d.say(me, f"Verbetering {n} {SPECIAL}; 3")
    return d.session


@pytest.fixture(scope="module")
def rich(flow: Flow) -> CompassDocument:
    return compile_document(_rich_session(flow), flow)


@pytest.fixture(scope="module")
def empty(flow: Flow) -> CompassDocument:
    return compile_document(_empty_session(flow), flow)


@pytest.fixture(scope="module")
def stress(flow: Flow) -> CompassDocument:
    return compile_document(_stress_session(flow), flow)


def _pdf_pages(document: CompassDocument) -> list[str]:
    reader = PdfReader(io.BytesIO(render_export(document, "pdf").data))
    return [page.extract_text() for page in reader.pages]


def _flat(text: str) -> str:
    return " ".join(text.split())


# --------------------------------------------------------------------------- the model


def test_rich_session_compiles_into_the_logic_chain(rich: CompassDocument) -> None:
    assert rich.issue == "Eenzaamheid onder ouderen"
    assert rich.preparation.definition.agreed is not None
    assert rich.preparation.definition.agreed.startswith("Eenzaam ben je")
    assert rich.preparation.perspectives_present == ["gemeente", "aanbieder", "doelgroep"]
    assert rich.preparation.perspectives_missing == []
    ambitions = rich.monitoring.ambitions
    assert [a.chosen for a in ambitions] == [True, True, False]
    assert [a.code for a in ambitions] == ["1.1", "1.2", "1.3"]
    results = rich.societal_results.results
    assert [r.ambition.ids for r in results] == [[ambitions[0].id], [ambitions[1].id]]
    assert results[0].term == "over vier jaar" and results[1].size == "80%"
    activities = rich.activity_plan.activities
    assert activities[0].results.ids == [results[0].id, results[1].id]
    assert activities[0].expectation is not None and activities[0].expectation.startswith("Als ")
    assert rich.linking("activity_result", results[1].id) == [activities[0].id, activities[1].id]
    assert rich.linked("result_indicator", results[0].id) == [i.id for i in rich.societal_results.indicators]
    assert rich.linked("outcome_activity", rich.outcome.outcomes[0].id) == [activities[1].id]
    assert rich.input_quality.what_works[0].source == "Wat werkt bij eenzaamheid (Movisie)"
    assert rich.improvement_cycle.improvements[0].back_to == "activiteiten (stap 3)"
    assert [p.name for p in rich.participants] == ["Anne Jansen", "Bram de Vries", "Carla Öztürk"]


def test_gaps_in_the_chain_are_open_points(rich: CompassDocument) -> None:
    texts = [p.text for p in rich.open_points]
    assert any("3.3" in t and "nog niet gekoppeld aan een resultaat" in t for t in texts)
    assert any("3.3" in t and "verwachting" in t for t in texts)
    assert not any("1.3" in t for t in texts)  # not chosen in the vote, so not a gap
    assert any("2.2" in t and "indicator" in t for t in texts)
    assert not any(p.kind == "leeg" for p in rich.open_points)


def test_empty_compass_lists_every_question_as_open(empty: CompassDocument, flow: Flow) -> None:
    empty_points = [p for p in empty.open_points if p.kind == "leeg"]
    assert len(empty_points) == len(flow.question_keys())
    assert all("nog in te vullen" in p.text for p in empty_points)
    assert any(p.kind == "perspectief" for p in empty.open_points)
    assert empty.participants[0].label == "Deelnemer 1"  # no name given


def test_removed_contributions_and_free_text_references(flow: Flow) -> None:
    session = _rich_session(flow)
    ambition = next(c for c in session.contributions if c.question == "ambities")
    ambition.removed = True
    result = next(c for c in session.contributions if c.question == "resultaten")
    result.fields["ambitie"] = "Iets dat nog niet bestaat"
    document = compile_document(session, flow)
    assert ambition.id not in [a.id for a in document.monitoring.ambitions]
    first = document.societal_results.results[0]
    assert first.ambition.ids == [] and first.ambition.text == "Iets dat nog niet bestaat"
    assert any(p.kind == "verwijzing" for p in document.open_points)
    result.fields["ambitie"] = "we willen dat ouderen in de wijk  elkaar kennen."  # same text, other spacing
    assert compile_document(session, flow).societal_results.results[0].ambition.ids != []


def test_json_round_trips(rich: CompassDocument, stress: CompassDocument) -> None:
    for document in (rich, stress):
        data = render_export(document, "json").data
        assert CompassDocument.model_validate_json(data) == document


def test_published_schema_is_current() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), "run: python -m bot.document"


def test_pseudonymised_export_holds_no_names(flow: Flow) -> None:
    document = compile_document(_rich_session(flow), flow, pseudonymise=True)
    assert [p.label for p in document.participants] == ["Deelnemer 1", "Deelnemer 2", "Deelnemer 3"]
    for fmt in ("json", "md"):
        text = render_export(document, fmt).data.decode()
        assert "Anne" not in text and "Bram" not in text and "Öztürk" not in text
    docx_xml = zipfile.ZipFile(io.BytesIO(render_export(document, "docx").data)).read("word/document.xml").decode()
    assert "Anne" not in docx_xml and "Deelnemer 1" in docx_xml
    assert not any("Anne" in page or "Bram" in page for page in _pdf_pages(document))


# --------------------------------------------------------------------------- the one-page A4


def test_one_pager_is_a4_with_the_six_fields(rich: CompassDocument) -> None:
    data = render_export(rich, "pdf").data
    reader = PdfReader(io.BytesIO(data))
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)
    assert len(reader.pages) >= 2
    first = _flat(reader.pages[0].extract_text())
    for heading in SIX_HEADINGS:
        assert heading in first
    for sample in ("Eenzaamheid onder ouderen", "Eenzaam ben je", "1.1", "Huisbezoeken", "Contactladder", "€ 25.000"):
        assert sample in first
    assert MARKER not in first  # it all fits
    second = _flat(reader.pages[1].extract_text())
    assert "AMBITIE" not in first
    assert "Volledige versie" in second and "pagina 2" in second and "AMBITIE" in second  # appendix from page 2


def test_one_pager_shortens_with_a_marker(stress: CompassDocument) -> None:
    pages = _pdf_pages(stress)
    first = _flat(pages[0])
    assert first.count(MARKER) >= 3
    assert "€" in first and "&" in first and "<b>vet</b>" in first  # escaped, not taken as markup
    everything = _flat(" ".join(pages))
    assert "Activiteit 29" in everything  # the appendix holds what the one page left out


def test_empty_compass_exports_cleanly(empty: CompassDocument) -> None:
    pages = _pdf_pages(empty)
    first = _flat(pages[0])
    assert first.count("nog in te vullen") >= 6
    assert MARKER not in first
    md = render_export(empty, "md").data.decode()
    assert md.count("nog in te vullen") > 10
    assert render_export(empty, "png").data.startswith(b"\x89PNG")
    assert Document(io.BytesIO(render_export(empty, "docx").data)).tables


# --------------------------------------------------------------------------- Word, Markdown, PNG


def test_word_has_the_table_and_a4(rich: CompassDocument) -> None:
    document = Document(io.BytesIO(render_export(rich, "docx").data))
    section = document.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
    headings = [p.text for p in document.paragraphs if p.style.name.startswith("Heading")]
    assert any("Stap 2" in h and "Maatschappelijk resultaat" in h for h in headings)
    summary = [[cell.text for cell in row.cells] for row in document.tables[0].rows]  # the one-page summary first
    assert summary[0][0].strip().startswith("1 · Monitoring en ambities")
    assert "2 · Maatschappelijk resultaat" in summary[0][1]
    table = document.tables[3]
    rows = [[cell.text for cell in row.cells] for row in table.rows]
    assert rows[0] == ["AMBITIE", "MAATSCHAPPELIJK RESULTAAT", "INDICATOR"]
    assert rows[1][0].startswith("1.1 We willen dat ouderen zich gesteund voelen")
    assert rows[1][1].startswith("2.1 Over vier jaar voelen 10% minder")
    assert "Aandeel 75-plussers" in rows[1][2] and "GGD-gezondheidsmonitor" in rows[1][2]
    assert rows[2][1].startswith("2.2")
    activities = [[cell.text for cell in row.cells] for row in document.tables[4].rows]
    assert activities[1][0].startswith("3.1 Huisbezoeken") and activities[1][2] == "2.1, 2.2"


def test_special_characters_survive_every_format(stress: CompassDocument) -> None:
    md = render_export(stress, "md").data.decode()
    assert "Café ‘De Ëik’ kost € 25 \\& meer \\<b\\>vet\\</b\\> 🎉👍" in md
    docx_xml = zipfile.ZipFile(io.BytesIO(render_export(stress, "docx").data)).read("word/document.xml").decode()
    assert "Café ‘De Ëik’ kost € 25 &amp; meer &lt;b&gt;vet&lt;/b&gt; 🎉👍" in docx_xml
    assert json.loads(render_export(stress, "json").data)["issue"] == ISSUE
    assert len(stress.activity_plan.activities) == 30


def test_png_has_phone_friendly_dimensions(rich: CompassDocument, stress: CompassDocument) -> None:
    small = imread(io.BytesIO(render_export(rich, "png").data))
    large = imread(io.BytesIO(render_export(stress, "png").data))
    assert small.shape[1] == large.shape[1] == 1080
    assert 500 < small.shape[0] < large.shape[0] <= 4000


def test_filename_and_session_input(rich: CompassDocument, flow: Flow) -> None:
    session = _empty_session(flow)
    exported = render_export(session, "md", flow=flow, exported_at=datetime(2025, 6, 1, 12, tzinfo=UTC))
    assert exported.filename == "armoede-2025-06-01.md"
    assert render_export(rich, "pdf").media_type == "application/pdf"


# --------------------------------------------------------------------------- end to end


def _kompas(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KOMPAS_HOME": str(home), "PYTHONIOENCODING": "utf-8"}
    command = [sys.executable, "-c", "from bot.cli import main; main()", *args]
    return subprocess.run(command, input=stdin, capture_output=True, text=True, env=env, cwd=home, timeout=120)


def test_chat_then_document_and_export_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = (
        "\n".join(
            [
                "/kompas Mantelzorg in de wijk",
                "Mantelzorgers houden het vol en vragen op tijd hulp.",
                "Buren bieden hulp aan.",
                "/volgende",
                "/stap 1",
                "/volgende",
                "/volgende",
                "/volgende",
                "We willen dat mantelzorgers het volhouden.",
                "/volgende",
                "Over vier jaar voelt 20% minder mantelzorgers zich overbelast.",
                "1",
                "over vier jaar",
                "20% minder",
                "/document",
                "/plaatje",
            ]
        )
        + "\n"
    )
    chat = _kompas(tmp_path, "chat", "--naam", "Eva", stdin=script)
    assert chat.returncode == 0, chat.stderr
    written = [
        Path(line.removeprefix("Bewaard: ")) for line in chat.stdout.splitlines() if line.startswith("Bewaard: ")
    ]
    assert sorted(p.suffix for p in written) == [".docx", ".pdf", ".png"]
    assert all(p.parent == tmp_path / "exports" and p.stat().st_size > 1000 for p in written)
    assert written[0].name.startswith("mantelzorg-in-de-wijk-")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KOMPAS_HOME", str(tmp_path))
    runner = CliRunner()
    exported = runner.invoke(
        app, ["export", "Mantelzorg in de wijk", "--formaat", "md", "-o", "uit.md", "--pseudoniem"]
    )
    assert exported.exit_code == 0, exported.output
    text = (tmp_path / "uit.md").read_text(encoding="utf-8")
    assert "Over vier jaar voelt 20% minder mantelzorgers" in text and "Eva" not in text

    default = runner.invoke(app, ["export", "terminal/mantelzorg-in-de-wijk", "--formaat", "json"])
    assert default.exit_code == 0, default.output
    assert list(tmp_path.glob("mantelzorg-in-de-wijk-*.json"))

    missing = runner.invoke(app, ["export", "armoede"])
    assert missing.exit_code == 2 and "Traceback" not in missing.output
    assert "niet gevonden" in missing.output and "terminal/mantelzorg-in-de-wijk" in missing.output
    wrong = runner.invoke(app, ["export", "mantelzorg-in-de-wijk", "--formaat", "odt"])
    assert wrong.exit_code == 2 and "Kies uit" in wrong.output
