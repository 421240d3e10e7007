"""The one-pager fit for the council, the picture, the Word summary, measurements and rounds (issue 12)."""

from __future__ import annotations

import inspect
import io
import re
from pathlib import Path

import pytest
from docx import Document
from matplotlib.image import imread
from pypdf import PdfReader

from bot.compass import Contribution, Session
from bot.document import CompassDocument, compile_document, outline, render_export
from bot.document import pdf as pdf_module
from bot.document.model import RoundInfo
from bot.document.outline import MARKER, clip, compass_fields, compass_header
from bot.document.pdf import MIN_SIZE, layout
from bot.document.picture import _columns, result_status, wrap
from bot.flows import Flow, load_flow

from .compass_samples import heavy_compass, long_compass

PUNCTUATION = "()[]{},;:.!?'\"‘’“”·–—-→↗↘•/"


@pytest.fixture(scope="module")
def flow() -> Flow:
    return load_flow()


@pytest.fixture(scope="module")
def measured(flow: Flow) -> CompassDocument:
    session, measurements = long_compass()
    previous = [c for c in session.contributions if "zwemles" not in c.text]  # 3.2 is new in round 2
    previous = [
        c.model_copy(update={"text": "Budgetcoaching door vrijwilligers"}) if c.text.startswith("Budgetcoaching") else c
        for c in previous
    ]
    previous.append(
        Contribution(
            id=999,
            question="activiteiten",
            text="Informatiemarkt in het stadhuis",
            author_id="1",
            at=session.created_at,
        )
    )
    return compile_document(session, flow, measurements=measurements, round_info=RoundInfo(2, previous))


@pytest.fixture(scope="module")
def heavy(flow: Flow) -> CompassDocument:
    return compile_document(heavy_compass(), flow)


@pytest.fixture(scope="module")
def pdfs(measured: CompassDocument, heavy: CompassDocument) -> dict[str, bytes]:
    return {"measured": render_export(measured, "pdf").data, "heavy": render_export(heavy, "pdf").data}


def _words(text: str) -> list[str]:
    return [w.strip(PUNCTUATION) for w in text.split() if w.strip(PUNCTUATION)]


def _vocabulary(doc: CompassDocument) -> set[str]:
    """Every whole word of the compass (its full version and the unshortened boxes of page 1) and of the
    fixed texts of page 1 (the renderer's own literals: labels, footer, marker)."""
    texts = [
        render_export(doc, "md").data.decode().replace("\\", ""),
        *re.findall(r"\w+", inspect.getsource(pdf_module)),
    ]
    for box in [
        compass_header(doc),
        *compass_fields(doc),
        pdf_module._open_points_field(doc, {}, True),
        pdf_module._open_points_field(doc, {}, False),
    ]:
        texts += ["".join(span.text for span in line.line) for line in box.lines] + [box.title]
    texts.append(outline.meta(doc))
    return {word for text in texts for word in _words(text)}


def _page_one(data: bytes) -> str:
    return PdfReader(io.BytesIO(data)).pages[0].extract_text()


@pytest.mark.parametrize("name", ["measured", "heavy"])
def test_page_one_holds_no_cut_word(
    name: str, pdfs: dict[str, bytes], measured: CompassDocument, heavy: CompassDocument
) -> None:
    doc = {"measured": measured, "heavy": heavy}[name]
    vocabulary = _vocabulary(doc)
    page = _page_one(pdfs[name])
    cut = []
    for raw in page.split():
        word = raw.strip(PUNCTUATION.replace("…", ""))
        stem = word.rstrip("…").strip(PUNCTUATION)
        if stem and stem not in vocabulary:
            cut.append(raw)
    assert not cut, f"page 1 holds words that are not whole words of the compass: {cut[:20]}"
    if name == "heavy":
        assert page.count("…") > 5  # it really was shortened


