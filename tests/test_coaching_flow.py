"""Issue 6 end to end: a scripted `kompas chat` with weak and good formulations.

The bot must coach (💡) right after each weak formulation and stay quiet after the good ones.
"""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from bot.app import open_kompas
from bot.config import Settings
from bot.console import ConsoleChat
from bot.engine import Actor

# (line typed, whether coaching must follow it)
SCRIPT: list[tuple[str, bool]] = [
    ("/kompas armoede en eenzaamheid", True),  # two issues in one compass
    ("/kompas armoede en schulden", False),  # one theme in the field
    ("/stap 1", False),
    ("/volgende", False),
    ("/volgende", False),
    ("/volgende", False),
    ("We willen meer preventie en een verschuiving naar de voorkant", True),  # a system goal
    ("We willen dat minder gezinnen zorgen hebben over geld", False),
    ("/volgende", False),
    ("Meer mensen krijgen hulp", False),
    ("/overslaan", False),
    ("/overslaan", False),
    ("/overslaan", True),  # the result is complete: no term and no amount
    # Term and amount are read from the text itself: only the ambition is asked.
    ("Over vier jaar hebben 20% minder huishoudens een betalingsachterstand", False),
    ("/overslaan", False),
    ("/stap 3", False),
    ("Schuldhulpmaatje", False),
    ("Vrijwilligers van Schuldhulpmaatje", False),
    ("informeel", False),
    ("bestaat al", False),
    ("/overslaan", False),
    ("/overslaan", True),  # no result and no expectation: ask for the link
    ("Budgetcursus in het buurthuis", False),
    ("Welzijnswerk", False),
    ("formeel", False),
    ("nieuw", False),
    ("2", False),
    ("als mensen leren budgetteren, dan ontstaan er minder nieuwe schulden", False),
]


async def test_coaches_weak_formulations_and_stays_quiet_on_good_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOMPAS_EMBEDDINGS", "none")
    kompas = await open_kompas(Settings())
    output = io.StringIO()
    console = ConsoleChat(
        kompas.service,
        console=Console(file=output, width=120),
        rich_output=False,
        actor=Actor("terminal", "Sanne"),
    )
    try:
        for line, expected in SCRIPT:
            output.seek(0)
            output.truncate()
            await console.send(line)
            shown = output.getvalue()
            assert ("💡" in shown) == expected, f"{line!r}: {'no' if expected else 'unexpected'} coaching\n{shown}"
    finally:
        await kompas.store.close()
