"""Measurements: Dutch numbers and periods, targets, the status per indicator, /meting and CSV import."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.measure import (
    IndicatorRef,
    MeasureError,
    Measurement,
    Target,
    format_number,
    import_csv,
    indicator_checker,
    indicator_status,
    parse_meting,
    parse_number,
    parse_period,
    parse_target,
    resolve_indicator,
)


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("14,5", 14.5, ""),
        ("14,5%", 14.5, "%"),
        ("14,5 %", 14.5, "%"),
        ("1.200", 1200, ""),
        ("1.200,5", 1200.5, ""),
        ("1.234.567", 1234567, ""),
        ("20 procent", 20, "%"),
        ("-3", -3, ""),
        ("−3,25", -3.25, ""),
        ("€ 1.200,50", 1200.5, "€"),
        ("200 gezinnen", 200, "gezinnen"),
        ("14.5", 14.5, ""),
        ("5 procentpunt", 5, "procentpunt"),
    ],
)
def test_dutch_numbers(text: str, value: float, unit: str) -> None:
    assert parse_number(text).value == pytest.approx(value)
    assert parse_number(text).unit == unit


@pytest.mark.parametrize("text", ["", "abc", "1,2,3", "12.34.5", "€ 5 euro"])
def test_not_a_number(text: str) -> None:
    with pytest.raises(MeasureError):
        parse_number(text)


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=3, allow_nan=False, allow_infinity=False))
def test_number_round_trip(number) -> None:  # type: ignore[no-untyped-def]
    value = float(number)
    text = format_number(value)
    assert "." not in text or "," in text or len(text.split(".")[-1]) == 3  # dots only group thousands
    assert parse_number(text).value == pytest.approx(value, abs=1e-9)
    assert parse_number(text + "%").unit == "%"


def test_format_number() -> None:
    assert format_number(1200.5) == "1.200,5"
    assert format_number(14.0) == "14"
    assert format_number(-0.25) == "-0,25"
    assert format_number(1234567) == "1.234.567"


@pytest.mark.parametrize(
    ("text", "canonical", "label"),
    [
        ("2026", "2026", "2026"),
        ("2026-09", "2026-09", "september 2026"),
        ("09-2026", "2026-09", "september 2026"),
        ("sep 2026", "2026-09", "september 2026"),
        ("September 2026", "2026-09", "september 2026"),
        ("najaar 2026", "2026-najaar", "najaar 2026"),
        ("herfst 2026", "2026-najaar", "najaar 2026"),
        ("Q3 2026", "2026-Q3", "3e kwartaal 2026"),
        ("2026-Q3", "2026-Q3", "3e kwartaal 2026"),
        ("3e kwartaal 2026", "2026-Q3", "3e kwartaal 2026"),
        ("2e helft 2026", "2026-H2", "2e helft 2026"),
        ("15-09-2026", "2026-09-15", "15 september 2026"),
        ("2026-09-15", "2026-09-15", "15 september 2026"),
        ("15 september 2026", "2026-09-15", "15 september 2026"),
    ],
)
def test_periods(text: str, canonical: str, label: str) -> None:
    period = parse_period(text)
    assert (period.canonical, period.label) == (canonical, label)
    assert parse_period(period.canonical) == period  # the stored form reads back the same


def test_periods_sort_by_their_middle() -> None:
    texts = ["winter 2026", "Q1 2026", "voorjaar 2026", "2026-06", "2026", "2e helft 2026", "najaar 2026", "dec 2026"]
    keys = [parse_period(t).key for t in texts]
    assert keys == sorted(keys)
    assert parse_period("2025").key < parse_period("jan 2026").key


@pytest.mark.parametrize("text", ["", "ooit", "2026-13", "31-02-2026", "Q5 2026", "smarch 2026"])
def test_bad_periods(text: str) -> None:
    with pytest.raises(MeasureError):
        parse_period(text)


def test_targets_from_results() -> None:
    target = parse_target("In 2028 heeft 20% minder huishoudens een betalingsachterstand")
    assert (target.year, target.kind, target.amount, target.direction) == (2028, "relatief", 20, -1)
    assert target.value(100) == pytest.approx(80)
    four = parse_target("Over vier jaar voelen minder 75-plussers zich eenzaam", "over vier jaar", "10% minder", 2025)
    assert (four.year, four.kind, four.amount, four.direction) == (2029, "relatief", 10, -1)
    assert parse_target("x", "binnen 3 jaar", "200 gezinnen", 2025) == Target(
        year=2028, kind="niveau", amount=200, direction=0, unit="gezinnen"
    )
    level = parse_target("Over vier jaar kent 80% van de ouderen iemand", "in 2029", "80%", 2025)
    assert (level.year, level.kind, level.value(40)) == (2029, "niveau", 80)
    more = parse_target("Over vier jaar hebben 200 meer inwoners met een uitkering werk", start_year=2025)
    assert (more.kind, more.direction, more.value(1000)) == ("verschil", 1, 1200)
    points = parse_target("In 2030 5 procentpunt minder rokers")
    assert (points.kind, points.value(20)) == ("verschil", 15)
    # the amount field says 20%, the sentence says which way
    assert parse_target("Over vier jaar 20% minder schulden", "over vier jaar", "20%", 2025).direction == -1
    assert not parse_target("We willen dat het beter gaat").complete
    assert parse_target("over vier jaar beter", start_year=None).year is None


def _m(period: str, value: float, **extra: object) -> Measurement:
    return Measurement(indicator="2.1", period=period, value=value, unit="%", source="GGD-monitor", **extra)  # type: ignore[arg-type]


def test_status_on_track_and_behind() -> None:
    target = parse_target("Over vier jaar 10% minder eenzame ouderen", "over vier jaar", "10% minder", 2024)
    on = indicator_status([_m("2026", 11), _m("2024", 12)], target)  # order of entry does not matter
    assert on.status == "op koers" and on.expected == pytest.approx(11.4) and on.target_value == pytest.approx(10.8)
    assert "12% (2024, GGD-monitor)" in on.explanation and "11% (2026, GGD-monitor)" in on.explanation
    assert "10,8% in 2028" in on.explanation
    behind = indicator_status([_m("2024", 12), _m("2026", 11.8)], target)
    assert behind.status == "achter" and "Achter:" in behind.explanation
    late = indicator_status([_m("2024", 12), _m("2030", 11)], target)  # after the term: against the target
    assert late.status == "achter" and "termijn voorbij" in late.explanation
    more = parse_target("In 2028 zegt 90% van de jongeren dat school veilig is")
    assert indicator_status([_m("2024", 70), _m("2026", 85)], more).status == "op koers"
    assert indicator_status([_m("2024", 70), _m("2026", 75)], more).status == "achter"


def test_status_baseline_marked_and_missing_data() -> None:
    target = parse_target("In 2028 20% minder", None, None)
    marked = indicator_status([_m("2023", 50), _m("2024", 10, baseline=True), _m("2026", 9)], target)
    assert marked.baseline is not None and marked.baseline.period == "2024"
    assert indicator_status([], target).status == "nog geen gegevens"
    only = indicator_status([_m("2024", 12)], target)
    assert only.status == "nog geen gegevens" and "nulmeting" in only.explanation
    none = indicator_status([_m("2024", 12), _m("2025", 11)], None)
    assert none.status == "geen doel" and "12%" in none.explanation
    assert indicator_status([_m("2024", 12)], parse_target("We willen minder schulden")).status == "geen doel"


def test_one_message_meting() -> None:
    parsed = parse_meting("2.1 14,5% 2026-09 GGD-gezondheidsmonitor")
    assert (parsed.indicator, parsed.value, parsed.unit, parsed.period.canonical, parsed.source) == (
        "2.1",
        14.5,
        "%",
        "2026-09",
        "GGD-gezondheidsmonitor",
    )
    assert parsed.echo() == "indicator 2.1: 14,5% in september 2026 (bron: GGD-gezondheidsmonitor)"
    other = parse_meting("I2 najaar 2026 1.200 eigen registratie")
    assert (other.value, other.period.canonical, other.source) == (1200, "2026-najaar", "eigen registratie")
    assert parse_meting("2.1 20 procent Q3 2026").unit == "%"
    assert parse_meting("2.1 14 15 september 2026 GGD").period.canonical == "2026-09-15"
    assert parse_meting("5.1 2000 2026").value == 2000
    measurement = parsed.measurement(indicator_id=7, entered_by="Anne")
    assert measurement.indicator_id == 7 and measurement.period == "2026-09"


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        ("2.1 14,5%", "de periode"),
        ("2.1 2026-09", "de waarde"),
        ("14,5% 2026", "de indicator"),
        ("", "de indicator"),
    ],
)
def test_one_message_says_what_is_missing(text: str, missing: str) -> None:
    with pytest.raises(MeasureError, match=f"Ik mis (nog )?.*{missing}"):
        parse_meting(text)


def test_resolve_indicator() -> None:
    refs = [
        IndicatorRef(10, "I1", "Aandeel eenzame ouderen", "2.1"),
        IndicatorRef(11, "I2", "Contacten", "2.2"),
        IndicatorRef(12, "I3", "Verhalen", "2.2"),
    ]
    assert resolve_indicator("i1", refs).id == 10
    assert resolve_indicator("aandeel  eenzame ouderen", refs).id == 10
    assert resolve_indicator("2.1", refs).id == 10  # the result has one indicator
    with pytest.raises(MeasureError, match="meer indicatoren"):
        resolve_indicator("2.2", refs)
    with pytest.raises(MeasureError, match="ken ik niet"):
        resolve_indicator("9.9", refs)


def test_csv_import_all_rows() -> None:
    text = "\ufeffIndicator;Datum;Waarde;Eenheid;Bron\n2.1;2024;12,5%;;GGD\n\n2.1;najaar 2026;11;%;GGD\n"
    result = import_csv(text)
    assert result.ok and [r.value for r in result.rows] == [12.5, 11]
    assert [r.unit for r in result.rows] == ["%", "%"]
    quoted = import_csv('indicator,datum,waarde,eenheid,bron\n2.1,2024,"1.200,5",huishoudens,eigen registratie\n')
    assert quoted.ok and quoted.rows[0].value == 1200.5 and quoted.rows[0].unit == "huishoudens"


def test_csv_import_errors_import_nothing() -> None:
    text = (
        "indicator,datum,waarde,eenheid,bron\n"
        "2.1,2024,12,%,GGD\n"
        "2.1,2024,12,5,%,GGD\n"
        ",ooit,veel,,\n"
        "9.9,2025,3,,\n"
        "2.1,2025,3%,gezinnen,\n"
    )
    result = import_csv(text, lambda ref: None if ref == "2.1" else f"indicator {ref} bestaat niet")
    assert not result.ok and result.rows == ()
    assert [e.split(":")[0] for e in result.errors] == ["regel 3", "regel 4", "regel 5", "regel 6"]
    assert "kolommen" in result.errors[0]
    assert "indicator ontbreekt" in result.errors[1] and "ooit" in result.errors[1] and "veel" in result.errors[1]
    assert "9.9 bestaat niet" in result.errors[2]
    assert "eenheid" in result.errors[3]
    assert "ontbreekt" in import_csv("indicator,waarde\n2.1,3\n").errors[0]
    assert import_csv("").errors == ("Het bestand is leeg.",)
    assert "alleen een kopregel" in import_csv("indicator,datum,waarde,eenheid,bron\n").errors[0]


def test_csv_import_checks_indicators_by_reference() -> None:
    refs = [IndicatorRef(10, "I1", "Aandeel eenoudergezinnen met een achterstand", "2.1")]
    text = "indicator;datum;waarde;eenheid;bron\nI1;2024;14%;;registratie\n2.1;2025;13%;;registratie\nI9;2025;3;;\n"
    result = import_csv(text, indicator_checker(refs))
    assert result.errors == ("regel 4: Indicator 'I9' ken ik niet. Gebruik het nummer uit /overzicht (I1).",)
    ok = import_csv(
        "indicator,datum,waarde,eenheid,bron\nAandeel eenoudergezinnen met een achterstand,2024,14,%,x\n",
        indicator_checker(refs),
    )
    assert ok.ok and ok.rows[0].unit == "%"


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2099, 12, 31)), st.sampled_from(["day", "month", "quarter"]))
def test_period_labels_read_back(moment: date, grain: str) -> None:
    text = {
        "day": moment.strftime("%d-%m-%Y"),
        "month": moment.strftime("%Y-%m"),
        "quarter": f"Q{(moment.month - 1) // 3 + 1} {moment.year}",
    }[grain]
    period = parse_period(text)
    assert parse_period(period.label) == period == parse_period(period.canonical)
    assert period.start <= moment < period.end or grain != "day"