def _check_fits(doc: CompassDocument) -> list[str]:
    """Every box of page 1 holds what it draws: its content fits its room, and the marker says so honestly."""
    page = layout(doc)
    problems = []
    full = {box.number: box for box in [compass_header(doc), *compass_fields(doc)]}
    for box in [*page.boxes, page.open_points]:
        if box.used() > box.room + 0.5:
            problems.append(f"box {box.field.number}: {box.used():.0f} > {box.room:.0f}")
        if box.fitted.shortened and box.field.number in full:
            original = full[box.field.number].lines
            if box.fitted.lines == original:
                problems.append(f"box {box.field.number}: marker without anything shortened")
    bottom = min(box.top - box.height for box in [*page.boxes, page.open_points])
    if bottom < page.footer_top:
        problems.append("the boxes run into the footer")
    return problems


def test_page_one_fits_on_one_page(measured: CompassDocument, heavy: CompassDocument, pdfs: dict[str, bytes]) -> None:
    for doc in (measured, heavy):
        assert _check_fits(doc) == []
    for data in pdfs.values():
        reader = PdfReader(io.BytesIO(data))
        assert "Kwaliteitskompas (Movisie)" in reader.pages[0].extract_text()  # the footer is on page 1
        assert "Volledige versie" in reader.pages[1].extract_text()  # page 1 did not run over
        assert "Volledige versie" not in reader.pages[0].extract_text()
    heavy_layout = layout(heavy)
    assert heavy_layout.size == MIN_SIZE and any(b.fitted.shortened for b in heavy_layout.boxes)
    assert _page_one(pdfs["heavy"]).count(MARKER) >= 3


def test_a_marker_without_cutting_fails_the_fit_check(heavy: CompassDocument, monkeypatch: pytest.MonkeyPatch) -> None:
    def mark_only(lines, width, room, size=MIN_SIZE, compact=None, measure=None):  # type: ignore[no-untyped-def]
        return pdf_module.Fitted(list(lines), size, shortened=True)  # the bug: the marker, but nothing cut

    monkeypatch.setattr(pdf_module, "fit", mark_only)
    assert _check_fits(heavy)


def test_roomy_compass_is_not_shortened(measured: CompassDocument, pdfs: dict[str, bytes]) -> None:
    page = layout(measured)
    assert page.size >= MIN_SIZE
    roomy = [b for b in page.boxes if b.field.number in (1, 2, 4, 5, 6)]
    assert not any(b.fitted.shortened for b in roomy)  # each box got the room its content needs
    text = " ".join(_page_one(pdfs["measured"]).split())
    assert "Klankbordgroep van alleenstaande ouders met ervaring met schulden" in text
    assert "Lotgenotengroep voor alleenstaande ouders" in text


def test_no_url_on_page_one_and_numbered_sources(measured: CompassDocument, pdfs: dict[str, bytes]) -> None:
    page = _page_one(pdfs["measured"])
    assert "http" not in page and "www." not in page and "[1]" in page
    md = render_export(measured, "md").data.decode()
    assert "## Bronnen" in md and "https://www.example.org/armoedemonitor" in md.split("## Bronnen")[1]
    assert "bron \\[2\\]" in md or "bron [2]" in md


def test_open_points_and_missing_perspectives_are_never_cut(heavy: CompassDocument, pdfs: dict[str, bytes]) -> None:
    text = " ".join(_page_one(pdfs["heavy"]).split())
    assert "ontbreekt nog: doelgroep" in text
    assert "Het perspectief van de doelgroep ontbreekt nog aan tafel." in text
    for point in heavy.open_points:
        if point.kind != "leeg":
            assert " ".join(point.text.split()) in text
    assert "Nog in te vullen" in text


