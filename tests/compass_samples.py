"""A long, realistic compass built directly as a `Session` (no engine): armoede en schulden onder
eenoudergezinnen, with long answers, links, a URL, measurements and a second round."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.compass import Answer, Contribution, Participant, Session
from bot.measure import Measurement

START = datetime(2025, 2, 3, 9, 0, tzinfo=UTC)
ISSUE = "Armoede en schulden onder eenoudergezinnen"


class Builder:
    def __init__(self) -> None:
        self.contributions: list[Contribution] = []
        self.answers: dict[str, Answer] = {}
        self.next_id = 1

    def add(self, question: str, text: str, author: str = "1", **fields: str | list[int]) -> int:
        number = self.next_id
        self.next_id += 1
        self.contributions.append(
            Contribution(
                id=number,
                question=question,
                text=text,
                author_id=author,
                author_name={"1": "Fatima", "2": "Joost", "3": "Mirjam"}[author],
                role={"1": "gemeente", "2": "aanbieder", "3": "doelgroep"}[author],  # type: ignore[arg-type]
                at=START + timedelta(minutes=number),
                fields=dict(fields),
            )
        )
        return number

    def agree(self, question: str, text: str) -> None:
        self.answers[question] = Answer(agreed=text, closed=True)

    def session(self, **extra: object) -> Session:
        return Session(
            id="armoede-en-schulden-onder-eenoudergezinnen",
            chat_id="groep",
            vraagstuk=ISSUE,
            created_at=START,
            updated_at=START + timedelta(days=30),
            created_by="1",
            step=6,
            phase="klaar",
            contributions=self.contributions,
            answers=self.answers,
            participants={
                "1": Participant(id="1", name="Fatima", role="gemeente"),
                "2": Participant(id="2", name="Joost", role="aanbieder"),
            },
            next_id=self.next_id,
            **extra,  # type: ignore[arg-type]
        )


def long_compass() -> tuple[Session, list[Measurement]]:
    b = Builder()
    b.agree(
        "betekenis",
        "Armoede bij eenoudergezinnen: de ouder heeft structureel te weinig geld om de vaste lasten te betalen en "
        "de kinderen mee te laten doen met sport, cultuur en schoolreisjes, en maakt zich daar elke maand zorgen over.",
    )
    for text in (
        "Kinderen die niet meegaan op schoolreis of kamp omdat de eigen bijdrage te hoog is",
        "Ouders die de brievenbus niet meer durven open te maken en rekeningen ongeopend laten liggen",
        "Lange rijen bij de voedselbank op vrijdagmiddag, ook van ouders die werken",
        "Kinderen die zonder ontbijt naar school komen en zich slecht kunnen concentreren",
    ):
        b.add("signalen", text, "3")
    b.add("aan_tafel", "Team Schuldhulpverlening van de gemeente", "1", perspectief="gemeente")
    b.add("aan_tafel", "Stichting Leergeld en de voedselbank", "2", perspectief="aanbieder")
    b.add(
        "aan_tafel", "Klankbordgroep van alleenstaande ouders met ervaring met schulden", "3", perspectief="doelgroep"
    )
    b.add(
        "beeld_cijfers",
        "Volgens de armoedemonitor leeft 18% van de eenoudergezinnen onder de lage-inkomensgrens, tegen 6% van alle "
        "huishoudens (zie https://www.example.org/armoedemonitor/2024/eenoudergezinnen-tabel-3.pdf).",
    )
    b.add(
        "beeld_cijfers", "Het aantal aanmeldingen bij schuldhulp van alleenstaande ouders steeg in twee jaar met 30%."
    )
    b.add(
        "beeld_verhalen",
        "Ouders uit de klankbordgroep vertellen dat ze pas hulp vragen als de deurwaarder al aan de deur staat, "
        "omdat ze zich schamen en bang zijn dat jeugdzorg zich ermee gaat bemoeien.",
        "3",
    )
    b.agree(
        "beleid",
        "Het armoedebeleid richt zich op huishoudens in de bijstand, maar de helft van de eenoudergezinnen met "
        "geldzorgen werkt; voor hen is de regeling onbekend of net niet toegankelijk.",
    )
    a1 = b.add(
        "ambities",
        "We willen dat minder eenoudergezinnen leven met geldzorgen en dat hun kinderen gewoon mee kunnen doen met "
        "sport, cultuur en schoolactiviteiten, net als hun klasgenoten.",
    )
    a2 = b.add("ambities", "We willen dat ouders met schulden eerder hulp vragen en die hulp ook vinden.", "3")
    r1 = b.add(
        "resultaten",
        "In 2028 heeft 20% minder eenoudergezinnen een betalingsachterstand bij huur, energie of zorgverzekering.",
        ambitie=[a1],
        termijn="in 2028",
        omvang="20% minder",
    )
    r2 = b.add(
        "resultaten",
        "Over vier jaar doet 90% van de kinderen uit eenoudergezinnen met een laag inkomen mee aan sport of cultuur.",
        ambitie=[a1],
        termijn="over vier jaar",
        omvang="90%",
    )
    r3 = b.add(
        "resultaten",
        "Over vier jaar meldt 200 meer alleenstaande ouders zich binnen drie maanden na de eerste achterstand.",
        ambitie=[a2],
        termijn="over vier jaar",
        omvang="200 meer",
    )
    i1 = b.add(
        "indicatoren",
        "Aandeel eenoudergezinnen met een betalingsachterstand",
        resultaat=[r1],
        type="feiten",
        bron="Registratie vroegsignalering",
    )
    b.add(
        "indicatoren",
        "Aandeel kinderen uit eenoudergezinnen dat lid is van een sportclub of cultuurvereniging",
        resultaat=[r2],
        type="feiten",
        bron="Jeugdmonitor en ledenlijsten",
    )
    b.add(
        "indicatoren",
        "Ouders vertellen dat ze weten waar ze met geldzorgen terechtkunnen",
        "3",
        resultaat=[r3],
        type="beleving",
        bron="Gesprekken met de klankbordgroep",
    )
    acts = []
    for text, who, form, status, results, expectation in (
        (
            "Vroegsignalering van betalingsachterstanden met huisbezoek binnen twee weken",
            "Team Schuldhulpverlening",
            "formeel",
            "bestaand",
            [r1, r3],
            "Als we bij de eerste achterstand langsgaan, dan lopen de schulden minder hoog op en vragen ouders "
            "eerder hulp.",
        ),
        (
            "Stichting Leergeld betaalt contributie, zwemles en schoolreis voor kinderen",
            "Stichting Leergeld",
            "formeel",
            "bestaand",
            [r2],
            "Als de kosten geen drempel meer zijn, dan doen kinderen mee met sport en cultuur zoals hun klasgenoten.",
        ),
        (
            "Lotgenotengroep voor alleenstaande ouders met geldzorgen, begeleid door ervaringsdeskundigen",
            "Klankbordgroep met het maatschappelijk werk",
            "informeel",
            "nieuw",
            [r3],
            "Als ouders hun verhaal kwijt kunnen bij mensen die het zelf meemaakten, dan schamen ze zich minder "
            "en zoeken ze eerder hulp.",
        ),
        (
            "Budgetcoaching aan de keukentafel door getrainde vrijwilligers",
            "Humanitas",
            "informeel",
            "nieuw",
            [r1],
            "Als ouders samen met een vrijwilliger overzicht krijgen, dan ontstaan er minder nieuwe achterstanden.",
        ),
        (
            "Eén loket op school waar ouders terechtkunnen met vragen over regelingen en toeslagen",
            "Schoolmaatschappelijk werk",
            "formeel",
            "nieuw",
            [r2, r3],
            "Als hulp op een vertrouwde plek zit, dan vinden ook werkende ouders de regelingen.",
        ),
    ):
        acts.append(
            b.add(
                "activiteiten",
                text,
                "2",
                wie=who,
                vorm=form,
                bestaand=status,
                resultaat=results,
                verwachting=expectation,
            )
        )
    b.agree(
        "samenhang",
        "Na het huisbezoek van vroegsignalering is er nog geen warme overdracht naar de budgetcoach; ouders moeten "
        "dan opnieuw hun verhaal doen.",
    )
    b.add("stoppen", "De jaarlijkse informatiemarkt over regelingen in het stadhuis, waar bijna geen ouders komen")
    b.add(
        "wat_werkt",
        "Aansluiten bij de vragen van de ouder zelf en niet alleen bij de schulden",
        "2",
        activiteit=[acts[0], acts[3]],
    )
    b.add(
        "mensen",
        "Vrijwilligers krijgen een training in het herkennen van stress door geldzorgen en in doorverwijzen.",
        "2",
    )
    b.add(
        "voorwaarden",
        "Een vaste contactpersoon bij de gemeente voor vrijwilligers en een budget van € 40.000 per jaar.",
    )
    o1 = b.add(
        "outcome",
        "Deelnemers aan de budgetcoaching hebben na een half jaar geen nieuwe achterstanden",
        "2",
        activiteit=[acts[3]],
        type="feiten",
        instrument="Zelfredzaamheid-Matrix",
    )
    b.add(
        "outcome",
        "Deelnemers aan de lotgenotengroep voelen zich minder alleen met hun geldzorgen",
        "3",
        activiteit=[acts[2]],
        type="beleving",
        instrument="Wat telt",
    )
    b.add(
        "herkennen",
        "Er melden zich meer ouders bij vroegsignalering, maar vooral uit de wijken waar al huisbezoeken waren.",
    )
    b.add("verklaren", "In de andere wijken kennen ouders de huisbezoekers nog niet en doen ze de deur niet open.")
    b.add("waarderen", "De huisbezoeken bereiken de goede mensen; de wachttijd voor de budgetcoach is te lang.", "3")
    b.add(
        "verbeteren",
        "Elke budgetcoach krijgt een vaste wijk en stelt zich voor bij de school",
        "2",
        terug_naar="activiteiten (stap 3)",
    )
    session = b.session()
    session.contributions[
        next(i for i, c in enumerate(session.contributions) if c.question == "wat_werkt")
    ].source = (
        "Wat werkt bij schuldhulpverlening (Movisie), https://www.movisie.nl/publicatie/wat-werkt-schuldhulpverlening"
    )
    measurements = [
        Measurement(
            indicator="I1", indicator_id=i1, period="2024", value=14.0, unit="%", source="Registratie vroegsignalering"
        ),
        Measurement(
            indicator="I1",
            indicator_id=i1,
            period="2025-09",
            value=12.9,
            unit="%",
            source="Registratie vroegsignalering",
        ),
        Measurement(
            indicator="I1",
            indicator_id=i1,
            period="2026-09",
            value=12.1,
            unit="%",
            source="Registratie vroegsignalering",
        ),
        Measurement(indicator="I2", period="2024", value=61, unit="%", source="Jeugdmonitor"),
        Measurement(indicator="I2", period="2026", value=63, unit="%", source="Jeugdmonitor"),
        Measurement(
            indicator="5.1", indicator_id=o1, period="najaar 2026", value=70, unit="%", source="Zelfredzaamheid-Matrix"
        ),
    ]
    return session, measurements


def heavy_compass() -> Session:
    """Far too much for one page: long answers, many items, gaps in the chain, no target group at the table."""
    b = Builder()
    long = (
        "Ouders uit de klankbordgroep vertellen dat ze pas hulp vragen als de deurwaarder al aan de deur staat, "
        "omdat ze zich schamen, bang zijn hun kinderen kwijt te raken en niet weten welke regeling bij hen past. "
        "Meer informatie: https://www.example.org/verhalen/klankbordgroep-alleenstaande-ouders?jaar=2024&wijk=noord"
    )
    b.agree("betekenis", "Armoede bij eenoudergezinnen: structureel te weinig geld om mee te doen. " * 3)
    for n in range(8):
        b.add(
            "signalen",
            f"Signaal {n + 1}: kinderen doen niet mee met sport, schoolreis of verjaardagsfeestjes van klasgenoten",
        )
    b.add("aan_tafel", "Team Schuldhulpverlening van de gemeente", perspectief="gemeente")
    b.add("aan_tafel", "Stichting Leergeld, de voedselbank en het maatschappelijk werk", "2", perspectief="aanbieder")
    b.add("beeld_cijfers", "Volgens de armoedemonitor leeft 18% van de eenoudergezinnen onder de lage-inkomensgrens.")
    b.add("beeld_verhalen", long, "2")
    ambitions = [
        b.add(
            "ambities",
            f"We willen dat eenoudergezinnen in wijk {w} minder geldzorgen hebben en dat hun kinderen "
            "gewoon mee kunnen doen met sport, cultuur en schoolactiviteiten, net als hun klasgenoten.",
        )
        for w in ("Noord", "Oost", "Zuid", "West", "Centrum", "Haven")
    ]
    results = [
        b.add(
            "resultaten",
            f"Over vier jaar heeft 20% minder eenoudergezinnen in wijk {w} een betalingsachterstand bij huur, energie, "
            "zorgverzekering of de gemeentelijke belastingen, en weet iedereen waar hij terechtkan.",
            ambitie=[ambitions[n % 6]],
            termijn="over vier jaar",
            omvang="20% minder",
        )
        for n, w in enumerate(("Noord", "Oost", "Zuid", "West", "Centrum", "Haven", "Stad", "Dorp"))
    ]
    for n in range(10):
        b.add(
            "indicatoren",
            f"Indicator {n + 1}: aandeel eenoudergezinnen met een betalingsachterstand in de wijk",
            resultaat=[results[n % 8]],
            type="feiten",
            bron="Registratie vroegsignalering en wijkmonitor",
        )
    for n in range(14):
        b.add(
            "activiteiten",
            f"Activiteit {n + 1}: lotgenotengroep en budgetcoaching aan de keukentafel voor alleenstaande ouders "
            "met geldzorgen, begeleid door ervaringsdeskundigen en getrainde vrijwilligers uit de klankbordgroep",
            "2",
            wie="Maatschappelijk werk met de klankbordgroep en vrijwilligers van Humanitas",
            vorm="informeel",
            bestaand="nieuw",
            resultaat=[results[n % 8]] if n % 3 else [],
            verwachting="Als ouders hun verhaal kwijt kunnen bij mensen die het zelf meemaakten, dan schamen ze zich "
            "minder, zoeken ze eerder hulp en lopen de schulden minder hoog op.",
        )
    b.add("mensen", "Vrijwilligers krijgen een training in het herkennen van stress door geldzorgen. " * 2)
    for n in range(6):
        b.add(
            "verbeteren",
            f"Verbetering {n + 1}: elke budgetcoach krijgt een vaste wijk en stelt zich voor bij de school",
            terug_naar="activiteiten (stap 3)",
        )
    return b.session()
