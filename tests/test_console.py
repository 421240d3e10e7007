"""`kompas chat` as a user runs it: a subprocess with a scripted stdin, and a restart mid-way."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO

SCRIPT_PART_ONE = """\
/kompas eenzaamheid onder ouderen
Je niet verbonden voelen met anderen
/volgende
Ouderen die weinig bezoek krijgen
Niemand om mee te praten
/volgende
Seniorenvereniging
doelgroep
/volgende
"""

SCRIPT_PART_TWO = """\
Volgens de GGD voelt de helft van de 75-plussers zich eenzaam
/volgende
/stap 3
Huisbezoeken door vrijwilligers
Welzijn en vrijwilligers
bestaat al
/overslaan
als ouderen bezoek krijgen, dan voelen ze zich minder alleen
/overzicht
"""


def _kompas(args: list[str], stdin: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KOMPAS_HOME": str(home), "KOMPAS_EMBEDDINGS": "none"}  # lexical index: fast to build
    env.pop("KOMPAS_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-c", "from bot.cli import main; main()", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=False,
    )


def test_scripted_chat_survives_restart_and_shows_overview(tmp_path: Path) -> None:
    first = _kompas(["chat"], SCRIPT_PART_ONE, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "Wat zie je in de samenleving als mensen zich minder eenzaam voelen?" in first.stdout
    assert "Traceback" not in first.stdout + first.stderr

    second = _kompas(["chat"], SCRIPT_PART_TWO, tmp_path)
    assert second.returncode == 0, second.stderr
    out = second.stdout
    assert "We gaan verder met het kompas eenzaamheid onder ouderen" in out
    assert "Stap 1 · vraag 1 van 4" in out.split("Tot ziens")[0].split("We gaan verder")[1]
    overview = out.split("Kompas: eenzaamheid onder ouderen")[-1]
    for expected in [
        "Je niet verbonden voelen met anderen",
        "Niemand om mee te praten",
        "Seniorenvereniging",
        "de helft van de 75-plussers",
        "Huisbezoeken door vrijwilligers",
        "vorm: informeel",
        "status: bestaand",
        "nog in te vullen",
    ]:
        assert expected in overview
    assert "<b>" not in out and "&amp;" not in out

    listing = _kompas(["sessies"], "", tmp_path)
    assert "terminal/eenzaamheid-onder-ouderen" in listing.stdout


def test_named_session_and_bad_input(tmp_path: Path) -> None:
    result = _kompas(["chat", "--sessie", "armoede"], "\n   \n/stap 9\n/hlp\nx & <y>\n/overzicht\n", tmp_path)
    assert result.returncode == 0
    out = result.stdout
    assert "Nieuw kompas gestart: armoede" in out
    assert "Ik zie geen tekst" in out
    assert "van 0 tot en met 6" in out
    assert "Bedoel je /help?" in out
    assert "x & <y>" in out  # plain terminal output shows the text as typed


def test_broken_flow_gives_clear_error_without_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "kompas.yaml").write_text("naam: [kapot\n", encoding="utf-8")
    (flows / "teksten.yaml").write_text((REPO / "flows" / "teksten.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv("KOMPAS_FLOWS_DIR", str(flows))
    for command in (["chat"], ["controleer"]):
        result = _kompas(command, "", tmp_path / "home")
        assert result.returncode == 2
        assert "kompas.yaml: geen geldige YAML (regel 2" in result.stderr
        assert "Traceback" not in result.stderr + result.stdout