def test_trend_per_indicator_and_status(measured: CompassDocument, pdfs: dict[str, bytes]) -> None:
    indicators = {i.code: i for i in measured.societal_results.indicators}
    assert indicators["I1"].progress is not None and indicators["I1"].progress.status == "op koers"
    assert indicators["I2"].progress is not None and indicators["I2"].progress.status == "achter"
    assert indicators["I3"].progress is None
    assert measured.outcome.outcomes[0].progress is not None
    text = " ".join(_page_one(pdfs["measured"]).split())
    assert "↘ 14% → 12,1% · op koers" in text and "↗ 61% → 63% · achter" in text
    md = render_export(measured, "md").data.decode()
    assert "### Metingen" in md and "Op koers: nulmeting 14% (2024, Registratie vroegsignalering)" in md
    reader = PdfReader(io.BytesIO(pdfs["measured"]))
    assert sum(len(page.images) for page in reader.pages[1:]) >= 3  # a chart per measured indicator


def test_round_and_what_changed(measured: CompassDocument, pdfs: dict[str, bytes]) -> None:
    summary = measured.round
    assert summary is not None and summary.number == 2
    assert [t[:3] for t in summary.added] == ["3.2"]
    assert [t[:3] for t in summary.changed] == ["3.4"]
    assert summary.stopped == ["Informatiemarkt in het stadhuis"]
    assert summary.new_indicators == []
    page = " ".join(_page_one(pdfs["measured"]).split())
    assert "RONDE 2" in page and "Ronde 2, sinds ronde 1: 1 activiteit nieuw, 1 gewijzigd, 1 gestopt" in page
    md = render_export(measured, "md").data.decode()
    assert "## Ronde 2: wat is veranderd sinds ronde 1" in md and "### Gestopte activiteiten" in md


def test_no_round_info_no_round(flow: Flow) -> None:
    session, _ = long_compass()
    assert compile_document(session, flow).round is None


def test_word_starts_with_the_one_page_summary(measured: CompassDocument) -> None:
    document = Document(io.BytesIO(render_export(measured, "docx").data))
    assert document.paragraphs[0].text == "KWALITEITSKOMPAS OP ÉÉN A4 · RONDE 2"
    cells = [cell for table in document.tables[:3] for cell in table.rows[0].cells]
    titles = [cell.text.strip().split("\n")[0] for cell in cells]
    assert titles[0] == "1 · Monitoring en ambities" and titles[5] == "6 · Verbetercyclus"
    page = layout(measured)
    for box, cell in zip(page.boxes[1:], cells, strict=True):
        for line in box.fitted.lines:  # the same (shortened) texts as page 1 of the PDF
            assert "".join(span.text for span in line.line).strip() in cell.text
    assert len(document.sections) == 2  # then a new page (and section) with the full version
    assert round(document.sections[0].left_margin.mm) == 10 and round(document.sections[1].left_margin.mm) == 20
    texts = [p.text for p in document.paragraphs]
    assert texts.index("Armoede en schulden onder eenoudergezinnen") < texts.index(
        "Kwaliteitskompas: Armoede en schulden onder eenoudergezinnen · ronde 2"
    )
    assert len(document.inline_shapes) >= 3  # the charts


def test_clip_only_at_word_or_sentence_boundaries() -> None:
    text = "Ouders vragen pas hulp als de deurwaarder al aan de deur staat. Ze schamen zich en zijn bang."
    for limit in range(5, len(text)):
        short = clip(text, limit)
        stem = short.removesuffix("…").rstrip()
        assert text.startswith(stem) and (len(stem) == len(text) or text[len(stem)] in " ,.")
    assert clip(text, 70) == "Ouders vragen pas hulp als de deurwaarder al aan de deur staat. …"
    assert clip("klankbordgroepbijeenkomst", 5) == "klankbordgroepbijeenkomst"


