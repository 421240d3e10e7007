"""The compass over time in the chat and the CLI: measurements, step 6 from the data, a next round."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.compass import Chat
from bot.engine import Engine
from bot.events import Actor, Text

from .test_console import _kompas

ANNA = Actor("1", "Anna")
RESULT = "In 2028 heeft 20% minder huishoudens een betalingsachterstand; -; in 2028; 20% minder"
INDICATOR = "Aandeel huishoudens met een betalingsachterstand; 1; feiten; CBS"


class Solo:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.chat = Chat(id="1")
        self.at = datetime(2026, 12, 1, tzinfo=UTC)

    def say(self, text: str, actor: Actor = ANNA) -> str:
        self.at += timedelta(seconds=1)
        outcome = self.engine.handle(self.chat, Text(actor, text, self.at))
        self.chat = outcome.chat
        return "\n".join(r.text for r in outcome.replies)


def _measured(engine: Engine) -> Solo:
    room = Solo(engine)
    for line in ["/kompas armoede", "/stap 2", RESULT, "/volgende", INDICATOR]:
        room.say(line)
    return room


def test_a_measurement_in_one_message_and_step_by_step(engine: Engine) -> None:
    room = _measured(engine)
    reply = room.say("/meting I1 14,5% 2026 CBS-monitor")
    assert "Bewaard: indicator I1: 14,5% in 2026 (bron: CBS-monitor)" in reply
    assert "Bij welke indicator" in room.say("/meting")
    assert "niet" in room.say("I7")  # an unknown indicator: said, and asked again
    assert "Wat is de waarde" in room.say("I1")
    assert "Ik mis nog de waarde" in room.say("ongeveer veel")
    assert "bron" in room.say("13,9% 2027")
    assert "Bewaard" in room.say("-")
    session = room.chat.session
    assert session is not None
    assert [(m.indicator, m.value, m.period, m.source) for m in session.measurements] == [
        ("I1", 14.5, "2026", "CBS-monitor"),
        ("I1", 13.9, "2027", ""),
    ]
    assert session.measuring == []
    assert session.live("indicatoren")  # the dialog's answers never became contributions


def test_step_six_starts_from_the_data_and_a_next_round_carries_the_compass_on(engine: Engine) -> None:
    room = _measured(engine)
    room.say("/meting I1 14,5% 2026 CBS")
    room.say("/meting I1 13,9% 2027 CBS")
    shown = room.say("/stap 6")
    assert "Achter" in shown and "14,5%" in shown and "13,9%" in shown and "CBS" in shown
    for line in ["Het aandeel daalt, maar te langzaam", "/volgende", "/volgende", "/volgende"]:
        room.say(line)
    room.say("Vroegsignalering ook via de energieleverancier; activiteiten (stap 3)")
    started = room.say("/ronde")
    assert "Ronde 2" in started and "Vroegsignalering ook via de energieleverancier" in started
    session = room.chat.session
    assert session is not None and session.round == 2 and session.step == 1
    assert session.live("herkennen") == [] and session.live("verbeteren") == []  # step 6 starts afresh
    assert session.live("indicatoren") and len(session.measurements) == 2  # steps 0-5 and measurements carry on
    assert [s.number for s in session.previous] == [1]
    assert "Het aandeel daalt, maar te langzaam" in [c.text for c in session.previous[0].contributions]


def test_forget_removes_who_entered_a_measurement(engine: Engine) -> None:
    room = _measured(engine)
    room.say("/meting I1 14,5% 2026 CBS")
    assert "Meting ingevoerd: I1" in room.say("/mijngegevens")
    room.say("/vergeet ja")
    session = room.chat.session
    assert session is not None and [m.entered_by for m in session.measurements] == [""]


def test_cli_measurements_import_all_or_nothing(tmp_path: Path) -> None:
    script = "\n".join(["/kompas armoede", "/stap 2", RESULT, "/volgende", INDICATOR, ""])
    assert _kompas(["chat"], script, tmp_path).returncode == 0
    added = _kompas(
        ["meting", "toevoegen", "armoede", "--indicator", "I1", "--waarde", "14,5%", "--datum", "2026"], "", tmp_path
    )
    assert added.returncode == 0 and "Bewaard: I1 14,5% in 2026" in added.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text('indicator,datum,waarde,eenheid,bron\nI1,2027,"13,9",%,CBS\nI9,2027,5,%,CBS\n', encoding="utf-8")
    refused = _kompas(["meting", "importeer", "armoede", str(bad)], "", tmp_path)
    assert refused.returncode == 2 and "regel 3" in refused.stderr and "I9" in refused.stderr
    good = tmp_path / "good.csv"
    good.write_text('indicator,datum,waarde,eenheid,bron\nI1,2027,"13,9",%,CBS\n', encoding="utf-8")
    assert "Ingelezen: 1" in _kompas(["meting", "importeer", "armoede", str(good)], "", tmp_path).stdout
    listing = _kompas(["meting", "lijst", "armoede"], "", tmp_path).stdout
    assert "Achter" in listing and "13,9%" in listing
    assert "Ronde 2" in _kompas(["ronde", "armoede"], "", tmp_path).stdout