def test_picture_wraps_at_words_and_hyphenates(measured: CompassDocument) -> None:
    text = "We willen dat eenoudergezinnen met schulden eerder hulp vragen en ook vinden"
    lines = wrap(text, 300, 11.5, 6)
    assert " ".join(lines) == text  # nothing cut, nothing broken
    long = wrap("Schuldhulpverleningstrajectbegeleidingsgesprekken", 200, 11.5, 6)
    assert all(line.endswith("-") for line in long[:-1]) and "".join(p.rstrip("-") for p in long) == (
        "Schuldhulpverleningstrajectbegeleidingsgesprekken"
    )
    short = wrap(text * 3, 300, 11.5, 3)
    assert len(short) == 3 and short[-1].endswith(" …")
    assert all(word.rstrip("…").strip() in text.split() for word in short[-1].split() if word != "…")
    columns = _columns(measured)
    assert len(columns[0][0].lines) > 3  # an ambition is not stopped at "We willen dat …"
    results = measured.societal_results.results
    assert result_status(measured, results[0].id) == "op koers"
    assert result_status(measured, results[1].id) == "achter"
    assert {b.status for b in columns[1]} == {"op koers", "achter", None}


def test_render_page_one_and_picture_as_images(
    measured: CompassDocument, heavy: CompassDocument, pdfs: dict[str, bytes], tmp_path: Path
) -> None:
    pdfium = pytest.importorskip("pypdfium2")
    for name, data in pdfs.items():
        document = pdfium.PdfDocument(data)
        try:
            image = document[0].render(scale=1.5).to_pil()
        finally:
            document.close()
        assert image.size == (893, 1263)
        grey = image.convert("L")
        assert grey.getextrema()[0] < 60  # there is ink on the page
        image.save(tmp_path / f"{name}-page1.png")
    for doc in (measured, heavy):
        picture = imread(io.BytesIO(render_export(doc, "png").data))
        assert picture.shape[1] == 1080 and 600 < picture.shape[0] < 4000


# --------------------------------------------------------------------------- content as data


def _flow_with(tmp_path: Path, change) -> Path:  # type: ignore[no-untyped-def]
    import yaml

    from .conftest import REPO

    data = yaml.safe_load((REPO / "flows" / "kompas.yaml").read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "kompas.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _add_questions(data: dict) -> None:  # type: ignore[type-arg]
    step3 = data["stappen"][3]["vragen"]
    step3.append(
        {
            "sleutel": "risicos",
            "kort": "Risico's",
            "soort": "lijst",
            "tekst": "Welke risico's zien jullie?",
            "document": {"sectie": "activiteit"},  # no rol: 'extra'
        }
    )
    step3.append(
        {
            "sleutel": "informele_activiteiten",
            "kort": "Informele activiteiten",
            "soort": "items",
            "tekst": "Welke informele activiteit draagt bij?",
            "document": {"rol": "activiteiten"},
            "velden": [
                {"sleutel": "trekker", "vraag": "Wie trekt het?", "document": {"rol": "wie"}},
                {"sleutel": "kosten", "vraag": "Wat kost het?", "document": {"kop": "Kosten per jaar"}},
            ],
        }
    )
    data["stappen"][2]["vragen"][0]["velden"].append({"sleutel": "wijk", "vraag": "In welke wijk?"})


def test_a_question_added_to_the_flow_appears_in_every_document(tmp_path: Path) -> None:
    flow = load_flow(_flow_with(tmp_path, _add_questions))
    session, _ = long_compass()
    at = session.created_at
    extra = [
        Contribution(id=500, question="risicos", text="Vrijwilligers haken af na de zomer", author_id="1", at=at),
        Contribution(
            id=501,
            question="informele_activiteiten",
            text="Kledingruil in het buurthuis",
            author_id="2",
            at=at,
            fields={"trekker": "Buurtvereniging De Linde", "kosten": "€ 500"},
        ),
    ]
    results = [c for c in session.contributions if c.question == "resultaten"]
    results[0].fields["wijk"] = "Kanaleneiland"
    session = Session.model_validate({**session.model_dump(), "contributions": [*session.contributions, *extra]})
    doc = compile_document(session, flow)
    activity = next(a for a in doc.activity_plan.activities if a.id == 501)
    assert activity.code == "3.6" and activity.who == "Buurtvereniging De Linde"
    assert [(f.label, f.value) for f in activity.extra_fields] == [("Kosten per jaar", "€ 500")]
    assert [p.key for p in doc.extras] == ["risicos"] and doc.extras[0].section == "activiteit"
    md = render_export(doc, "md").data.decode()
    step3 = md.split("## Stap 3")[1].split("## Stap 4")[0]
    assert "### Risico's" in step3 and "Vrijwilligers haken af na de zomer" in step3
    assert "Kledingruil in het buurthuis" in step3 and "Kosten per jaar: € 500" in step3
    assert "Wijk: Kanaleneiland" in md
    page = " ".join(_page_one(render_export(doc, "pdf").data).split())
    assert "Risico's: Vrijwilligers haken af na de zomer" in page and "Kledingruil in het buurthuis" in page
    docx = Document(io.BytesIO(render_export(doc, "docx").data))
    body = "\n".join(p.text for p in docx.paragraphs) + "".join(
        c.text for t in docx.tables for r in t.rows for c in r.cells
    )
    assert "Vrijwilligers haken af na de zomer" in body and "Kledingruil in het buurthuis" in body
    assert any(box.item_id == 501 for box in _columns(doc)[2])  # the picture shows it as an activity


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["stappen"][3]["vragen"][0].update(document={"sectie": "ambitie", "rol": "activiteiten"}),
            "stap 3 > vraag nr. 1 (activiteiten) > document > sectie: 'ambitie' hoort bij stap 1",
        ),
        (
            lambda d: d["stappen"][3]["vragen"][0].update(document={"rol": "taart"}),
            "stap 3 > vraag nr. 1 (activiteiten) > document > rol: onbekende rol 'taart'",
        ),
        (
            lambda d: d["stappen"][3]["vragen"][1].update(document={"rol": "activiteiten"}),
            "stap 3 > vraag nr. 2 (samenhang) > document > rol: 'activiteiten' vraagt soort items",
        ),
        (
            lambda d: d["stappen"][3]["vragen"][0]["velden"][0].update(document={"rol": "termijn"}),
            "vraag nr. 1 (activiteiten) > veld wie > document > rol: onbekende rol 'termijn'",
        ),
        (
            lambda d: d["stappen"][3]["vragen"][0]["velden"][3].update(verwijst_naar="ambities"),
            "veld resultaat > document > rol: 'resultaat' moet verwijzen naar een vraag met rol 'resultaten'",
        ),
        (
            lambda d: d["stappen"][1]["vragen"][0].update(document={"rol": "beleid"}),
            "'beleid' vraagt soort formulering",
        ),
    ],
)
def test_bad_document_place_names_file_and_place(tmp_path: Path, change, message: str) -> None:  # type: ignore[no-untyped-def]
    from bot.flows import FlowError

    path = _flow_with(tmp_path, change)
    with pytest.raises(FlowError) as caught:
        load_flow(path)
    text = str(caught.value)
    assert str(path) in text and "plaats in het document" in text
    assert message in text, text


def test_every_question_of_the_real_flow_has_a_place() -> None:
    flow = load_flow()
    roles = [q.document.rol for s in flow.stappen for q in s.vragen]
    assert "extra" not in roles and len(set(roles)) == len(roles)
    assert re.fullmatch(r"[a-z_]+", "".join(roles))


def test_picture_title_fits_the_width() -> None:
    from bot.document.picture import MARGIN, TITLE_SIZE, WIDTH, text_width

    title = (
        "Logische keten · Schulden & armoede bij gezinnen met jonge kinderen in de wijken Noord, Oost en het centrum"
    )
    lines = wrap(title, WIDTH - 2 * MARGIN, TITLE_SIZE, 2, bold=True)
    assert len(lines) == 2
    assert all(text_width(line, TITLE_SIZE, bold=True) <= WIDTH - 2 * MARGIN for line in lines)


def test_indicator_refs_and_recognise_lines(measured: CompassDocument) -> None:
    from bot.measure import parse_meting, resolve_indicator

    refs = measured.indicator_refs()
    assert [r.code for r in refs] == ["I1", "I2", "I3", "5.1", "5.2"]
    parsed = parse_meting("2.1 11,8% 2027-03 Registratie vroegsignalering")
    assert resolve_indicator(parsed.indicator, refs).code == "I1"  # result 2.1 has one indicator
    lines = measured.recognise_lines()
    assert lines[0].startswith("I1 Aandeel eenoudergezinnen met een betalingsachterstand: Op koers: nulmeting 14%")
    assert lines[2].endswith("Nog geen metingen.")


def test_space_goes_where_the_content_is() -> None:
    from bot.document.pdf import _share

    assert _share([100, 50, 30], 300) == [140, 90, 70]  # all fits: the rest spread evenly
    assert _share([400, 50, 30], 300) == [220, 50, 30]  # the small parts get their need, the big one the rest
    assert _share([400, 300, 30], 300) == [135, 135, 30]


def test_fit_keeps_protected_lines_whole() -> None:
    from bot.document.outline import FieldLine, Span
    from bot.document.pdf import _register_font, fit

    _register_font()
    long = "Een heel lang antwoord met veel woorden over armoede en schulden onder eenoudergezinnen. " * 8
    lines = [FieldLine((Span("Antwoord: ", "strong"), Span(long))) for _ in range(6)]
    lines.append(
        FieldLine((Span("Perspectieven: ", "strong"), Span("gemeente; ontbreekt nog: doelgroep")), protected=True)
    )
    fitted = fit(lines, 250, 120)
    assert fitted.shortened and fitted.lines[-1] == lines[-1]
    assert fitted.height(250) <= 120
    for line in fitted.lines[:-1]:
        text = line.line[1].text
        assert text.endswith("…") and long.startswith(text.removesuffix("…").rstrip(" .").removesuffix(" …"))
    untouched = fit(lines[-1:], 250, 120)
    assert not untouched.shortened and untouched.lines == lines[-1:]


def test_rich_compass_keeps_the_largest_font(flow: Flow) -> None:
    session, _ = long_compass()
    few = Session.model_validate(
        {**session.model_dump(), "contributions": [c for c in session.contributions if c.question != "activiteiten"]}
    )
    page = layout(compile_document(few, flow))
    assert page.size == 8.5 and not any(b.fitted.shortened for b in page.boxes)


def test_a_place_no_question_fills_is_left_out(tmp_path: Path) -> None:
    flow = load_flow(_flow_with(tmp_path, lambda d: d["stappen"][3]["vragen"].pop(1)))  # no 'samenhang'
    session, _ = long_compass()
    md = render_export(compile_document(session, flow), "md").data.decode()
    assert "### Samenhang" not in md and "### Activiteiten" in md


def test_word_summary_is_one_page_when_libreoffice_is_there(heavy: CompassDocument, tmp_path: Path) -> None:
    import shutil
    import subprocess

    soffice = shutil.which("soffice")
    pdfium = pytest.importorskip("pypdfium2")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    source = tmp_path / "kompas.docx"
    source.write_bytes(render_export(heavy, "docx").data)
    subprocess.run(
        [soffice, "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path), str(source)],
        check=True,
        capture_output=True,
        timeout=240,
    )
    document = pdfium.PdfDocument(str(tmp_path / "kompas.pdf"))
    try:
        second = document[1].get_textpage().get_text_range()
    finally:
        document.close()
    assert " ".join(second.split()).startswith("Kwaliteitskompas: Armoede en schulden")  # page 2: the full version
